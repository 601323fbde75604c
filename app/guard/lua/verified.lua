-- An approval from a client address: counted, and its country marked verified for the day.
-- KEYS[1] the address's counters this hour   KEYS[2] today's (see address.lua)
-- ARGV[1] the verification's country   ARGV[2] an hour's counters' seconds to live
-- ARGV[3] a day's
-- Returns 1
redis.call('HINCRBY', KEYS[1], 'a', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'a', 1)
local field = 'c:' .. ARGV[1]
if redis.call('HGET', KEYS[2], field) == 'r' then redis.call('HINCRBY', KEYS[2], 'rc', -1) end
redis.call('HSET', KEYS[2], field, 'v')
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
