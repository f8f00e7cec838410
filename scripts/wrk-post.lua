-- wrk script for scripts/bench: POSTs a form body to a server function as
-- the page does, and prints one machine-readable line at the end.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
-- The baseline route runs as this user instead of reading a session.
local user = os.getenv("BENCH_USER")
if user and user ~= "" then
  wrk.headers["X-Baseline-User"] = user
end

function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, bad))
end

-- A pause after each answer, per connection: a steady load below what the
-- machine can serve, instead of as many requests as it can answer.
local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end

-- BENCH_ROTATE=N: each request's body has its "{n}" replaced by 1 to N in
-- turn (figure 4's sign-ins as N users).
local rotate = tonumber(os.getenv("BENCH_ROTATE") or "0")
if rotate > 0 then
  local counter = 0
  function request()
    counter = counter + 1
    local body = string.gsub(wrk.body, "{n}", tostring(counter % rotate + 1))
    return wrk.format(nil, nil, nil, body)
  end
end
