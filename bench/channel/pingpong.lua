local N = tonumber(arg[1]) or 200000
local a, b = channel.new(), channel.new()
coroutine.spawn(function()
  while true do
    local v = a:receive()
    b:send(v)
  end
end)
local t0 = os.clock()
for i = 1, N do a:send(i); b:receive() end
local t1 = os.clock()
print(string.format("%.1f", (t1 - t0) * 1e9 / N))
