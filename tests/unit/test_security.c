/* Unit tests of stdlib/security.c: the checks the WebSocket client calls
** (sl_security_check_url, sl_security_check_ip), their error objects and
** audit records, and the deny-all default of a state without policies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../../stdlib/sl.h"
#include "../../stdlib/sl_security.h"

static const char *YAML =
    "namespace: t\n"
    "actor: {id: bot}\n"
    "entries:\n"
    "  - {name: chat, kind: security.policy, policy: {actions: "
    "[websocket.connect, websocket.connect.url], resources: "
    "'wss://chat.example.com/ws/*', effect: allow}}\n"
    "  - {name: no-lobby, kind: security.policy, policy: {actions: "
    "websocket.connect.url, resources: 'wss://chat.example.com/ws/lobby', "
    "effect: deny}}\n"
    "  - {name: dev, kind: security.policy, policy: {actions: "
    "[websocket.connect, websocket.connect.url], resources: "
    "'ws://localhost:9000', effect: allow}}\n";

static policy_url U;

static lua_State *state(policy_set **set, policy_audit *audit) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  sl_openlibs(L);
  if (set) {
    policy_diags d;
    memset(&d, 0, sizeof d);
    *set = policy_set_new();
    assert_int_equal(policy_load_buffer(*set, "t.yaml", YAML, strlen(YAML),
                                        &d), 0);
    sl_security_install(L, *set, audit);
  }
  return L;
}

/* The error object at the top: its kind, message contains part, details
** field `key` equals want (when key given). */
static void check_error(lua_State *L, sl_errkind kind, const char *part,
                        const char *key, const char *want) {
  assert_int_equal(sl_iserror(L, -1), kind);
  const char *msg = sl_errmessage(L, -1);
  if (strstr(msg, part) == NULL) fail_msg("message \"%s\" lacks \"%s\"", msg,
                                          part);
  /* Not retryable. */
  luaL_getmetafield(L, -1, "__index");
  lua_getfield(L, -1, "retryable");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 1);
  assert_true(lua_isboolean(L, -1) && !lua_toboolean(L, -1));
  lua_pop(L, 2);
  if (key) {
    luaL_getmetafield(L, -1, "__index");
    lua_getfield(L, -1, "details");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, key);
    assert_string_equal(lua_tostring(L, -1), want);
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
}

static void test_check_url(void **state_) {
  (void)state_;
  policy_set *set;
  lua_State *L = state(&set, NULL);
  int top = lua_gettop(L);
  assert_int_equal(sl_security_check_url(L, "WSS://Chat.example.com./ws/x",
                                         &U), 0);
  assert_int_equal(lua_gettop(L), top);
  assert_string_equal(U.host, "chat.example.com");
  assert_int_equal(U.port, 443);
  assert_int_equal(U.tls, 1);
  assert_string_equal(U.path, "/ws/x");
  /* Denied by a policy: PERMISSION_DENIED naming action, URL, policy. */
  assert_int_equal(sl_security_check_url(L, "wss://chat.example.com/ws/lobby",
                                         &U), -1);
  assert_int_equal(lua_gettop(L), top + 1);
  check_error(L, SL_PERMISSION_DENIED,
              "websocket.connect.url wss://chat.example.com:443/ws/lobby: "
              "permission denied by policy t:no-lobby", "policy", "t:no-lobby");
  /* No policy: websocket.connect is the first to say no. */
  assert_int_equal(sl_security_check_url(L, "wss://evil.net/", &U), -1);
  check_error(L, SL_PERMISSION_DENIED,
              "websocket.connect wss://evil.net:443/: permission denied: no "
              "policy allows it (default deny)", "action", "websocket.connect");
  /* A malformed URL: INVALID. */
  assert_int_equal(sl_security_check_url(L, "wss://a@chat.example.com/ws/x",
                                         &U), -1);
  check_error(L, SL_INVALID, "userinfo", NULL, NULL);
  assert_int_equal(lua_gettop(L), top);
  lua_close(L);
  policy_set_free(set);
}

static void test_check_ip(void **state_) {
  (void)state_;
  policy_set *set;
  char path[] = "/tmp/sl_sec_audit_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  policy_audit audit;
  assert_int_equal(policy_audit_open(&audit, path, 1, POLICY_AUDIT_MAX), 0);
  lua_State *L = state(&set, &audit);
  policy_ip ip;
  assert_int_equal(sl_security_check_url(L, "wss://chat.example.com/ws/x",
                                         &U), 0);
  assert_int_equal(policy_ip_parse("93.184.216.34", &ip), 0);
  assert_int_equal(sl_security_check_ip(L, &U, &ip, NULL), 0);
  assert_int_equal(policy_ip_parse("169.254.169.254", &ip), 0);
  assert_int_equal(sl_security_check_ip(L, &U, &ip, NULL), -1);
  check_error(L, SL_PERMISSION_DENIED,
              "169.254.169.254 is a link-local address, which no allow "
              "policy names explicitly", "ip", "169.254.169.254");
  /* localhost named explicitly: loopback passes, other addresses not. */
  assert_int_equal(sl_security_check_url(L, "ws://localhost:9000/", &U), 0);
  assert_int_equal(policy_ip_parse("::1", &ip), 0);
  assert_int_equal(sl_security_check_ip(L, &U, &ip, NULL), 0);
  assert_int_equal(policy_ip_parse("10.0.0.1", &ip), 0);
  assert_int_equal(sl_security_check_ip(L, &U, &ip, NULL), -1);
  lua_pop(L, 1);
  lua_close(L);
  policy_audit_close(&audit);
  /* Audit: every decision (--audit-all), the ip ones with "ip". */
  FILE *f = fopen(path, "r");
  char line[1024];
  int n = 0, denies = 0, with_ip = 0;
  while (fgets(line, sizeof line, f)) {
    n++;
    if (strstr(line, "\"decision\":\"deny\"")) denies++;
    if (strstr(line, "\"ip\":\"")) with_ip++;
    assert_non_null(strstr(line, "\"actor\":\"bot\""));
  }
  fclose(f);
  unlink(path);
  assert_int_equal(n, 8);  /* 2 + 2 URL checks, 4 address checks */
  assert_int_equal(denies, 2);
  assert_int_equal(with_ip, 4);
  policy_set_free(set);
}

static void test_no_policy_denies(void **state_) {
  (void)state_;
  lua_State *L = state(NULL, NULL);
  assert_int_equal(sl_security_check_url(L, "wss://example.com/", &U), -1);
  check_error(L, SL_PERMISSION_DENIED, "(default deny)", NULL, NULL);
  assert_int_equal(luaL_dostring(L, "return require('security').can("
                                    "'websocket.connect', 'wss://x/')"), 0);
  assert_true(lua_isboolean(L, -1) && !lua_toboolean(L, -1));
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_check_url),
    cmocka_unit_test(test_check_ip),
    cmocka_unit_test(test_no_policy_denies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
