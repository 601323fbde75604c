-- uses _block.lua
-- The fraud guard's check of one request from a client address, counted when it passes.
-- KEYS[1] the address's block   KEYS[2] its history
-- KEYS[3] its counters this hour   KEYS[4] last hour   KEYS[5] today (s = requests,
--          a = approvals; today also c:<country> = r (asked) or v (verified), and
--          rc = the countries asked for and not verified)
-- ARGV[1] now   ARGV[2] elapsed share of the hour   ARGV[3] mode   ARGV[4] block lengths
-- ARGV[5] escalate within (s)   ARGV[6] the destination's country
-- ARGV[7] most countries asked for and not verified   ARGV[8] hour floor
-- ARGV[9] hour factor (of its own approvals)   ARGV[10] an hour's counters' seconds to live
-- ARGV[11] a day's
-- Returns {'pass'} | a block's answer (_block.lua): the one in force, or one placed now
local now, hour = tonumber(ARGV[1]), tonumber(ARGV[2])
local found = active('ip', KEYS[1], now)
if found then return found end
local field = 'c:' .. ARGV[6]
local asked = redis.call('HGET', KEYS[5], field)
local countries = tonumber(redis.call('HGET', KEYS[5], 'rc') or 0) + (asked and 0 or 1)
if countries > tonumber(ARGV[7]) then
  return place('ip', KEYS[1], KEYS[2], now, ARGV[3], ARGV[4], tonumber(ARGV[5]), countries,
    tonumber(ARGV[7]), 'day')
end
local waiting = unverified(KEYS[3], KEYS[4], hour)
local limit = math.max(tonumber(ARGV[8]), tonumber(ARGV[9]) * window(KEYS[3], KEYS[4], hour, 'a'))
if waiting + 1 > limit then
  return place('ip', KEYS[1], KEYS[2], now, ARGV[3], ARGV[4], tonumber(ARGV[5]), waiting,
    limit, 'hour')
end
redis.call('HINCRBY', KEYS[3], 's', 1)
redis.call('EXPIRE', KEYS[3], ARGV[10])
redis.call('HINCRBY', KEYS[5], 's', 1)
if not asked then
  redis.call('HSET', KEYS[5], field, 'r')
  redis.call('HINCRBY', KEYS[5], 'rc', 1)
end
redis.call('EXPIRE', KEYS[5], ARGV[11])
return {'pass'}
