-- Count one send or one approval of a provider in a country on a channel, every count of the
-- pair decayed to now: a count loses half its weight every half-life.
-- Beyond `max sent` sends both counts shrink in proportion, so that a busy route's estimate
-- follows its last few hundred sends rather than a day's worth.
-- KEYS[1]  the country's conversion hash (field: provider|channel, value: "sent approved t")
-- ARGV[1]  field   ARGV[2] now (unix s)   ARGV[3] half-life (s)   ARGV[4] 's' or 'a'
-- ARGV[5]  seconds the hash lives after its last count   ARGV[6] max sent
-- Returns the decayed counts after this one: {sent, approved}, as text
local now, half_life = tonumber(ARGV[2]), tonumber(ARGV[3])
local sent, approved, at = 0, 0, now
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local s, a, t = string.match(stored, '^(%S+) (%S+) (%S+)$')
  sent, approved, at = tonumber(s), tonumber(a), tonumber(t)
end
local kept = 2 ^ (-math.max(0, now - at) / half_life)
sent, approved = sent * kept, approved * kept
if ARGV[4] == 's' then sent = sent + 1 else approved = approved + 1 end
local most = tonumber(ARGV[6])
if sent > most then sent, approved = most, approved * most / sent end
local value = string.format('%.9g %.9g %.3f', sent, approved, math.max(now, at))
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {string.format('%.9g', sent), string.format('%.9g', approved)}
