-- wrk script of scripts/bench-http.sh: every request posts a NEW rating, as the widget does on
-- a customer's first tap. Set by the environment:
--   PULSETAP_WRK_KIND  anonymous: a new response_id and two tags (a help-center page);
--                      interaction: the same plus a new interaction id (the end of a chat)
--   PULSETAP_WRK_RUN   a number that differs between runs, so no two runs share an id
--   PULSETAP_WRK_PACE  mean pause in ms of each connection between a reply and its next
--                      request, drawn from an exponential distribution so arrivals are close
--                      to random; unset or 0: no pause (as fast as the server answers)
--   PULSETAP_WRK_ACKED (the soak benchmark) a path prefix: each thread appends the response_id
--                      of every 2xx it gets to <prefix>-<run>-<thread>, one per line, and the
--                      RESULT line also counts the answers by kind
-- done() prints one "RESULT key=value ..." line for the script to read.

local kind = os.getenv("PULSETAP_WRK_KIND") or "anonymous"
local run = tonumber(os.getenv("PULSETAP_WRK_RUN") or "0")
local pace = tonumber(os.getenv("PULSETAP_WRK_PACE") or "0")
local acked_prefix = os.getenv("PULSETAP_WRK_ACKED")

local threads_started = 0
local threads = {}
function setup(thread)
  thread:set("thread_number", threads_started)
  threads_started = threads_started + 1
  table.insert(threads, thread)
end

local sent = 0
function init(args)
  math.randomseed(run * 64 + thread_number)
  wrk.method = "POST"
  wrk.path = "/v1/responses"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = "https://shop.example.com"
end

local function r16()
  return math.random(0, 0xffff)
end

function request()
  sent = sent + 1
  -- A version-4 UUID: 48 random bits first (so ids land all over the store's key space, as
  -- browsers' random ids do), then the run, the thread and a counter, so none repeats.
  local id = string.format("%04x%04x-%04x-4%03x-%04x-%012x",
    r16(), r16(), r16(), thread_number % 0x1000, 0x8000 + run % 0x4000, sent)
  local interaction = ""
  if kind == "interaction" then
    interaction = string.format(',"interaction":"chat-%d-%d-%d"', run, thread_number, sent)
  end
  local body = string.format(
    '{"survey":"bench","response_id":"%s","score":%d%s,"tags":{"agent":"agent-%d","channel":"chat"}}',
    id, 1 + sent % 5, interaction, sent % 12)
  return wrk.format(nil, nil, nil, body)
end

-- Answers by kind, per thread (read by done() through thread:get).
acknowledged, overloaded, unconfirmed, too_many_connections, other = 0, 0, 0, 0, 0

if acked_prefix then
  local file, written = nil, 0
  function response(status, headers, body)
    if status >= 200 and status < 300 then
      if file == nil then
        file = assert(io.open(string.format("%s-%d-%d", acked_prefix, run, thread_number), "a"))
      end
      file:write(string.match(body, '"response_id":"([^"]+)"') or "?", "\n")
      written = written + 1
      if written % 500 == 0 then file:flush() end
      acknowledged = acknowledged + 1
      return
    end
    local code = string.match(body or "", '"error":"([^"]+)"')
    if code == "overloaded" then
      overloaded = overloaded + 1
    elseif code == "storage_unavailable" then
      unconfirmed = unconfirmed + 1
    elseif code == "too_many_connections" then
      too_many_connections = too_many_connections + 1
    else
      other = other + 1
    end
  end
end

if pace > 0 then
  function delay()
    return math.floor(-pace * math.log(1 - math.random()) + 0.5)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  -- wrk counts every reply with a status of 400 or more in errors.status; neither server
  -- answers this POST with a 1xx or 3xx.
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non_2xx=%d socket_errors=%d p50_us=%d p99_us=%d",
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
  if acked_prefix then
    local total = {acknowledged = 0, overloaded = 0, unconfirmed = 0, too_many_connections = 0, other = 0}
    for _, thread in ipairs(threads) do
      for name, _ in pairs(total) do
        total[name] = total[name] + (thread:get(name) or 0)
      end
    end
    io.write(string.format(
      " acknowledged=%d overloaded=%d unconfirmed=%d too_many_connections=%d other=%d socket_errors_by_kind=%d/%d/%d/%d",
      total.acknowledged, total.overloaded, total.unconfirmed, total.too_many_connections,
      total.other, errors.connect, errors.read, errors.write, errors.timeout))
  end
  io.write("\n")
end
