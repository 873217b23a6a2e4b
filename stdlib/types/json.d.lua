---@meta json
-- sandlua: type definitions for lua-language-server.
-- `json` is a global and `require("json")`.

---@class jsonlib
json = {}

---Encode a value as JSON.  `nil` is `null`, a sequence (1..n, no gaps) is an
---array, a table with string keys an object, an empty table `[]`; inf and
---nan become `null`.  Mixed or sparse keys, cycles and more than 128 levels
---of nesting fail.
---@nodiscard
---@param value any
---@return string? text
---@return sandlua.Error? err
function json.encode(value) end

---Decode JSON text.  Invalid JSON returns `nil` and an `INVALID` error that
---says where.
---@nodiscard
---@param text string
---@return any value
---@return sandlua.Error? err
function json.decode(text) end

return json
