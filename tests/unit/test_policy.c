/* Unit tests of security/policy.c: every operator, deny over allow,
** undefined under strict and non-strict, combining files, fail closed,
** the URL action and the special-purpose address rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../security/audit.h"
#include "../../security/policy.h"
#include "../../security/ports.h"

static policy_set *S;
static policy_diags D;

static void load(const char *name, const char *yaml) {
  int rc = policy_load_buffer(S, name, yaml, strlen(yaml), &D);
  if (rc != 0) {
    char buf[1024];
    policy_diag_format(&D.error, buf, sizeof buf);
    fail_msg("load %s: %s", name, buf);
  }
}

static int setup(void **state) {
  (void)state;
  S = policy_set_new();
  memset(&D, 0, sizeof D);
  return S == NULL;
}

static int teardown(void **state) {
  (void)state;
  policy_set_free(S);
  policy_diags_free(&D);
  return 0;
}

static policy_kv META[8];
static size_t N_META;
static policy_url URL;
static policy_decision DEC;

static void meta_clear(void) {
  for (size_t i = 0; i < N_META; i++) {
    free(META[i].key);
    policy_value_free(&META[i].value);
  }
  N_META = 0;
}

static void meta_str(const char *k, const char *v) {
  META[N_META].key = strdup(k);
  memset(&META[N_META].value, 0, sizeof META[N_META].value);
  META[N_META].value.type = POLICY_V_STR;
  META[N_META].value.s = strdup(v);
  N_META++;
}

static void meta_num(const char *k, double n) {
  META[N_META].key = strdup(k);
  memset(&META[N_META].value, 0, sizeof META[N_META].value);
  META[N_META].value.type = POLICY_V_NUM;
  META[N_META].value.n = n;
  N_META++;
}

/* Decide (action, resource) as the set's actor with META. */
static int can(const char *action, const char *resource) {
  policy_request r;
  memset(&r, 0, sizeof r);
  r.actor = &S->actor;
  r.action = action;
  r.resource = resource;
  r.meta = META;
  r.n_meta = N_META;
  policy_decide(S, &r, &DEC);
  return DEC.allow;
}

/* Decide a URL request, before DNS (ip NULL) or after (ip given). */
static int can_url(const char *url, const char *ip_text) {
  char err[256];
  policy_ip ip;
  policy_request r;
  if (policy_url_parse(url, &URL, err, sizeof err) != 0)
    fail_msg("%s: %s", url, err);
  memset(&r, 0, sizeof r);
  r.actor = &S->actor;
  r.action = POLICY_ACTION_CONNECT_URL;
  r.resource = URL.canonical;
  r.url = &URL;
  if (ip_text) {
    assert_int_equal(policy_ip_parse(ip_text, &ip), 0);
    r.ip = &ip;
  } else {
    r.ip_pending = 1;
  }
  policy_decide(S, &r, &DEC);
  return DEC.allow;
}

static const char *decider(void) { return policy_decision_policy(&DEC); }

#define HEAD "version: \"1.0\"\nnamespace: t\nentries:\n"

/* One allow policy on action "a", resource "r", with one condition. */
static void cond_policy(const char *cond) {
  char buf[2048];
  snprintf(buf, sizeof buf,
           HEAD "  - name: p\n    kind: security.policy\n    policy:\n"
           "      actions: a\n      resources: r\n      effect: allow\n"
           "      conditions:\n        - %s\n", cond);
  policy_set_free(S);
  S = policy_set_new();
  load("cond.yaml", buf);
}

/* Whether the condition holds for meta (as set up by the caller). */
static int holds(const char *cond) {
  cond_policy(cond);
  return can("a", "r");
}

