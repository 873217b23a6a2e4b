/*
** Unit tests of stdlib/json.c under memory pressure: a state whose
** allocator refuses to go past a byte cap makes json.encode and
** json.decode fail at every point where they allocate (their own buffers
** and the Lua values they build).  Each failure must be a clean Lua error,
** the module must keep working afterwards, and when the state is closed
** every byte must have been given back.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lualib.h>

#include "../../stdlib/sl.h"

typedef struct capped {
  size_t used, limit;
  int refused;
} capped;

static void *capalloc(void *ud, void *p, size_t osize, size_t nsize) {
  capped *c = ud;
  size_t old = p ? osize : 0;
  if (nsize == 0) {
    free(p);
    c->used -= old;
    return NULL;
  }
  if (nsize > old && c->used - old + nsize > c->limit) {
    c->refused++;
    return NULL;
  }
  void *q = realloc(p, nsize);
  if (q) c->used = c->used - old + nsize;
  return q;
}

/* Documents built once, with no cap: a big table and its JSON text. */
static const char *const build =
    "local t = {}\n"
    "for i = 1, 300 do\n"
    "  t[i] = {id = i, name = 'n\\t' .. i, f = i / 7, ok = i % 2 == 0,\n"
    "          list = {i, 'x\"y', {deep = {'\\u{e9}'}}}}\n"
    "end\n"
    "doc = t\n"
    "text = json.encode(t)\n"
    "escaped = json.encode(string.rep('line\\n\"quoted\"\\t', 2000))\n";

static lua_State *newcapped(capped *c) {
  memset(c, 0, sizeof(*c));
  c->limit = (size_t)-1;
  lua_State *L = lua_newstate(capalloc, c);
  assert_non_null(L);
  luaL_openlibs(L);
  sl_openlibs(L);
  assert_int_equal(luaL_dostring(L, build), LUA_OK);
  return L;
}

/*
** Run `chunk` with the cap set `margin` bytes above the current use, for
** margins from 0 up to the first success; each run either succeeds or
** raises "not enough memory".  Returns how many runs failed.
*/
static int squeeze(lua_State *L, capped *c, const char *chunk) {
  int failures = 0;
  assert_int_equal(luaL_loadstring(L, chunk), LUA_OK);
  int fn = lua_gettop(L);
  for (size_t margin = 0;; margin += 1 + margin / 8) {
    lua_gc(L, LUA_GCCOLLECT);
    lua_pushvalue(L, fn);
    c->limit = c->used + margin;
    int rc = lua_pcall(L, 0, 1, 0);
    c->limit = (size_t)-1;
    if (rc == LUA_OK) {
      assert_true(lua_toboolean(L, -1));
      lua_pop(L, 1);
      break;
    }
    const char *msg = lua_tostring(L, -1);
    assert_int_equal(rc, rc == LUA_ERRMEM ? LUA_ERRMEM : LUA_ERRRUN);
    assert_non_null(strstr(msg ? msg : "", "not enough memory"));
    lua_pop(L, 1);
    failures++;
  }
  lua_pop(L, 1);
  return failures;
}

static void test_encode_out_of_memory(void **state) {
  (void)state;
  capped c;
  lua_State *L = newcapped(&c);
  int n = squeeze(L, &c, "return json.encode(doc) == text");
  assert_true(n > 10);
  n = squeeze(L, &c, "return #json.encode(json.decode(escaped)) == #escaped");
  assert_true(n > 5);
  /* still works, and the cached buffers are reused */
  assert_int_equal(luaL_dostring(L, "assert(json.encode(doc) == text)"),
                   LUA_OK);
  lua_close(L);
  assert_int_equal(c.used, 0);
}

static void test_decode_out_of_memory(void **state) {
  (void)state;
  capped c;
  lua_State *L = newcapped(&c);
  int n = squeeze(L, &c,
                  "local v = json.decode(text)\n"
                  "return v[300].list[3].deep[1] == '\\u{e9}'");
  assert_true(n > 10);
  n = squeeze(L, &c, "return #json.decode(escaped) == 2000 * 14");
  assert_true(n > 2);
  assert_int_equal(luaL_dostring(L, "assert(json.encode(json.decode(text)) "
                                    "== text)"), LUA_OK);
  lua_close(L);
  assert_int_equal(c.used, 0);
}

/* Failures of the input (not of memory) leave nothing behind either. */
static void test_failures_free_everything(void **state) {
  (void)state;
  capped c;
  lua_State *L = newcapped(&c);
  assert_int_equal(luaL_dostring(L,
      "for i = 1, 200 do\n"
      "  assert(not json.decode('[\"a\\\\n' .. ('x'):rep(i) .. '\\\\q\"]'))\n"
      "  assert(not json.encode({a = {b = {print}}}))\n"
      "  assert(not json.encode({[('k'):rep(i)] = 1, [1] = 2}))\n"
      "end\n"), LUA_OK);
  lua_close(L);
  assert_int_equal(c.used, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_encode_out_of_memory),
    cmocka_unit_test(test_decode_out_of_memory),
    cmocka_unit_test(test_failures_free_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
