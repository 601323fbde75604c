-- uses _index.lua
-- Delete a factor and take it out of its entity's index.
-- KEYS[1]  the factor's hash          KEYS[2]  the entity's index of factors
-- ARGV[1]  the factor's rand          ARGV[2]  now (Unix seconds)
-- Returns 1 when a factor was deleted, 0 when there was none
local gone = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
settle(KEYS[2], tonumber(ARGV[2]))
return gone