static void test_operators(void **state) {
  (void)state;
  meta_clear();
  meta_str("s", "hello world");
  meta_num("n", 5);
  meta_str("ns", "443");
  meta_str("ip", "10.1.2.3");
  assert_true(holds("{field: meta.s, operator: eq, value: hello world}"));
  assert_false(holds("{field: meta.s, operator: eq, value: hello}"));
  assert_true(holds("{field: meta.n, operator: eq, value: 5}"));
  assert_true(holds("{field: meta.ns, operator: eq, value: 443}"));
  assert_true(holds("{field: meta.s, operator: ne, value: x}"));
  assert_false(holds("{field: meta.n, operator: ne, value: 5}"));
  assert_true(holds("{field: meta.n, operator: lt, value: 6}"));
  assert_false(holds("{field: meta.n, operator: lt, value: 5}"));
  assert_true(holds("{field: meta.n, operator: lte, value: 5}"));
  assert_true(holds("{field: meta.n, operator: gt, value: 4.5}"));
  assert_false(holds("{field: meta.n, operator: gt, value: 5}"));
  assert_true(holds("{field: meta.n, operator: gte, value: 5}"));
  assert_false(holds("{field: meta.n, operator: gte, value: 6}"));
  assert_true(holds("{field: meta.ns, operator: gt, value: 400}"));
  assert_false(holds("{field: meta.s, operator: gt, value: 1}"));  /* error */
  assert_true(holds("{field: meta.n, operator: in, value: [1, 5]}"));
  assert_false(holds("{field: meta.n, operator: in, value: [1, 2]}"));
  assert_true(holds("{field: meta.n, operator: nin, value: [1, 2]}"));
  assert_false(holds("{field: meta.s, operator: nin, value: [hello world]}"));
  assert_true(holds("{field: meta.s, operator: exists}"));
  assert_false(holds("{field: meta.zz, operator: exists}"));
  assert_true(holds("{field: meta.zz, operator: nexists}"));
  assert_false(holds("{field: meta.s, operator: nexists}"));
  assert_true(holds("{field: meta.s, operator: contains, value: lo wo}"));
  assert_false(holds("{field: meta.s, operator: contains, value: xyz}"));
  assert_true(holds("{field: meta.s, operator: ncontains, value: xyz}"));
  assert_false(holds("{field: meta.s, operator: ncontains, value: hello}"));
  assert_true(holds("{field: meta.s, operator: matches, value: '^h.*d$'}"));
  assert_false(holds("{field: meta.s, operator: matches, value: '^world'}"));
  assert_true(holds("{field: meta.s, operator: nmatches, value: '^world'}"));
  assert_false(holds("{field: meta.s, operator: nmatches, value: 'o w'}"));
  assert_true(holds("{field: meta.ip, operator: cidr, value: 10.0.0.0/8}"));
  assert_true(holds("{field: meta.ip, operator: cidr, "
                    "value: [192.168.0.0/16, 10.1.2.3]}"));
  assert_false(holds("{field: meta.ip, operator: cidr, value: 11.0.0.0/8}"));
  assert_false(holds("{field: meta.s, operator: cidr, value: 0.0.0.0/0}"));
  /* value_from */
  meta_str("s2", "hello world");
  meta_num("n2", 7);
  assert_true(holds("{field: meta.s, operator: eq, value_from: meta.s2}"));
  assert_true(holds("{field: meta.n, operator: lt, value_from: meta.n2}"));
  assert_false(holds("{field: meta.n, operator: gt, value_from: meta.n2}"));
  assert_false(holds("{field: meta.s, operator: eq, value_from: meta.none}"));
  meta_clear();
}

static void test_fields(void **state) {
  (void)state;
  load("a.yaml", "actor: {id: alice, meta: {role: admin, level: 3, "
                 "groups: [dev, ops]}}\n" HEAD
                 "  - name: p\n    kind: security.policy\n    policy:\n"
                 "      actions: '*'\n      resources: '*'\n"
                 "      effect: allow\n      conditions:\n"
                 "        - {field: actor.id, operator: eq, value: alice}\n"
                 "        - {field: actor.meta.role, operator: eq, "
                 "value: admin}\n"
                 "        - {field: actor.meta.level, operator: gte, "
                 "value: 2}\n"
                 "        - {field: actor.meta.groups, operator: contains, "
                 "value: ops}\n"
                 "        - {field: action, operator: matches, "
                 "value: '^fs\\.'}\n"
                 "        - {field: resource, operator: ne, "
                 "value: /secret}\n");
  assert_true(can("fs.read", "/tmp/x"));
  assert_string_equal(decider(), "t:p");
  assert_false(can("net.read", "/tmp/x"));
  assert_false(can("fs.read", "/secret"));
  policy_actor_set_id(&S->actor, "bob");
  assert_false(can("fs.read", "/tmp/x"));
}

