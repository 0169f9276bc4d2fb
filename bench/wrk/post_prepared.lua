-- POST prepared requests, each once: every request is a fresh one.
--
-- BENCH_REQUESTS is a file of `<access token> <id>` lines; thread i of n
-- takes the lines whose number is i modulo n, so no two requests repeat a
-- line. A request POSTs to BENCH_PATH with `{id}` replaced by its line's id,
-- with the body BENCH_BODY (JSON, `{id}` replaced too) if that is set:
--   a booking   BENCH_PATH=/bookings  BENCH_BODY={"event_id": {id}}
--   a confirm   BENCH_PATH=/bookings/{id}/confirm
-- Only BENCH_EXPECT is a success: anything else counts in `bad`; every
-- response counts under its status. A thread that has used all its lines
-- starts them over and counts it in `exhausted`: the run is not fresh any more.

dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local path_template = os.getenv("BENCH_PATH")
local body_template = os.getenv("BENCH_BODY")
if body_template == "" then
   body_template = nil
end
local expect = assert(tonumber(os.getenv("BENCH_EXPECT")), "BENCH_EXPECT is not set")

function init(args)
   local threads = tonumber(os.getenv("BENCH_WRK_THREADS"))
   tokens, paths, bodies = {}, {}, {}
   local number = 0
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      if number % threads == id then
         local token, item = line:match("^(%S+) (%d+)$")
         tokens[#tokens + 1] = token
         paths[#tokens] = (path_template:gsub("{id}", item))
         if body_template then
            bodies[#tokens] = (body_template:gsub("{id}", item))
         end
      end
      number = number + 1
   end
   assert(#tokens > 0, "no prepared requests for thread " .. id)
   position, bad, exhausted = 0, 0, 0
end

function request()
   position = position + 1
   if position > #tokens then
      position, exhausted = 1, exhausted + 1
   end
   local headers = {["Authorization"] = "Bearer " .. tokens[position]}
   if body_template then
      headers["Content-Type"] = "application/json"
   end
   if reconnecting() then
      headers["Connection"] = "close"
   end
   return wrk.format("POST", paths[position], headers, bodies[position])
end

function response(status, headers, body)
   count_status(status)
   if status ~= expect then
      bad = bad + 1
   end
end
