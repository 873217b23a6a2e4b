/*
** cstring.c - Lua strings that go to C as C strings (see sl.h).
**
** A Lua string keeps its length and may hold zero bytes; a C string ends
** at the first.  Every string a module hands to C code that takes a C
** string (URLs, header names and values, actions, file names) is taken
** through these, so that "wss://good.example\0.evil" is refused instead
** of being checked as "wss://good.example".
*/
#include "sl.h"

#include <string.h>

#include <lauxlib.h>

const char *sl_tocstring(lua_State *L, int idx, size_t *len) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (s == NULL || memchr(s, '\0', n) != NULL) return NULL;
  if (len != NULL) *len = n;
  return s;
}

const char *sl_checkcstring(lua_State *L, int idx, size_t *len) {
  size_t n;
  const char *s = luaL_checklstring(L, idx, &n);
  if (memchr(s, '\0', n) != NULL)
    luaL_argerror(L, idx, "string contains a zero byte");
  if (len != NULL) *len = n;
  return s;
}
