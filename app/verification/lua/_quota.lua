-- Shared by create.lua and resend.lua: the phone's fixed-window send counters.
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
