/*
** init.c - the list of built-in modules (linit.c shape).
**
** Every module is registered in package.preload, so `require(name)` finds it
** without touching the file system; the ones the reference runtime has as
** globals are also set as globals.
*/
#include "sl.h"
#include "sched.h"

#include <lualib.h>

typedef struct sl_module {
  const char *name;
  lua_CFunction open;
  int global;  /* also set as a global of that name */
} sl_module;

static const sl_module modules[] = {
  {"errors", luaopen_errors, 1},
  {"json", luaopen_json, 1},
  {"channel", luaopen_channel, 1},
  {"time", luaopen_time, 1},
  {"security", luaopen_security, 0},
  {"websocket", luaopen_websocket, 0},
  {NULL, NULL, 0}
};

void sl_openlibs(lua_State *L) {
  sl_sched_openlib(L);  /* coroutine.spawn, yield-aware coroutines */
  sl_stdin_openlib(L);  /* io.read, io.lines() on stdin block one task */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const sl_module *m = modules; m->name; m++) {
    lua_pushcfunction(L, m->open);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);  /* preload table */
  for (const sl_module *m = modules; m->name; m++) {
    if (!m->global) continue;
    luaL_requiref(L, m->name, m->open, 1);
    lua_pop(L, 1);
  }
}
