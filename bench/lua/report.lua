-- Prepended by bench/load.py to every scenario script: thread ids, and one JSON line of results.
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

-- answers_matched lives in each thread's Lua state, set only by count_answers.lua: null when the
-- run counted nothing, else the sum over the threads.
local function matched_total()
  local total
  for _, thread in ipairs(threads) do
    local matched = thread:get("answers_matched")
    if matched then total = (total or 0) + matched end
  end
  return total and string.format("%d", total) or "null"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "answers_matched": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
    matched_total()))
end
