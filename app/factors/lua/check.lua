-- uses _index.lua
-- Check the time step a code matched: the one atomic step that accepts a code, counts a wrong
-- one, or locks the factor for a cool-down after too many. Only a step later than the last
-- accepted one is accepted, so a code (or an earlier one) is never good twice.
-- KEYS[1]  the factor's hash          KEYS[2]  the entity's index of factors
-- ARGV[1]  'confirm' (an unverified or verified factor; verifies it) or 'verify' (verified only)
-- ARGV[2]  the time step the code matched, or '' when it matched none in the window
-- ARGV[3]  now (Unix seconds)         ARGV[4]  wrong codes allowed before the lock
-- ARGV[5]  seconds the lock lasts     ARGV[6]  the factor's rand
-- Returns {'approved', entity} | {'invalid_code', tries left} | {'locked', seconds left}
--       | {'replayed'} | {'unverified'} | {'not_found'}
local factor, now = KEYS[1], tonumber(ARGV[3])
local f = redis.call('HMGET', factor, 'e', 's', 't', 'w', 'l')
if not f[1] then return {'not_found'} end
if ARGV[1] == 'verify' and f[2] ~= 'v' then return {'unverified'} end
local locked = tonumber(f[5]) - now
if locked > 0 then return {'locked', locked} end
if ARGV[2] == '' then
  local wrong, allowed = tonumber(f[4]) + 1, tonumber(ARGV[4])
  if wrong < allowed then
    redis.call('HSET', factor, 'w', wrong)
    return {'invalid_code', allowed - wrong}
  end
  redis.call('HSET', factor, 'w', 0, 'l', now + tonumber(ARGV[5]))
  return {'locked', tonumber(ARGV[5])}
end
if tonumber(ARGV[2]) <= tonumber(f[3]) then return {'replayed'} end
redis.call('HSET', factor, 't', ARGV[2], 'w', 0, 'u', now)
if f[2] ~= 'v' then
  redis.call('HSET', factor, 's', 'v')
  redis.call('PERSIST', factor)
  redis.call('ZADD', KEYS[2], 0, ARGV[6])
  settle(KEYS[2], now)
end
return {'approved', f[1]}
