-- Escape attempts that fail inside the script: each asserts a clear error
-- and no effect.  Attempts that end the process (limits, os.exit, blocked
-- system calls) are in tests/integration/test_sandbox.py.
local T = require("testlib")

local function attempt(name, part, f, ...)
  local args = table.pack(...)
  T.test(name, function() T.checkerr(part, f, table.unpack(args, 1, args.n)) end)
end

-- The file readers are there and say which option allows them (none is
-- given here); /etc/passwd is read by none of them.
for _, r in ipairs({
  {"dofile", function() return dofile("/etc/passwd") end},
  {"loadfile", function() return loadfile("/etc/passwd") end},
  {"io.open", function() return io.open("/etc/passwd") end},
  {"io.lines", function() return io.lines("/etc/passwd") end},
}) do
  attempt("file reader without --allow-read: " .. r[1],
          r[1] .. " is not available in the sandbox: files can be read only "
          .. "under --allow-read PATH", r[2])
end

-- Every removed function: absent, so calling it is an error naming it.
local removed = {
  {"execute", function() return os.execute("id") end},
  {"getenv", function() return os.getenv("HOME") end},
  {"remove", function() return os.remove("/tmp/x") end},
  {"rename", function() return os.rename("/tmp/x", "/tmp/y") end},
  {"tmpname", function() return os.tmpname() end},
  {"setlocale", function() return os.setlocale("C") end},
  {"popen", function() return io.popen("id") end},
  {"input", function() return io.input("/etc/passwd") end},
  {"output", function() return io.output("/tmp/x") end},
  {"tmpfile", function() return io.tmpfile() end},
  {"loadlib", function() return package.loadlib("libc.so.6", "system") end},
  {"searchpath", function() return package.searchpath("x", "/?") end},
  {"dump", function() return string.dump(print) end},
  {"getinfo", function() return debug.getinfo(1) end},
  {"sethook", function() return debug.sethook() end},
  {"getregistry", function() return debug.getregistry() end},
  {"getupvalue", function() return debug.getupvalue(print, 1) end},
  {"setupvalue", function() return debug.setupvalue(print, 1, 1) end},
  {"getlocal", function() return debug.getlocal(1, 1) end},
  {"getmetatable", function() return debug.getmetatable("") end},
  {"upvaluejoin", function() return debug.upvaluejoin(print, 1, print, 1) end},
}
-- absent from the sandbox but present as stubs that say so
local STUBS = {execute = "os", getenv = "os", remove = "os", rename = "os",
               tmpname = "os", popen = "io", input = "io", output = "io",
               tmpfile = "io", loadlib = "package"}
for _, r in ipairs(removed) do
  local lib = STUBS[r[1]]
  attempt("removed: " .. r[1],
          lib and (lib .. "." .. r[1] .. " is not available in the sandbox")
              or "'" .. r[1] .. "'", r[2])
end

attempt("string method dump", "attempt to call a nil value",
        function() return ("x"):dump() end)

-- Binary chunks through load, with every mode.
local bin = "\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0"
for _, mode in ipairs({"b", "bt", "tb"}) do
  T.test("load binary chunk, mode " .. mode, function()
    local f, err = load(bin, "=bin", mode)
    T.eq(f, nil)
    T.truthy(err:find("binary chunks cannot be loaded", 1, true), err)
  end)
end
T.test("load binary chunk, default mode", function()
  local f, err = load(bin)
  T.eq(f, nil)
  T.truthy(err:find("attempt to load a binary chunk", 1, true), err)
end)
T.test("load binary chunk, mode t", function()
  local f, err = load(bin, "=bin", "t")
  T.eq(f, nil)
  T.truthy(err:find("attempt to load a binary chunk", 1, true), err)
end)
T.test("load binary chunk through a reader function", function()
  local parts = {bin:sub(1, 1), bin:sub(2)}
  local f, err = load(function() return table.remove(parts, 1) end)
  T.eq(f, nil)
  T.truthy(err:find("binary chunk", 1, true), err)
end)
T.test("text chunks still load, with an env", function()
  local env = {}
  T.eq(load("x = 41 + 1; return x", "=c", "t", env)(), 42)
  T.eq(env.x, 42)
end)

-- Read-only libraries.
attempt("assign a string field", "read-only table 'string'",
        function() string.upper = function() return "pwned" end end)
attempt("add a string field", "read-only table 'string'",
        function() string.evil = print end)
attempt("assign math.pi", "read-only table 'math'",
        function() math.pi = 3 end)
attempt("assign os.exit", "read-only table 'os'",
        function() os.exit = print end)
attempt("assign coroutine.wrap", "read-only table 'coroutine'",
        function() coroutine.wrap = nil end)
attempt("assign errors.new", "read-only table 'errors'",
        function() errors.new = nil end)
attempt("assign io.stdout.write", "read-only table 'io.stdout'",
        function() io.stdout.write = nil end)
attempt("assign package.path", "read-only table 'package'",
        function() package.path = "/?.lua" end)
attempt("rawset on a library", "read-only table with rawset",
        rawset, string, "upper", print)
attempt("rawset on the string metatable view", "read-only table with rawset",
        rawset, getmetatable(""), "__index", {})
