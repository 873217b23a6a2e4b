-- errors: failures are values with a kind, a message and retryability.
local function fetch(id)
  if id < 0 then
    return nil, errors.new{kind = errors.INVALID, message = "negative id " .. id,
                           retryable = false, details = {id = id}}
  end
  return {id = id}
end

local _, err = fetch(-1)
print("kind:", err:kind(), "message:", err:message())
print("retryable:", err:retryable(), "details.id:", err:details().id)

local wrapped = errors.wrap(err, "loading profile")
print("wrapped:", tostring(wrapped))
print("still INVALID:", errors.is(wrapped, errors.INVALID))
print("caused by err:", errors.is(wrapped, err))
