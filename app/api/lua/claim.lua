-- Claim an Idempotency-Key for one call, or read what it already holds.
-- KEYS[1]  the key's record
-- ARGV[1]  the in-progress record   ARGV[2] seconds a call may stay in progress
-- Returns false when the key was free and is now held for this call, else the record held.
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
