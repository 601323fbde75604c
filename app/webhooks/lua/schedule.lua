-- Schedule a verification's expiry event, replacing an earlier schedule of the same one.
-- KEYS[1]  expiries (zset: verification id -> due)
-- KEYS[2]  expiry jobs (hash: verification id -> JSON array of jobs)
-- ARGV[1]  verification id   ARGV[2] due (unix s)   ARGV[3] jobs as a JSON array
-- ARGV[4]  TTL (s) both keys keep at least
-- Returns 1.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('TTL', key) < tonumber(ARGV[4]) then redis.call('EXPIRE', key, ARGV[4]) end
end
return 1
