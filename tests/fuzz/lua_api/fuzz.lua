-- The Lua-API fuzzer: random sequences of calls on every module function
-- and every object method that a script can reach, with random arguments,
-- from several tasks, with collectgarbage() between calls.  Metamethods are
-- called directly too, as an attacker reaches them through getmetatable
-- (__gc, __close, __index, __tostring...), on objects in every state: open,
-- closing, closed, finalized, blocked on in another task.
--
--   sandlua --allow-url 'ws://127.0.0.1:PORT/*' fuzz.lua PORT SEED CALLS
--
-- PORT "-": no server, and websocket.connect is left out.
--
-- Success is the process ending by itself with exit 0 and nothing from a
-- sanitizer on stderr; an error raised by a call is fine (pcall catches it),
-- a crash, a hang or a leak is not.  The output ends with one line:
-- "fuzz: seed S, N calls, N raised".

local websocket = require("websocket")
local channel = require("channel")
local time = require("time")
local json = require("json")
local errors = require("errors")
local security = require("security")

local PORT = arg[1] == "-" and "-" or
             assert(tonumber(arg[1]), "usage: fuzz.lua PORT|- SEED CALLS")
local SEED = tonumber(arg[2]) or 1
local CALLS = tonumber(arg[3]) or 2000
local TASKS = 4

-- xorshift32: the same sequence for the same seed on every build.
local state = (SEED * 2654435761) % 4294967296
if state == 0 then state = 1 end
local function rand(n)
  state = state ~ ((state << 13) & 0xffffffff)
  state = state ~ (state >> 17)
  state = state ~ ((state << 5) & 0xffffffff)
  return state % n + 1