static void test_deny_over_allow(void **state) {
  (void)state;
  load("a.yaml", HEAD
       "  - {name: allow-all, kind: security.policy, policy: "
       "{actions: '*', resources: '*', effect: allow}}\n"
       "  - {name: no-secret, kind: security.policy, policy: "
       "{actions: 'fs.*', resources: '/secret/*', effect: deny}}\n");
  assert_true(can("fs.read", "/tmp/a"));
  assert_string_equal(decider(), "t:allow-all");
  assert_int_equal(DEC.why, POLICY_WHY_ALLOW);
  assert_false(can("fs.read", "/secret/key"));
  assert_string_equal(decider(), "t:no-secret");
  assert_int_equal(DEC.why, POLICY_WHY_DENY);
  assert_true(can("net.read", "/secret/key"));
  /* The address rule is for URL actions only. */
  policy_ip lo;
  assert_int_equal(policy_ip_parse("127.0.0.1", &lo), 0);
  assert_int_equal(policy_check(S, &S->actor, "fs.read", "/tmp/a", NULL, 0,
                                &lo, &URL, &DEC), 0);
  assert_true(DEC.allow);
  assert_int_equal(policy_check(S, &S->actor, POLICY_ACTION_CONNECT_URL,
                                "wss://h.example/", NULL, 0, &lo, &URL, &DEC),
                   0);
  assert_false(DEC.allow);
  assert_int_equal(DEC.why, POLICY_WHY_SPECIAL);
}

static void test_undefined(void **state) {
  (void)state;
  /* Strict by default. */
  load("a.yaml", HEAD
       "  - {name: p, kind: security.policy, policy: "
       "{actions: x, resources: '*', effect: allow}}\n");
  assert_true(policy_set_strict(S));
  assert_false(can("y", "r"));
  assert_int_equal(DEC.why, POLICY_WHY_UNDEFINED);
  assert_string_equal(decider(), "(default deny)");
  policy_set_free(S);
  S = policy_set_new();
  load("b.yaml", "strict: false\n" HEAD
       "  - {name: p, kind: security.policy, policy: "
       "{actions: x, resources: '*', effect: deny}}\n");
  assert_false(policy_set_strict(S));
  assert_true(can("y", "r"));
  assert_int_equal(DEC.why, POLICY_WHY_UNDEFINED);
  assert_false(can("x", "r"));
  /* One strict file among non-strict ones makes the set strict. */
  load("c.yaml", "strict: true\nentries: []\n");
  assert_true(policy_set_strict(S));
  assert_false(can("y", "r"));
  /* An empty set denies everything. */
  policy_set_free(S);
  S = policy_set_new();
  assert_false(can("anything", "at all"));
}

static void test_combining_files(void **state) {
  (void)state;
  load("one.yaml", "namespace: one\nactor: {id: a1, meta: {k: v1}}\n"
       "sandbox: {timeout: 5s, memory_limit: 64M}\nentries:\n"
       "  - {name: p, kind: security.policy, policy: "
       "{actions: x, resources: '*', effect: allow}}\n");
  load("two.yaml", "namespace: two\nactor: {meta: {k2: v2}}\n"
       "sandbox: {timeout: 10s}\nentries:\n"
       "  - {name: p, kind: security.policy, policy: "
       "{actions: x, resources: bad, effect: deny}}\n");
  assert_int_equal(S->n, 2);
  assert_true(can("x", "good"));
  assert_string_equal(decider(), "one:p");
  assert_false(can("x", "bad"));
  assert_string_equal(decider(), "two:p");
  assert_string_equal(S->actor.id, "a1");
  assert_int_equal(S->actor.n_meta, 2);
  assert_int_equal(S->sandbox.value[SL_LIMIT_TIMEOUT], 10000000000LL);
  assert_int_equal(S->sandbox.value[SL_LIMIT_MEMORY], 64LL << 20);
  /* A duplicate name across files is an error and changes nothing. */
  const char *dup = "namespace: one\nentries:\n"
                    "  - {name: p, kind: security.policy, policy: "
                    "{actions: y, resources: '*', effect: allow}}\n";
  assert_int_equal(policy_load_buffer(S, "three.yaml", dup, strlen(dup), &D),
                   -EINVAL);
  assert_int_equal(D.error.line, 3);
  assert_int_equal(D.error.column, 12);
  assert_non_null(strstr(D.error.message,
                         "duplicate policy name 'one:p' (first defined at "
                         "one.yaml:5:5)"));
  assert_int_equal(S->n, 2);
  assert_false(can("y", "r"));
  /* A failing file leaves actor and sandbox untouched too. */
  const char *bad = "actor: {id: evil}\nsandbox: {timeout: 1s}\nentries: 5\n";
  assert_int_equal(policy_load_buffer(S, "four.yaml", bad, strlen(bad), &D),
                   -EINVAL);
  assert_string_equal(S->actor.id, "a1");
  assert_int_equal(S->sandbox.value[SL_LIMIT_TIMEOUT], 10000000000LL);
}

