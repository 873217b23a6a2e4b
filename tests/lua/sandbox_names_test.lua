-- The exact set of names a sandboxed script can reach: every global and
-- every field of every table among them.  Fails on any missing or extra
-- name.  A new built-in module (or a new field) must be added here: that is
-- the point, each one is a review of what scripts can reach.
local T = require("testlib")

local EXPECTED = {
  _G = true, _VERSION = "string", arg = true,
  assert = "function", collectgarbage = "function", error = "function",
  dofile = "function", loadfile = "function",  -- --allow-read paths only
  getmetatable = "function", ipairs = "function", load = "function",
  next = "function", pairs = "function", pcall = "function",
  print = "function", rawequal = "function", rawget = "function",
  rawlen = "function", rawset = "function", require = "function",
  select = "function", setmetatable = "function", tonumber = "function",
  tostring = "function", type = "function", xpcall = "function",
  warn = "function",  -- to stderr, counted by --max-output
  coroutine = {"close", "create", "isyieldable", "resume", "running",
               "spawn", "status", "wrap", "yield"},
  channel = {"new", "select"},
  json = {"decode", "encode", "null"},
  time = {"HOUR", "MICROSECOND", "MILLISECOND", "MINUTE", "NANOSECOND",
          "SECOND", "after", "now", "parse_duration", "sleep", "ticker",
          "timer"},
  debug = {"traceback"},
  errors = {"ALREADY_EXISTS", "CANCELED", "CONFLICT", "INTERNAL", "INVALID",
            "NOT_FOUND", "PERMISSION_DENIED", "RATE_LIMITED", "TIMEOUT",
            "UNAVAILABLE", "UNKNOWN", "is", "new", "wrap"},
  io = {"input", "lines", "open", "output", "popen", "read", "stderr",
        "stdout", "tmpfile", "write"},
  math = {"abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp",
          "floor", "fmod", "huge", "log", "max", "maxinteger", "min",
          "mininteger", "modf", "pi", "rad", "random", "randomseed", "sin",
          "sqrt", "tan", "tointeger", "type", "ult"},
  -- execute, getenv, remove, rename, tmpname (and io's popen, tmpfile,
  -- output, input, package.loadlib) are stubs that say they are absent
  os = {"clock", "date", "difftime", "execute", "exit", "getenv", "remove",
        "rename", "time", "tmpname"},
  package = {"config", "loaded", "loadlib", "path"},
  string = {"byte", "char", "find", "format", "gmatch", "gsub", "len",
            "lower", "match", "pack", "packsize", "rep", "reverse", "sub",
            "unpack", "upper"},
  table = {"concat", "insert", "move", "pack", "remove", "sort", "unpack"},
  utf8 = {"char", "charpattern", "codepoint", "codes", "len", "offset"},
}

local function keys(t)
  local r = {}
  for k in pairs(t) do r[#r + 1] = tostring(k) end
  table.sort(r)
  return r
end

local function same(got, want, what)
  local w = {}
  for _, k in ipairs(want) do w[#w + 1] = k end
  table.sort(w)
  T.eq(table.concat(got, " "), table.concat(w, " "), what)
end

T.test("globals are exactly the allowlist", function()
  same(keys(_G), keys(EXPECTED), "globals")
end)

T.test("each library has exactly its allowed fields", function()
  for name, want in pairs(EXPECTED) do
    if type(want) == "table" then
      T.eq(type(_G[name]), "table", name)
      same(keys(_G[name]), want, name)
    elseif type(want) == "string" then
      T.eq(type(_G[name]), want, name)
    end
  end
end)

-- Built-in modules reached only through require.
local REQUIRE_ONLY = {
  security = {"actor", "can"},
}

T.test("require-only modules have exactly their allowed fields", function()
  for name, want in pairs(REQUIRE_ONLY) do
    T.eq(_G[name], nil, name .. " is not a global")
    same(keys(require(name)), want, name)
  end
  for name in pairs(EXPECTED) do
    if type(EXPECTED[name]) == "table" and package.loaded[name] then
      T.eq(require(name), _G[name], "require('" .. name .. "')")
    end
  end
end)

T.test("io.stdout and io.stderr have write and flush only", function()
  same(keys(io.stdout), {"flush", "write"}, "io.stdout")
  same(keys(io.stderr), {"flush", "write"}, "io.stderr")
end)

T.test("the string metatable shows only __index = string", function()
  local mt = getmetatable("")
  same(keys(mt), {"__index"}, "string metatable")
  T.eq(mt.__index, string)
end)

T.test("package.loaded holds the libraries and nothing else", function()
  local want = {"_G", "channel", "coroutine", "debug", "errors", "io",
                "json", "math", "os", "package", "security", "string",
                "table", "testlib", "time", "utf8"}
  same(keys(package.loaded), want, "package.loaded")
end)

T.test("nothing reaches the full library", function()
  for _, f in ipairs({"loadstring", "module",
                      "setfenv", "getfenv", "unpack"}) do
    T.eq(_G[f], nil, f)
  end
  for _, f in ipairs({"dump"}) do T.eq(string[f], nil, "string." .. f) end
  T.eq(os.setlocale, nil, "os.setlocale")
  for _, f in ipairs({"close", "type"}) do T.eq(io[f], nil, "io." .. f) end
  for _, f in ipairs({"cpath", "searchers", "searchpath", "preload"}) do
    T.eq(package[f], nil, "package." .. f)
  end
  -- the stubs only say that they are not there
  for lib, fs in pairs({os = {"execute", "getenv", "remove", "rename",
                              "tmpname"},
                        io = {"popen", "input", "output", "tmpfile"},
                        package = {"loadlib"}}) do
    for _, f in ipairs(fs) do
      local ok, err = pcall(_G[lib][f], "x", "y")
      T.eq(ok, false, lib .. "." .. f)
      T.eq(err:find(lib .. "." .. f .. " is not available in the sandbox: ",
                    1, true), 1, err)
    end
  end
end)

T.done()
