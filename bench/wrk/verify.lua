-- POST /otp/verify with the codes of a pool file, each line used once: "<id>,<code>".
-- args: pool file, first line to use (0-based, a multiple of the thread count), thread count
-- Thread t uses lines first + t, first + t + threads, ...; `used` reports how far it got so
-- that the next run starts where this one stopped. A thread that runs out of lines starts
-- over (its answers turn to 404 and show up as unexpected statuses, with wrapped=true).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local headers = {["Content-Type"] = "application/json"}
local bodies = {}
local start = 0

function init(args)
  local threads = tonumber(args[3])
  local index = 0
  for line in io.lines(args[1]) do
    if index % threads == tid then
      local id, code = line:match("^([^,]+),(%d+)$")
      bodies[#bodies + 1] = string.format('{"id":"%s","code":"%s"}', id, code)
    end
    index = index + 1
  end
  start = math.floor(tonumber(args[2]) / threads)
end

function request()
  local position = start + used
  used = used + 1
  wrapped = wrapped or position >= #bodies
  return wrk.format("POST", "/otp/verify", headers, bodies[position % #bodies + 1])
end
