/*
** json_box.c - the buffers of the `json` module: a "box" userdata, the
** shared upvalue of json.encode and json.decode, owns them and its __gc
** frees them (see json.c), allocated with the state's allocator.
*/
#include "json_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_BOX_MT "sandlua.json.Buffer"
/* A cached box keeps buffers up to this size between calls. */
#define JSON_KEEP (1u << 20)

/* {======================================================
** Buffers
** ======================================================= */

static void box_free(lua_State *L, jbox *b) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (b->buf) f(ud, b->buf, b->cap, 0);
  if (b->keys) f(ud, b->keys, b->kcap * sizeof(jkey), 0);
  b->buf = NULL;
  b->keys = NULL;
  b->len = b->cap = b->nkeys = b->kcap = 0;
}

/* __gc: free everything. */
static int box_gc(lua_State *L) {
  box_free(L, (jbox *)luaL_checkudata(L, 1, JSON_BOX_MT));
  return 0;
}

static void *box_realloc(lua_State *L, void *p, size_t osize, size_t nsize) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  void *q = f(ud, p, osize, nsize);
  if (q == NULL) {
    lua_pushliteral(L, "not enough memory");
    lua_error(L);
  }
  return q;
}

/* Make room for `extra` more bytes in b->buf.  May raise a memory error. */
__attribute__((noinline)) void json__box_grow(lua_State *L, jbox *b,
                                            size_t extra) {
  size_t need = b->len + extra;
  size_t ncap = b->cap ? b->cap : 256;
  if (need < b->len || need > ((size_t)-1) / 4)
    luaL_error(L, "json: buffer too large");
  while (ncap < need) ncap *= 2;
  b->buf = (char *)box_realloc(L, b->buf, b->cap, ncap);
  b->cap = ncap;
}

/* Make room for n more keys; returns the first free one. */
jkey *json__box_keys(lua_State *L, jbox *b, size_t n) {
  if (b->kcap - b->nkeys < n) {
    size_t ncap = b->kcap ? b->kcap : 64;
    while (ncap < b->nkeys + n) ncap *= 2;
    b->keys = (jkey *)box_realloc(L, b->keys, b->kcap * sizeof(jkey),
                                  ncap * sizeof(jkey));
    b->kcap = ncap;
  }
  return b->keys + b->nkeys;
}

/*
** The box of this module (the functions' shared upvalue).  A call uses it
** only in stretches where no Lua code can run: the encoder creates no
** collectable object while it writes (so no finalizer runs), and the
** decoder copies a string out of it before the GC can step.  So a call from
** a finalizer, in the middle of another, cannot disturb it.
*/
jbox *json__box_get(lua_State *L) {
  jbox *b = (jbox *)lua_touserdata(L, lua_upvalueindex(1));
  b->len = 0;
  b->nkeys = 0;
  return b;
}

/* After a call: don't keep big buffers. */
void json__box_release(lua_State *L, jbox *b) {
  if (unlikely(b->cap > JSON_KEEP || b->kcap * sizeof(jkey) > JSON_KEEP))
    box_free(L, b);
}

/*
** Room for n more stack slots, else raise: with a bounded depth, running
** out means running out of memory (luaL_checkstack would say "stack
** overflow").
*/
void json__need_stack(lua_State *L, int n, const char *who) {
  if (unlikely(!lua_checkstack(L, n)))
    luaL_error(L, "not enough memory or stack space (%s)", who);
}

/* }====================================================== */

/* Raise when a non-nil argument follows the first: there are no options. */
void json__noextra(lua_State *L, const char *msg) {
  for (int i = lua_gettop(L); i > 1; i--)
    luaL_argcheck(L, lua_isnil(L, i), i, msg);
  lua_settop(L, 1);
}

/* Push a new, empty box (its __gc frees its buffers).  Stack: +1. */
void json__box_new(lua_State *L) {
  if (luaL_newmetatable(L, JSON_BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  jbox *b = (jbox *)lua_newuserdatauv(L, sizeof(*b), 0);
  memset(b, 0, sizeof(*b));
  luaL_setmetatable(L, JSON_BOX_MT);
}
