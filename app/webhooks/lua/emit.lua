-- Queue the deliveries of one event and settle a verification's scheduled expiry event.
-- KEYS[1]  queue (list, newest first)   KEYS[2]  expiries (zset: verification id -> due)
-- KEYS[3]  expiry jobs (hash: verification id -> JSON array of jobs)
-- ARGV[1]  most jobs the queue holds   ARGV[2] queue TTL (s)
-- ARGV[3]  verification id whose expiry event no longer applies, or ''
-- ARGV[4..] jobs (JSON)
-- Returns the number of oldest jobs dropped to keep the queue within its bound.
if ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('HDEL', KEYS[3], ARGV[3])
end
if #ARGV < 4 then return 0 end
local length, bound = redis.call('LPUSH', KEYS[1], unpack(ARGV, 4)), tonumber(ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if length <= bound then return 0 end
redis.call('LTRIM', KEYS[1], 0, bound - 1)
return length - bound
