-- Count one send or one approval on a scope's counters (all in one slot).
-- KEYS[1..n] counter hashes   ARGV[1] the field: s (a send) or a (an approval)
-- ARGV[2..n+1] each hash's seconds to live
-- Returns the number of hashes counted on
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, ARGV[1], 1)
  redis.call('EXPIRE', key, ARGV[i + 1])
end
return #KEYS
