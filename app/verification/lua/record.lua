-- uses _pending.lua
-- Record the delivery attempts of one send on its verification, and drop the journal of the
-- attempt in flight (journal.lua), which they include.
-- KEYS[1]  verification hash
-- ARGV[1]  rand   ARGV[2] attempt lines to append (newline-terminated)
-- ARGV[3]  'f' to mark failed, or ''
-- Returns 1 when recorded, 0 when the verification is gone or replaced.
local key = KEYS[1]
if redis.call('HGET', key, 'r') ~= ARGV[1] then return 0 end
redis.call('HSET', key, 'at', (redis.call('HGET', key, 'at') or '') .. ARGV[2])
redis.call('HDEL', key, 'af')
if ARGV[3] ~= '' and pending(redis.call('HGET', key, 's'), ARGV[1]) then
  redis.call('HSET', key, 's', ARGV[3])
end
return 1
