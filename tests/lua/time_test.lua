-- time: durations, Time values, sleep, timers and tickers.
local T = require("testlib")
local MS = time.MILLISECOND

local function elapsed(t0) return time.now():sub(t0):nanoseconds() end

T.test("unit constants", function()
  T.eq(time.NANOSECOND, 1); T.eq(time.MICROSECOND, 1000)
  T.eq(time.MILLISECOND, 1000000); T.eq(time.SECOND, 1000000000)
  T.eq(time.MINUTE, 60 * time.SECOND); T.eq(time.HOUR, 60 * time.MINUTE)
  T.eq(require("time"), time)
end)

T.test("parse_duration: Go syntax and Duration methods", function()
  local d = assert(time.parse_duration("1h30m45s500ms"))
  T.eq(d:nanoseconds(), ((90 * 60 + 45) * 1000 + 500) * MS)
  T.eq(d:milliseconds(), (90 * 60 + 45) * 1000 + 500)
  T.eq(d:microseconds(), ((90 * 60 + 45) * 1000 + 500) * 1000)
  T.eq(d:seconds(), 5445.5); T.eq(d:minutes(), 90.758333333333333)
  T.eq(d:hours(), 1.5126388888888888)
  T.eq(time.parse_duration("1.5s"):milliseconds(), 1500)
  T.eq(time.parse_duration("1h2m3.5s"):nanoseconds(), 3723500 * MS)
  T.eq(time.parse_duration("-1.5h"):minutes(), -90)
  T.eq(time.parse_duration("0"):nanoseconds(), 0)
  T.eq(time.parse_duration("1us"), time.parse_duration("1µs"))
  T.eq(time.parse_duration(2500):nanoseconds(), 2500)
  T.eq(time.parse_duration(d), d)
  T.truthy(time.parse_duration("1s") < time.parse_duration("2s"))
end)

T.test("Duration tostring is Go's", function()
  local cases = {
    ["0"] = "0s", ["1ns"] = "1ns", ["1.1us"] = "1.1µs", ["2.2ms"] = "2.2ms",
    ["3.3s"] = "3.3s", ["4m5s"] = "4m5s", ["4m5.001s"] = "4m5.001s",
    ["5h6m7.001s"] = "5h6m7.001s", ["8m0.000000001s"] = "8m0.000000001s",
    ["-1.5h"] = "-1h30m0s", ["1h"] = "1h0m0s",
    ["2562047h47m16.854775807s"] = "2562047h47m16.854775807s",
  }
  for input, want in pairs(cases) do
    T.eq(tostring(time.parse_duration(input)), want, input)
  end
end)

T.test("every invalid duration form is INVALID naming the text", function()
  local bad = {"", "1", "1x", "s", ".s", "-", "+", "1h-2m", "1e3s", " 1s",
               "1s ", "1.2.3s", "ms", "1 s", "9223372036854775808ns",
               "2562048h", "1hh", "--1s", "1sm1"}
  for _, s in ipairs(bad) do
    local v, err = time.parse_duration(s)
    T.fails("INVALID", '"' .. s .. '"', v, err)
    T.eq(err:retryable(), false)
    T.fails("INVALID", '"' .. s .. '"', time.sleep(s))
    T.fails("INVALID", '"' .. s .. '"', time.after(s))
    T.fails("INVALID", '"' .. s .. '"', time.timer(s))
    T.fails("INVALID", '"' .. s .. '"', time.ticker(s))
  end
  T.fails("INVALID", "zero byte", time.parse_duration("1s\0"))
  T.fails("INVALID", "got table", time.parse_duration({}))
  T.fails("INVALID", "got boolean", time.sleep(true))
  T.fails("INVALID", "got nil", time.after(nil))
  T.fails("INVALID", "out of range", time.parse_duration(0 / 0))
  T.fails("INVALID", "out of range", time.parse_duration(math.huge))
  T.fails("INVALID", "out of range", time.parse_duration(1e19))
end)

T.test("non-positive durations: INVALID where a positive is needed", function()
  for _, d in ipairs({0, -1, "0s", "-1ms"}) do
    T.fails("INVALID", "must be positive", time.after(d))
    T.fails("INVALID", "must be positive", time.timer(d))
    T.fails("INVALID", "must be positive", time.ticker(d))
  end
  T.fails("INVALID", "must not be negative", time.sleep(-1))
  T.fails("INVALID", "must not be negative", time.sleep("-1ms"))
  T.eq(time.sleep(0), true)
  local tm = time.timer("1h")
  T.fails("INVALID", "must be positive", tm:reset(0))
  tm:stop()
end)

T.test("sleep is never early", function()
  for _, d in ipairs({1 * MS, 3 * MS, "2ms", time.parse_duration("1500us")}) do
    local t0 = time.now()
    T.eq(time.sleep(d), true)
    local want = type(d) == "number" and d or time.parse_duration(d):nanoseconds()
    T.truthy(elapsed(t0) >= want, "slept " .. elapsed(t0) .. " < " .. want)
  end
end)

