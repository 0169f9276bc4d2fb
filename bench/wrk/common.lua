-- Shared by the benchmark's wrk scripts: thread ids, and one JSON result line.
--
-- Each wrk thread runs its own Lua state. setup() (in the main state) gives
-- each one an id; a script may count its own failures in the thread globals
-- `bad` (responses that are not the expected success) and `exhausted` (times
-- its prepared requests ran out and started over), and the responses per
-- status with count_status(); done() adds them up.

local threads = {}

-- gunicorn's workers race to accept new connections, and wrk opens all of
-- its own in the first instant: a run could keep the split of that instant,
-- every connection on one worker, and measure one worker instead of the
-- server. So each thread asks the server to close a connection every
-- RECONNECT_EVERY requests (`Connection: close`); wrk opens a new one, and
-- the connections are dealt again many times a run, as a stream of clients
-- would be.
local RECONNECT_EVERY = 100
local sent = 0

-- True once every RECONNECT_EVERY calls: the request to send now should
-- carry `Connection: close`.
function reconnecting()
   sent = sent + 1
   return sent % RECONNECT_EVERY == 0
end

-- Return a copy of wrk.headers, with `extra` headers added.
function headers_with(extra)
   local headers = {}
   for name, value in pairs(wrk.headers) do
      headers[name] = value
   end
   for name, value in pairs(extra or {}) do
      headers[name] = value
   end
   return headers
end

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

statuses = {}

function count_status(status)
   statuses[status] = (statuses[status] or 0) + 1
end

local function total(name)
   local sum = 0
   for _, thread in ipairs(threads) do
      sum = sum + (tonumber(thread:get(name)) or 0)
   end
   return sum
end

local function status_counts()
   local sums = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses") or {}) do
         sums[status] = (sums[status] or 0) + count
      end
   end
   local fields = {}
   for status, count in pairs(sums) do
      fields[#fields + 1] = string.format('"%d": %d', status, count)
   end
   table.sort(fields)
   return "{" .. table.concat(fields, ", ") .. "}"
end

function done(summary, latency, requests)
   local e = summary.errors
   local ms = function(p) return latency:percentile(p) / 1000 end
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_s": %.3f, "errors": {"connect": %d, ' ..
      '"read": %d, "write": %d, "status": %d, "timeout": %d, "unexpected": %d, ' ..
      '"exhausted": %d}, "latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, ' ..
      '"max": %.3f, "mean": %.3f}, "statuses": %s}\n',
      summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status,
      e.timeout, total("bad"), total("exhausted"), ms(50), ms(90), ms(99),
      latency.max / 1000, latency.mean / 1000, status_counts()))
end
