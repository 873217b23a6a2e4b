-- The reference API's "Real-time chat" example, unchanged but for the URL
-- (arg[1]) and the token (arg[2]).  The main task prints the first message
-- (an echo server answers the join message) and returns; the program then
-- ends and the still-open connection is closed with 1001 (going away).
--
--   sandlua --allow-url 'ws://127.0.0.1:*/chat' examples/chat.lua \
--       ws://127.0.0.1:PORT/chat
local websocket = require("websocket")
local URL = arg[1] or "wss://chat.example.com/ws"
local token = arg[2] or "demo-token"

local function connect_chat(room_id, on_message)
    local client, err = websocket.connect(URL, {
        headers = {["Authorization"] = "Bearer " .. token}
    })
    if err then
        return nil, err
    end

    client:send(json.encode({type = "join", room = room_id}))

    local ch = client:channel()
    while true do
        local msg, ok = ch:receive()
        if not ok then break end

        local data = json.decode(msg.data)
        on_message(data)
    end

    client:close()
end

local first = channel.new(1)
coroutine.spawn(function()
    local _, err = connect_chat("lobby", function(data)
        print("chat message:", data.type, data.room)
        first:send(true)
    end)
    if err then
        print("chat error:", err:kind(), err:message())
        first:send(false)
    end
end)
first:receive()