T.test("timers fire in deadline order, not early", function()
  local out = channel.new(10)
  local t0 = time.now()
  for _, ms in ipairs({9, 3, 6, 1, 12}) do
    coroutine.spawn(function()
      time.sleep(ms * MS)
      out:send({ms = ms, at = elapsed(t0)})
    end)
  end
  local order = {}
  for _ = 1, 5 do
    local r = out:receive()
    T.truthy(r.at >= r.ms * MS, "timer " .. r.ms .. "ms fired early")
    order[#order + 1] = r.ms
  end
  T.eq(table.concat(order, ","), "1,3,6,9,12")
end)

T.test("after delivers a Time once", function()
  local t0 = time.now()
  local ch = time.after(2 * MS)
  local v, ok = ch:receive()
  T.eq(ok, true)
  T.truthy(v:sub(t0):nanoseconds() >= 2 * MS, "fired early")
  T.eq(ch:len(), 0)
  local r = channel.select{ch:case_receive(), default = true}
  T.eq(r.default, true)
end)

T.test("timer: channel/response, stop, reset", function()
  local t0 = time.now()
  local tm = time.timer(2 * MS)
  T.eq(tm:channel(), tm:response())
  tm:channel():receive()
  T.truthy(elapsed(t0) >= 2 * MS)
  T.eq(tm:stop(), false, "stop after firing")
  T.eq(tm:reset(2 * MS), false, "reset of an expired timer")
  T.eq(tm:stop(), true, "stop of an armed timer")
  time.sleep(4 * MS)
  T.eq(channel.select{tm:channel():case_receive(), default = true}.default, true,
       "a stopped timer does not fire")
  -- reset pushes the deadline back
  t0 = time.now()
  tm = time.timer(20 * MS)
  time.sleep(1 * MS)
  T.eq(tm:reset(30 * MS), true)
  tm:channel():receive()
  T.truthy(elapsed(t0) >= 31 * MS, "fired before the reset deadline")
  -- a value not received before stop/reset is dropped
  tm = time.timer(1 * MS)
  time.sleep(3 * MS)
  T.eq(tm:channel():len(), 1)
  tm:reset("1h")
  T.eq(tm:channel():len(), 0)
  tm:stop()
end)

T.test("ticker: ticks at the period, stop ends it", function()
  local t0 = time.now()
  local tk = time.ticker(2 * MS)
  for i = 1, 3 do
    local v = tk:response():receive()
    T.truthy(v:sub(t0):nanoseconds() >= i * 2 * MS, "tick " .. i .. " early")
  end
  T.eq(tk:stop(), true)
  time.sleep(5 * MS)
  T.eq(tk:channel():len(), 0)
  T.eq(tk:stop(), false)
end)

T.test("unreferenced timers: fire while waited on, else are collected", function()
  local ch = time.after(3 * MS)
  collectgarbage(); collectgarbage()
  T.truthy(ch:receive(), "time.after fired after a full collection")
  local c2
  do c2 = time.timer(2 * MS):channel() end
  collectgarbage(); collectgarbage()
  T.truthy(c2:receive(), "a timer kept alive by its channel fired")
  local before = collectgarbage("count")
  for _ = 1, 20000 do time.after("1h") end
  collectgarbage(); collectgarbage()
  T.truthy(collectgarbage("count") < before + 512, "dropped timers collected")
end)

T.test("a timer resurrected after its __gc cannot be re-armed", function()
  local saved
  do
    local tm = time.timer("1h")
    setmetatable({}, {__gc = function() saved = tm end})
  end
  collectgarbage(); collectgarbage()
  T.truthy(saved, "resurrected")
  T.checkerr("the timer was finalized", saved.reset, saved, "1ms")
  T.eq(saved:stop(), false)
end)

T.test("now: Time methods", function()
  local t = time.now()
  local u = os.time()
  T.truthy(math.abs(t:unix() - u) <= 1)
  T.eq(t:unix(), t:unix_nano() // time.SECOND)
  local later = t:add("1h30m")
  T.eq(later:sub(t), time.parse_duration("1h30m"))
  T.eq(later:unix() - t:unix(), 5400)
  T.fails("INVALID", '"x"', t:add("x"))
  local s = t:format_rfc3339()
  T.truthy(s:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), s)
  T.eq(os.date("!%Y-%m-%dT%H:%M:%SZ", t:unix()), s)
  T.truthy(t < later and t <= t and not (later < t))
  T.truthy(tostring(t):find("^%d%d%d%d%-"))
end)

T.test("Duration arithmetic", function()
  local s = time.parse_duration("1s")
  T.eq(tostring(s * 2), "2s")
  T.eq(tostring(3 * s), "3s")
  T.eq(tostring(s + s), "2s")
  T.eq(tostring(s + time.MILLISECOND), "1.001s")  -- a number is nanoseconds
  T.eq(tostring(s - time.parse_duration("250ms")), "750ms")
  T.eq(tostring(-s), "-1s")
  T.eq(tostring(s / 4), "250ms")
  T.eq(tostring(s // 3), "333.333333ms")
  T.eq(s / time.parse_duration("250ms"), 4.0)
  T.eq(s * 2 == time.parse_duration("2s"), true)
  local function err(f, part)
    local ok, e = pcall(f)
    T.eq(ok, false)
    T.eq(tostring(e):find(part, 1, true) ~= nil, true, tostring(e))
  end
  err(function() return s * s end, "a Duration times a Duration")
  err(function() return s * 1.5 end, "a fraction")
  err(function() return s + "1s" end, "expected a Duration or an integer")
  err(function() return s * math.maxinteger end, "overflow")
  err(function() return s / 0 end, "division by zero")
  err(function() return -time.parse_duration(math.mininteger) end, "overflow")
  err(function() return time.parse_duration(math.mininteger) // -1 end,
      "overflow")
end)

T.done()