static void test_fail_closed(void **state) {
  (void)state;
  load("a.yaml", HEAD
       "  - {name: allow, kind: security.policy, policy: "
       "{actions: '*', resources: '*', effect: allow}}\n"
       "  - name: deny-guests\n    kind: security.policy\n    policy:\n"
       "      actions: '*'\n      resources: '*'\n      effect: deny\n"
       "      conditions:\n"
       "        - {field: actor.meta.role, operator: eq, value: guest}\n"
       "  - name: deny-small\n    kind: security.policy\n    policy:\n"
       "      actions: num\n      resources: '*'\n      effect: deny\n"
       "      conditions:\n"
       "        - {field: meta.size, operator: lt, value: 10}\n"
       "        - {field: meta.other, operator: eq, value: 1}\n");
  meta_clear();
  /* actor.meta.role is missing: the deny policy applies. */
  assert_false(can("x", "r"));
  assert_string_equal(decider(), "t:deny-guests");
  assert_non_null(strstr(DEC.detail, "fail closed"));
  policy_value v = {.type = POLICY_V_STR, .s = "user"};
  policy_actor_set_meta(&S->actor, "role", &v);
  assert_true(can("x", "r"));
  /* Type mismatch (lt on a string) denies even when another condition
  ** is false. */
  meta_str("size", "big");
  meta_num("other", 2);
  assert_false(can("num", "r"));
  assert_string_equal(decider(), "t:deny-small");
  meta_clear();
  meta_num("size", 50);
  meta_num("other", 1);
  assert_true(can("num", "r"));
  meta_clear();
}

static void test_url_action(void **state) {
  (void)state;
  load("a.yaml", HEAD
       "  - name: chat\n    kind: security.policy\n    policy:\n"
       "      actions: [websocket.connect, websocket.connect.url]\n"
       "      resources: 'wss://chat.example.com/ws/*'\n"
       "      effect: allow\n"
       "  - name: subs\n    kind: security.policy\n    policy:\n"
       "      actions: websocket.connect.url\n"
       "      resources: 'wss://*.example.org'\n      effect: allow\n"
       "      conditions:\n"
       "        - {field: meta.port, operator: eq, value: 443}\n"
       "        - {field: meta.path, operator: matches, value: '^/v[0-9]+/'}\n"
       "  - name: raw\n    kind: security.policy\n    policy:\n"
       "      actions: websocket.connect.url\n"
       "      resources: '*evil*'\n      effect: allow\n"
       "  - name: internal\n    kind: security.policy\n    policy:\n"
       "      actions: websocket.connect.url\n      resources: '*'\n"
       "      effect: deny\n      conditions:\n"
       "        - {field: meta.ip, operator: cidr, value: [10.0.0.0/8]}\n");
  assert_true(can_url("wss://CHAT.example.com./ws/1", NULL));
  assert_string_equal(decider(), "t:chat");
  assert_true(can_url("wss://chat.example.com/ws/1", "93.184.216.34"));
  assert_false(can_url("wss://chat.example.com/ws/1", "10.9.9.9"));
  assert_string_equal(decider(), "t:internal");
  assert_false(can_url("wss://chat.example.com/ws/1", "::ffff:10.9.9.9"));
  assert_true(can_url("wss://a.example.org/v2/x", NULL));
  assert_string_equal(decider(), "t:subs");
  assert_false(can_url("wss://a.example.org/x", NULL));
  /* Raw-string patterns never match URLs. */
  assert_false(can_url("wss://evil.net/", NULL));
  /* meta.host etc. come from the URL, whatever the caller says. */
  meta_clear();
  meta_str("host", "chat.example.com");
  assert_false(can_url("wss://evil.net/ws/1", NULL));
  meta_clear();
  /* Special-purpose addresses after DNS need an explicit allow. */
  assert_false(can_url("wss://chat.example.com/ws/1", "127.0.0.1"));
  assert_int_equal(DEC.why, POLICY_WHY_SPECIAL);
  assert_string_equal(decider(), "(special-purpose address)");
  assert_non_null(strstr(DEC.detail, "loopback"));
  assert_false(can_url("wss://chat.example.com/ws/1", "169.254.169.254"));
  assert_false(can_url("wss://chat.example.com/ws/1", "64:ff9b::a9fe:a9fe"));
  assert_false(can_url("wss://chat.example.com/ws/1", "fd00::1"));
}

