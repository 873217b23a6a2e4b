-- testlib.lua - the Lua tests' harness.
--   local T = require("testlib")
--   T.test("name", function() T.eq(a, b) end)
--   T.checkerr("message part", f, ...)   -- f must raise, message contains part
--   T.done()                             -- prints "# N passed, N failed"
local T = {}
local passed, failed = 0, 0

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function T.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    passed = passed + 1
    print("ok - " .. name)
  else
    failed = failed + 1
    print("not ok - " .. name .. "\n" .. tostring(err))
  end
end

function T.eq(got, want, what)
  if got ~= want then
    error((what and what .. ": " or "") .. "expected " .. fmt(want) ..
          ", got " .. fmt(got), 2)
  end
end

function T.truthy(v, what)
  if not v then error((what or "value") .. " is " .. fmt(v), 2) end
end

-- f(...) must raise an error whose message contains `part` (plain text).
function T.checkerr(part, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("expected an error containing " .. fmt(part), 2) end
  local msg = tostring(err)
  if not msg:find(part, 1, true) then
    error("error " .. fmt(msg) .. " does not contain " .. fmt(part), 2)
  end
end

-- A returned failure: v is nil/false and err an error object of `kind`
-- whose message contains `part` (optional).
function T.fails(kind, part, v, err)
  if v then error("expected a failure, got " .. fmt(v), 2) end
  if not errors.is(err, kind) then
    error("expected an error of kind " .. kind .. ", got " .. fmt(err), 2)
  end
  if part and not err:message():find(part, 1, true) then
    error("message " .. fmt(err:message()) .. " does not contain " ..
          fmt(part), 2)
  end
end

function T.done()
  print(string.format("# %d passed, %d failed", passed, failed))
  if failed > 0 then os.exit(1) end
end

return T
