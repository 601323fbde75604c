-- Take one message of a provider's per-minute quota before a send, or give one back.
-- KEYS[1]  the provider's counter for one minute
-- ARGV[1]  1 to take, -1 to give back   ARGV[2] messages allowed per minute
-- ARGV[3]  seconds the counter lives
-- Returns 1 when taken or given back, 0 when the quota is used up (nothing taken).
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] == '-1' then
  if used > 0 then redis.call('DECR', KEYS[1]) end
  return 1
end
if used >= tonumber(ARGV[2]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
