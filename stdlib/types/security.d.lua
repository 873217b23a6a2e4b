---@meta security
-- sandlua: type definitions for lua-language-server.
-- `require("security")`: ask the loaded policies for a decision.  Scripts
-- can read decisions, never change the policies.

---@class security.Actor
---@field id string?
---@field meta table<string, string>

---@class securitylib
local security = {}

---Whether the policies allow `action` on `resource` for the current actor.
---`meta` gives the request's `meta.*` fields for conditions.
---@nodiscard
---@param action string e.g. "websocket.connect.url"
---@param resource string e.g. "wss://stream.example.com/prices"
---@param meta? table<string, any>
---@return boolean allowed
function security.can(action, resource, meta) end

---The actor decisions are made for (`--actor`, `--actor-meta` or the policy
---file's `actor:`).  A copy: changing it changes nothing.
---@nodiscard
---@return security.Actor
function security.actor() end

return security
