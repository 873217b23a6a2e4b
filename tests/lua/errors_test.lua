-- errors module: constructors, methods, kinds, wrap/is, every refusal.
local T = require("testlib")

local KINDS = {"NOT_FOUND", "ALREADY_EXISTS", "INVALID", "PERMISSION_DENIED",
  "UNAVAILABLE", "INTERNAL", "CANCELED", "CONFLICT", "TIMEOUT",
  "RATE_LIMITED", "UNKNOWN"}

T.test("global and require are the same table", function()
  T.eq(require("errors"), errors)
end)

T.test("every kind constant is its own name", function()
  for _, k in ipairs(KINDS) do T.eq(errors[k], k) end
  local n = 0
  for k, v in pairs(errors) do
    if type(v) == "string" then n = n + 1 end
  end
  T.eq(n, #KINDS, "number of kind constants")
end)

T.test("new(string) is UNKNOWN with nil retryable", function()
  local e = errors.new("boom")
  T.eq(e:kind(), errors.UNKNOWN)
  T.eq(e:message(), "boom")
  T.eq(e:retryable(), nil)
  T.eq(e:details(), nil)
  T.eq(tostring(e), "boom")
  T.truthy(e:stack():find("errors_test.lua", 1, true), "stack names the file")
end)

T.test("new(table) with every field", function()
  local e = errors.new{message = "slow", kind = errors.TIMEOUT,
                       retryable = true, details = {host = "h", n = 3}}
  T.eq(e:kind(), "TIMEOUT")
  T.eq(e:message(), "slow")
  T.eq(e:retryable(), true)
  local d = e:details()
  T.eq(d.host, "h"); T.eq(d.n, 3)
  d.host = "changed"
  T.eq(e:details().host, "h", "details are a copy")
  local f = errors.new{message = "m", retryable = false}
  T.eq(f:kind(), "UNKNOWN"); T.eq(f:retryable(), false)
end)

T.test("new refuses the (kind, message) form clearly", function()
  T.checkerr("errors.new(kind, message) is not supported",
             errors.new, errors.INVALID, "bad")
end)

T.test("new refuses bad arguments", function()
  T.checkerr("string or table expected", errors.new)
  T.checkerr("string or table expected", errors.new, 42)
  T.checkerr("field 'message' must be a string", errors.new, {})
  T.checkerr("field 'message' must be a string", errors.new, {message = 1})
  T.checkerr("unknown error kind 'NOPE'", errors.new,
             {message = "m", kind = "NOPE"})
  T.checkerr("field 'retryable' must be a boolean", errors.new,
             {message = "m", retryable = "yes"})
  T.checkerr("field 'details' must be a table", errors.new,
             {message = "m", details = "d"})
  T.checkerr("unknown field 'msg'", errors.new, {msg = "m"})
  T.checkerr("errors.new takes one argument", errors.new, "a", "b")
end)

T.test("wrap keeps kind, retryable and details; is sees through", function()
  local base = errors.new{message = "refused", kind = errors.UNAVAILABLE,
                          retryable = true, details = {port = 1}}
  local w = errors.wrap(base, "connect")
  T.eq(w:message(), "connect: refused")
  T.eq(tostring(w), "connect: refused")
  T.eq(w:kind(), "UNAVAILABLE")
  T.eq(w:retryable(), true)
  T.eq(w:details().port, 1)
  T.truthy(errors.is(w, errors.UNAVAILABLE))
  T.truthy(errors.is(w, base), "wrapped error is its cause")
  T.truthy(errors.is(errors.wrap(w, "outer"), base), "two levels")
  T.eq(errors.is(base, w), false)
  T.eq(errors.is(w, errors.TIMEOUT), false)
end)

T.test("wrap of nil is nil, of a string is UNKNOWN", function()
  T.eq(errors.wrap(nil, "ctx"), nil)
  local e = errors.wrap("plain", "ctx")
  T.eq(e:message(), "ctx: plain"); T.eq(e:kind(), "UNKNOWN")
  T.checkerr("bad argument #2", errors.wrap, e)
  T.checkerr("error object or string expected", errors.wrap, {}, "ctx")
end)

T.test("is with non-errors is false; bad target raises", function()
  T.eq(errors.is(nil, errors.INVALID), false)
  T.eq(errors.is("INVALID", errors.INVALID), false)
  T.eq(errors.is({}, errors.INVALID), false)
  T.checkerr("kind or error object expected", errors.is, errors.new("x"), {})
end)

T.test("methods check their receiver", function()
  local e = errors.new("x")
  T.checkerr("sandlua.Error expected", e.kind, {})
  T.eq(getmetatable(e), "sandlua.Error", "metatable is protected")
end)

T.test("error objects raised and caught keep their identity", function()
  local e = errors.new{message = "m", kind = errors.CONFLICT}
  local ok, got = pcall(error, e)
  T.eq(ok, false); T.eq(got, e)
  T.truthy(errors.is(got, errors.CONFLICT))
end)

T.test("messages made from input escape control characters", function()
  local websocket, time = require("websocket"), require("time")
  local _, e = websocket.connect("ws://a\r\nInjected: 1\x1b[2J/")
  T.eq(e:kind(), errors.INVALID)
  T.truthy(e:message():find("ws://a\\r\\nInjected: 1\\x1b[2J/", 1, true),
           e:message())
  T.truthy(not e:message():find("[%c]"), "no control character left")
  _, e = time.parse_duration("1\0\ts")
  T.truthy(not e:message():find("[%c]"), e:message())
  T.truthy(not tostring(e):find("[%c]"))
  -- a script's own message is its own: kept as given
  T.eq(errors.new("two\nlines"):message(), "two\nlines")
end)

T.done()
