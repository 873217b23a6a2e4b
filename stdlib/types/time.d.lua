---@meta time
-- sandlua: type definitions for lua-language-server.
-- `time` is a global and `require("time")`.

---A duration: a number of nanoseconds (`time.SECOND`), a Go duration string
---("1h30m", "250ms"), or a Duration value.
---@alias time.DurationLike integer|string|sandlua.time.Duration

---@class sandlua.time.Duration
local Duration = {}
---@nodiscard
---@return number
function Duration:hours() end
---@nodiscard
---@return number
function Duration:minutes() end
---@nodiscard
---@return number
function Duration:seconds() end
---@nodiscard
---@return number
function Duration:milliseconds() end
---@nodiscard
---@return number
function Duration:microseconds() end
---@nodiscard
---@return integer
function Duration:nanoseconds() end

---A point in time.
---@class sandlua.time.Time
local Time = {}
---Seconds since the Unix epoch.
---@nodiscard
---@return integer
function Time:unix() end
---Nanoseconds since the Unix epoch.
---@nodiscard
---@return integer
function Time:unix_nano() end
---The duration from `t` to this time.
---@nodiscard
---@param t sandlua.time.Time
---@return sandlua.time.Duration
function Time:sub(t) end
---This time plus `d`.
---@nodiscard
---@param d time.DurationLike
---@return sandlua.time.Time
function Time:add(d) end
---The time as RFC 3339 text.
---@nodiscard
---@return string
function Time:format_rfc3339() end

---A one-shot timer.
---@class sandlua.time.Timer
local Timer = {}
---The channel that receives once when the timer fires.
---@nodiscard
---@return sandlua.channel.Channel
function Timer:channel() end
---Alias of `channel()`.
---@nodiscard
---@return sandlua.channel.Channel
function Timer:response() end
---Stop the timer; returns whether it was still running.
---@return boolean
function Timer:stop() end
---Restart the timer to fire after `d`.
---@param d time.DurationLike
---@return boolean? ok
---@return sandlua.Error? err
function Timer:reset(d) end

---A periodic ticker.
---@class sandlua.time.Ticker
local Ticker = {}
---The channel that receives at every tick.
---@nodiscard
---@return sandlua.channel.Channel
function Ticker:channel() end
---Alias of `channel()`.
---@nodiscard
---@return sandlua.channel.Channel
function Ticker:response() end
---Stop the ticker.
function Ticker:stop() end

---@class timelib
---@field NANOSECOND integer
---@field MICROSECOND integer
---@field MILLISECOND integer
---@field SECOND integer
---@field MINUTE integer
---@field HOUR integer
time = {}

---Block the current task (yield to the scheduler) for `d`.
---@param d time.DurationLike
---@return boolean? ok
---@return sandlua.Error? err `INVALID` for a bad duration
function time.sleep(d) end

---A channel that receives the time once, after `d`.
---@nodiscard
---@param d time.DurationLike
---@return sandlua.channel.Channel? ch
---@return sandlua.Error? err
function time.after(d) end

---A timer that fires once after `d` (> 0).
---@nodiscard
---@param d time.DurationLike
---@return sandlua.time.Timer? timer
---@return sandlua.Error? err
function time.timer(d) end

---A ticker that fires every `d` (> 0).
---@nodiscard
---@param d time.DurationLike
---@return sandlua.time.Ticker? ticker
---@return sandlua.Error? err
function time.ticker(d) end

---The current time.
---@nodiscard
---@return sandlua.time.Time
function time.now() end

---Parse a duration: nanoseconds or a Go duration string.
---@nodiscard
---@param d integer|string
---@return sandlua.time.Duration? duration
---@return sandlua.Error? err `INVALID`, not retryable
function time.parse_duration(d) end

return time
