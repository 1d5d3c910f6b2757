-- report.lua is appended by cmd/bench to each request script.
--
-- response() counts, per thread, the answers outside 2xx (wrk's own
-- "Non-2xx or 3xx responses" counts only 4xx and 5xx). done() runs in
-- another Lua state after the threads stop; it reads each thread's count
-- through the thread objects kept in setup(), the way wrk's SCRIPTING
-- documents, and prints one line for the harness (times in microseconds).

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

non2xx = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, e.connect, e.read, e.write, e.timeout))
end
