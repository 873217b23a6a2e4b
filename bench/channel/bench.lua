-- The sandlua side of bench/channel/run: prints "name ns_per_op" lines.
local N = tonumber(arg[1]) or 200000

local function report(name, n, t0)
  print(string.format("%s %.1f", name, (os.clock() - t0) * 1e9 / n))
end

do  -- ping-pong: one round trip = a send and a receive on each side
  local ping, pong = channel.new(), channel.new()
  coroutine.spawn(function()
    while true do pong:send(ping:receive()) end
  end)
  for i = 1, 1000 do ping:send(i); pong:receive() end  -- warm up
  local t0 = os.clock()
  for i = 1, N do ping:send(i); pong:receive() end
  report("pingpong", N, t0)
end

do  -- buffered producer/consumer, per value
  local ch, done = channel.new(128), channel.new()
  local t0 = os.clock()
  coroutine.spawn(function()
    for i = 1, N do ch:send(i) end
    ch:close()
  end)
  coroutine.spawn(function()
    local n = 0
    while true do
      local _, ok = ch:receive()
      if not ok then break end
      n = n + 1
    end
    done:send(n)
  end)
  assert(done:receive() == N)
  report("buffered", N, t0)
end

do  -- spawn: create a task, run it to its end (it sends one value)
  local ch = channel.new(1)
  local n = N // 2
  local t0 = os.clock()
  for i = 1, n do
    coroutine.spawn(function() ch:send(i) end)
    ch:receive()
  end
  report("spawn_run_finish", n, t0)
end

do  -- time.after churn: a select whose message wins over a fresh timeout
  local msg = channel.new(1)
  local n = N // 2
  local t0 = os.clock()
  for i = 1, n do
    msg:send(i)
    local r = channel.select{msg:case_receive(), time.after("10s"):case_receive()}
    assert(r.channel == msg)
  end
  report("after_churn", n, t0)
end

do  -- time.after that fires: arm, wait in the event loop, wake up
  local n = 500
  local t0 = os.clock()
  for _ = 1, n do time.after(1000):receive() end
  report("after_fire_cpu", n, t0)
end
