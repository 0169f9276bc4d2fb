-- POST /bookings, every request a distinct (user, event) pair.
--
-- BENCH_REQUESTS is a file of `<access token> <event id>` lines; thread i of
-- n takes the lines whose number is i modulo n, so no two requests repeat a
-- pair. Only 201 is a success: anything else counts in `bad`; every response
-- counts under its status.

dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
   local threads = tonumber(os.getenv("BENCH_WRK_THREADS"))
   tokens, events = {}, {}
   local number = 0
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      if number % threads == id then
         local token, event = line:match("^(%S+) (%d+)$")
         tokens[#tokens + 1] = token
         events[#events + 1] = event
      end
      number = number + 1
   end
   position, bad, exhausted = 0, 0, 0
end

function request()
   position = position + 1
   if position > #tokens then
      position, exhausted = 1, exhausted + 1
   end
   local headers = {
      ["Authorization"] = "Bearer " .. tokens[position],
      ["Content-Type"] = "application/json",
   }
   if reconnecting() then
      headers["Connection"] = "close"
   end
   return wrk.format("POST", "/bookings", headers, '{"event_id": ' .. events[position] .. '}')
end

function response(status, headers, body)
   count_status(status)
   if status ~= 201 then
      bad = bad + 1
   end
end
