/*
** json.c - the `json` module: strict RFC 8259 encode and decode.
**
** json.encode(v) -> string | nil, err      json.decode(s) -> value | nil, err
**
** The decoder is a hand-written recursive-descent parser that pushes Lua
** values straight onto the stack (no intermediate tree); the encoder walks
** tables with raw access and writes into a growable buffer.  Both refuse
** nesting deeper than JSON_MAXDEPTH.  Failures of the input are returned
** as errors of kind INVALID whose message says where (decode: line, column
** and byte; encode: the path of the value, e.g. $.users[3].name) and whose
** details carry the same facts.  docs/json.md is the user documentation.
**
** This file: the module; json_box.c holds the buffers, json_encode.c and
** json_decode.c the encoder and the decoder (json_internal.h is what they
** share).
**
** Memory: buffers are allocated with the state's allocator (so a memory
** cap applies) and owned by a "box" userdata, the shared upvalue of both
** functions, whose __gc frees them: a raised error (a memory error) leaks
** nothing, and calls reuse the buffers (big ones are dropped after a call).
** See json__box_get for why a call made from a finalizer cannot disturb them.
** The encoder sorts object keys through pointers to key strings that stay
** anchored on the Lua stack while it uses them.
*/
#include "json_internal.h"

static const luaL_Reg json_funcs[] = {
  {"encode", json__encode},
  {"decode", json__decode},
  {NULL, NULL}
};

int luaopen_json(lua_State *L) {
  luaL_newlibtable(L, json_funcs);
  json__box_new(L);
  luaL_setfuncs(L, json_funcs, 1);  /* the box is their shared upvalue */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
