-- Create a verification unless one is pending for the same phone and purpose.
-- KEYS[1]  verification hash   KEYS[2]  the phone's quota hash
-- ARGV[1]  rand   ARGV[2] code digest   ARGV[3] now (unix s)   ARGV[4] lifetime (s)
-- ARGV[5]  first resend cooldown (s)   ARGV[6] hourly sends   ARGV[7] daily sends
-- ARGV[8..] field, value pairs stored as they are (to, c, pu, cc, lo, rt)
-- Returns {'created', rand} | {'pending', rand of the pending one} | {'limited', retry_after}
local key, qkey = KEYS[1], KEYS[2]
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HGET', key, 's') == 'p' then
  return {'pending', redis.call('HGET', key, 'r')}
end
local wait, hb, hc, db, dc = quota_check(qkey, now, tonumber(ARGV[6]), tonumber(ARGV[7]))
if wait > 0 then return {'limited', wait} end
redis.call('DEL', key)
redis.call('HSET', key, 'r', ARGV[1], 's', 'p', 'h', ARGV[2], 'w', 0, 'n', 1,
  'nx', now + tonumber(ARGV[5]), unpack(ARGV, 8))
redis.call('EXPIRE', key, ttl)
quota_take(qkey, hb, hc, db, dc)
return {'created', ARGV[1]}