static void test_special_explicit(void **state) {
  (void)state;
  load("a.yaml", HEAD
       "  - {name: any, kind: security.policy, policy: "
       "{actions: websocket.connect.url, resources: 'ws://*/*', "
       "effect: allow}}\n"
       "  - {name: local, kind: security.policy, policy: "
       "{actions: websocket.connect.url, resources: 'ws://127.0.0.1:9000', "
       "effect: allow}}\n"
       "  - {name: lh, kind: security.policy, policy: "
       "{actions: websocket.connect.url, resources: 'ws://localhost:9001', "
       "effect: allow}}\n"
       "  - name: lan\n    kind: security.policy\n    policy:\n"
       "      actions: websocket.connect.url\n      resources: 'ws://*:9002'\n"
       "      effect: allow\n      conditions:\n"
       "        - {field: meta.ip, operator: cidr, value: 192.168.0.0/16}\n");
  assert_false(can_url("ws://example.com/", "127.0.0.1"));
  assert_true(can_url("ws://127.0.0.1:9000/", "127.0.0.1"));
  assert_string_equal(decider(), "t:local");
  assert_true(can_url("ws://2130706433:9000/", "127.0.0.1"));
  assert_false(can_url("ws://127.0.0.1:9003/", "127.0.0.1"));
  assert_true(can_url("ws://localhost:9001/", "127.0.0.1"));
  assert_true(can_url("ws://localhost:9001/", "::1"));
  assert_false(can_url("ws://localhost:9001/", "10.0.0.1"));
  assert_true(can_url("ws://printer.lan:9002/", "192.168.1.20"));
  assert_string_equal(decider(), "t:lan");
  assert_true(can_url("ws://printer.lan:9002/", NULL));  /* deferred */
  assert_false(can_url("ws://printer.lan:9002/", "10.0.0.1"));
  assert_true(can_url("ws://example.com/", "93.184.216.34"));
}

/* Any matching resource of an allow policy that names the address counts:
** a "*" listed first does not hide "ws://127.0.0.1:9000/ *" beside it. */
static void test_special_named_by_any_resource(void **state) {
  (void)state;
  load("a.yaml", HEAD
       "  - {name: both, kind: security.policy, policy: "
       "{actions: [websocket.connect, websocket.connect.url], "
       "resources: ['*', 'ws://127.0.0.1:9000/*'], effect: allow}}\n");
  assert_true(can_url("ws://127.0.0.1:9000/x", "127.0.0.1"));
  assert_true(can_url("ws://127.0.0.1:9000/x", NULL));
  assert_string_equal(decider(), "t:both");
  /* The "*" alone names nothing: another port, or a name, is refused. */
  assert_false(can_url("ws://127.0.0.1:9001/x", NULL));
  assert_false(can_url("ws://example.com/", "127.0.0.1"));
  assert_true(can_url("ws://example.com/", "93.184.216.34"));
}

