-- Settle the journal of a send whose worker died in flight (journal.lua): its attempt becomes
-- an 'unconfirmed' line of the record, as the provider may or may not have taken the message.
-- KEYS[1]  verification hash
-- ARGV[1]  rand
-- Returns 1 when an attempt was settled, 0 when there was none (or the verification is gone).
local key = KEYS[1]
local v = redis.call('HMGET', key, 'r', 'af', 'at')
if v[1] ~= ARGV[1] or not v[2] then return 0 end
local line = string.gsub(v[2], '|sending([|\n])', '|unconfirmed%1', 1)
redis.call('HSET', key, 'at', (v[3] or '') .. line)
redis.call('HDEL', key, 'af')
return 1
