---@meta errors
-- sandlua: type definitions for lua-language-server (https://luals.github.io).
-- Installed in <datadir>/sandlua/types; add that folder to
-- Lua.workspace.library.  `errors` is a global and `require("errors")`.

---@alias errors.Kind
---| '"NOT_FOUND"'
---| '"ALREADY_EXISTS"'
---| '"INVALID"'
---| '"PERMISSION_DENIED"'
---| '"UNAVAILABLE"'
---| '"INTERNAL"'
---| '"CANCELED"'
---| '"CONFLICT"'
---| '"TIMEOUT"'
---| '"RATE_LIMITED"'
---| '"UNKNOWN"'

---An error value: what a function that failed because of the outside world
---returns after `nil` (or `false`).
---@class sandlua.Error
local Error = {}

---The kind of the error, one of the `errors.*` constants.
---@nodiscard
---@return errors.Kind kind
function Error:kind() end

---The message, without the kind.
---@nodiscard
---@return string message
function Error:message() end

---Whether trying again may succeed: `true`, `false`, or `nil` when unknown.
---@nodiscard
---@return boolean? retryable
function Error:retryable() end

---A copy of the details table given at creation, or `nil`.
---@nodiscard
---@return table? details
function Error:details() end

---The traceback where the error was created.
---@nodiscard
---@return string stack
function Error:stack() end

---@class errorslib
---@field NOT_FOUND "NOT_FOUND"
---@field ALREADY_EXISTS "ALREADY_EXISTS"
---@field INVALID "INVALID"
---@field PERMISSION_DENIED "PERMISSION_DENIED"
---@field UNAVAILABLE "UNAVAILABLE"
---@field INTERNAL "INTERNAL"
---@field CANCELED "CANCELED"
---@field CONFLICT "CONFLICT"
---@field TIMEOUT "TIMEOUT"
---@field RATE_LIMITED "RATE_LIMITED"
---@field UNKNOWN "UNKNOWN"
errors = {}

---@class errors.Spec
---@field message string
---@field kind? errors.Kind default `UNKNOWN`
---@field retryable? boolean
---@field details? table

---Create an error: `errors.new("message")` (kind `UNKNOWN`) or
---`errors.new{message = ..., kind = ..., retryable = ..., details = {...}}`.
---Unknown fields, kinds and wrong field types raise.
---@nodiscard
---@param spec string|errors.Spec
---@return sandlua.Error err
function errors.new(spec) end

---A new error whose message is `context .. ": " .. err:message()`, with the
---same kind, retryability and details.
---@nodiscard
---@param err sandlua.Error
---@param context string
---@return sandlua.Error wrapped
function errors.wrap(err, context) end

---`errors.is(err, errors.TIMEOUT)` compares kinds;
---`errors.is(wrapped, err)` is true when `wrapped` was made from `err`.
---@nodiscard
---@param err any
---@param target errors.Kind|sandlua.Error
---@return boolean
function errors.is(err, target) end

return errors