/* An IP-literal host is decided without DNS: under a broad allow, every
** numeric form of a special-purpose address is refused by the check alone
** (no ip given), as the connection to it would be. */
static void test_special_ip_literal_without_dns(void **state) {
  static const char *const refused[] = {
      "wss://127.0.0.1/", "wss://2130706433/", "wss://0x7f.1/",
      "wss://0177.0.0.1/", "wss://127.1/", "wss://[::1]/",
      "wss://[::ffff:169.254.169.254]/", "wss://169.254.169.254/",
      "wss://10.0.0.1/", "wss://[::ffff:10.0.0.1]/", "wss://100.64.0.1/",
      "wss://[fd00::1]/", "wss://[fe80::1]/", "wss://0.0.0.0/",
      "wss://224.0.0.1/", "wss://[64:ff9b::a9fe:a9fe]/", "wss://192.168.1.1/",
  };
  (void)state;
  load("a.yaml", HEAD
       "  - {name: broad, kind: security.policy, policy: "
       "{actions: [websocket.connect, websocket.connect.url], "
       "resources: 'wss://*/*', effect: allow}}\n");
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    if (can_url(refused[i], NULL))
      fail_msg("%s allowed without DNS", refused[i]);
    assert_int_equal(DEC.why, POLICY_WHY_SPECIAL);
    assert_int_equal(policy_check(S, &S->actor, POLICY_ACTION_CONNECT,
                                  refused[i], NULL, 0, NULL, &URL, &DEC), 0);
    assert_false(DEC.allow);
  }
  assert_true(can_url("wss://93.184.216.34/", NULL));
  assert_true(can_url("wss://[2606:2800:220:1::]/", NULL));
  assert_true(can_url("wss://example.com/", NULL));
}

