-- String building: concatenation, table.concat, format, gsub.
local N = tonumber(arg and arg[1]) or 200000
local parts = {}
for i = 1, N do
  parts[#parts + 1] = string.format("%d:%s", i, ("x"):rep(i % 16))
end
local s = table.concat(parts, ",")
local n = 0
for _ in s:gmatch("%d+") do n = n + 1 end
local t = s:gsub("x+", function(m) return #m end)
local acc = ""
for i = 1, 2000 do acc = acc .. tostring(i) end
print(#s, n, #t, #acc, s:upper():len())
