-- uses _block.lua
-- The fraud guard's check of one send: its destination's prefix and country, in the one slot
-- of their calling code. Reads the counters; writes nothing but a block that is due.
-- KEYS[1] the prefix's block   KEYS[2] its history   KEYS[3] the country's block
-- KEYS[4] its history   KEYS[5..8] the prefix's counters: this hour, last hour, today, yesterday
-- KEYS[9..10] the country's counters this hour and last hour; KEYS[11..] today, yesterday and
--          every day before of the baseline (counter hashes: s = sends, a = approvals)
-- ARGV[1] now   ARGV[2] elapsed share of the hour   ARGV[3] of the day   ARGV[4] mode
-- ARGV[5] block lengths "3600,43200,..."   ARGV[6] escalate within (s)
-- ARGV[7..11] prefix: hour floor, hour factor, day floor, day factor, own factor
-- ARGV[12..15] country: hour floor, hour factor (of the greater of its verified sends in the
--          hour and an hour of its best day), day floor, day factor (of its best day)
-- Returns {'pass'} | a block's answer (_block.lua): the one in force, or one placed now
local now, hour, day = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local found = active('prefix', KEYS[1], now) or active('country', KEYS[3], now)
if found then return found end
local n = {}
for i = 7, 15 do n[i] = tonumber(ARGV[i]) end
local country_hour = window(KEYS[9], KEYS[10], hour, 'a')
local country_day = window(KEYS[11], KEYS[12], day, 'a')
local best_day = 0
for i = 11, #KEYS do best_day = math.max(best_day, get(KEYS[i], 'a')) end
local own_hour = window(KEYS[5], KEYS[6], hour, 'a')
local own_day = window(KEYS[7], KEYS[8], day, 'a')
-- scope, its block's KEYS index, window, unverified sends, limit
local rules = {
  {'prefix', 1, 'hour', unverified(KEYS[5], KEYS[6], hour),
    math.max(n[7], n[8] * country_hour, n[11] * own_hour)},
  {'prefix', 1, 'day', unverified(KEYS[7], KEYS[8], day),
    math.max(n[9], n[10] * country_day, n[11] * own_day)},
  {'country', 3, 'hour', unverified(KEYS[9], KEYS[10], hour),
    math.max(n[12], n[13] * math.max(country_hour, best_day / 24))},
  {'country', 3, 'day', unverified(KEYS[11], KEYS[12], day), math.max(n[14], n[15] * best_day)},
}
for _, rule in ipairs(rules) do
  if rule[4] + 1 > rule[5] then
    return place(rule[1], KEYS[rule[2]], KEYS[rule[2] + 1], now, ARGV[4], ARGV[5],
      tonumber(ARGV[6]), rule[4], rule[5], rule[3])
  end
end
return {'pass'}