/* The ports the policies can allow, for Landlock's TCP rules. */
static void test_connect_ports(void **state) {
  uint16_t ports[4];
  size_t n = 99;
  (void)state;
  load("a.yaml", HEAD
       "  - {name: a, kind: security.policy, policy: {actions: "
       "websocket.connect.url, resources: ['wss://x.example/*', "
       "'ws://127.0.0.1:9000', '*://y.example:8443/a'], effect: allow}}\n"
       "  - {name: d, kind: security.policy, policy: {actions: '*', "
       "resources: 'ws://*:7000', effect: deny}}\n"
       "  - {name: o, kind: security.policy, policy: {actions: other, "
       "resources: 'ws://*:6000', effect: allow}}\n");
  assert_int_equal(policy_set_connect_ports(S, ports, 4, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ports[0], 443);
  assert_int_equal(ports[1], 8443);
  assert_int_equal(ports[2], 9000);
  assert_int_equal(policy_set_connect_ports(S, ports, 2, &n), -ENOSPC);
  load("b.yaml", HEAD
       "  - {name: b, kind: security.policy, policy: {actions: "
       "'websocket.*', resources: '*://z.example', effect: allow}}\n");
  assert_int_equal(policy_set_connect_ports(S, ports, 4, &n), 0);
  assert_int_equal(n, 4);  /* a's three, then 80 from *:// (443 known) */
  assert_int_equal(ports[0], 80);
  load("c.yaml", HEAD
       "  - {name: c, kind: security.policy, policy: {actions: "
       "websocket.connect.url, resources: 'ws://z.example:*', "
       "effect: allow}}\n");
  assert_int_equal(policy_set_connect_ports(S, ports, 4, &n), 1);
}

static void test_connect_ports_any(void **state) {
  uint16_t ports[4];
  size_t n;
  (void)state;
  load("a.yaml", HEAD
       "  - {name: a, kind: security.policy, policy: {actions: "
       "websocket.connect.url, resources: '*', effect: allow}}\n");
  assert_int_equal(policy_set_connect_ports(S, ports, 4, &n), 1);
}

static void test_connect_ports_not_strict(void **state) {
  uint16_t ports[4];
  size_t n;
  (void)state;
  load("a.yaml", "strict: false\nentries: []\n");
  assert_int_equal(policy_set_connect_ports(S, ports, 4, &n), 1);
}

static void test_nonstrict_special(void **state) {
  (void)state;
  load("a.yaml", "strict: false\nentries: []\n");
  assert_true(can_url("ws://example.com/", "93.184.216.34"));
  assert_false(can_url("ws://example.com/", "10.0.0.1"));
  assert_int_equal(DEC.why, POLICY_WHY_SPECIAL);
}

static void test_allow_url(void **state) {
  (void)state;
  assert_int_equal(policy_set_add_allow_url(S, "wss://*.example.com/*", &D),
                   0);
  assert_true(can_url("wss://a.example.com/x", NULL));
  assert_string_equal(decider(), "allow-url:1");
  assert_true(can(POLICY_ACTION_CONNECT, "x") == 0);
  assert_int_equal(policy_set_add_allow_url(S, "wss://a@b/", &D), -EINVAL);
  assert_non_null(strstr(D.error.message, "userinfo"));
  assert_int_equal(S->n, 1);
  assert_true(policy_action_is_url(POLICY_ACTION_CONNECT, "wss://x/"));
  assert_false(policy_action_is_url(POLICY_ACTION_CONNECT, "-"));
  assert_true(policy_action_is_url(POLICY_ACTION_CONNECT_URL, "-"));
}

/* The host index decides exactly as a scan of every policy. */
static void test_index_equivalence(void **state) {
  (void)state;
  static const char *const files[] = {
    "policies/examples/allow-one-host.yaml",
    "policies/examples/subdomains-wss.yaml",
    "policies/examples/deny-internal.yaml",
    "policies/examples/roles.yaml",
  };
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(policy_load_file(S, files[i], &D), 0);
  load("x.yaml", HEAD
       "  - {name: a, kind: security.policy, policy: {actions: '*', "
       "resources: ['wss://x.example.com/a/*', 'wss://*.x.example.com'], "
       "effect: deny}}\n"
       "  - {name: b, kind: security.policy, policy: {actions: 'websocket.*', "
       "resources: ['ws://10.0.0.1:9000', '*'], effect: allow}}\n"
       "  - {name: c, kind: security.policy, policy: {actions: x, "
       "resources: 'wss://*/*', effect: allow}}\n");
  assert_non_null(S->index);
  static const char *const urls[] = {
    "wss://chat.example.com/ws/1", "wss://a.b.example.org/x",
    "wss://example.org/", "wss://q.example.net/", "wss://feed.example.com/",
    "wss://ops.example.com/admin/1", "wss://x.example.com/a/b",
    "wss://y.x.example.com/", "ws://10.0.0.1:9000/", "ws://10.0.0.1/",
    "wss://reports.example.com/r", "wss://unknown.test/", "ws://a.b.c.d.e/",
  };
  static const char *const ips[] = {NULL, "93.184.216.34", "10.0.0.1",
                                    "127.0.0.1"};
  static const char *const actions[] = {POLICY_ACTION_CONNECT,
                                        POLICY_ACTION_CONNECT_URL};
  policy_decision with, without;
  for (size_t u = 0; u < sizeof urls / sizeof urls[0]; u++)
    for (size_t k = 0; k < 4; k++)
      for (size_t a = 0; a < 2; a++) {
        policy_ip ip;
        if (ips[k]) policy_ip_parse(ips[k], &ip);
        policy_check(S, &S->actor, actions[a], urls[u], NULL, 0,
                     ips[k] ? &ip : NULL, &URL, &with);
        struct policy__index *ix = S->index;
        S->index = NULL;
        policy_check(S, &S->actor, actions[a], urls[u], NULL, 0,
                     ips[k] ? &ip : NULL, &URL, &without);
        S->index = ix;
        if (with.allow != without.allow || with.policy != without.policy ||
            with.why != without.why)
          fail_msg("%s %s ip %s: indexed %d by %s, scan %d by %s", actions[a],
                   urls[u], ips[k] ? ips[k] : "-", with.allow,
                   policy_decision_policy(&with), without.allow,
                   policy_decision_policy(&without));
      }
}

static void test_audit(void **state) {
  (void)state;
  char path[] = "/tmp/sl_audit_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  policy_audit a;
  assert_int_equal(policy_audit_open(&a, path, 0, POLICY_AUDIT_MAX), 0);
  policy_actor actor = {.id = "ev\"il\n{\x01}"};
  policy_decision d;
  memset(&d, 0, sizeof d);
  d.allow = 1;
  assert_int_equal(policy_audit_decision(&a, &actor, "x", "r", &d), 0);
  d.allow = 0;
  d.why = POLICY_WHY_UNDEFINED;
  assert_int_equal(
      policy_audit_decision(&a, &actor, "x", "wss://a/\x1b[31m\xff", &d), 0);
  assert_int_equal(policy_audit_close(&a), 0);
  FILE *f = fopen(path, "r");
  char line[1024];
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    lines++;
    assert_non_null(strstr(line, "\"actor\":\"ev\\\"il\\n{\\u0001}\""));
    assert_non_null(strstr(line, "\"resource\":\"wss://a/\\u001b[31m\\ufffd\""));
    assert_non_null(strstr(line, "\"decision\":\"deny\""));
    assert_non_null(strstr(line, "\"policy\":\"(default deny)\""));
    assert_non_null(strstr(line, "\"time\":\"20"));
  }
  fclose(f);
  assert_int_equal(lines, 1);  /* the allow was not recorded */
  unlink(path);
  char q[16];
  assert_int_equal(policy_json_quote("abcdefghijklmnop", q, sizeof q), 1);
  assert_int_equal(policy_json_quote("abc", q, sizeof q), 0);
  assert_string_equal(q, "\"abc\"");
  assert_int_equal(policy_json_quote("abcdefghijklmnop", q, sizeof q), 1);
  assert_int_equal(q[0], '"');
  assert_int_equal(q[strlen(q) - 1], '"');
}

