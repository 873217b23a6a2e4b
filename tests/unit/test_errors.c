/* Unit tests of the C API of error objects (stdlib/errors.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <lualib.h>

#include "../../stdlib/sl.h"

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "errors", luaopen_errors, 1);
  lua_pop(L, 1);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close((lua_State *)*state);
  return 0;
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(sl_errkind_name(SL_TIMEOUT), "TIMEOUT");
  assert_string_equal(sl_errkind_name(SL_UNKNOWN), "UNKNOWN");
  assert_null(sl_errkind_name(SL_ERRKIND_COUNT));
  assert_null(sl_errkind_name((sl_errkind)-1));
  assert_int_equal(sl_errkind_from_name("PERMISSION_DENIED"),
                   SL_PERMISSION_DENIED);
  assert_int_equal(sl_errkind_from_name("permission_denied"), -1);
  assert_int_equal(sl_errkind_from_name(""), -1);
}

static int fails(lua_State *L) {
  return sl_fail(L, SL_TIMEOUT, "connect %s: %d", "host", 42);
}

static void test_sl_fail(void **state) {
  lua_State *L = *state;
  lua_pushcfunction(L, fails);
  lua_call(L, 0, 2);
  assert_true(lua_isnil(L, -2));
  assert_int_equal(sl_iserror(L, -1), SL_TIMEOUT);
  assert_string_equal(sl_errmessage(L, -1), "connect host: 42");
  /* TIMEOUT is retryable by default */
  lua_settop(L, 0);
  lua_pushcfunction(L, fails);
  lua_call(L, 0, 2);
  lua_setglobal(L, "e");
  assert_int_equal(luaL_dostring(L, "return e:retryable(), e:kind()"), LUA_OK);
  assert_true(lua_toboolean(L, -2));
  assert_string_equal(lua_tostring(L, -1), "TIMEOUT");
  lua_settop(L, 0);
}

static void test_explicit_retry_and_details(void **state) {
  lua_State *L = *state;
  sl_pusherror(L, SL_INVALID, SL_RETRY_NIL, "bad %s", "x");
  lua_newtable(L);
  lua_pushinteger(L, 7);
  lua_setfield(L, -2, "offset");
  sl_seterrdetails(L, -2);
  lua_setglobal(L, "e");
  assert_int_equal(
      luaL_dostring(L, "return e:retryable(), e:details().offset, tostring(e)"),
      LUA_OK);
  assert_true(lua_isnil(L, -3));
  assert_int_equal(lua_tointeger(L, -2), 7);
  assert_string_equal(lua_tostring(L, -1), "bad x");
  lua_settop(L, 0);
}

static void test_not_an_error(void **state) {
  lua_State *L = *state;
  lua_pushstring(L, "plain");
  assert_int_equal(sl_iserror(L, -1), -1);
  lua_newtable(L);
  assert_int_equal(sl_iserror(L, -1), -1);
  lua_settop(L, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kind_names),
    cmocka_unit_test_setup_teardown(test_sl_fail, setup, teardown),
    cmocka_unit_test_setup_teardown(test_explicit_retry_and_details, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_not_an_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
