-- GET the URL given to wrk, with `Authorization: Bearer $BENCH_TOKEN` if set.
-- With BENCH_PATHS (a file of paths, one a line) each request takes the next
-- path instead, every thread starting at its own place in the list.

dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

local close = headers_with({["Connection"] = "close"})

local paths_file = os.getenv("BENCH_PATHS")
if paths_file and paths_file ~= "" then
   function init(args)
      paths = {}
      for line in io.lines(paths_file) do
         paths[#paths + 1] = line
      end
      local threads = tonumber(os.getenv("BENCH_WRK_THREADS"))
      position = math.floor(#paths * id / threads)
   end

   function request()
      position = position % #paths + 1
      return wrk.format(nil, paths[position], reconnecting() and close or nil)
   end
else
   function init(args)
      plain, closing = wrk.format(), wrk.format(nil, nil, close)
   end

   function request()
      return reconnecting() and closing or plain
   end
end
