---@meta json
-- sandlua: type definitions for lua-language-server.
-- `json` is a global and `require("json")`.

---@class jsonlib
---@field null lightuserdata|userdata a value that encodes as `null`: `{1, json.null, 3}`
json = {}

---Encode a value as JSON.  `nil` and `json.null` are `null`, a sequence
---(keys exactly 1..n) is an array, a table with string keys an object (keys
---in byte order), an empty table `[]`; inf and nan become `null`.  Mixed or
---sparse keys, invalid UTF-8, cycles and more than 128 levels of nesting
---return `nil` and an `INVALID` error.
---@nodiscard
---@param value any
---@return string? text
---@return sandlua.Error? err
function json.encode(value) end

---Decode JSON text.  Invalid JSON returns `nil` and an `INVALID` error that
---says where (`err:details()` has the line and column).  `"null"` decodes to
---`nil` with no error: test the second result.
---@nodiscard
---@param text string
---@return any value
---@return sandlua.Error? err
function json.decode(text) end

return json
