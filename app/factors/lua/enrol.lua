-- uses _index.lua
-- Enrol: a new unverified factor, gone unless a correct code confirms it in time.
-- KEYS[1]  the factor's hash          KEYS[2]  the entity's index of factors
-- ARGV[1]  the factor's rand          ARGV[2]  entity      ARGV[3]  the sealed secret
-- ARGV[4]  time step, seconds         ARGV[5]  now (Unix seconds)
-- ARGV[6]  seconds an unverified factor lives            ARGV[7]  factors allowed per entity
-- Returns {'enrolled'} | {'limit', factors the entity holds}
local factor, index = KEYS[1], KEYS[2]
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
settle(index, now)
local held = redis.call('ZCARD', index)
if held >= tonumber(ARGV[7]) then return {'limit', held} end
redis.call('HSET', factor, 'e', ARGV[2], 's', 'u', 'k', ARGV[3], 'p', ARGV[4], 'c', now,
  't', -1, 'w', 0, 'l', 0)
redis.call('EXPIRE', factor, ttl)
redis.call('ZADD', index, now + ttl, ARGV[1])
settle(index, now)
return {'enrolled'}
