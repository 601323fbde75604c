-- Record one outcome on a circuit breaker and return when it is open until.
-- KEYS[1]  breaker hash: f consecutive failures, o open-until (unix s, 0 = closed),
--          wb/wt/wf window start, calls and failures in the window
-- ARGV[1]  '1' success, '0' failure   ARGV[2] now (unix s)   ARGV[3] consecutive failures
--          that open   ARGV[4] failure ratio that opens   ARGV[5] calls before the ratio counts
--          ARGV[6] window (s)   ARGV[7] cool-down (s)
-- Returns the open-until time (0 when closed).
local key = KEYS[1]
local now, window, cooldown = tonumber(ARGV[2]), tonumber(ARGV[6]), tonumber(ARGV[7])
local v = redis.call('HMGET', key, 'f', 'o', 'wb', 'wt', 'wf')
local fails, open_until = tonumber(v[1]) or 0, tonumber(v[2]) or 0
local wb, wt, wf = tonumber(v[3]) or now, tonumber(v[4]) or 0, tonumber(v[5]) or 0
if now - wb >= window then wb, wt, wf = now, 0, 0 end
local probing = open_until > 0 and now >= open_until
wt = wt + 1
if ARGV[1] == '1' then
  fails = 0
  if probing then open_until, wb, wt, wf = 0, now, 0, 0 end
else
  fails, wf = fails + 1, wf + 1
  local ratio_hit = wt >= tonumber(ARGV[5]) and wf / wt >= tonumber(ARGV[4])
  if probing or (open_until == 0 and (fails >= tonumber(ARGV[3]) or ratio_hit)) then
    open_until = now + cooldown
  end
end
redis.call('HSET', key, 'f', fails, 'o', open_until, 'wb', wb, 'wt', wt, 'wf', wf)
redis.call('EXPIRE', key, math.max(window, cooldown) * 10)
return open_until
