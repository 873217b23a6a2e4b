---@meta security

---The policy engine, as scripts see it: ask, never change.
---@class securitylib
local security = {}

---Whether the loaded policies allow `action` on `resource`.  URL actions
---(`websocket.connect.url`) canonicalise the resource first; an invalid URL
---gives false.  `meta.ip` asks the post-DNS question for that address.
---@param action string
---@param resource string
---@param meta? table<string, string|number|boolean|(string|number|boolean)[]>
---@return boolean allowed
---@nodiscard
function security.can(action, resource, meta) end

---A copy of the actor the script runs as.
---@return {id: string?, meta: table<string, any>}
---@nodiscard
function security.actor() end

return security
