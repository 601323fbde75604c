-- uses _pending.lua
-- Check a code: the one atomic step that approves, or counts a wrong try against a handle.
-- Every handle of a verification has its own count, so a stranger holding a handle of their
-- own cannot spend the tries of another's; the verification is burned once all are spent.
-- KEYS[1]  verification hash
-- ARGV[1]  the handle's rand, or '' for a trusted caller verifying by destination (this
--          counts against the first handle)
-- ARGV[2]  digest of the submitted code   ARGV[3] wrong tries allowed per handle
-- Returns {'approved', root rand, to, purpose, attempt lines, country} (purpose and country ''
--         when the hash leaves them out: store.py fills them in)
--       | {'invalid_code', tries left} | {'too_many_attempts'} | {'not_found'}
local key, allowed = KEYS[1], tonumber(ARGV[3])
local v = redis.call('HMGET', key, 's', 'r', 'h', 'w', 'to', 'pu', 'at', 'cc', 'hn', 'hb')
if not pending(v[1], v[2]) then return {'not_found'} end
local field, wrong = 'w', v[4] or 0
if ARGV[1] ~= '' and ARGV[1] ~= v[2] then
  field, wrong = ARGV[1], redis.call('HGET', key, ARGV[1])
end
if not wrong or tonumber(wrong) >= allowed then return {'not_found'} end
if v[3] == ARGV[2] then
  redis.call('HSET', key, 's', 'a')
  return {'approved', v[2], v[5], v[6] or '', v[7] or '', v[8] or ''}
end
wrong = tonumber(wrong) + 1
redis.call('HSET', key, field, wrong)
if wrong < allowed then return {'invalid_code', allowed - wrong} end
local burned = (tonumber(v[10]) or 0) + 1
redis.call('HSET', key, 'hb', burned)
if burned >= (tonumber(v[9]) or 1) then redis.call('HSET', key, 's', 'x') end
return {'too_many_attempts'}
