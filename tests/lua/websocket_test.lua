-- The websocket module without a server: constants, option validation
-- (every option, its wrong types and ranges), policy refusals before any
-- network activity (the default policy here is deny-all).
local T = require("testlib")
local websocket = require("websocket")

T.test("module shape and constants", function()
  T.eq(rawget(_G, "websocket"), nil, "not a global")
  T.eq(websocket.TEXT, 1)
  T.eq(websocket.BINARY, 2)
  T.eq(websocket.TYPE_TEXT, "text")
  T.eq(websocket.TYPE_BINARY, "binary")
  T.eq(websocket.TYPE_PING, "ping")
  T.eq(websocket.TYPE_PONG, "pong")
  T.eq(websocket.TYPE_CLOSE, "close")
  T.eq(websocket.COMPRESSION.DISABLED, 0)
  T.eq(websocket.COMPRESSION.CONTEXT_TAKEOVER, 1)
  T.eq(websocket.COMPRESSION.NO_CONTEXT, 2)
  local want = {NORMAL = 1000, GOING_AWAY = 1001, PROTOCOL_ERROR = 1002,
    UNSUPPORTED_DATA = 1003, RESERVED = 1004, NO_STATUS = 1005,
    ABNORMAL_CLOSURE = 1006, INVALID_PAYLOAD = 1007, POLICY_VIOLATION = 1008,
    MESSAGE_TOO_BIG = 1009, MANDATORY_EXTENSION = 1010, INTERNAL_ERROR = 1011,
    SERVICE_RESTART = 1012, TRY_AGAIN_LATER = 1013, BAD_GATEWAY = 1014,
    TLS_HANDSHAKE = 1015}
  local n = 0
  for k, v in pairs(websocket.CLOSE_CODES) do
    T.eq(v, want[k], k)
    n = n + 1
  end
  T.eq(n, 16)
end)

local URL = "ws://127.0.0.1:9/x"

local function bad(opts, part)
  local c, err = websocket.connect(URL, opts)
  T.fails(errors.INVALID, part, c, err)
  T.eq(err:retryable(), false)
end

T.test("unknown options and a non-table", function()
  bad({bogus = 1}, 'unknown option "bogus"')
  bad({[1] = 2}, "option names must be strings")
  bad("fast", "options: table expected, got string")
  bad(42, "options: table expected, got number")
end)

T.test("timeouts", function()
  for _, k in ipairs({"dial_timeout", "read_timeout", "write_timeout"}) do
    bad({[k] = -1}, k .. ": must be a number of milliseconds >= 0")
    bad({[k] = 0/0}, k .. ": must be a number")
    bad({[k] = math.huge}, k .. ": must be a number")
    bad({[k] = "5 parsecs"}, k .. ":")
    bad({[k] = "-5s"}, k .. ": must not be negative")
    bad({[k] = true}, k .. ": number (milliseconds), duration string or Duration expected, got boolean")
    bad({[k] = {}}, k .. ": number (milliseconds), duration string or Duration")
    bad({[k] = io.stdout}, k .. ": number (milliseconds), duration string or Duration")
    -- over a year cannot be meant, however it is written
    bad({[k] = 366 * 24 * 3600 * 1000}, k .. ": 8784h is over a year")
    bad({[k] = "8761h"}, k .. ": 8761h is over a year")
    bad({[k] = time.parse_duration("1h") * 9000}, k .. ": 9000h is over a year")
    bad({[k] = -time.parse_duration("1s")}, k .. ": must not be negative")
    -- time.MINUTE is nanoseconds: as milliseconds, 1.9 years; said so
    bad({[k] = time.MINUTE}, "numbers are milliseconds here, not time.SECOND's nanoseconds")
  end
end)