attempt("table.insert into a library", "read-only table",
        table.insert, table, print)
attempt("table.move into a library", "read-only table",
        table.move, {print}, 1, 1, 1, math)
attempt("setmetatable on a library", "protected metatable",
        setmetatable, string, {})
T.test("getmetatable of a library is false", function()
  T.eq(getmetatable(string), false)
  T.eq(getmetatable(io.stdout), false)
end)
T.test("next sees nothing behind a library proxy", function()
  T.eq(next(string), nil)
  T.eq(rawget(string, "upper"), nil)
end)

-- String metatable poisoning.
attempt("replace the string metatable's __index", "read-only table",
        function() getmetatable("").__index = {upper = print} end)
attempt("add a method through the metatable", "read-only table",
        function() getmetatable("").__index.upper = print end)
attempt("setmetatable on the string metatable view", "protected metatable",
        setmetatable, getmetatable(""), {})
T.test("string methods are untouched after the attempts", function()
  T.eq(("abc"):upper(), "ABC")
  T.eq(("%d"):format(7), "7")
  T.eq(string.upper("x"), "X")
end)

-- _ENV tricks.
T.test("a new _ENV does not bring back removed functions", function()
  local _ENV = setmetatable({}, {__index = _G})
  T.eq(string.dump, nil)
  T.eq(debug.getinfo, nil)
  T.eq(select(2, pcall(os.execute, "id")):find("not available", 1, true) ~= nil, true)
end)
T.test("load with a hand-made env reaches only that env", function()
  local f = load("return io, os, debug", "=x", "t", {})
  local a, b, c = f()
  T.eq(a, nil); T.eq(b, nil); T.eq(c, nil)
end)
attempt("load with a library as env cannot write into it",
        "read-only table 'string'", load("upper = 1", "=x", "t", string))
T.test("replacing _G's globals does not affect libraries", function()
  local saved = _G.string
  _G.string = {upper = function() return "pwned" end}
  T.eq(("x"):upper(), "X")
  _G.string = saved
end)

-- require.
attempt("require a path", "not a module name", require, "../../etc/passwd")
attempt("require an absolute path", "not a module name", require, "/etc/passwd")
attempt("require a C module", "module 'socket.core' not found", require,
        "socket.core")
attempt("require an empty name", "not a module name", require, "")
T.test("require of a library returns the read-only proxy", function()
  T.eq(require("string"), string)
  T.eq(require("os"), os)
  T.eq(require("os").setlocale, nil)
end)

-- collectgarbage: only what does not tune the collector.
for _, opt in ipairs({"stop", "restart", "setpause", "setstepmul",
                      "incremental", "generational"}) do
  attempt("collectgarbage " .. opt, "option '" .. opt .. "' is not available",
          collectgarbage, opt, 1000)
end
T.test("collectgarbage collect, count, step, isrunning work", function()
  T.eq(collectgarbage(), 0)
  T.eq(type(collectgarbage("count")), "number")
  T.eq(type(collectgarbage("step")), "boolean")
  T.eq(collectgarbage("isrunning"), true)
end)

-- os.exit with odd values raises and does not exit.
for _, v in ipairs({-1, 256, 1.5, "0", {}, math.huge, math.mininteger}) do
  attempt("os.exit(" .. tostring(v) .. ")", "exit code must be", os.exit, v)
end

-- Deep recursion, deep nesting, huge sizes: ordinary errors.
attempt("deep Lua recursion", "stack overflow",
        function() local function f() return 1 + f() end return f() end)
attempt("deep pcall nesting", "stack overflow", function()
  local function f() return select(2, assert(pcall(f))) end
  return f()
end)
attempt("deeply nested table constructor", "stack overflow",
        function() return assert(load("return " .. string.rep("{", 300000))) end)
attempt("string.rep beyond the size limit", "too large",
        string.rep, "x", 1 << 62)
attempt("string.format with a huge width", "invalid conversion",
        string.format, "%999999d", 1)

-- __tostring and __close at odd times.
attempt("__tostring that returns a table", "'__tostring' must return a string",
        tostring, setmetatable({}, {__tostring = function() return {} end}))
attempt("print with a raising __tostring", "from tostring",
        print, setmetatable({}, {__tostring = function() error("from tostring") end}))
attempt("__close that raises", "from close", function()
  local x <close> = setmetatable({}, {__close = function() error("from close") end})
end)
T.test("__gc of a script object cannot reach removed functions", function()
  local seen
  setmetatable({}, {__gc = function()
    seen = debug.getinfo == nil and not pcall(os.execute, "id")
  end})
  collectgarbage()
  collectgarbage()
  T.eq(seen, true)
end)

T.test("xpcall with debug.traceback: the traceback starts at error", function()
  local ok, tb = xpcall(function() error("boom") end, debug.traceback)
  T.eq(ok, false)
  T.truthy(tb:find("boom\nstack traceback:\n\t%[C%]: in function 'error'"), tb)
end)

T.test("xpcall with a Lua handler still gets the error", function()
  local ok, v = xpcall(function() error({code = 7}) end,
                       function(e) return e.code + 1 end)
  T.eq(ok, false)
  T.eq(v, 8)
end)

T.done()
