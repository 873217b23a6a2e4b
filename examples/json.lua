-- json: strict encode/decode; failures are error objects that say where.
local msg = {type = "order", id = 1042, price = 19.99, qty = 3,
             tags = {"new", "caf\u{e9}"}, paid = false}
local text = assert(json.encode(msg))
print("encoded:", text)              -- keys in byte order, always the same

local back = assert(json.decode(text))
print("decoded:", back.id, math.type(back.id), back.price, back.tags[2])

-- Bad input is returned as nil, err (kind INVALID) with line and column.
local _, err = json.decode('{\n  "id": 1,\n  "tags": ["a", "b",]\n}')
print("error:", err:message())
local d = err:details()
print("where:", "line " .. d.line, "column " .. d.column, "byte " .. d.offset)

-- Values JSON cannot hold are refused with their path.
local _, err2 = json.encode({handlers = {on_close = print}})
print("error:", err2:message())

-- nil cannot sit in a Lua array; json.null writes null.
print("null:", json.encode({1, json.null, 3}))
