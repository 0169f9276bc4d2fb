-- GET the URL given to wrk, with `Authorization: Bearer $BENCH_TOKEN` if set.
-- With BENCH_PATHS (a file of paths, one a line) each request takes the next
-- path instead, every thread starting at its own place in the list; a line
-- may give an ETag after its path, sent as that request's If-None-Match.
-- BENCH_IF_NONE_MATCH sends one If-None-Match with every request, and
-- BENCH_ACCEPT one Accept.
-- With BENCH_EXPECT (a status) every other status counts in `bad`, and every
-- response counts under its status; with BENCH_ACCEPT as well, so does an
-- answer of another Content-Type.

dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
local tag = os.getenv("BENCH_IF_NONE_MATCH")
if tag and tag ~= "" then
   wrk.headers["If-None-Match"] = tag
end

local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then
   wrk.headers["Accept"] = accept
else
   accept = nil
end

local close = headers_with({["Connection"] = "close"})

local paths_file = os.getenv("BENCH_PATHS")
if paths_file and paths_file ~= "" then
   function init(args)
      -- Each request prepared once, with and without `Connection: close`.
      plain, closing = {}, {}
      for line in io.lines(paths_file) do
         local path, etag = line:match("^(%S+)%s*(%S*)$")
         local extra = {}
         if etag ~= "" then
            extra["If-None-Match"] = etag
         end
         plain[#plain + 1] = wrk.format(nil, path, headers_with(extra))
         extra["Connection"] = "close"
         closing[#closing + 1] = wrk.format(nil, path, headers_with(extra))
      end
      local threads = tonumber(os.getenv("BENCH_WRK_THREADS"))
      position, bad = math.floor(#plain * id / threads), 0
   end

   function request()
      position = position % #plain + 1
      return reconnecting() and closing[position] or plain[position]
   end
else
   function init(args)
      plain, closing, bad = wrk.format(), wrk.format(nil, nil, close), 0
   end

   function request()
      return reconnecting() and closing or plain
   end
end

-- True when the answer's Content-Type is the media type asked for.
local function accepted(headers)
   for name, value in pairs(headers) do
      if name:lower() == "content-type" then
         return value:sub(1, #accept) == accept
      end
   end
   return false
end

local expect = tonumber(os.getenv("BENCH_EXPECT"))
if expect then
   function response(status, headers, body)
      count_status(status)
      if status ~= expect or (accept and not accepted(headers)) then
         bad = bad + 1
      end
   end
end
