-- Lift a block before its end: the block and its history go, and the sends its scope counted
-- as unverified are forgotten (its approvals stay: they are the country's baseline), so that
-- the traffic it held back is not blocked again at once.
-- KEYS[1] the block   KEYS[2] its history   KEYS[3..] the scope's counter hashes
-- ARGV[1] now (unix s)
-- Returns the block's fields as a flat list, or an empty one when none was in force
local block = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #block, 2 do fields[block[i]] = block[i + 1] end
if not fields['until'] or tonumber(fields['until']) <= tonumber(ARGV[1]) then return {} end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, #KEYS do
  local approved = redis.call('HGET', KEYS[i], 'a')
  if approved then
    redis.call('HSET', KEYS[i], 's', approved)
  else
    redis.call('HDEL', KEYS[i], 's')
  end
  if redis.call('HEXISTS', KEYS[i], 'rc') == 1 then  -- an address's countries of the day
    local counted = redis.call('HGETALL', KEYS[i])
    for j = 1, #counted, 2 do
      if counted[j + 1] == 'r' then redis.call('HDEL', KEYS[i], counted[j]) end
    end
    redis.call('HSET', KEYS[i], 'rc', 0)
  end
end
return block
