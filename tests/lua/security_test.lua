-- The security module under the default policy (no --policy: deny-all,
-- unless /etc/sandlua/policy.yaml exists on the machine).
local T = require("testlib")
local security = require("security")

T.test("module shape", function()
  T.eq(type(security.can), "function")
  T.eq(type(security.actor), "function")
  T.eq(rawget(_G, "security"), nil, "not a global")
end)

T.test("deny-all by default", function()
  T.eq(security.can("websocket.connect", "wss://example.com/"), false)
  T.eq(security.can("websocket.connect.url", "wss://example.com/"), false)
  T.eq(security.can("anything", "at all"), false)
end)

T.test("invalid URLs are refused, not raised", function()
  T.eq(security.can("websocket.connect.url", "wss://user@example.com/"), false)
  T.eq(security.can("websocket.connect.url", "not a url"), false)
end)

T.test("actor is a fresh copy", function()
  local a = security.actor()
  T.eq(type(a), "table")
  T.eq(type(a.meta), "table")
  a.id = "root"
  a.meta.role = "admin"
  T.eq(security.actor().id, nil)
  T.eq(security.actor().meta.role, nil)
end)

T.test("argument errors raise", function()
  T.checkerr("bad argument #1", security.can)
  T.checkerr("bad argument #2", security.can, "a")
  T.checkerr("bad argument #3", security.can, "a", "b", 5)
  T.checkerr("meta keys must be strings", security.can, "a", "b", {1})
  T.checkerr("meta.f: unsupported function", security.can, "a", "b",
             {f = print})
  T.checkerr("list items must be scalars", security.can, "a", "b",
             {l = {{}}})
end)

T.test("meta values of every kind are accepted", function()
  T.eq(security.can("a", "b", {s = "x", n = 1, b = true, l = {"x", 2}}),
       false)
end)

T.test("replacing module functions grants nothing", function()
  local can = security.can
  -- the module table is read-only in the sandbox; with or without it, a
  -- replaced function would fool only the script itself
  pcall(function() security.can = function() return true end end)
  T.eq(can("x", "y"), false)
  T.eq(require("security").can("x", "y"), false)
end)

T.test("a zero byte in any string argument is refused, never cut", function()
  local can = require("security").can
  -- "wss://a.example" + NUL + ".evil/" must not be checked as the first part
  T.checkerr("bad argument #2 to 'security.can' (string contains a zero byte)",
             can, "websocket.connect.url", "wss://a.example\0.evil/")
  T.checkerr("bad argument #1", can, "websocket.connect\0x", "wss://a/")
  T.checkerr("a meta key contains a zero byte", can, "x", "y", {["k\0"] = 1})
  T.checkerr("meta.k contains a zero byte", can, "x", "y", {k = "v\0w"})
  T.checkerr("list items must be scalars without zero bytes", can, "x", "y",
             {k = {"a", "b\0"}})
end)

T.done()
