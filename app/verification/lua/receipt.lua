-- Record a provider's delivery report on the verification that sent the message.
-- KEYS[1]  verification hash
-- ARGV[1]  rand   ARGV[2] provider message id   ARGV[3] delivered | undelivered | failed
-- ARGV[4]  the provider's status code, or ''
-- Returns {'new', the verification's country ('' when the hash leaves it out), its destination}
--       | {'seen'} for a repeated report
--       | {'gone'} when the verification expired or was replaced.
local key = KEYS[1]
local v = redis.call('HMGET', key, 'r', 'rc', 'cc', 'to')
if v[1] ~= ARGV[1] then return {'gone'} end
local line = ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '\n'
local seen = v[2] or ''
if string.find(seen, line, 1, true) then return {'seen'} end
redis.call('HSET', key, 'rc', seen .. line)
return {'new', v[3] or '', v[4]}
