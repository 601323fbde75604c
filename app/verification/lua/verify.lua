-- Check a code: the one atomic step that approves, counts a wrong try, or burns.
-- KEYS[1]  verification hash
-- ARGV[1]  rand, or '' to take whichever verification is pending in this slot
-- ARGV[2]  digest of the submitted code   ARGV[3] wrong tries allowed
-- Returns {'approved', rand, to, purpose, attempt lines, country} | {'invalid_code', tries left}
--       | {'too_many_attempts', 0} | {'not_found'}
local key = KEYS[1]
local v = redis.call('HMGET', key, 's', 'r', 'h', 'w', 'to', 'pu', 'at', 'cc')
if v[1] ~= 'p' or (ARGV[1] ~= '' and v[2] ~= ARGV[1]) then return {'not_found'} end
if v[3] == ARGV[2] then
  redis.call('HSET', key, 's', 'a')
  return {'approved', v[2], v[5], v[6], v[7] or '', v[8] or ''}
end
local wrong, allowed = tonumber(v[4]) + 1, tonumber(ARGV[3])
if wrong >= allowed then
  redis.call('HSET', key, 's', 'x', 'w', wrong)
  return {'too_many_attempts', 0}
end
redis.call('HSET', key, 'w', wrong)
return {'invalid_code', allowed - wrong}
