-- Replays pre-generated requests (bench/run.ts writes them), one per line, fields separated by tabs:
--   METHOD <tab> PATH <tab> BEARER TOKEN or - <tab> JSON BODY or -
-- Each thread starts at its own offset and cycles through the file. With WRK_STATUS=1 every response is
-- counted by status (that costs the load generator a little, so read-only scenarios leave it off and rely
-- on wrk's own non-2xx count). `done` prints one line, `BENCH_RESULT {json}`, for bench/run.ts.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local prepared = {}
local index = 1

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if method ~= nil then
      local headers = {}
      if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
      if body == "-" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      prepared[#prepared + 1] = wrk.format(method, path, headers, body)
    end
  end
  local threadCount = tonumber(args[2]) or 1
  index = math.floor((id - 1) * #prepared / threadCount) % #prepared + 1
  statuses = {}
end

function request()
  local r = prepared[index]
  index = index % #prepared + 1
  return r
end

if os.getenv("WRK_STATUS") == "1" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    if counted ~= nil then
      for status, n in pairs(counted) do
        totals[status] = (totals[status] or 0) + n
      end
    end
  end
  local parts = {}
  for status, n in pairs(totals) do
    parts[#parts + 1] = string.format('"%d":%d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ",")))
end
