-- Replace a factor's sealed secret by the same secret sealed under another key, unless the
-- factor changed since it was read (deleted, or re-sealed by another run).
-- KEYS[1]  the factor's hash
-- ARGV[1]  the sealed secret as read  ARGV[2]  the secret sealed under the first key
-- Returns 1 when replaced, 0 when not
if redis.call('HGET', KEYS[1], 'k') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'k', ARGV[2])
return 1
