-- The reference API's "Price stream with keep-alive" example, unchanged but
-- for the URL (given as arg[1]; `make demo` starts a local price server) and
-- the update_price function it leaves to the reader.
--
--   sandlua --policy policies/examples/price-stream.yaml \
--       examples/price_stream.lua ws://127.0.0.1:8765/prices
local websocket = require("websocket")
local URL = arg[1] or "wss://stream.example.com/prices"

local function update_price(symbol, value)
    print(string.format("%-8s %10.2f", symbol, value))
end

local client = websocket.connect(URL)

client:send(json.encode({
    action = "subscribe",
    symbols = {"BTC-USD", "ETH-USD"}
}))

local ch = client:channel()
local heartbeat = time.after("30s")

while true do
    local r = channel.select {
        ch:case_receive(),
        heartbeat:case_receive()
    }

    if r.channel == heartbeat then
        client:ping()
        heartbeat = time.after("30s")
    elseif not r.ok then
        break  -- connection closed
    else
        local price = json.decode(r.value.data)
        update_price(price.symbol, price.value)
    end
end

client:close()
