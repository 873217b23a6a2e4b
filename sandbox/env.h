/*
** env.h - the safe Lua environment of a sandboxed script.
**
** Provides to interp/main.c one call that replaces the state's globals with
** a table built from an allowlist (never by deleting from the full library):
** the base functions that cannot reach outside the state, read-only proxies
** of the vetted libraries and of the built-in modules, `load` in text mode
** only, `require` limited to package.preload and the module paths, `print`
** and `io.write` counted by the output limit, and pcall/xpcall/coroutine
** wrappers that re-raise a limit hit (limits.h).  The real library tables
** stay in the registry, out of the script's reach; the string metatable is
** locked and its __index is a private copy of the string library.
**
** See docs/sandbox.md for the list and the reasons.
*/
#ifndef SL_SANDBOX_ENV_H
#define SL_SANDBOX_ENV_H

#include <stddef.h>

struct lua_State;

/*
** Build the sandbox environment on L, whose globals hold the full standard
** library (luaL_openlibs) and the built-in modules (sl_openlibs), and make
** it the globals table.  `paths` are the --module-path directories (n of
** them) searched by require for NAME.lua and NAME/init.lua.  Raises on
** memory errors (call it in protected mode).  Stack: 0.
*/
void sandbox_env_apply(struct lua_State *L, const char *const *paths,
                       size_t n);

/* The state is being closed: os.exit from a finalizer must not close it
** again. */
void sandbox_env_closing(void);

/*
** Load a chunk of the script (the file at path, or stdin when path is
** NULL) in text mode: luaL_loadfilex(L, path, "t") without reopening the
** file.  Returns the lua_load status; stack: +1 (the chunk or a message).
*/
int sandbox_loadfile(struct lua_State *L, const char *path);

#endif
