---@meta time
-- sandlua: type definitions for lua-language-server.
-- `time` is a global and `require("time")`.

---A duration: a number of nanoseconds (`2 * time.SECOND`), a Go duration
---string ("1h30m", "250ms", "1.5s"), or a Duration value.  Anything else is
---an `INVALID` error.
---@alias time.DurationLike integer|string|sandlua.Duration

---@class sandlua.Duration
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
---@class sandlua.Time
local Time = {}
---Seconds since the Unix epoch.
---@nodiscard
---@return integer
function Time:unix() end
---Nanoseconds since the Unix epoch.
---@nodiscard
---@return integer
function Time:unix_nano() end
---The duration from `t` to this time (monotonic when both come from
---`time.now()`).
---@nodiscard
---@param t sandlua.Time
---@return sandlua.Duration
function Time:sub(t) end
---This time plus `d`.
---@nodiscard
---@param d time.DurationLike
---@return sandlua.Time? t
---@return sandlua.Error? err `INVALID` for a bad duration
function Time:add(d) end
---The time as RFC 3339 text, in UTC ("2024-05-01T12:00:00Z").
---@nodiscard
---@return string
function Time:format_rfc3339() end

---A one-shot timer.
---@class sandlua.Timer
local Timer = {}
---The channel that receives once when the timer fires.
---@nodiscard
---@return sandlua.Channel
function Timer:channel() end
---Alias of `channel()`.
---@nodiscard
---@return sandlua.Channel
function Timer:response() end
---Stop the timer: `true` if it stopped an armed timer, `false` if it had
---fired or was stopped.  A fired value not yet received is dropped.
---@return boolean
function Timer:stop() end
---Re-arm the timer for `d` (> 0); `true` if it was armed.  Drops a value not
---yet received.
---@param d time.DurationLike
---@return boolean? was_armed
---@return sandlua.Error? err `INVALID` for a bad duration
function Timer:reset(d) end

---A periodic ticker.
---@class sandlua.Ticker
local Ticker = {}
---The channel that receives at every tick.
---@nodiscard
---@return sandlua.Channel
function Ticker:channel() end
---Alias of `channel()`.
---@nodiscard
---@return sandlua.Channel
function Ticker:response() end
---Stop the ticker: `true` if it was armed.
---@return boolean
function Ticker:stop() end
---Change the period to `d` (> 0) and re-arm; `true` if it was armed.
---@param d time.DurationLike
---@return boolean? was_armed
---@return sandlua.Error? err `INVALID` for a bad duration
function Ticker:reset(d) end

---@class timelib
---@field NANOSECOND integer
---@field MICROSECOND integer
---@field MILLISECOND integer
---@field SECOND integer
---@field MINUTE integer
---@field HOUR integer
time = {}

---Block the current task (yield to the scheduler) for at least `d`;
---`sleep(0)` lets the other runnable tasks run first.
---@param d time.DurationLike
---@return true? ok
---@return sandlua.Error? err `INVALID` for a bad duration
function time.sleep(d) end

---A channel that receives the current Time once, after `d` (> 0).
---@nodiscard
---@param d time.DurationLike
---@return sandlua.Channel? ch
---@return sandlua.Error? err
function time.after(d) end

---A timer that fires once after `d` (> 0).
---@nodiscard
---@param d time.DurationLike
---@return sandlua.Timer? timer
---@return sandlua.Error? err
function time.timer(d) end

---A ticker that fires every `d` (> 0).
---@nodiscard
---@param d time.DurationLike
---@return sandlua.Ticker? ticker
---@return sandlua.Error? err
function time.ticker(d) end

---The current time.
---@nodiscard
---@return sandlua.Time
function time.now() end

---Parse a duration: nanoseconds or a Go duration string.
---@nodiscard
---@param d integer|string
---@return sandlua.Duration? duration
---@return sandlua.Error? err `INVALID`, not retryable
function time.parse_duration(d) end

return time
