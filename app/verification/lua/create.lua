-- uses _pending.lua
-- uses _send.lua
-- Ask for a code: create a verification, or, when one is pending for the same destination and
-- purpose, send its code again under a new handle of the caller's own.
-- KEYS[1]  verification hash   KEYS[2]  the destination's quota key
-- ARGV[1]  rand of the caller's handle   ARGV[2] code digest   ARGV[3] now (unix s)
-- ARGV[4]  lifetime (s)   ARGV[5] first resend cooldown (s)   ARGV[6] hourly sends
-- ARGV[7]  daily sends   ARGV[8] max sends   ARGV[9] channel
-- ARGV[10..] field, value pairs stored on a new verification (to, and those of c, pu, cc, lo,
--          k, ah, fn that do not hold their default)
-- Returns {'created', rand} | what resend() returns (_send.lua) for a pending one
-- w (wrong tries of the first handle) absent is 0, n (sends) absent is 1.
local key, qkey = KEYS[1], KEYS[2]
local now = tonumber(ARGV[3])
local v = redis.call('HMGET', key, 'r', 's')
if pending(v[2], v[1]) then
  return resend(key, qkey, now, tonumber(ARGV[5]), tonumber(ARGV[8]), tonumber(ARGV[6]),
    tonumber(ARGV[7]), ARGV[9], ARGV[1])
end
local wait, hc, dc = quota_check(qkey, now, tonumber(ARGV[6]), tonumber(ARGV[7]))
if wait > 0 then return {'limited', wait} end
redis.call('DEL', key)
redis.call('HSET', key, 'r', ARGV[1], 'h', ARGV[2], 'nx', now + tonumber(ARGV[5]),
  unpack(ARGV, 10))
redis.call('EXPIRE', key, tonumber(ARGV[4]))
quota_take(qkey, now, hc, dc)
return {'created', ARGV[1]}
