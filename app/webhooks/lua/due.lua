-- Queue what has come due: retries whose backoff has passed, expiry events whose
-- verification has expired unsettled.
-- KEYS[1]  queue (list, newest first)   KEYS[2] retries (zset: job JSON -> due)
-- KEYS[3]  expiries (zset: verification id -> due)
-- KEYS[4]  expiry jobs (hash: verification id -> JSON array of jobs)
-- ARGV[1]  now (unix s)   ARGV[2] most entries of each kind per call   ARGV[3] queue TTL (s)
-- Returns the number of jobs queued.
local queued = 0
local function due(key)
  return redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
end
for _, job in ipairs(due(KEYS[2])) do
  redis.call('ZREM', KEYS[2], job)
  redis.call('LPUSH', KEYS[1], job)
  queued = queued + 1
end
for _, id in ipairs(due(KEYS[3])) do
  for _, job in ipairs(cjson.decode(redis.call('HGET', KEYS[4], id) or '[]')) do
    redis.call('LPUSH', KEYS[1], job)
    queued = queued + 1
  end
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
if queued > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return queued