end
local function pick(t) return t[rand(#t)] end

-- Objects made so far, by kind; the calls take them as arguments too.
local pool = {}
-- Every object ever made, weakly: the waker closes forgotten ones too.
local made = setmetatable({}, {__mode = "k"})
local function keep(v)
  if v ~= nil and #pool < 200 then pool[#pool + 1] = v end
  if type(v) == "userdata" then made[v] = true end
  return v
end

local URL = "ws://127.0.0.1:" .. PORT .. "/"
local strings = {
  "", "x", "1s", "10ms", "-1s", "1h", "999999h", "1e400s", "nan", "0",
  "hello", URL, URL .. "echo", "ws://127.0.0.1:1/", "wss://127.0.0.1:" .. PORT,
  "ws://example.invalid/", "http://x/", "ws://[::1]:" .. PORT .. "/",
  "a\0b", "\r\n", "\x1b[31m", "\xff\xfe", "\xc0\xaf", string.rep("y", 70000),
  "websocket.connect", "websocket.connect.url", "null", "[1,2,", "{\"a\":1}",
  "TIMEOUT", "INVALID", "permessage-deflate", "chat",
}
local numbers = {
  0, 1, -1, 2, 3, 1000, 1001, 1011, 4999, 65535, 65536, 0.5, -0.0,
  math.huge, -math.huge, 0 / 0, math.maxinteger, math.mininteger,
  1e18, 2 ^ 53, 16 * 1024 * 1024, websocket.TEXT, websocket.BINARY,
}

local arg_value
local function random_table(depth)
  local t = {}
  for _ = 1, rand(4) - 1 do
    local k = rand(3) == 1 and pick(strings) or rand(5)
    if k == "" or (type(k) == "string" and k:find("\0", 1, true)) then
      k = rand(5)
    end
    t[k] = arg_value(depth + 1)
  end
  if rand(6) == 1 then
    t = {
      protocols = rand(2) == 1 and {pick(strings)} or pick(strings),
      headers = {[pick(strings)] = pick(strings)},
      dial_timeout = rand(2) == 1 and pick(numbers) or pick(strings),
      read_timeout = pick(strings), write_timeout = pick(numbers),
      compression = rand(4), read_limit = pick(numbers),
      channel_capacity = pick(numbers), ca_file = pick(strings),
      kind = pick({"INVALID", "TIMEOUT", pick(strings)}),
      message = pick(strings), retryable = rand(2) == 1,
    }
  end
  return t
end

function arg_value(depth)
  depth = depth or 0
  local r = rand(12)
  if r == 1 then return nil
  elseif r == 2 then return rand(2) == 1
  elseif r <= 4 then return pick(numbers)
  elseif r <= 7 then return pick(strings)
  elseif r == 8 and depth < 2 then return random_table(depth)
  elseif r == 9 then return function(...) return ... end
  elseif r <= 11 and #pool > 0 then return pick(pool)
  end
  return json.null
end

local function args()
  local a = {}
  local n = rand(4) - 1
  for i = 1, n do a[i] = arg_value() end
  return a, n
end

-- Every function reachable from an object: the known method names, and
-- whatever its metatable shows when getmetatable gives it away.
local METHODS = {
  "send", "ping", "channel", "close", "close_status", "protocol",
  "receive", "case_send", "case_receive", "len", "cap",
  "stop", "reset", "response",
  "kind", "message", "retryable", "details", "wrap",
  "hours", "minutes", "seconds", "milliseconds", "microseconds",
  "nanoseconds",
}
local METAMETHODS = {
  "__gc", "__close", "__index", "__newindex", "__tostring", "__len",
  "__eq", "__lt", "__le", "__call", "__concat", "__name", "__metatable",
}

local function methods_of(o)
  local fs = {}
  for _, name in ipairs(METHODS) do
    local ok, f = pcall(function() return o[name] end)
    if ok and type(f) == "function" then fs[#fs + 1] = f end
  end
  local mt = getmetatable(o)
  if type(mt) == "table" then
    for _, name in ipairs(METAMETHODS) do
      if type(rawget(mt, name)) == "function" then fs[#fs + 1] = mt[name] end
    end
    if type(rawget(mt, "__index")) == "table" then
      for _, f in pairs(mt.__index) do
        if type(f) == "function" then fs[#fs + 1] = f end
      end
    end
  end
  return fs
end

local MODULE_FUNCS = {}
local MODULES = {channel, time, json, errors, security}
if PORT ~= "-" then MODULES[#MODULES + 1] = websocket end
for _, m in ipairs(MODULES) do
  for _, f in pairs(m) do
    if type(f) == "function" then MODULE_FUNCS[#MODULE_FUNCS + 1] = f end
  end
end
for _, name in ipairs({"spawn", "wrap", "create", "status", "close",
                       "running", "isyieldable"}) do
  MODULE_FUNCS[#MODULE_FUNCS + 1] = coroutine[name]
end
-- time.sleep with any argument, but never for long: a worker asleep for
-- an hour tests nothing more.
for i, f in ipairs(MODULE_FUNCS) do
  if f == time.sleep then
    MODULE_FUNCS[i] = function(d, ...)
      local ok, dur = pcall(time.parse_duration, d)
      if ok and dur and dur:milliseconds() > 20 then d = "1ms" end
      if type(d) == "number" and d > 2e7 then d = 1e6 end
      return time.sleep(d, ...)
    end
  end
end

-- Makers of objects in a known state, so methods see every state.
local makers = {
  function() return channel.new(rand(3) - 1) end,
  function() local c = channel.new(1); c:close(); return c end,
  function() return time.timer(rand(20) .. "ms") end,
  function() return time.ticker(rand(20) .. "ms") end,
  function() return time.after(rand(10) .. "ms") end,
  function() return time.parse_duration(rand(100) .. "ms") end,
  function() return errors.new({kind = "INVALID", message = "m"}) end,
  function() return select(2, json.decode("[1,")) end,
  function()
    local t = time.ticker("1ms"); t:stop(); return t
  end,
}
if PORT ~= "-" then
  for _, f in ipairs({
    function() return websocket.connect(URL, rand(2) == 1 and random_table(0)
                                             or nil) end,
    function() return websocket.connect(URL .. "?x=" .. rand(100)) end,
    function() return select(2, websocket.connect("ws://127.0.0.1:1/")) end,
    function()
      local c = websocket.connect(URL)
      if c then c:close() end
      return c
    end,
  }) do makers[#makers + 1] = f end
end

local calls, raised = 0, 0
local function call(f, ...)
  calls = calls + 1
  local ok = pcall(f, ...)
  if not ok then raised = raised + 1 end
end

local function step()
  local r = rand(10)
  if r <= 2 then
    call(function() keep(pick(makers)()) end)
  elseif r <= 4 then
    local a, n = args()
    local r = table.pack(pcall(pick(MODULE_FUNCS), table.unpack(a, 1, n)))
    calls = calls + 1
    if not r[1] then raised = raised + 1 end
    for i = 2, r.n do
      if type(r[i]) == "userdata" then made[r[i]] = true end
    end
  elseif #pool > 0 then
    local o = pick(pool)
    local fs = methods_of(o)
    if #fs > 0 then
      local a, n = args()
      -- the object itself first, mostly (a method call), sometimes not
      if rand(4) > 1 then
        call(pick(fs), o, table.unpack(a, 1, n))
      else
        call(pick(fs), table.unpack(a, 1, n))
      end
    end
  end
  if rand(8) == 1 then collectgarbage() end
  if rand(30) == 1 then
    -- forget some objects, so that the collector finalizes them
    for i = #pool, 1, -1 do
      if rand(3) == 1 then table.remove(pool, i) end
    end
    collectgarbage()
  end
end

-- The waker: closes objects at random, so that tasks blocked on them
-- (a receive nobody sends to, a client's channel) get going again, and
-- methods meet objects closed under them.
local stop = false
coroutine.spawn(function()
  while not stop do
    time.sleep("2ms")
    local all = {}
    for o in pairs(made) do all[#all + 1] = o end
    if #all > 0 then
      local o = pick(all)
      pcall(function() o:close() end)
      pcall(function() o:stop() end)
    end
  end
end)

local done = channel.new(TASKS)
local per_task = CALLS // TASKS
for _ = 1, TASKS do
  coroutine.spawn(function()
    for _ = 1, per_task do
      local ok = pcall(step)
      if not ok then raised = raised + 1 end
    end
    done:send(true)
  end)
end

-- The main task waits for the workers with a deadline: a worker may stay
-- blocked forever on what it made (a receive on a channel nobody sends
-- to); the run ends when main returns.
local deadline = time.after("3s")
local finished = 0
while finished < TASKS do
  local r = channel.select({done:case_receive(), deadline:case_receive()})
  if r.channel == deadline then break end
  finished = finished + 1
end
stop = true
pool = {}
collectgarbage()
collectgarbage()
print(string.format("fuzz: seed %d, %d calls, %d raised, %d of %d tasks done",
                    SEED, calls, raised, finished, TASKS))
