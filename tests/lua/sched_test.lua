-- The scheduler: tasks, blocking through coroutines, where blocking fails.
local T = require("testlib")

T.test("spawn passes arguments and returns nothing", function()
  local c = channel.new()
  T.eq(select("#", coroutine.spawn(function(a, b, n)
    c:send(a .. b .. tostring(n))
  end, "x", "y", nil)), 0)
  T.eq(c:receive(), "xynil")
  T.checkerr("function expected", coroutine.spawn, 1)
end)

T.test("100000 spawned tasks in one run", function()
  local N = 100000
  local c, total = channel.new(), 0
  for i = 1, N do
    coroutine.spawn(function() c:send(i) end)
  end
  for _ = 1, N do total = total + c:receive() end
  T.eq(total, N * (N + 1) // 2)
  time.sleep(0)  -- let the woken senders finish
  collectgarbage()
  T.truthy(collectgarbage("count") < 64 * 1024, "memory after the tasks ended")
end)

T.test("blocking inside coroutine.wrap passes through and back", function()
  local c = channel.new()
  coroutine.spawn(function() for i = 1, 3 do c:send(i * 10) end end)
  local gen = coroutine.wrap(function()
    for _ = 1, 3 do coroutine.yield(c:receive()) end
    return "end"
  end)
  T.eq(gen(), 10); T.eq(gen(), 20); T.eq(gen(), 30); T.eq(gen(), "end")
end)

T.test("blocking inside nested coroutine.resume, with sleep", function()
  local inner = coroutine.create(function(a)
    time.sleep("1ms")
    local b = coroutine.yield(a + 1)
    time.sleep(0)
    return b * 2
  end)
  local outer = coroutine.wrap(function()
    local ok, v = coroutine.resume(inner, 1)
    T.eq(ok, true); T.eq(v, 2)
    coroutine.yield("mid")
    return coroutine.resume(inner, 21)
  end)
  T.eq(outer(), "mid")
  local ok, v = outer()
  T.eq(ok, true); T.eq(v, 42)
  T.eq(coroutine.status(inner), "dead")
end)

T.test("a coroutine parked in a blocking call cannot be resumed elsewhere", function()
  local c = channel.new()
  local co = coroutine.create(function() return c:receive() end)
  local res = channel.new()
  coroutine.spawn(function() res:send({coroutine.resume(co)}) end)
  time.sleep(0)
  T.eq(coroutine.status(co), "normal")
  local ok, err = coroutine.resume(co)
  T.eq(ok, false); T.eq(err, "cannot resume non-suspended coroutine")
  T.checkerr("cannot close a normal coroutine", coroutine.close, co)
  c:send("v")
  local r = res:receive()
  T.eq(r[1], true); T.eq(r[2], "v"); T.eq(r[3], true)
end)

T.test("generators keep stock behaviour", function()
  local co = coroutine.create(function(a)
    T.eq(coroutine.isyieldable(), true)
    T.eq(coroutine.status(coroutine.running()), "running")
    local b = coroutine.yield(a)
    error("e" .. b)
  end)
  T.eq(coroutine.status(co), "suspended")
  local ok, v = coroutine.resume(co, 5); T.eq(ok, true); T.eq(v, 5)
  ok, v = coroutine.resume(co, 6)
  T.eq(ok, false); T.truthy(v:find("e6"), v)
  T.eq(coroutine.status(co), "dead")
  T.eq(coroutine.close(co), false)
  local w = coroutine.wrap(function() error("werr") end)
  T.checkerr("werr", w)
  local w2 = coroutine.wrap(function() return 1 end)
  w2()
  T.checkerr("cannot resume dead coroutine", w2)
  local _, ismain = coroutine.running()
  T.eq(ismain, true)
  T.eq(coroutine.isyieldable(), false)
  T.checkerr("attempt to yield from outside a coroutine", coroutine.yield, 1)
  local closeme = coroutine.create(function() coroutine.yield() end)
  coroutine.resume(closeme)
  T.eq(coroutine.close(closeme), true)
end)

T.test("blocking where yielding is impossible raises a clear error", function()
  local c = channel.new(1)
  local mt = {__tostring = function() return c:receive() end}
  T.checkerr("channel.receive: cannot block here (attempt to yield across a C-call boundary)",
             tostring, setmetatable({}, mt))
  T.checkerr("time.sleep: cannot block here", function()
    table.sort({3, 2, 1}, function(a, b) time.sleep("1ms"); return a < b end)
  end)
  T.checkerr("channel.send: cannot block here", function()
    c:send(1)  -- fills the buffer
    string.gsub("ab", ".", function() c:send(2) end)
  end)
  T.checkerr("channel.select: cannot block here", function()
    local gen = coroutine.wrap(function() channel.select{channel.new():case_receive()} end)
    table.sort({1, 2}, function(a, b) gen(); return a < b end)
  end)
  -- a module file that blocks while require runs it (tests/lua is on the
  -- module path)
  T.checkerr("time.sleep: cannot block here", require, "sched_test_blocker")
  -- nothing was left queued: the channel still works
  T.eq(c:receive(), 1)
end)

T.test("metamethods that Lua lets yield may block", function()
  local c = channel.new()
  coroutine.spawn(function() c:send("from a task") end)
  local t = setmetatable({}, {__index = function(_, k) return k .. " " .. c:receive() end})
  T.eq(t.value, "value from a task")
  local mt = {}
  local function b() time.sleep(0); return true end
  mt.__newindex = function() b() end
  mt.__call = function() b(); return 2 end
  mt.__add = function() b(); return 3 end
  mt.__eq = function() return b() end
  mt.__lt = function() return b() end
  mt.__le = function() return b() end
  mt.__concat = function() b(); return "c" end
  mt.__len = function() b(); return 4 end
  mt.__close = function() b() end
  mt.__pairs = function() b(); return next, {} end
  local x, y = setmetatable({}, mt), setmetatable({}, mt)
  x.k = 1
  T.eq(x(), 2); T.eq(x + 1, 3); T.eq(x == y, true); T.eq(x < y, true)
  T.eq(x <= y, true); T.eq(x .. "s", "c"); T.eq(#x, 4)
  do local _ <close> = x end
  for _ in pairs(x) do end
end)

T.test("tasks run in turn while others block", function()
  local order = {}
  local done = channel.new()
  for i = 1, 3 do
    coroutine.spawn(function()
      for j = 1, 2 do order[#order + 1] = i .. j; time.sleep(0) end
      done:send(true)
    end)
  end
  for _ = 1, 3 do done:receive() end
  T.eq(table.concat(order, " "), "11 21 31 12 22 32")
end)

T.done()
