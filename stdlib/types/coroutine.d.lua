---@meta _
-- sandlua: type definitions for lua-language-server.
-- sandlua adds `coroutine.spawn` to the standard `coroutine` library.

---Start `fn(...)` as a concurrent task managed by the scheduler and return at
---once.  The task runs when the current one blocks (channel operations,
---`time.sleep`, network calls) or ends.  An uncaught error in a task ends the
---program.
---@param fn async fun(...)
---@param ... any arguments passed to `fn`
function coroutine.spawn(fn, ...) end
