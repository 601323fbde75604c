-- Send a pending verification's code again, after a cooldown that doubles each time.
-- KEYS[1]  verification hash   KEYS[2]  the phone's quota hash
-- ARGV[1]  rand   ARGV[2] now (unix s)   ARGV[3] first cooldown (s)   ARGV[4] max sends
-- ARGV[5]  hourly sends   ARGV[6] daily sends   ARGV[7] channel of this send
-- Returns {'resent', sends so far, seconds to next resend, the attempt lines so far}
--       | {'cooldown', wait} | {'max_sends', seconds left} | {'limited', wait} | {'not_found'}
local key, qkey = KEYS[1], KEYS[2]
local now, base = tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', key, 's', 'r', 'n', 'nx', 'at')
if v[1] ~= 'p' or v[2] ~= ARGV[1] then return {'not_found'} end
local sends, next_at = tonumber(v[3]), tonumber(v[4])
if sends >= tonumber(ARGV[4]) then return {'max_sends', redis.call('TTL', key)} end
if now < next_at then return {'cooldown', next_at - now} end
local wait, hb, hc, db, dc = quota_check(qkey, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
if wait > 0 then return {'limited', wait} end
local cooldown = base * 2 ^ sends
redis.call('HSET', key, 'n', sends + 1, 'nx', now + cooldown, 'c', ARGV[7])
quota_take(qkey, hb, hc, db, dc)
return {'resent', sends + 1, cooldown, v[5] or ''}
