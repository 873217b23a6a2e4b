-- A connection the policy does not allow: connect returns nil and an
-- error of kind PERMISSION_DENIED naming the action, the URL and why;
-- no packet leaves the machine.
local websocket = require("websocket")
local client, err = websocket.connect(arg[1] or "wss://evil.example.net/")
if err then
    if errors.is(err, errors.PERMISSION_DENIED) then
        print("Access denied:", err:message())
    elseif err:retryable() then
        print("Temporary error:", err:message())
    end
    return
end
client:close()
