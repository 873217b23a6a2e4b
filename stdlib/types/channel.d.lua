---@meta channel
-- sandlua: type definitions for lua-language-server.
-- `channel` is a global (Go-style channels on the scheduler).

---A channel: a queue between tasks, with Go semantics.
---@class sandlua.Channel
local Channel = {}

---Send a value (any, `nil` included); blocks (yields to the scheduler) while
---no receiver is waiting and the buffer is full.  Raises `send on closed
---channel` on a closed channel, also when it is closed while the sender
---waits.
---@param value any
---@return true
function Channel:send(value) end

---Receive a value: `value, true`, or `nil, false` once the channel is
---closed and drained.  Blocks while the channel is empty.
---@return any value
---@return boolean ok
function Channel:receive() end

---Close the channel: pending receivers get `nil, false`, pending senders
---raise; buffered values stay receivable.  Closing twice does nothing.
function Channel:close() end

---The number of values in the buffer.
---@nodiscard
---@return integer
function Channel:len() end

---The size of the buffer.
---@nodiscard
---@return integer
function Channel:cap() end

---A send case for `channel.select`.
---@nodiscard
---@param value any
---@return sandlua.Case
function Channel:case_send(value) end

---A receive case for `channel.select`.
---@nodiscard
---@return sandlua.Case
function Channel:case_receive() end

---@class sandlua.Case

---What `channel.select` returns: the channel of the case that ran and, for
---a receive, the value; `ok` is false for a receive on a closed channel.
---With `default = true` and no case ready: `{default = true, ok = true}`.
---@class sandlua.Selected
---@field channel? sandlua.Channel
---@field value any
---@field ok boolean
---@field default? boolean

---@class channellib
channel = {}

---A new channel; `size` 0 (the default) makes it unbuffered: a send completes
---only when a receiver takes the value.  A negative size raises.
---@nodiscard
---@param size? integer
---@return sandlua.Channel
function channel.new(size) end

---Wait until one of the cases can run, run it and return what happened.
---When several are ready one is picked uniformly at random.  `default = true`
---makes it return at once when none is ready; `channel.select{}` blocks
---forever.  A send case on a closed channel, or anything in the list that is
---not a case, raises.
---@param cases (sandlua.Case|boolean)[]|{default?: boolean}
---@return sandlua.Selected
function channel.select(cases) end

return channel
