-- Store a freshly fetched access token (or nothing) and release the refresh lock if still held.
-- KEYS[1]  the access token   KEYS[2]  the refresh lock (same hash tag)
-- ARGV[1]  the token ('' stores nothing)   ARGV[2] its lifetime in the cache (ms)
-- ARGV[3]  the lock holder's id
-- Returns 1 when this holder released the lock, 0 when it had expired or passed on.
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
