-- bench.lua - the json benchmark's body, run by both interpreters:
--   sandlua bench.lua sandlua      (the built-in json module)
--   lua5.4  bench.lua cjson        (lua-cjson)
-- Builds the same documents in both (deterministic generator, no
-- math.random), writes them as JSON text with a plain-Lua writer so both
-- decoders read identical bytes, then times encode and decode.  Prints one
-- line per measure: "doc op bytes ops_per_second".
local impl = arg[1]
local J
if impl == "cjson" then
  J = require("cjson")
else
  J = json
end
local budget = tonumber(arg[2]) or 1  -- CPU seconds per measure

-- Deterministic pseudo-random numbers (LCG), identical in both runs.
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta",
  "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi"}
local function word() return words[rnd(#words) + 1] end

local function user(i)
  return {
    id = i,
    name = word() .. " " .. word(),
    email = word() .. i .. "@example.com",
    age = 18 + rnd(60),
    balance = rnd(1000000) / 100 + 0.25,
    active = rnd(2) == 1,
    tags = {word(), word(), word()},
    address = {street = rnd(999) .. " " .. word() .. " street",
               city = word(), zip = tostring(10000 + rnd(89999))},
  }
end

local docs = {}

-- 1. A small object, the size of a typical message.
docs[#docs + 1] = {name = "small object", value = user(7)}

-- 2. About 1 MB: an array of objects.
local big = {}
for i = 1, 4600 do big[i] = user(i) end
docs[#docs + 1] = {name = "1MB array of objects", value = big}

-- 3. Deep nesting (100 levels, objects and arrays alternating).
local deep = {leaf = "bottom", n = 1}
for i = 1, 100 do
  if i % 2 == 0 then deep = {child = deep, level = i} else deep = {deep, i} end
end
docs[#docs + 1] = {name = "deep nesting (100)", value = deep}

-- 4. Long strings with escapes and non-ASCII text.
local pieces = {"plain text ", "\"quoted\" ", "back\\slash ", "line\n",
  "tab\there ", "caf\u{e9} ", "\u{1F600} ", "ctrl\1 "}
local strs = {}
for i = 1, 40 do
  local t = {}
  for j = 1, 1200 do t[j] = pieces[rnd(#pieces) + 1] end
  strs[i] = table.concat(t)
end
docs[#docs + 1] = {name = "long strings, escapes", value = strs}

-- 5. Numbers: integers and floats.
local nums = {}
for i = 1, 20000 do
  nums[i] = (i % 2 == 0) and rnd(1000000000) or rnd(100000000) / 1000
end
docs[#docs + 1] = {name = "numbers", value = nums}

-- A plain-Lua JSON writer (sorted keys, %.17g floats) for the decode input.
local function write(v, out)
  local t = type(v)
  if t == "table" then
    if #v > 0 or next(v) == nil then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        write(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        write(k, out)
        out[#out + 1] = ":"
        write(v[k], out)
      end
      out[#out + 1] = "}"
    end
  elseif t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif math.type(v) == "integer" then
    out[#out + 1] = string.format("%d", v)
  elseif t == "number" then
    out[#out + 1] = string.format("%.17g", v)
  else
    out[#out + 1] = tostring(v)
  end
end

-- Calls per CPU second: a warm-up, then the best of three windows (the
-- machine may be shared; the best window is the least disturbed).
local function window(f, x, secs)
  local n, batch, t0 = 0, 1, os.clock()
  local t
  repeat
    for _ = 1, batch do f(x) end
    n = n + batch
    t = os.clock() - t0
    if t < secs / 8 then batch = batch * 2 end
  until t >= secs
  return n / t
end

local function measure(f, x)
  window(f, x, budget / 4)
  local best = 0
  for _ = 1, 3 do best = math.max(best, window(f, x, budget / 3)) end
  return best
end

local only = arg[3]  -- optional: run only documents whose name has this
for _, d in ipairs(docs) do
  if only and not d.name:find(only, 1, true) then goto continue end
  local out = {}
  write(d.value, out)
  local text = table.concat(out)
  -- keep the text, for profiling (stock lua, or sandlua --unsafe-no-sandbox)
  if os.getenv and os.getenv("JSON_BENCH_DUMP") then
    local f = assert(io.open(os.getenv("JSON_BENCH_DUMP"), "w"))
    f:write(text)
    f:close()
  end
  local enc = assert(J.encode(d.value))
  assert(J.decode(text), "decode")
  print(string.format("%s\tencode\t%d\t%.3f", d.name, #enc,
                      measure(J.encode, d.value)))
  print(string.format("%s\tdecode\t%d\t%.3f", d.name, #text,
                      measure(J.decode, text)))
  ::continue::
end
