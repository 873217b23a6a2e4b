-- Stock lua5.4 reference: one coroutine.resume + coroutine.yield pair.
local N = tonumber(arg[1]) or 1000000
local co = coroutine.wrap(function() while true do coroutine.yield() end end)
for _ = 1, 1000 do co() end
local t0 = os.clock()
for _ = 1, N do co() end
print(string.format("bare_resume_yield %.1f", (os.clock() - t0) * 1e9 / N))
