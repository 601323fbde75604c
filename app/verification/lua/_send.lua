-- Shared by create.lua and resend.lua: the destination's send counters, and a send of a
-- pending verification's code again.
-- The quota key holds one integer, (dc * dc + hc) * 24 + h: dc sends in the day, hc of them in
-- hour h of the day (that of the last send; hc <= dc, so dc * dc + hc names the pair). Redis
-- keeps an integer in the key's own object (and one below 10,000 in a shared one). The key
-- expires when the day ends, so what it holds is always the day's.

-- The current day's end (unix s), and the hour of the day.
local function day_end(now)
  return (math.floor(now / 86400) + 1) * 86400, math.floor(now / 3600) % 24
end

-- Returns 0, hour count, day count when a send is allowed, or the seconds until the
-- exhausted window ends.
local function quota_check(key, now, hourly, daily)
  local ends, hour = day_end(now)
  local hc, dc = 0, 0
  local q = redis.pcall('GET', key)
  if type(q) == 'table' and q.err then
    -- Counters written before as a hash: hour and day buckets (hb, db) and counts (hc, dc).
    q = redis.call('HMGET', key, 'hb', 'hc', 'db', 'dc')
    hc = (tonumber(q[1]) == math.floor(now / 3600)) and tonumber(q[2]) or 0
    dc = (tonumber(q[3]) == math.floor(now / 86400)) and tonumber(q[4]) or 0
  elseif q then
    local pair = math.floor(tonumber(q) / 24)
    dc = math.floor(math.sqrt(pair))
    if tonumber(q) % 24 == hour then hc = pair - dc * dc end
  end
  if dc >= daily then return ends - now end
  if hc >= hourly then return (math.floor(now / 3600) + 1) * 3600 - now end
  return 0, hc, dc
end

local function quota_take(key, now, hc, dc)
  local ends, hour = day_end(now)
  redis.call('SET', key, ((dc + 1) * (dc + 1) + hc + 1) * 24 + hour, 'EX', ends - now)
end

-- Send the pending verification in `key` again, after a cooldown that doubles each time.
-- `handle` is a new handle to add (its wrong-try count starts at 0), or '' for none.
-- Returns {'resent', root rand, sends so far, seconds to next resend, the attempt lines}
--       | {'cooldown', wait} | {'max_sends', seconds left} | {'limited', wait}
local function resend(key, qkey, now, base, max_sends, hourly, daily, channel, handle)
  local v = redis.call('HMGET', key, 'r', 'n', 'nx', 'at', 'hn')
  local sends, next_at = tonumber(v[2]) or 1, tonumber(v[3])
  if sends >= max_sends then return {'max_sends', redis.call('TTL', key)} end
  if now < next_at then return {'cooldown', next_at - now} end
  local wait, hc, dc = quota_check(qkey, now, hourly, daily)
  if wait > 0 then return {'limited', wait} end
  local cooldown = base * 2 ^ sends
  redis.call('HSET', key, 'n', sends + 1, 'nx', now + cooldown, 'c', channel)
  if handle ~= '' then
    redis.call('HSET', key, handle, 0, 'hn', (tonumber(v[5]) or 1) + 1)
  end
  quota_take(qkey, now, hc, dc)
  return {'resent', v[1], sends + 1, cooldown, v[4] or ''}
end
