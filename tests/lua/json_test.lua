-- json module: every encode and decode rule, every error path with its
-- position, round trips.
local T = require("testlib")

-- Deep equality of plain values (tables compared by contents).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then
    if a ~= a and b ~= b then return true end  -- nan
    return a == b and math.type(a) == math.type(b)
  end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function enc(v) return assert(json.encode(v)) end

-- json.decode(s) must fail with a message containing `part`, at the given
-- line, column and byte, with the same facts in details.
local function decerr(s, part, line, col, byte)
  local v, err = json.decode(s)
  T.fails("INVALID", part, v, err)
  local where = string.format("at line %d column %d (byte %d)", line, col,
                              byte)
  local msg = err:message()
  if not msg:find(where, 1, true) then
    error(string.format("%q: message %q lacks %q", s, msg, where), 2)
  end
  T.eq(msg:sub(1, 13), "json.decode: ")
  local d = err:details()
  T.eq(d.line, line, "details.line")
  T.eq(d.column, col, "details.column")
  T.eq(d.offset, byte, "details.offset")
  T.eq(err:retryable(), false)
end

-- json.encode(v) must fail with a message containing `part` at `path`.
local function encerr(v, part, path)
  local s, err = json.encode(v)
  T.fails("INVALID", part, s, err)
  T.eq(err:message():sub(1, 13), "json.encode: ")
  local tail = " at " .. path
  local msg = err:message()
  if msg:sub(-#tail) ~= tail then
    error(string.format("message %q does not end with %q", msg, tail), 2)
  end
  T.eq(err:details().path, path, "details.path")
  T.eq(err:retryable(), false)
end

T.test("global and require are the same table", function()
  T.eq(require("json"), json)
  T.eq(type(json.encode), "function")
  T.eq(type(json.decode), "function")
  T.eq(type(json.null), "userdata")
end)

-- {======================================================
-- Encode
-- ======================================================

T.test("encode scalars", function()
  T.eq(enc(nil), "null")
  T.eq(enc(true), "true")
  T.eq(enc(false), "false")
  T.eq(enc(json.null), "null")
  T.eq(enc(0), "0")
  T.eq(enc(-17), "-17")
  T.eq(enc(math.maxinteger), "9223372036854775807")
  T.eq(enc(math.mininteger), "-9223372036854775808")
  T.eq(enc("hi"), '"hi"')
  T.eq(enc(""), '""')
end)

T.test("encode floats keep their type and read back exactly", function()
  T.eq(enc(1.5), "1.5")
  T.eq(enc(1.0), "1.0")
  T.eq(enc(-0.0), "-0.0")
  T.eq(enc(0.0), "0.0")
  T.eq(enc(0.1), "0.1")
  T.eq(enc(-1234.56), "-1234.56")
  T.eq(enc(0.000123), "0.000123")
  T.eq(enc(0.1 + 0.2), "0.30000000000000004")
  T.eq(enc(1e300), "1e+300")
  T.eq(enc(2^53), "9007199254740992.0")
  T.eq(enc(1e15), "1e+15")
  T.eq(enc(-2^63), "-9.223372036854776e+18")
  T.eq(enc(1 / 3), "0.3333333333333333")
end)

T.test("encode inf and nan as null", function()
  T.eq(enc(1 / 0), "null")
  T.eq(enc(-1 / 0), "null")
  T.eq(enc(0 / 0), "null")
  T.eq(enc({1 / 0, 0 / 0, 1}), "[null,null,1]")
  T.eq(enc({x = -1 / 0}), '{"x":null}')
end)

T.test("encode escapes strings", function()
  T.eq(enc('a"b'), [["a\"b"]])
  T.eq(enc("a\\b"), [["a\\b"]])
  T.eq(enc("\n\r\t\b\f"), [["\n\r\t\b\f"]])
  T.eq(enc("\0\1\31"), [["\u0000\u0001\u001f"]])
  T.eq(enc("\127/<>&"), '"\127/<>&"')
  T.eq(enc("caf\u{e9} \u{1F600} \u{10FFFF}"),
       '"caf\u{e9} \u{1F600} \u{10FFFF}"')
  -- long strings take the eight-bytes-at-a-time path
  local long = string.rep("abcdefgh", 100)
  T.eq(enc(long .. '"' .. long), '"' .. long .. '\\"' .. long .. '"')
  T.eq(enc(string.rep("\u{e9}", 50)), '"' .. string.rep("\u{e9}", 50) .. '"')
end)

T.test("encode refuses invalid UTF-8 with its position", function()
  encerr("\xff", "invalid UTF-8 at byte 1 of string", "$")
  encerr("ab\xc0\xaf", "invalid UTF-8 at byte 3 of string", "$")  -- overlong
  encerr("\xe0\x80\xaf", "invalid UTF-8 at byte 1", "$")          -- overlong
  encerr("\xed\xa0\x80", "invalid UTF-8 at byte 1", "$")          -- surrogate
  encerr("\xf4\x90\x80\x80", "invalid UTF-8 at byte 1", "$")      -- > U+10FFFF
  encerr("\xf5\x80\x80\x80", "invalid UTF-8 at byte 1", "$")
  encerr("x\xe2\x82", "invalid UTF-8 at byte 2", "$")             -- truncated
  encerr("\x80", "invalid UTF-8 at byte 1", "$")                  -- stray
  encerr(string.rep("a", 20) .. "\xff", "at byte 21 of string", "$")
  encerr({name = "ok", list = {"x", "y\xfe"}},
         "invalid UTF-8 at byte 2 of string", "$.list[2]")
  encerr({["k\xff"] = 1}, "invalid UTF-8 at byte 2 of key", '$["k\\xFF"]')
end)

T.test("encode sequences as arrays, string keys as objects", function()
  T.eq(enc({1, 2, 3}), "[1,2,3]")
  T.eq(enc({"a", {true, false}, {}}), '["a",[true,false],[]]')
  T.eq(enc({}), "[]")
  T.eq(enc({a = 1}), '{"a":1}')
  T.eq(enc({x = {y = {z = "deep"}}}), '{"x":{"y":{"z":"deep"}}}')
  T.eq(enc({1, json.null, 3}), "[1,null,3]")
  T.eq(enc({a = json.null}), '{"a":null}')
  local a = {}
  for i = 1, 1000 do a[i] = i end
  T.eq(enc(a), "[" .. table.concat(a, ",") .. "]")
end)

T.test("encode writes object keys in byte order", function()
  T.eq(enc({b = 1, a = 2, c = 3}), '{"a":2,"b":1,"c":3}')
  T.eq(enc({a = 1, B = 2, ["_"] = 3, ab = 4, ["1"] = 5}),
       '{"1":5,"B":2,"_":3,"a":1,"ab":4}')
  local keys, t = {}, {}
  for i = 1, 300 do
    local k = string.format("k%05d", (i * 7919) % 300)
    t[k] = i
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = '"' .. k .. '":' .. t[k] end
  T.eq(enc(t), "{" .. table.concat(parts, ",") .. "}")
end)

T.test("encode ignores metatables (raw access)", function()
  local t = setmetatable({}, {__index = function() return 1 end,
                              __pairs = function() error("no") end,
                              __len = function() return 5 end})
  T.eq(enc(t), "[]")
  T.eq(enc(setmetatable({x = 1}, {__index = {y = 2}})), '{"x":1}')
end)

T.test("encode refuses mixed and sparse keys", function()
  encerr({1, 2, x = 3}, "table has both", "$")
  encerr({x = 1, [1] = 2}, "table has both", "$")
  encerr({[1] = 1, [3] = 3}, "sparse array: 2 values but index 3", "$")
  encerr({1, nil, 3}, "sparse array", "$")
  encerr({[2] = 1}, "sparse array: 1 values but index 2", "$")
  encerr({[0] = 1}, "array index out of range", "$")
  encerr({[-1] = 1, [1] = 2}, "array index out of range", "$")
  encerr({[1.5] = 1}, "table key of type float", "$")
  encerr({[true] = 1}, "table key of type boolean", "$")
  encerr({[{}] = 1}, "table key of type table", "$")
  encerr({[1] = 1, [2.5] = 2}, "both integer keys and float keys", "$")
  encerr({a = {b = {1, 2, [4] = 4}}}, "sparse array", "$.a.b")
end)

T.test("encode refuses tables that contain themselves", function()
  local t = {}
  t.self = t
  encerr(t, "table contains itself", "$.self")
  local a, b = {}, {}
  a.b = b
  b.list = {a}
  encerr(a, "table contains itself", "$.b.list[1]")
  -- the same table twice, not nested in itself, is fine
  local shared = {1}
  T.eq(enc({x = shared, y = shared}), '{"x":[1],"y":[1]}')
end)

T.test("encode nesting: 128 levels ok, 129 refused", function()
  local function nest(n)
    local v = {}
    for _ = 2, n do v = {v} end
    return v
  end
  T.eq(enc(nest(128)), string.rep("[", 128) .. string.rep("]", 128))
  local v, err = json.encode(nest(129))
  T.fails("INVALID", "nesting deeper than 128 levels", v, err)
  T.eq(err:details().path, "$" .. string.rep("[1]", 128))
  encerr({a = nest(128)}, "nesting deeper than 128 levels",
         "$.a" .. string.rep("[1]", 127))
end)

T.test("encode refuses functions, userdata and threads", function()
  encerr(print, "cannot encode a function", "$")
  encerr({f = function() end}, "cannot encode a function", "$.f")
  encerr({1, coroutine.create(print)}, "cannot encode a thread", "$[2]")
  encerr({e = errors.new("x")}, "cannot encode a userdata", "$.e")
  encerr({["a key"] = {print}}, "cannot encode a function", '$["a key"][1]')
  encerr({["q\"\n"] = print}, "cannot encode a function", '$["q\\x22\\x0A"]')
  encerr({["caf\u{e9}"] = print}, "cannot encode a function", '$["caf\u{e9}"]')
  encerr({["a\xe9b"] = {}}, "invalid UTF-8 at byte 2 of key",
         '$["a\\xE9b"]')
end)

T.test("encode argument errors raise", function()
  T.checkerr("bad argument #1 to 'json.encode' (value expected)", json.encode)
  T.checkerr("bad argument #2 to 'json.encode' (json.encode takes one value)",
             json.encode, 1, 2)
  T.checkerr("bad argument #3 to 'json.encode' (json.encode takes one value)",
             json.encode, 1, nil, {})
  T.eq(json.encode(1, nil), "1")
end)

-- }======================================================

-- {======================================================
-- Decode
-- ======================================================

T.test("decode scalars", function()
  T.eq(json.decode("true"), true)
  T.eq(json.decode("false"), false)
  T.eq(select("#", json.decode("null")), 1)
  T.eq(json.decode("null"), nil)
  T.eq(json.decode('"hi"'), "hi")
  T.eq(json.decode(' \t\r\n 5 \n'), 5)
end)

T.test("decode integers as integers, the rest as floats", function()
  local cases = {
    {"0", 0, "integer"}, {"123", 123, "integer"}, {"-123", -123, "integer"},
    {"9223372036854775807", math.maxinteger, "integer"},
    {"-9223372036854775808", math.mininteger, "integer"},
    {"9223372036854775808", 2^63, "float"},
    {"-9223372036854775809", -2^63, "float"},
    {"123456789012345678901234567890", 1.2345678901234568e29, "float"},
    {"1.5", 1.5, "float"}, {"1.0", 1.0, "float"}, {"1e2", 100.0, "float"},
    {"1E+2", 100.0, "float"}, {"1e-2", 0.01, "float"},
    {"0.1", 0.1, "float"}, {"-0.5", -0.5, "float"},
    {"0.1000000000000000055511151231257827", 0.1, "float"},
    {"2.2250738585072014e-308", 2.2250738585072014e-308, "float"},
    {"1.7976931348623157e308", 1.7976931348623157e308, "float"},
    {"4.9406564584124654e-324", 4.9406564584124654e-324, "float"},
    {"1e-400", 0.0, "float"},
    {"0e99999999999", 0.0, "float"},
    {"123.456e-2", 1.23456, "float"},
  }
  for _, c in ipairs(cases) do
    local v = json.decode(c[1])
    T.eq(v, c[2], c[1])
    T.eq(math.type(v), c[3], c[1])
  end
end)

T.test("decode -0 as the float -0.0", function()
  local v = json.decode("-0")
  T.eq(math.type(v), "float")
  T.eq(1 / v, -1 / 0)
  T.eq(1 / json.decode("-0.0"), -1 / 0)
  T.eq(math.type(json.decode("0")), "integer")
end)

T.test("decode numbers out of range fail", function()
  decerr("1e400", "number out of range", 1, 1, 1)
  decerr("[-1e400]", "number out of range", 1, 2, 2)
  decerr("1" .. string.rep("0", 400), "number out of range", 1, 1, 1)
end)

T.test("decode strings and escapes", function()
  T.eq(json.decode([["\"\\\/\b\f\n\r\t"]]), "\"\\/\b\f\n\r\t")
  T.eq(json.decode([["caf\u00e9 \u00E9"]]), "caf\u{e9} \u{e9}")
  T.eq(json.decode([["\u0000x"]]), "\0x")
  T.eq(json.decode([["\u20ac"]]), "\u{20ac}")
  T.eq(json.decode([["\ud83d\ude00"]]), "\u{1F600}")
  T.eq(json.decode([["\uDBFF\uDFFF"]]), "\u{10FFFF}")
  T.eq(json.decode('"caf\u{e9} \u{1F600}"'), "caf\u{e9} \u{1F600}")
  T.eq(json.decode('"\127"'), "\127")
  local long = string.rep("abcdefgh", 100)
  T.eq(json.decode('"' .. long .. '\\n' .. long .. '"'), long .. "\n" .. long)
  T.eq(json.decode('"' .. string.rep("\u{e9}x", 40) .. '\\t"'),
       string.rep("\u{e9}x", 40) .. "\t")
end)

T.test("decode arrays and objects", function()
  T.truthy(same(json.decode("[]"), {}))
  T.truthy(same(json.decode("{}"), {}))
  T.truthy(same(json.decode(' [ 1 , "a" , [ true ] , { } ] '),
                {1, "a", {true}, {}}))
  T.truthy(same(json.decode('{"a":{"b":[1,2]},"c":"d"}'),
                {a = {b = {1, 2}}, c = "d"}))
  local t = json.decode('{"1":"one"}')
  T.eq(t["1"], "one")
  T.eq(t[1], nil)
end)

T.test("decode null: holes in arrays, absent keys in objects", function()
  local a = json.decode("[1,null,3,null]")
  T.eq(a[1], 1); T.eq(a[2], nil); T.eq(a[3], 3); T.eq(a[4], nil)
  local o = json.decode('{"a":null,"b":1}')
  T.eq(o.a, nil); T.eq(o.b, 1)
  local n = 0
  for _ in pairs(o) do n = n + 1 end
  T.eq(n, 1)
end)

T.test("decode duplicate keys: the last one wins", function()
  local t = json.decode('{"a":1,"b":2,"a":3}')
  T.eq(t.a, 3)
  T.eq(json.decode('{"a":1,"a":null}').a, nil)
  -- across the decoder's chunks of 32 keys too
  local parts = {}
  for i = 1, 40 do parts[i] = '"k' .. (i % 35) .. '":' .. i end
  t = json.decode("{" .. table.concat(parts, ",") .. "}")
  T.eq(t.k1, 36)
  T.eq(t.k5, 40)
  T.eq(t.k6, 6)
end)

T.test("decode large arrays and objects", function()
  local a = {}
  for i = 1, 1000 do a[i] = i * 2 end
  local got = json.decode("[" .. table.concat(a, ",") .. "]")
  T.eq(#got, 1000)
  T.truthy(same(got, a))
  local parts, want = {}, {}
  for i = 1, 500 do
    parts[i] = '"key' .. i .. '":' .. i
    want["key" .. i] = i
  end
  T.truthy(same(json.decode("{" .. table.concat(parts, ",") .. "}"), want))
  -- arrays of 128 + holes across chunks
  local s = "[" .. string.rep("null,", 200) .. "1]"
  got = json.decode(s)
  T.eq(got[201], 1)
  T.eq(got[200], nil)
end)

T.test("decode nesting: 128 levels ok, 129 refused", function()
  local v = json.decode(string.rep("[", 128) .. string.rep("]", 128))
  for _ = 1, 127 do v = v[1] end
  T.truthy(same(v, {}))
  decerr(string.rep("[", 129) .. string.rep("]", 129),
         "nesting deeper than 128 levels", 1, 129, 129)
  decerr(string.rep('{"a":', 129) .. "1" .. string.rep("}", 129),
         "nesting deeper than 128 levels", 1, 129 * 5 - 4, 129 * 5 - 4)
end)

T.test("decode refuses empty input and trailing garbage", function()
  decerr("", "empty input", 1, 1, 1)
  decerr("  \n ", "empty input", 2, 2, 5)
  decerr("1 2", "unexpected '2' after the value", 1, 3, 3)
  decerr("{} x", "unexpected 'x' after the value", 1, 4, 4)
  decerr("[1]]", "unexpected ']' after the value", 1, 4, 4)
  decerr("1\0", "unexpected byte 0x00 after the value", 1, 2, 2)
  decerr("0x10", "unexpected 'x' after the value", 1, 2, 2)
  decerr("truex", "unexpected 'x' after the value", 1, 5, 5)
  decerr("\xef\xbb\xbf1", "unexpected byte 0xEF (expected a value)", 1, 1, 1)
end)

T.test("decode refuses trailing commas", function()
  decerr("[1,2,]", "trailing comma before ']'", 1, 6, 6)
  decerr('{"a":1,}', "trailing comma before '}'", 1, 8, 8)
  decerr("[1,\n  ]", "trailing comma before ']'", 2, 3, 7)
  decerr("[,1]", "unexpected ',' (expected a value)", 1, 2, 2)
  decerr("[1,,2]", "unexpected ',' (expected a value)", 1, 4, 4)
end)

T.test("decode refuses comments", function()
  decerr("// c\n1", "comments are not allowed", 1, 1, 1)
  decerr("[1, /* c */ 2]", "comments are not allowed", 1, 5, 5)
  decerr("1 // c", "unexpected '/' after the value", 1, 3, 3)
end)

T.test("decode refuses bad numbers", function()
  decerr("01", "leading zero in number", 1, 1, 1)
  decerr("-01", "leading zero in number", 1, 1, 1)
  decerr("[00]", "leading zero in number", 1, 2, 2)
  decerr("1.", "digit expected after '.'", 1, 3, 3)
  decerr("1.e5", "digit expected after '.'", 1, 3, 3)
  decerr(".5", "unexpected '.' (expected a value)", 1, 1, 1)
  decerr("1e", "digit expected in exponent", 1, 3, 3)
  decerr("1e+", "digit expected in exponent", 1, 4, 4)
  decerr("-", "digit expected after '-'", 1, 2, 2)
  decerr("-a", "digit expected after '-'", 1, 2, 2)
  decerr("+1", "unexpected '+' (expected a value)", 1, 1, 1)
  decerr("1.5.3", "unexpected '.' after the value", 1, 4, 4)
end)

T.test("decode refuses NaN and Infinity", function()
  decerr("NaN", "NaN is not JSON", 1, 1, 1)
  decerr("[1, Infinity]", "Infinity is not JSON", 1, 5, 5)
  decerr("-Infinity", "-Infinity is not JSON", 1, 1, 1)
  decerr("nan", "invalid literal (expected 'null')", 1, 1, 1)
end)

T.test("decode refuses bad literals", function()
  decerr("tru", "invalid literal (expected 'true')", 1, 1, 1)
  decerr("[nul]", "invalid literal (expected 'null')", 1, 2, 2)
  decerr("fals", "invalid literal (expected 'false')", 1, 1, 1)
  decerr("True", "unexpected 'T' (expected a value)", 1, 1, 1)
  decerr("'a'", "strings need double quotes", 1, 1, 1)
  decerr("undefined", "unexpected 'u' (expected a value)", 1, 1, 1)
end)

T.test("decode refuses bad objects and arrays", function()
  decerr("{a:1}", "unexpected 'a' (expected a string key)", 1, 2, 2)
  decerr('{"a" 1}', "unexpected '1' (expected ':')", 1, 6, 6)
  decerr('{"a":1 "b":2}', "unexpected '\"' (expected ',' or '}')", 1, 8, 8)
  decerr('{"a":}', "unexpected '}' (expected a value)", 1, 6, 6)
  decerr('{"a":1', "unexpected end of input (expected ',' or '}')", 1, 7, 7)
  decerr("[1 2]", "unexpected '2' (expected ',' or ']')", 1, 4, 4)
  decerr("[1", "unexpected end of input (expected ',' or ']')", 1, 3, 3)
  decerr("[", "unexpected end of input (expected a value)", 1, 2, 2)
  decerr("{", "unexpected end of input (expected a string key)", 1, 2, 2)
  decerr("{1:2}", "expected a string key", 1, 2, 2)
  decerr("]", "unexpected ']' (expected a value)", 1, 1, 1)
  decerr("[\1]", "unexpected byte 0x01 (expected a value)", 1, 2, 2)
end)

T.test("decode refuses bad strings", function()
  decerr('"abc', "unterminated string", 1, 5, 5)
  decerr('["a\\n', "unterminated string", 1, 6, 6)
  decerr('"a\\', "unterminated string", 1, 4, 4)
  decerr('"a\nb"', "control character 0x0A in string", 1, 3, 3)
  decerr('"\\n\1"', "control character 0x01 in string", 1, 4, 4)
  decerr('"a\0b"', "control character 0x00 in string", 1, 3, 3)
  decerr('"\\x"', "invalid escape '\\x'", 1, 2, 2)
  decerr('"\\\1"', "invalid escape (byte 0x01 after '\\')", 1, 2, 2)
  decerr('"\\u12"', "invalid \\u escape", 1, 2, 2)
  decerr('"\\u12G4"', "invalid \\u escape", 1, 2, 2)
end)

T.test("decode refuses lone and mis-paired surrogates", function()
  decerr('"\\uD800"', "high surrogate \\uD800 not followed by a low", 1, 2, 2)
  decerr('"ab\\ud83dx"', "high surrogate \\uD83D", 1, 4, 4)
  decerr('"\\uD800\\u0041"', "high surrogate \\uD800", 1, 2, 2)
  decerr('"\\uD800\\uD800"', "high surrogate \\uD800", 1, 2, 2)
  decerr('"\\uDC00"', "lone low surrogate \\uDC00", 1, 2, 2)
  decerr('"\\ude00\\ud83d"', "lone low surrogate \\uDE00", 1, 2, 2)
end)

T.test("decode refuses invalid UTF-8 in strings", function()
  decerr('"\xff"', "invalid UTF-8 in string", 1, 2, 2)
  decerr('"ab\xc3\x28"', "invalid UTF-8 in string", 1, 4, 4)
  decerr('"\xc0\xaf"', "invalid UTF-8 in string", 1, 2, 2)          -- overlong
  decerr('"\xe0\x80\xaf"', "invalid UTF-8 in string", 1, 2, 2)      -- overlong
  decerr('"\xed\xa0\x80"', "invalid UTF-8 in string", 1, 2, 2)      -- surrogate
  decerr('"\xf4\x90\x80\x80"', "invalid UTF-8 in string", 1, 2, 2)  -- too big
  decerr('"\xe2\x82', "invalid UTF-8 in string", 1, 2, 2)          -- truncated
  decerr('"\\n\xff"', "invalid UTF-8 in string", 1, 4, 4)          -- slow path
  decerr('{"k\x80":1}', "invalid UTF-8 in string", 1, 4, 4)        -- in a key
  decerr('"' .. string.rep("abcdefgh", 3) .. '\xff"',
         "invalid UTF-8 in string", 1, 26, 26)
end)

T.test("decode error positions: lines, columns in characters", function()
  decerr('{\n  "a": 1,\n  "b": [1,\n  ,]}',
         "unexpected ',' (expected a value)", 4, 3, 26)
  decerr('["\u{e9}", x]', "unexpected 'x'", 1, 7, 8)
  decerr("[1,\r\n2,\r\n]", "trailing comma", 3, 1, 10)
  local v, err = json.decode("[1,]")
  T.eq(tostring(err),
       "json.decode: trailing comma before ']' at line 1 column 4 (byte 4)")
end)

T.test("decode argument errors raise", function()
  T.checkerr("bad argument #1 to 'json.decode' (string expected, got number)",
             json.decode, 42)
  T.checkerr("bad argument #1 to 'json.decode' (string expected, got no value)",
             json.decode)
  T.checkerr("bad argument #1 to 'json.decode' (string expected, got nil)",
             json.decode, nil)
  T.checkerr("bad argument #2 to 'json.decode' (json.decode takes one string)",
             json.decode, "1", 2)
  T.eq(json.decode("1", nil), 1)
  -- called directly, the message names the function as called
  local ok, err = pcall(function() return json.decode(42) end)
  T.truthy(not ok and err:find("bad argument #1 to 'decode' (string " ..
                               "expected, got number)", 1, true), err)
end)

-- }======================================================

-- {======================================================
-- Round trips
-- ======================================================

-- A deterministic generator of nested values.
local seed = 42
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end
local strings = {"", "a", "caf\u{e9}", "line\nbreak", 'q"uote', "tab\t",
  "\u{1F600}", "back\\slash", "\1ctrl", string.rep("long ", 30)}

local function gen(depth)
  local r = rnd(depth > 4 and 6 or 9)
  if r == 0 then return rnd(2) == 1
  elseif r == 1 then return rnd(2000000) - 1000000
  elseif r == 2 then return (rnd(2000000) - 1000000) / 64
  elseif r == 3 then return strings[rnd(#strings) + 1]
  elseif r == 4 then return rnd(1000) / 1000 + rnd(7)
  elseif r == 5 then return math.mininteger + rnd(3)
  elseif r <= 7 then
    local t = {}
    for i = 1, rnd(6) + 1 do t[i] = gen(depth + 1) end
    return t
  else
    local t = {}
    for _ = 1, rnd(6) + 1 do t[strings[rnd(#strings) + 1] .. rnd(50)] =
      gen(depth + 1) end
    return t
  end
end

T.test("round trip: decode(encode(v)) == v, encode is stable", function()
  for _ = 1, 300 do
    local v = gen(0)
    local s = enc(v)
    local back = json.decode(s)
    if not same(v, back) then error("round trip differs: " .. s) end
    T.eq(enc(back), s, "encode(decode(s)) == s")
  end
end)

T.test("round trip: floats read back bit for bit", function()
  local tricky = {0.1, 0.2, 0.3, 1 / 3, 2 / 3, math.pi, -math.pi, 1e-7,
    1e21, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
    9007199254740993.0, 0.1 + 0.2, 123456.789e3, 4.35, 0.07, 1e15 + 0.3}
  for i = 1, 2000 do  -- deterministic, varied magnitudes
    local m = (rnd(2147483647) * 2147483648 + rnd(2147483647)) / 2^62
    tricky[#tricky + 1] = m * 10.0 ^ (rnd(60) - 30)
    tricky[#tricky + 1] = rnd(100000000) / 10 ^ rnd(9)
  end
  for _, x in ipairs(tricky) do
    local y = json.decode(enc(x))
    if y ~= x or math.type(y) ~= "float" then
      error(string.format("%.17g -> %s -> %.17g", x, enc(x), y))
    end
  end
end)

-- }======================================================

T.done()
