-- channel: Go channel semantics between tasks.
local T = require("testlib")

T.test("unbuffered rendezvous: send completes only when received", function()
  local c = channel.new()
  local log = {}
  coroutine.spawn(function()
    log[#log + 1] = "send"
    c:send("x")
    log[#log + 1] = "sent"
  end)
  time.sleep(0)  -- the sender runs and blocks
  T.eq(table.concat(log, ","), "send")
  local v, ok = c:receive()
  T.eq(v, "x"); T.eq(ok, true)
  time.sleep(0)
  T.eq(table.concat(log, ","), "send,sent")
end)

T.test("receive blocks until a sender comes", function()
  local c = channel.new()
  coroutine.spawn(function() c:send(42) end)
  T.eq(c:receive(), 42)
end)

T.test("buffered capacity: sends block only when full", function()
  local c = channel.new(3)
  T.eq(c:cap(), 3)
  for i = 1, 3 do T.eq(c:send(i), true) end
  T.eq(c:len(), 3)
  local fourth = false
  coroutine.spawn(function() c:send(4); fourth = true end)
  time.sleep(0)
  T.eq(fourth, false, "fourth send blocked")
  T.eq(c:receive(), 1)
  time.sleep(0)
  T.eq(fourth, true, "fourth send done after a receive")
  for i = 2, 4 do T.eq(c:receive(), i) end
  T.eq(c:len(), 0)
end)

T.test("values of any type pass unchanged, nil included", function()
  local c = channel.new(8)
  local tbl, fn, co = {}, print, coroutine.create(print)
  local vals = {nil, false, 0, 1.5, "s", tbl, fn, co}
  for i = 1, 8 do c:send(vals[i]) end
  for i = 1, 8 do
    local v, ok = c:receive()
    T.eq(v, vals[i]); T.eq(ok, true)
  end
  local u = channel.new()
  coroutine.spawn(function() u:send(nil) end)
  local v, ok = u:receive()
  T.eq(v, nil); T.eq(ok, true)
end)

T.test("close: buffered values drain, then nil, false", function()
  local c = channel.new(2)
  c:send("a"); c:close(); c:close()  -- closing twice is a no-op
  T.eq(select("#", c:receive()), 2)
  local v, ok = c:receive()
  T.eq(v, nil); T.eq(ok, false)
  T.checkerr("send on closed channel", c.send, c, 1)
end)

T.test("close wakes pending receivers with nil, false", function()
  local c = channel.new()
  local got = {}
  for i = 1, 3 do
    coroutine.spawn(function()
      local v, ok = c:receive()
      got[#got + 1] = tostring(v) .. "/" .. tostring(ok)
    end)
  end
  time.sleep(0)
  c:close()
  time.sleep(0)
  T.eq(table.concat(got, " "), "nil/false nil/false nil/false")
end)

T.test("close makes pending senders raise", function()
  local c = channel.new()
  local errs = {}
  for i = 1, 2 do
    coroutine.spawn(function()
      local ok, err = pcall(c.send, c, i)
      errs[#errs + 1] = (not ok) and tostring(err) or "sent"
    end)
  end
  time.sleep(0)
  c:close()
  time.sleep(0)
  T.eq(#errs, 2)
  for _, e in ipairs(errs) do T.truthy(e:find("send on closed channel"), e) end
end)

T.test("bad arguments raise", function()
  T.checkerr("size must be", channel.new, -1)
  T.checkerr("number expected", channel.new, "x")
  T.checkerr("sandlua.Channel expected", channel.new().send, {}, 1)
  T.checkerr("case 2 is not a channel case", channel.select,
             {channel.new():case_receive(), {}})
  T.checkerr("table expected", channel.select, 1)
end)

T.test("select with default: nothing ready", function()
  local c = channel.new()
  local r = channel.select{c:case_receive(), c:case_send(1), default = true}
  T.eq(r.default, true); T.eq(r.ok, true)
end)

T.test("select picks the ready case", function()
  local a, b = channel.new(1), channel.new(1)
  b:send("vb")
  local r = channel.select{a:case_receive(), b:case_receive(), default = true}
  T.eq(r.channel, b); T.eq(r.value, "vb"); T.eq(r.ok, true)
  r = channel.select{a:case_send("va"), b:case_receive()}
  T.eq(r.channel, a); T.eq(r.ok, true)
  T.eq(a:receive(), "va")
end)

T.test("select blocks until a case is ready, then unlinks the others", function()
  local a, b = channel.new(), channel.new()
  coroutine.spawn(function() time.sleep("1ms"); b:send("late") end)
  local r = channel.select{a:case_receive(), b:case_receive()}
  T.eq(r.channel, b); T.eq(r.value, "late")
  -- a no longer holds our waiter: a send with default must not be taken
  local s = channel.select{a:case_send(1), default = true}
  T.eq(s.default, true)
end)

T.test("select on a closed channel: receive gives ok false, send raises", function()
  local c = channel.new()
  c:close()
  local r = channel.select{c:case_receive()}
  T.eq(r.channel, c); T.eq(r.ok, false); T.eq(r.value, nil)
  T.checkerr("send on closed channel", channel.select, {c:case_send(1)})
  local d = channel.new()
  coroutine.spawn(function() time.sleep(0); d:close() end)
  local r2 = channel.select{d:case_receive()}
  T.eq(r2.ok, false)
  local e = channel.new()
  coroutine.spawn(function() time.sleep(0); e:close() end)
  T.checkerr("send on closed channel", channel.select, {e:case_send(1)})
end)

T.test("select blocked sender hands its value over", function()
  local c = channel.new()
  coroutine.spawn(function()
    local r = channel.select{c:case_send("hello")}
    T.eq(r.channel, c)
  end)
  T.eq(c:receive(), "hello")
end)

T.test("select fairness: two ready cases each 40-60% of 10000", function()
  local a, b = channel.new(1), channel.new(1)
  local na = 0
  for _ = 1, 10000 do
    a:send(1); b:send(2)
    local r = channel.select{a:case_receive(), b:case_receive()}
    if r.channel == a then na = na + 1; b:receive() else a:receive() end
  end
  T.truthy(na >= 4000 and na <= 6000, "a chosen " .. na .. " times")
end)

T.test("reference control flow: select over messages and time.after", function()
  local messages = channel.new()
  coroutine.spawn(function()
    messages:send("m1"); messages:send("m2"); messages:close()
  end)
  local got, timeouts = {}, 0
  while true do
    local timeout = time.after("50ms")
    local r = channel.select{messages:case_receive(), timeout:case_receive()}
    if r.channel == timeout then
      timeouts = timeouts + 1
      break
    elseif not r.ok then
      break
    else
      got[#got + 1] = r.value
    end
  end
  T.eq(table.concat(got, ","), "m1,m2"); T.eq(timeouts, 0)
  local idle = channel.new()
  local timeout = time.after("2ms")
  local r = channel.select{idle:case_receive(), timeout:case_receive()}
  T.eq(r.channel == timeout, true)
end)

T.test("producer/consumer pipeline", function()
  local src, sq, done = channel.new(), channel.new(4), channel.new()
  coroutine.spawn(function()
    for i = 1, 1000 do src:send(i) end
    src:close()
  end)
  for _ = 1, 3 do  -- three workers squaring
    coroutine.spawn(function()
      for v in function() local x, ok = src:receive(); if ok then return x end end do
        sq:send(v * v)
      end
      done:send(true)
    end)
  end
  coroutine.spawn(function()
    for _ = 1, 3 do done:receive() end
    sq:close()
  end)
  local sum, n = 0, 0
  while true do
    local v, ok = sq:receive()
    if not ok then break end
    sum, n = sum + v, n + 1
  end
  T.eq(n, 1000); T.eq(sum, 333833500)
end)

T.done()
