-- Shared by the scripts that change an entity's index of factors: a sorted set of factor
-- rands, an unverified factor scored by its expiry time and a verified one by 0.
-- settle(index, now) drops the expired and keeps the index alive exactly as long as its
-- longest-lived factor (for ever once one is verified).
local function settle(index, now)
  redis.call('ZREMRANGEBYSCORE', index, '(0', now)
  if redis.call('ZCOUNT', index, 0, 0) > 0 then
    redis.call('PERSIST', index)
    return
  end
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('EXPIRE', index, math.ceil(tonumber(last[2]) - now)) end
end