T.test("timeouts as Durations, strings and milliseconds", function()
  -- the options are accepted (the deny-all policy then refuses the URL)
  local second = time.parse_duration("1s")
  for _, v in ipairs({second * 2, time.parse_duration("1.5s"), "2s",
                      2000, 0, "8760h", second * 3600 * 8760}) do
    local c, err = websocket.connect(URL, {dial_timeout = v, read_timeout = v,
                                           write_timeout = v})
    T.eq(c, nil)
    T.eq(err:kind(), errors.PERMISSION_DENIED, tostring(v))
  end
end)

T.test("compression", function()
  bad({compression = 3}, "compression: 3 is out of range (0-2)")
  bad({compression = -1}, "compression: -1 is out of range")
  bad({compression = 1.5}, "compression: integer expected, got a fraction")
  bad({compression = "fast"}, 'compression: unknown mode "fast"')
  bad({compression = true}, "compression: integer expected, got boolean")
end)

T.test("sizes and capacity", function()
  bad({compression_threshold = -1}, "compression_threshold: -1 is out of range (0-104857600)")
  bad({compression_threshold = 100 * 1024 * 1024 + 1}, "compression_threshold:")
  bad({compression_threshold = "1"}, "compression_threshold: integer expected, got string")
  bad({read_limit = -1}, "read_limit: -1 is out of range (0-134217728)")
  bad({read_limit = 128 * 1024 * 1024 + 1}, "read_limit:")
  bad({read_limit = 0.5}, "read_limit: integer expected")
  bad({channel_capacity = 0}, "channel_capacity: 0 is out of range (1-10000)")
  bad({channel_capacity = 10001}, "channel_capacity: 10001 is out of range")
  bad({channel_capacity = "8"}, "channel_capacity: integer expected, got string")
end)

T.test("headers and protocols", function()
  bad({headers = "x"}, "headers: table expected, got string")
  bad({headers = {X = 1}}, "headers: names and values must be strings")
  bad({headers = {[1] = "a"}}, "headers: names and values must be strings")
  bad({headers = {["X-A"] = "a\r\nHost: evil"}}, "X-A")
  bad({headers = {["X-A"] = "a\nb"}}, "control characters")
  bad({headers = {["Bad Name"] = "v"}}, "invalid header name")
  bad({headers = {["X:Y"] = "v"}}, "invalid header name")
  bad({headers = {Host = "evil"}}, "Host")
  bad({headers = {["Sec-WebSocket-Key"] = "x"}}, "Sec-WebSocket-Key")
  bad({protocols = "chat"}, "protocols: table (list of strings) expected")
  bad({protocols = {1}}, "protocols: entry 1 is not a string")
  bad({protocols = {"a b"}}, "a b")
  bad({protocols = {"chat", "chat"}}, "chat")
end)

T.test("ca_file is checked at connect", function()
  bad({ca_file = 5}, "ca_file: file name expected, got number")
  bad({ca_file = ""}, "ca_file: file name expected, got an empty string")
  bad({ca_file = "/nonexistent/ca.pem"}, "ca_file:")
end)

T.test("valid options reach the policy (deny-all here)", function()
  local c, err = websocket.connect(URL, {
    headers = {Authorization = "Bearer x"}, protocols = {"graphql-ws"},
    dial_timeout = "10s", read_timeout = 30000, write_timeout = "1m",
    compression = websocket.COMPRESSION.CONTEXT_TAKEOVER,
    compression_threshold = 0, read_limit = 0, channel_capacity = 1})
  T.fails(errors.PERMISSION_DENIED, "websocket.connect", c, err)
  T.eq(err:retryable(), false)
  c, err = websocket.connect(URL, {compression = "no_context_takeover",
                                   channel_capacity = 10000,
                                   read_limit = 128 * 1024 * 1024})
  T.fails(errors.PERMISSION_DENIED, nil, c, err)
end)

T.test("invalid URLs", function()
  local c, err = websocket.connect("http://example.com/")
  T.truthy(not c)
  T.truthy(errors.is(err, errors.INVALID) or
           errors.is(err, errors.PERMISSION_DENIED), tostring(err))
  T.checkerr("bad argument #1", websocket.connect)
end)

T.done()
