---@meta channel
-- sandlua: type definitions for lua-language-server.
-- `channel` is a global (Go-style channels on the scheduler).

---A channel: a queue between tasks, with Go semantics.
---@class sandlua.channel.Channel
local Channel = {}

---Send a value; blocks (yields to the scheduler) while no receiver is ready
---or the buffer is full.  Raises on a closed channel.
---@param value any
---@return true
function Channel:send(value) end

---Receive a value: `value, true`, or `nil, false` once the channel is
---closed and drained.  Blocks while the channel is empty.
---@return any value
---@return boolean ok
function Channel:receive() end

---Close the channel: pending receivers get `nil, false`, pending senders
---raise.  Closing twice does nothing.
function Channel:close() end

---A send case for `channel.select`.
---@nodiscard
---@param value any
---@return sandlua.channel.Case
function Channel:case_send(value) end

---A receive case for `channel.select`.
---@nodiscard
---@return sandlua.channel.Case
function Channel:case_receive() end

---@class sandlua.channel.Case

---What `channel.select` returns: the channel of the case that ran and, for
---a receive, the value; `ok` is false for a receive on a closed channel.
---With `default = true` and no case ready: `{default = true, ok = true}`.
---@class sandlua.channel.Selected
---@field channel? sandlua.channel.Channel
---@field value any
---@field ok boolean
---@field default? boolean

---@class channellib
channel = {}

---A new channel; `size` 0 (the default) makes it unbuffered: a send completes
---only when a receiver takes the value.
---@nodiscard
---@param size? integer
---@return sandlua.channel.Channel
function channel.new(size) end

---Wait until one of the cases can run, run it and return what happened.
---When several are ready one is picked at random.  `default = true` makes
---it return at once when none is ready.  An invalid case raises.
---@param cases (sandlua.channel.Case|boolean)[]|{default?: boolean}
---@return sandlua.channel.Selected
function channel.select(cases) end

return channel
