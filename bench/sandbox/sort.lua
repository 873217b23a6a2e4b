-- table.sort with and without a comparator.
local N = tonumber(arg and arg[1]) or 150000
math.randomseed(42)
local a, b = {}, {}
for i = 1, N do a[i] = math.random(1, 1 << 30); b[i] = tostring(a[i]) end
table.sort(a)
table.sort(b, function(x, y) return x > y end)
print(a[1] <= a[N], b[1] >= b[N])
