-- bench/ws client on sandlua: client.lua MODE URL N [CAFILE]
-- (see bench/ws/run for the modes and what each prints).
local websocket = require("websocket")
local mode, url, N, ca = arg[1], arg[2], tonumber(arg[3]), arg[4]
local opts = {ca_file = ca ~= "" and ca or nil, channel_capacity = 1000}
local function ns() return time.now():unix_nano() end
local function out(...) print(...) io.stdout:flush() end

if mode == "rt" then
  local c = assert(websocket.connect(url, opts))
  local ch = c:channel()
  local msg = string.rep("x", 64)
  local lat = {}
  for i = 1, 200 do c:send(msg) ch:receive() end
  local t0 = ns()
  for i = 1, N do
    local s = ns()
    c:send(msg)
    ch:receive()
    lat[i] = ns() - s
  end
  local t = (ns() - t0) / 1e9
  table.sort(lat)
  out(string.format("%.0f %.1f %.1f", N / t, lat[N // 2] / 1e3,
                    lat[math.floor(N * 0.99)] / 1e3))
  c:close()
elseif mode == "stream" then
  local c = assert(websocket.connect(url, opts))
  local ch = c:channel()
  local msg = string.rep("x", 64)
  local window = channel.new(1000)
  local t0 = ns()
  coroutine.spawn(function()
    for i = 1, N do window:send(true) c:send(msg) end
  end)
  for i = 1, N do ch:receive() window:receive() end
  out(string.format("%.0f", N / ((ns() - t0) / 1e9)))
  c:close()
elseif mode == "big" then
  local c = assert(websocket.connect(url, opts))
  local ch = c:channel()
  local msg = string.rep("y", 1 << 20)
  c:send(msg, websocket.BINARY) ch:receive()
  local t0 = ns()
  for i = 1, N do
    c:send(msg, websocket.BINARY)
    assert(#ch:receive().data == #msg)
  end
  out(string.format("%.1f", N * #msg / 1e6 / ((ns() - t0) / 1e9)))
  c:close()
elseif mode == "connect" then
  local t0 = ns()
  for i = 1, N do
    local c = assert(websocket.connect(url, opts))
    c:close()
  end
  out(string.format("%.0f", N / ((ns() - t0) / 1e9)))
elseif mode == "idle" then
  local keep = {}
  keep[1] = assert(websocket.connect(url, opts))
  collectgarbage()
  out("START")
  time.sleep("500ms")
  for i = 1, N do keep[#keep + 1] = assert(websocket.connect(url, {ca_file = opts.ca_file})) end
  collectgarbage()
  out("READY")
  time.sleep("1s")
elseif mode == "scale" then
  -- N idle connections one after another, then round trips on the first
  local RT = 5000
  local first = assert(websocket.connect(url, opts))
  local ch = first:channel()
  local keep = {}
  collectgarbage()
  out("START")
  time.sleep("500ms")
  local c0 = ns()
  for i = 1, N do keep[i] = assert(websocket.connect(url, {ca_file = opts.ca_file})) end
  collectgarbage()
  out(string.format("READY %.3f", (ns() - c0) / 1e9))
  time.sleep("500ms")
  local msg = string.rep("x", 64)
  local lat = {}
  for i = 1, 200 do first:send(msg) ch:receive() end
  local t0 = ns()
  for i = 1, RT do
    local s = ns()
    first:send(msg)
    ch:receive()
    lat[i] = ns() - s
  end
  local t = (ns() - t0) / 1e9
  table.sort(lat)
  out(string.format("%.0f %.1f %.1f", RT / t, lat[RT // 2] / 1e3,
                    lat[math.floor(RT * 0.99)] / 1e3))
  os.exit(0)
end
