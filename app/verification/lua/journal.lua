-- Note, before a queued send calls its provider, the attempt in flight: should the worker die
-- during the call, the verification still says a message may have gone out, and where.
-- KEYS[1]  verification hash
-- ARGV[1]  rand   ARGV[2] the attempt's line, its outcome 'sending' (newline-terminated)
-- Returns 1 when noted, 0 when the verification is gone or replaced.
local key = KEYS[1]
if redis.call('HGET', key, 'r') ~= ARGV[1] then return 0 end
redis.call('HSET', key, 'af', ARGV[2])
return 1
