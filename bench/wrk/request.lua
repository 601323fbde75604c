-- POST /otp/request with a new valid German mobile number on every request.
-- args: run (one digit, different for the warm-up and the measured run), and the range's
-- digit (1, 2, 7 or 9: one per served version)
-- Numbers are +4915<range><run><thread id><6-digit counter>, so no two requests of one harness
-- run share a destination (no resend, no cooldown) as long as a thread sends under a million.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local headers = {["Content-Type"] = "application/json"}
local run, range = 0, "1"

function init(args)
  run = tonumber(args[1]) or 0
  range = args[2] or "1"
end

function request()
  used = used + 1
  wrapped = wrapped or used >= 1000000
  local body = string.format('{"phone":"+4915%s%d%d%06d"}', range, run, tid, used % 1000000)
  return wrk.format("POST", "/otp/request", headers, body)
end
