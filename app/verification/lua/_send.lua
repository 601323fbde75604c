-- Shared by create.lua and resend.lua: the destination's send counters, and a send of a
-- pending verification's code again.
-- The quota hash holds hb/hc (hour bucket, count) and db/dc (day bucket, count).

-- Returns 0, hour bucket, hour count, day bucket, day count when a send is allowed,
-- or the seconds until the exhausted window ends.
local function quota_check(key, now, hourly, daily)
  local q = redis.call('HMGET', key, 'hb', 'hc', 'db', 'dc')
  local hb, db = math.floor(now / 3600), math.floor(now / 86400)
  local hc = (tonumber(q[1]) == hb) and tonumber(q[2]) or 0
  local dc = (tonumber(q[3]) == db) and tonumber(q[4]) or 0
  if dc >= daily then return (db + 1) * 86400 - now end
  if hc >= hourly then return (hb + 1) * 3600 - now end
  return 0, hb, hc, db, dc
end

local function quota_take(key, hb, hc, db, dc)
  redis.call('HSET', key, 'hb', hb, 'hc', hc + 1, 'db', db, 'dc', dc + 1)
  redis.call('EXPIRE', key, 86400)
end

-- Send the pending verification in `key` again, after a cooldown that doubles each time.
-- `handle` is a new handle to add (its wrong-try count starts at 0), or '' for none.
-- Returns {'resent', root rand, sends so far, seconds to next resend, the attempt lines}
--       | {'cooldown', wait} | {'max_sends', seconds left} | {'limited', wait}
local function resend(key, qkey, now, base, max_sends, hourly, daily, channel, handle)
  local v = redis.call('HMGET', key, 'r', 'n', 'nx', 'at', 'hn')
  local sends, next_at = tonumber(v[2]), tonumber(v[3])
  if sends >= max_sends then return {'max_sends', redis.call('TTL', key)} end
  if now < next_at then return {'cooldown', next_at - now} end
  local wait, hb, hc, db, dc = quota_check(qkey, now, hourly, daily)
  if wait > 0 then return {'limited', wait} end
  local cooldown = base * 2 ^ sends
  redis.call('HSET', key, 'n', sends + 1, 'nx', now + cooldown, 'c', channel)
  if handle ~= '' then
    redis.call('HSET', key, handle, 0, 'hn', (tonumber(v[5]) or 1) + 1)
  end
  quota_take(qkey, hb, hc, db, dc)
  return {'resent', v[1], sends + 1, cooldown, v[4] or ''}
end
