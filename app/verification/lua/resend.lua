-- uses _pending.lua
-- uses _send.lua
-- Send a pending verification's code again, for a caller holding one of its handles.
-- KEYS[1]  verification hash   KEYS[2]  the destination's quota key
-- ARGV[1]  the handle's rand   ARGV[2] now (unix s)   ARGV[3] first cooldown (s)
-- ARGV[4]  max sends   ARGV[5] hourly sends   ARGV[6] daily sends   ARGV[7] channel
-- ARGV[8]  wrong tries allowed per handle
-- Returns what resend() returns (_send.lua) | {'not_found'} for an unknown, ended or burned handle
local key, qkey = KEYS[1], KEYS[2]
local v = redis.call('HMGET', key, 's', 'r', 'w')
local wrong = v[3] or 0
if ARGV[1] ~= v[2] then wrong = redis.call('HGET', key, ARGV[1]) end
if not pending(v[1], v[2]) or not wrong or tonumber(wrong) >= tonumber(ARGV[8]) then
  return {'not_found'}
end
return resend(key, qkey, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], '')
