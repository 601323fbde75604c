-- uses _pending.lua
-- Approve a pending verification without a code: a trusted backend's own decision (the
-- Twilio Verify compatible API's Status=approved), named by any of its handles.
-- KEYS[1]  verification hash   ARGV[1] the handle's rand
-- Returns {'approved', root rand, to, purpose, attempt lines, country} (as verify.lua does)
--       | {'not_found'}
local v = redis.call('HMGET', KEYS[1], 's', 'r', 'to', 'pu', 'at', 'cc')
if not pending(v[1], v[2]) then return {'not_found'} end
if v[2] ~= ARGV[1] and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return {'not_found'}
end
redis.call('HSET', KEYS[1], 's', 'a')
return {'approved', v[2], v[3], v[4] or '', v[5] or '', v[6] or ''}
