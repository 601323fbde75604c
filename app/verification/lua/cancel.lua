-- uses _pending.lua
-- End a pending verification, named by any of its handles.
-- KEYS[1]  verification hash   ARGV[1] the handle's rand
-- Returns the verification's first handle (rand) when it was pending and is now cancelled,
-- false otherwise.
local v = redis.call('HMGET', KEYS[1], 's', 'r')
if not pending(v[1], v[2]) then return false end
if v[2] ~= ARGV[1] and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 's', 'c')
return v[2]
