/*
** libFuzzer target for the json module (make fuzz-json).  Each input is
** given to json.decode; what decodes must encode, decode again and encode
** to the same text; what fails must fail with an INVALID error whose
** offset lies inside the input.  The sanitizers catch memory errors.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lualib.h>

#include "../../stdlib/sl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const check =
    "local s = ...\n"
    "local v, err = json.decode(s)\n"
    "if err == nil then\n"
    "  local t, e2 = json.encode(v)\n"
    "  if t then\n"
    "    local v2, e3 = json.decode(t)\n"
    "    assert(e3 == nil, 're-decode failed: ' .. tostring(e3))\n"
    "    assert(json.encode(v2) == t, 'encode not stable')\n"
    "  else\n"
    "    assert(e2:message():find('sparse') or"
    " e2:message():find('out of range'), e2:message())\n"
    "  end\n"
    "else\n"
    "  assert(errors.is(err, errors.INVALID))\n"
    "  local d = err:details()\n"
    "  assert(d.offset >= 1 and d.offset <= #s + 1, 'offset')\n"
    "  assert(d.line >= 1 and d.column >= 1, 'line/column')\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    sl_openlibs(L);
    if (luaL_loadstring(L, check) != LUA_OK) abort();
    lua_setglobal(L, "check");
  }
  lua_getglobal(L, "check");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  return 0;
}
