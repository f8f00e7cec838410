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
-- Figure 4's sign-ins: the client a trusted proxy names, one per round.
local forwarded = os.getenv("BENCH_FORWARDED_FOR")
if forwarded and forwarded ~= "" then
  wrk.headers["X-Forwarded-For"] = forwarded
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
-- turn (figure 4's sign-ins as N users). BENCH_COOKIE_FILE: a file of
-- cookies, one per line, sent in turn (many sessions, not one hot cookie);
-- each of the BENCH_THREADS threads starts at its own place in the list, so
-- every cookie is used once before any is used twice when the threads go at
-- the same pace.
local rotate = tonumber(os.getenv("BENCH_ROTATE") or "0")
local cookie_file = os.getenv("BENCH_COOKIE_FILE")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local cookies = {}
if cookie_file and cookie_file ~= "" then
  for line in io.lines(cookie_file) do
    if line ~= "" then cookies[#cookies + 1] = line end
  end
end

local started = 0
function setup(thread)
  thread:set("index", started)
  started = started + 1
end

local counter = 0
function init(args)
  -- `index` is the global setup() gave this thread.
  counter = (index or 0) * math.floor(#cookies / threads)
end

-- Every request is built here, in every window, whether or not it rotates
-- anything: windows that are compared pay the same cost in wrk, which shares
-- the machine with the server.
function request()
  counter = counter + 1
  local body = wrk.body
  if rotate > 0 then
    body = string.gsub(body, "{n}", tostring(counter % rotate + 1))
  end
  -- wrk.format takes these instead of wrk.headers, not on top of them.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  if #cookies > 0 then
    headers["Cookie"] = cookies[counter % #cookies + 1]
  end
  return wrk.format(nil, nil, headers, body)
end
