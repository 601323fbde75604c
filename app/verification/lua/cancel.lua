-- End a pending verification.
-- KEYS[1]  verification hash   ARGV[1] rand
-- Returns 1 when it was pending and is now cancelled, 0 otherwise.
local v = redis.call('HMGET', KEYS[1], 's', 'r')
if v[1] ~= 'p' or v[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', 'c')
return 1
