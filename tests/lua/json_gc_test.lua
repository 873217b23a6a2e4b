-- sandlua-flags: --unsafe-no-sandbox
-- json under a collector that runs all the time: needs
-- collectgarbage("incremental", ...), which the sandbox does not offer.
local T = require("testlib")

T.test("calls from finalizers during a decode do not disturb it", function()
  collectgarbage("incremental", 5, 400)  -- collect all the time
  local inner, during = 0, 0
  local mt = {__gc = function()
    if debug.traceback():find("'json.decode'", 1, true) then
      during = during + 1
    end
    local s = json.encode({"\n\"x\"", {a = 1.5}})
    local v = json.decode('["esc\\n\\"aped\\"", 2.5]')
    if s == '["\\n\\"x\\"",{"a":1.5}]' and v[1] == 'esc\n"aped"' then
      inner = inner + 1
    end
  end}
  local parts = {}
  for i = 1, 300 do parts[i] = '{"s\\t' .. i .. '":"v\\u00e9\\n' .. i .. '"}' end
  local text = "[" .. table.concat(parts, ",") .. "]"
  for _ = 1, 20 do
    for _ = 1, 200 do setmetatable({}, mt) end
    local v = assert(json.decode(text))
    for i = 1, 300 do T.eq(v[i]["s\t" .. i], "v\u{e9}\n" .. i) end
    local again = json.encode(v)
    T.eq(json.encode(json.decode(again)), again)
  end
  collectgarbage()
  collectgarbage("generational")
  T.truthy(inner > 0, "finalizers ran")
  T.truthy(during > 0, "finalizers ran inside json.decode")
end)

T.done()
