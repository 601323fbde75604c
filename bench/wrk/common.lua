-- Shared by the benchmark's wrk scripts: thread ids, response status counts, and one
-- machine-readable summary line that bench/run.py parses:
--   BENCH {"requests":N,"seconds":S,"p50_us":..,"p99_us":..,"errors":{..},"statuses":{..},
--          "used":{"max":..,"wrapped":..}}
-- A script that consumes a pool of lines sets the per-thread globals `used` and `wrapped`.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

statuses = {}
used = 0
wrapped = false

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local function json_object(map)
  local parts = {}
  for key, value in pairs(map) do
    parts[#parts + 1] = string.format('"%s":%s', tostring(key), tostring(value))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local totals, most, any_wrapped = {}, 0, false
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    most = math.max(most, thread:get("used"))
    any_wrapped = any_wrapped or thread:get("wrapped")
  end
  local errors = summary.errors
  io.write("BENCH ", json_object({
    requests = summary.requests,
    seconds = summary.duration / 1e6,
    p50_us = latency:percentile(50),
    p99_us = latency:percentile(99),
    max_us = latency.max,
    errors = json_object({connect = errors.connect, read = errors.read, write = errors.write,
                          status = errors.status, timeout = errors.timeout}),
    statuses = json_object(totals),
    used = json_object({max = most, wrapped = any_wrapped}),
  }), "\n")
end
