-- Shared by check.lua and address.lua: blocks, and the sliding windows of the counters.
-- A block hash holds until, step, mode, and what placed it: count, limit, window.
-- A block's answer: {'blocked', scope, until, step, mode, placed now (1 | 0), count, limit,
-- window}.

-- The scope's block, if one is in force at `now`.
local function active(scope, key, now)
  local b = redis.call('HMGET', key, 'until', 'step', 'mode', 'count', 'limit', 'window')
  if b[1] and tonumber(b[1]) > now then
    return {'blocked', scope, b[1], tonumber(b[2]), b[3], 0, b[4], b[5], b[6]}
  end
  return nil
end

-- Place a block, one step further along `lengths` ("3600,43200,...") when the scope's last
-- block ended less than `within` seconds ago; its history outlives it by `within`.
local function place(scope, key, history, now, mode, lengths, within, count, limit, window)
  local ladder = {}
  for seconds in string.gmatch(lengths, '%d+') do ladder[#ladder + 1] = tonumber(seconds) end
  local last = redis.call('HMGET', history, 'step', 'until')
  local step = 1
  if last[1] and now - tonumber(last[2]) <= within then
    step = math.min(tonumber(last[1]) + 1, #ladder)
  end
  local ends = math.floor(now) + ladder[step]
  count, limit = string.format('%.1f', count), string.format('%.1f', limit)
  redis.call('HSET', key, 'until', ends, 'step', step, 'mode', mode, 'count', count,
    'limit', limit, 'window', window)
  redis.call('EXPIRE', key, ladder[step])
  redis.call('HSET', history, 'step', step, 'until', ends)
  redis.call('EXPIRE', history, ladder[step] + within)
  return {'blocked', scope, tostring(ends), step, mode, 1, count, limit, window}
end

-- A counter hash's sends (s) and approvals (a), each hash read once per script.
local read = {}
local function get(key, field)
  if not read[key] then
    local v = redis.call('HMGET', key, 's', 'a')
    read[key] = {s = tonumber(v[1]) or 0, a = tonumber(v[2]) or 0}
  end
  return read[key][field]
end

-- A sliding window over fixed buckets: this bucket's count, and the part of the last bucket
-- the window still covers (`elapsed` is the share of this bucket gone by).
local function window(this, last, elapsed, field)
  return get(this, field) + get(last, field) * (1 - elapsed)
end

-- Sends in the window not (yet) followed by an approval.
local function unverified(this, last, elapsed)
  return math.max(0, window(this, last, elapsed, 's') - window(this, last, elapsed, 'a'))
end
