---@meta websocket
-- sandlua: type definitions for lua-language-server.
-- `local websocket = require("websocket")`: a WebSocket client (RFC 6455,
-- permessage-deflate), gated by the policies.

---@alias websocket.Timeout integer|string milliseconds, or a Go duration string ("5s")

---@class websocket.Options
---@field headers? table<string, string> HTTP headers for the handshake
---@field protocols? string[] subprotocols to offer; see `client:protocol()`
---@field dial_timeout? websocket.Timeout DNS + connect + handshake; default none
---@field read_timeout? websocket.Timeout no message for that long ends the connection with `TIMEOUT`
---@field write_timeout? websocket.Timeout
---@field compression? integer|"disabled"|"context_takeover"|"no_context_takeover" `websocket.COMPRESSION.*`; default disabled
---@field compression_threshold? integer minimum size to compress, 0 - 100 MiB
---@field read_limit? integer maximum message size, 0 - 128 MiB (0: 16 MiB)
---@field channel_capacity? integer receive channel buffer, 1 - 10000 (default 32)
---@field ca_file? string extra CA certificate file (PEM) trusted for wss://

---A received message.
---@class websocket.Message
---@field type "text"|"binary"
---@field data string

---A connection.
---@class sandlua.websocket.Client
local Client = {}

---Send a message (text by default).  Blocks while the socket cannot take it.
---@param data string
---@param type? integer `websocket.TEXT` (1) or `websocket.BINARY` (2)
---@return boolean ok
---@return sandlua.Error? err
function Client:send(data, type) end

---Send a ping.
---@return boolean ok
---@return sandlua.Error? err
function Client:ping() end

---The channel of received messages (the same one on every call).  It is
---closed when the connection ends.
---@nodiscard
---@return sandlua.Channel
function Client:channel() end

---Alias of `channel()`.
---@nodiscard
---@return sandlua.Channel
function Client:receive() end

---Close with `code` (1000 - 4999, default 1000; not 1005, 1006, 1015) and an
---optional reason, and wait (bounded) for the peer's close.
---@param code? integer
---@param reason? string
---@return boolean ok
---@return sandlua.Error? err
function Client:close(code, reason) end

---The subprotocol the server chose, or `nil`.
---@nodiscard
---@return string?
function Client:protocol() end

---@class websocket.CloseStatus
---@field code integer close code (1006 when the connection was lost)
---@field reason string close reason ("" when none)
---@field clean boolean the closing handshake completed
---@field by? "server"|"client" who sent the first close frame (nil when the connection was lost)
---@field error? sandlua.Error why it failed (timeout, network, protocol, too big)

--- Why the connection ended: nil while it is open.
---@nodiscard
---@return websocket.CloseStatus?
---@return sandlua.Error? err
function Client:close_status() end

---@class websocket.Compression
---@field DISABLED 0
---@field CONTEXT_TAKEOVER 1
---@field NO_CONTEXT 2

---@class websocket.CloseCodes
---@field NORMAL 1000
---@field GOING_AWAY 1001
---@field PROTOCOL_ERROR 1002
---@field UNSUPPORTED_DATA 1003
---@field RESERVED 1004
---@field NO_STATUS 1005
---@field ABNORMAL_CLOSURE 1006
---@field INVALID_PAYLOAD 1007
---@field POLICY_VIOLATION 1008
---@field MESSAGE_TOO_BIG 1009
---@field MANDATORY_EXTENSION 1010
---@field INTERNAL_ERROR 1011
---@field SERVICE_RESTART 1012
---@field TRY_AGAIN_LATER 1013
---@field BAD_GATEWAY 1014
---@field TLS_HANDSHAKE 1015

---@class websocketlib
---@field TEXT 1
---@field BINARY 2
---@field TYPE_TEXT "text"
---@field TYPE_BINARY "binary"
---@field TYPE_PING "ping"
---@field TYPE_PONG "pong"
---@field TYPE_CLOSE "close"
---@field COMPRESSION websocket.Compression
---@field CLOSE_CODES websocket.CloseCodes
local websocket = {}

---Open a connection to a `ws://` or `wss://` URL.  The policies decide
---`websocket.connect` and `websocket.connect.url` first (a denial is
---`PERMISSION_DENIED`); a bad option is `INVALID`; a network failure is
---retryable.  Blocks the current task until the handshake is done.
---@nodiscard
---@param url string
---@param options? websocket.Options
---@return sandlua.websocket.Client? client
---@return sandlua.Error? err
function websocket.connect(url, options) end

return websocket
