-- POST $BENCH_BODY (JSON) to the URL given to wrk.

dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"

function init(args)
   plain = wrk.format()
   closing = wrk.format(nil, nil, headers_with({["Connection"] = "close"}))
end

function request()
   return reconnecting() and closing or plain
end