/* The log's file: a regular one only, never through a link, never a
** FIFO; records past the cap are counted and summed up at close. */
static void test_audit_file_rules(void **state) {
  char dir[] = "/tmp/sl_auditdir_XXXXXX", p[256], q[256];
  policy_audit a;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(p, sizeof p, "%s/fifo", dir);
  assert_int_equal(mkfifo(p, 0600), 0);
  assert_int_equal(policy_audit_open(&a, p, 0, POLICY_AUDIT_MAX), -EINVAL);
  unlink(p);
  snprintf(p, sizeof p, "%s/link", dir);
  snprintf(q, sizeof q, "%s/target", dir);
  assert_int_equal(symlink(q, p), 0);  /* dangling */
  assert_int_equal(policy_audit_open(&a, p, 0, POLICY_AUDIT_MAX), -ELOOP);
  assert_int_equal(access(q, F_OK), -1);  /* the target was not created */
  unlink(p);
  snprintf(p, sizeof p, "%s/log", dir);
  assert_int_equal(policy_audit_open(&a, p, 1, 600), 0);
  assert_int_equal(strlen(a.run), 16);
  const char *kv[] = {"k", "v"};
  for (int i = 0; i < 20; i++)
    assert_int_equal(policy_audit_record(&a, "e", kv, 1), 0);
  assert_true(a.dropped > 0 && a.written <= 600);
  int64_t dropped = a.dropped;
  assert_int_equal(policy_audit_close(&a), 0);
  FILE *f = fopen(p, "r");
  char line[512], last[512] = "";
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    n++;
    snprintf(last, sizeof last, "%s", line);
  }
  fclose(f);
  char want[64];
  snprintf(want, sizeof want, "\"dropped\":\"%lld\"", (long long)dropped);
  assert_int_equal(n, 20 - dropped + 1);
  assert_non_null(strstr(last, "\"event\":\"audit\""));
  assert_non_null(strstr(last, want));
  unlink(p);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_operators, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deny_over_allow, setup, teardown),
    cmocka_unit_test_setup_teardown(test_undefined, setup, teardown),
    cmocka_unit_test_setup_teardown(test_combining_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fail_closed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_url_action, setup, teardown),
    cmocka_unit_test_setup_teardown(test_special_explicit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_special_named_by_any_resource,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_special_ip_literal_without_dns,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_connect_ports, setup, teardown),
    cmocka_unit_test_setup_teardown(test_connect_ports_any, setup, teardown),
    cmocka_unit_test_setup_teardown(test_connect_ports_not_strict, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_nonstrict_special, setup, teardown),
    cmocka_unit_test_setup_teardown(test_allow_url, setup, teardown),
    cmocka_unit_test_setup_teardown(test_index_equivalence, setup, teardown),
    cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
    cmocka_unit_test(test_audit_file_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
