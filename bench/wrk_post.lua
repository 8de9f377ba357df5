-- wrk script: POST prepared bodies round robin, then print the run's figures as one JSON line.
-- Arguments (after --): a folder holding body files 0, 1, ... and a file `headers` with one
-- "Name: value" per line; the number of body files.
local prepared = {}
local turn = 0

function init(args)
  local folder, count = args[1], tonumber(args[2])
  local headers = {}
  for line in io.lines(folder .. "/headers") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  for index = 0, count - 1 do
    local file = assert(io.open(folder .. "/" .. index, "rb"))
    -- Formatted once here: building each request per call would cost wrk CPU under load.
    prepared[index + 1] = wrk.format("POST", nil, headers, file:read("*a"))
    file:close()
  end
end

function request()
  turn = turn % #prepared + 1
  return prepared[turn]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
