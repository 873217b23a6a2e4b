/* Unit tests of security/url.c and security/ip.c: canonical URLs, URL
** patterns, adversarial URLs, numeric hosts, CIDR blocks and the
** special-purpose address table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../security/ip.h"
#include "../../security/url.h"

static policy_url U;  /* large: keep it off the stack */

static void canon(const char *in, const char *want) {
  char err[256] = "";
  if (policy_url_parse(in, &U, err, sizeof err) != 0)
    fail_msg("\"%s\": unexpected error: %s", in, err);
  if (strcmp(U.canonical, want) != 0)
    fail_msg("\"%s\": got \"%s\", want \"%s\"", in, U.canonical, want);
}

static void reject(const char *in, const char *part) {
  char err[256] = "";
  int rc = policy_url_parse(in, &U, err, sizeof err);
  if (rc != -EINVAL) fail_msg("\"%s\": accepted as %s", in, U.canonical);
  if (strstr(err, part) == NULL)
    fail_msg("\"%s\": message \"%s\" lacks \"%s\"", in, err, part);
}

static void test_canonical_forms(void **state) {
  (void)state;
  canon("wss://chat.example.com/ws", "wss://chat.example.com:443/ws");
  canon("WSS://Chat.Example.COM/ws", "wss://chat.example.com:443/ws");
  canon("ws://example.com", "ws://example.com:80/");
  canon("ws://example.com:8080/a?b=c", "ws://example.com:8080/a?b=c");
  canon("wss://example.com./x", "wss://example.com:443/x");
  canon("wss://example.com:0443/", "wss://example.com:443/");
  canon("wss://example.com/a/./b/../c", "wss://example.com:443/a/c");
  canon("wss://example.com/a/%2e%2E/b", "wss://example.com:443/b");
  canon("wss://example.com/%7euser/%41", "wss://example.com:443/~user/A");
  canon("wss://example.com/../../x", "wss://example.com:443/x");
  canon("wss://example.com/a/..", "wss://example.com:443/");
  canon("wss://example.com/a/", "wss://example.com:443/a/");
  canon("wss://example.com?x", "wss://example.com:443/?x");
  canon("ws://127.0.0.1:9000/", "ws://127.0.0.1:9000/");
  canon("ws://127.1/", "ws://127.0.0.1:80/");
  canon("ws://0x7f.1/", "ws://127.0.0.1:80/");
  canon("ws://0x7F000001/", "ws://127.0.0.1:80/");
  canon("ws://2130706433/", "ws://127.0.0.1:80/");
  canon("ws://017700000001/", "ws://127.0.0.1:80/");
  canon("ws://0177.0.0.01/", "ws://127.0.0.1:80/");
  canon("ws://127.0.1/", "ws://127.0.0.1:80/");
  canon("ws://169.254.43518/", "ws://169.254.169.254:80/");
  canon("ws://127.0.0.1./", "ws://127.0.0.1:80/");
  canon("ws://[::1]:9000/", "ws://[::1]:9000/");
  canon("ws://[0:0:0:0:0:0:0:1]/", "ws://[::1]:80/");
  canon("ws://[2001:DB8::A]/", "ws://[2001:db8::a]:80/");
  canon("ws://[::ffff:127.0.0.1]/", "ws://127.0.0.1:80/");
  canon("ws://[::ffff:7f00:1]/", "ws://127.0.0.1:80/");
  canon("ws://[64:ff9b::7f00:1]/", "ws://[64:ff9b::7f00:1]:80/");
  canon("wss://xn--bcher-kva.example/", "wss://xn--bcher-kva.example:443/");
  canon("wss://a_b.example.com/", "wss://a_b.example.com:443/");
}

static void test_parts(void **state) {
  (void)state;
  char err[128];
  assert_int_equal(policy_url_parse("wss://h.example:8443/p/q?x=1", &U, err,
                                    sizeof err), 0);
  assert_string_equal(U.scheme, "wss");
  assert_string_equal(U.host, "h.example");
  assert_int_equal(U.port, 8443);
  assert_int_equal(U.tls, 1);
  assert_int_equal(U.host_ip, 0);
  assert_string_equal(U.path, "/p/q");
  assert_string_equal(U.query, "x=1");
  assert_int_equal(policy_url_parse("ws://10.1.2.3/", &U, err, sizeof err), 0);
  assert_int_equal(U.host_ip, 4);
  assert_int_equal(U.tls, 0);
  assert_int_equal(U.ip.b[0], 10);
}

static void test_rejected(void **state) {
  (void)state;
  reject("http://example.com/", "unsupported scheme");
  reject("https://example.com/", "unsupported scheme");
  reject("file:///etc/passwd", "unsupported scheme");
  reject("javascript://example.com/", "unsupported scheme");
  reject("example.com/ws", "not an absolute");
  reject("//example.com/ws", "not an absolute");
  reject("wss:/example.com", "not an absolute");
  reject("wss://user@example.com/", "userinfo");
  reject("wss://user:pass@example.com/", "userinfo");
  reject("wss://example.com@evil.net/", "userinfo");
  reject("wss://evil.net\\@example.com/", "backslash");
  reject("wss://evil.net\\example.com/", "backslash");
  reject("wss://example.com/#frag", "fragment");
  reject("wss://evil.net#@example.com/", "fragment");
  reject("wss://example.com /", "whitespace");
  reject(" wss://example.com/", "whitespace");
  reject("wss://exa\tmple.com/", "whitespace");
  reject("wss://example.com/\n", "whitespace");
  reject("wss://example.com\r\n.evil.net/", "whitespace");
  reject("wss://exam\x01ple.com/", "control character");
  reject("wss://example.com\x7f/", "control character");
  reject("wss://b\xc3\xbc" "cher.example/", "non-ASCII");
  reject("wss://\xef\xbd\x85xample.com/", "non-ASCII");  /* fullwidth e */
  reject("wss://example%2ecom/", "percent-encoded host");
  reject("wss://%65xample.com/", "percent-encoded host");
  reject("wss://example.com%00.evil.net/", "percent-encoded host");
  /* Escapes a server may decode into what the match did not see. */
  reject("wss://example.com/a%2fb", "encoded '/' (%2F) in path");
  reject("wss://example.com/public/..%2Fadmin", "encoded '/'");
  reject("wss://example.com/public/%5c..%5cadmin", "encoded '\\' (%5C)");
  reject("wss://example.com/a%00b", "encoded NUL (%00) in path");
  reject("wss://example.com/?q=a%00", "encoded NUL (%00) in query");
  reject("wss:///path", "empty host");
  reject("wss://:443/", "empty host");
  reject("wss://example..com/", "empty label");
  reject("wss://.example.com/", "empty label");
  reject("wss://example.com../", "empty label");
  reject("wss://example.com:/", "empty port");
  reject("wss://example.com:0/", "out of range");
  reject("wss://example.com:65536/", "out of range");
  reject("wss://example.com:443443/", "invalid port");
  reject("wss://example.com:+443/", "invalid port");
  reject("wss://example.com:0x1bb/", "invalid port");
  reject("wss://example.com:443:80/", "IPv6 needs brackets");
  reject("wss://::1/", "IPv6 needs brackets");
  reject("wss://[::1/", "unclosed");
  reject("wss://[::1]x/", "junk after");
  reject("wss://[fe80::1%25eth0]/", "zone id");
  reject("wss://[127.0.0.1]/", "invalid IPv6");
  reject("wss://[example.com]/", "invalid IPv6");
  reject("wss://256.0.0.1/", "ambiguous numeric host");
  reject("wss://1.2.3.4.5/", "ambiguous numeric host");
  reject("wss://0x/", "ambiguous numeric host");
  reject("wss://4294967296/", "ambiguous numeric host");
  reject("wss://08.0.0.1/", "ambiguous numeric host");
  reject("wss://example.123/", "ambiguous numeric host");
  reject("wss://exa mple.com/", "whitespace");
  reject("wss://example.com;evil.net/", "invalid character ';'");
  reject("wss://example.com,evil.net/", "invalid character ','");
  reject("wss://ex*ample.com/", "invalid character '*'");
  reject("wss://*.example.com/", "invalid character '*'");
  reject("wss://example.com/%zz", "invalid percent escape");
  reject("wss://example.com/%4", "invalid percent escape");
  reject("wss://example.com/<script>", "invalid character '<'");
  reject("wss://example.com/?a=%g0", "invalid percent escape");
  reject("wss://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         ".example.com/", "label longer");
  char *big = malloc(POLICY_URL_MAX + 20);
  strcpy(big, "wss://example.com/");
  memset(big + 18, 'a', POLICY_URL_MAX);
  big[18 + POLICY_URL_MAX] = '\0';
  reject(big, "longer than");
  free(big);
}

static policy_url_pattern P;

static void pat(const char *s) {
  char err[256] = "";
  policy_url_pattern_free(&P);
  if (policy_url_pattern_parse(s, &P, err, sizeof err) != 0)
    fail_msg("pattern \"%s\": %s", s, err);
}

/* Whether url (valid) matches the current pattern. */
static int m(const char *url) {
  char err[256] = "";
  if (policy_url_parse(url, &U, err, sizeof err) != 0)
    fail_msg("\"%s\": %s", url, err);
  return policy_url_pattern_match(&P, &U);
}

/* An attacker's URL: rejected outright, or not matching the pattern. */
static int attacks = 0;
static void refused(const char *url) {
  char err[256] = "";
  attacks++;
  if (policy_url_parse(url, &U, err, sizeof err) != 0) return;
  if (policy_url_pattern_match(&P, &U))
    fail_msg("\"%s\" (as %s) matched the pattern", url, U.canonical);
}

static void test_patterns(void **state) {
  (void)state;
  pat("wss://chat.example.com/ws/*");
  assert_true(m("wss://chat.example.com/ws/room1"));
  assert_true(m("WSS://CHAT.EXAMPLE.COM:443/ws/x?y"));
  assert_true(m("wss://chat.example.com./ws/a/b"));
  assert_false(m("wss://chat.example.com/other"));
  assert_false(m("ws://chat.example.com/ws/x"));
  assert_false(m("wss://chat.example.com:8443/ws/x"));
  pat("wss://*.example.com");
  assert_true(m("wss://a.example.com/"));
  assert_true(m("wss://a.b.example.com/x/y"));
  assert_false(m("wss://example.com/"));
  assert_false(m("wss://example.com.evil.net/"));
  assert_false(m("wss://evilexample.com/"));
  assert_false(m("ws://a.example.com/"));
  pat("*://example.com:*/");
  assert_true(m("ws://example.com:1234/"));
  assert_true(m("wss://example.com/"));
  assert_false(m("wss://example.com/x"));
  pat("*://example.com");
  assert_true(m("ws://example.com/x"));
  assert_true(m("wss://example.com/x"));
  assert_false(m("ws://example.com:443/x"));
  pat("wss://*/*");
  assert_true(m("wss://anything.example/x"));
  assert_true(m("wss://10.0.0.1/x"));
  pat("ws://127.1:9000");
  assert_string_equal(P.host, "127.0.0.1");
  assert_true(m("ws://2130706433:9000/"));
  pat("ws://[::ffff:10.0.0.1]/x");
  assert_string_equal(P.host, "10.0.0.1");
  policy_url_pattern_free(&P);
}

static void bad_pattern(const char *s, const char *part) {
  char err[256] = "";
  policy_url_pattern_free(&P);
  if (policy_url_pattern_parse(s, &P, err, sizeof err) != -EINVAL)
    fail_msg("pattern \"%s\" accepted", s);
  if (strstr(err, part) == NULL)
    fail_msg("pattern \"%s\": message \"%s\" lacks \"%s\"", s, err, part);
}

static void test_bad_patterns(void **state) {
  (void)state;
  bad_pattern("wss://ex*.com/", "leading '*.' label");
  bad_pattern("wss://a.*.com/", "leading '*.' label");
  bad_pattern("wss://*.10.0.0.1/", "IP address");
  bad_pattern("wss://x.com/?q", "query");
  bad_pattern("wss://u@x.com/", "userinfo");
  bad_pattern("http://x.com/", "unsupported scheme");
  bad_pattern("wss://x.com:99999/", "out of range");
  bad_pattern("wss://x.com/#a", "fragment");
}

/* At least 40 ways to make a naive allowlist say yes to the wrong host. */
static void test_adversarial(void **state) {
  (void)state;
  attacks = 0;
  pat("wss://chat.example.com/ws/*");
  refused("wss://chat.example.com.evil.net/ws/x");
  refused("wss://chat.example.com@evil.net/ws/x");
  refused("wss://evil.net/chat.example.com/ws/x");
  refused("wss://evil.net/?chat.example.com/ws/x");
  refused("wss://evil.net#chat.example.com/ws/x");
  refused("wss://evil.net\\chat.example.com/ws/x");
  refused("wss://evil.net\\@chat.example.com/ws/x");
  refused("wss://chat.example.com%2eevil.net/ws/x");
  refused("wss://chat.example.com%00/ws/x");
  refused("wss://chat%2eexample.com/ws/x");
  refused("wss://chat.example.com:443@evil.net/ws/x");
  refused("wss://chat.example.com:443:80/ws/x");
  refused("wss://chat.example.com:80/ws/x");
  refused("ws://chat.example.com/ws/x");
  refused("ws://chat.example.com:443/ws/x");
  refused("wss://chat.example.com/ws");
  refused("wss://chat.example.com/ws/../admin");
  refused("wss://chat.example.com/ws/%2e%2e/admin");
  refused("wss://chat.example.com/ws/%2E%2E/admin");
  refused("wss://chat.example.com/ws/..%2fadmin/../../x");
  refused("wss://chat.example.com/ws/..%2fadmin");
  refused("wss://chat.example.com/ws/..%5cadmin");
  refused("wss://chat.example.com/ws/.%2e/admin");
  refused("wss://chat.example.com/ws/%2e./admin");
  refused("wss://chat.example.comevil.net/ws/x");
  refused("wss://chat-example.com/ws/x");
  refused("wss://chat.example.co/ws/x");
  refused("wss://xchat.example.com/ws/x");
  refused("wss://chat.example.com\t/ws/x");
  refused("wss://chat.example.com\n.evil.net/ws/x");
  refused("wss://chat.example.com\r/ws/x");
  refused("wss://chat.example.com /ws/x");
  refused("wss://chat.\xd0\xb5xample.com/ws/x");  /* Cyrillic e */
  refused("wss://chat.example.com\xe3\x80\x82" "evil.net/ws/x");
  refused("wss://chat.example.com..evil.net/ws/x");
  refused("wss://[::ffff:chat.example.com]/ws/x");
  refused("wss://chat.example.com;.evil.net/ws/x");
  refused("wss://93.184.216.34/ws/x");
  refused("wss://1572395042/ws/x");
  refused("http://chat.example.com/ws/x");
  refused("wss:/\\chat.example.com/ws/x");
  refused("wss:chat.example.com/ws/x");
  refused("wss://user:pw@chat.example.com/ws/x");
  refused("wss://chat.example.com/ws/x#frag");
  pat("wss://*.example.com/*");
  refused("wss://example.com/x");
  refused("wss://example.com.evil.net/x");
  refused("wss://evilexample.com/x");
  refused("wss://a.example.com.evil.net/x");
  refused("wss://a.example.com@evil.net/x");
  refused("wss://evil.net\\.example.com/x");
  refused("wss://evil.net%2f.example.com/x");
  refused("wss://evil.net:443\\.example.com/x");
  refused("ws://a.example.com/x");
  refused("wss://127.0.0.1/x");
  pat("ws://127.0.0.1:9000/*");
  refused("ws://127.0.0.1.evil.net:9000/x");
  refused("ws://127.0.0.2:9000/x");
  refused("ws://127.0.0.1:9001/x");
  refused("ws://[::1]:9000/x");
  refused("ws://0.0.0.0:9000/x");
  policy_url_pattern_free(&P);
  assert_true(attacks >= 40);
}

static void test_names_ip(void **state) {
  (void)state;
  policy_ip ip;
  pat("ws://127.0.0.1:9000");
  assert_int_equal(policy_ip_parse("127.0.0.1", &ip), 0);
  assert_true(policy_url_pattern_names_ip(&P, &ip));
  assert_int_equal(policy_ip_parse("::ffff:127.0.0.1", &ip), 0);
  assert_true(policy_url_pattern_names_ip(&P, &ip));
  assert_int_equal(policy_ip_parse("127.0.0.2", &ip), 0);
  assert_false(policy_url_pattern_names_ip(&P, &ip));
  pat("ws://localhost:9000");
  assert_true(policy_url_pattern_names_ip(&P, &ip));
  assert_int_equal(policy_ip_parse("10.0.0.1", &ip), 0);
  assert_false(policy_url_pattern_names_ip(&P, &ip));
  pat("ws://*:9000");
  assert_int_equal(policy_ip_parse("127.0.0.1", &ip), 0);
  assert_false(policy_url_pattern_names_ip(&P, &ip));
  policy_url_pattern_free(&P);
}

static void test_glob(void **state) {
  (void)state;
  assert_true(policy_glob_match("*", ""));
  assert_true(policy_glob_match("websocket.*", "websocket.connect.url"));
  assert_true(policy_glob_match("a*b*c", "aXbYc"));
  assert_true(policy_glob_match("a**", "a"));
  assert_false(policy_glob_match("a*b", "aXbY"));
  assert_false(policy_glob_match("websocket.connect", "websocket.connect.url"));
  assert_false(policy_glob_match("", "x"));
}

static const char *special(const char *s) {
  policy_ip ip;
  if (policy_ip_parse(s, &ip) != 0) fail_msg("%s does not parse", s);
  return policy_ip_special(&ip);
}

static void test_special(void **state) {
  (void)state;
  const char *yes[] = {
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "169.254.169.254", "169.254.0.1", "100.64.0.1",
    "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.1.1.1",
    "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.51.100.7",
    "203.0.113.9", "198.18.0.1", "192.0.0.8", "::", "::1", "fc00::1",
    "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "::127.0.0.1", "2001:db8::1",
    "2002:7f00:1::", "2002:a00:1::1", "100::1", "fec0::1", "2001::1",
  };
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (special(yes[i]) == NULL) fail_msg("%s not special", yes[i]);
  const char *no[] = {
    "8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "169.253.1.1",
    "11.0.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
    "2002:808:808::1",
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (special(no[i]) != NULL)
      fail_msg("%s classified %s", no[i], special(no[i]));
  assert_string_equal(special("127.0.0.1"), "loopback");
  assert_string_equal(special("169.254.169.254"), "link-local");
  assert_string_equal(special("100.64.0.1"), "carrier-grade NAT");
  assert_string_equal(special("fd00::1"), "unique-local");
  assert_string_equal(special("::ffff:192.168.0.1"), "private");
}

static void test_numeric(void **state) {
  (void)state;
  uint32_t a;
  assert_int_equal(policy_ipv4_parse_numeric("127.1", 5, &a), 0);
  assert_int_equal(a, 0x7f000001);
  assert_int_equal(policy_ipv4_parse_numeric("0x7f.0.0.1", 10, &a), 0);
  assert_int_equal(a, 0x7f000001);
  assert_int_equal(policy_ipv4_parse_numeric("4294967295", 10, &a), 0);
  assert_int_equal(a, 0xffffffff);
  assert_int_equal(policy_ipv4_parse_numeric("4294967296", 10, &a), -EINVAL);
  assert_int_equal(policy_ipv4_parse_numeric("1.256.0.0", 9, &a), -EINVAL);
  assert_int_equal(policy_ipv4_parse_numeric("1.2.65536", 9, &a), -EINVAL);
  assert_int_equal(policy_ipv4_parse_numeric("09", 2, &a), -EINVAL);
  assert_int_equal(policy_ipv4_parse_numeric("1..2", 4, &a), -EINVAL);
  assert_int_equal(policy_ipv4_parse_numeric("", 0, &a), -EINVAL);
}

static void test_cidr(void **state) {
  (void)state;
  policy_cidr c;
  policy_ip ip;
  char err[128];
  assert_int_equal(policy_cidr_parse("10.0.0.0/8", &c, err, sizeof err), 0);
  assert_int_equal(policy_ip_parse("10.200.1.1", &ip), 0);
  assert_true(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_ip_parse("::ffff:10.1.1.1", &ip), 0);
  assert_true(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_ip_parse("64:ff9b::a01:101", &ip), 0);
  assert_true(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_ip_parse("11.0.0.1", &ip), 0);
  assert_false(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_cidr_parse("fc00::/7", &c, err, sizeof err), 0);
  assert_int_equal(policy_ip_parse("fdff::1", &ip), 0);
  assert_true(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_ip_parse("10.0.0.1", &ip), 0);
  assert_false(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_cidr_parse("1.2.3.4", &c, err, sizeof err), 0);
  assert_int_equal(c.bits, 32);
  assert_int_equal(policy_cidr_parse("0.0.0.0/0", &c, err, sizeof err), 0);
  assert_true(policy_cidr_contains(&c, &ip));
  assert_int_equal(policy_cidr_parse("10.0.0.1/8", &c, err, sizeof err),
                   -EINVAL);
  assert_non_null(strstr(err, "host bits"));
  assert_int_equal(policy_cidr_parse("10.0.0.0/33", &c, err, sizeof err),
                   -EINVAL);
  assert_non_null(strstr(err, "prefix length"));
  assert_int_equal(policy_cidr_parse("10.0.0.0/", &c, err, sizeof err),
                   -EINVAL);
  assert_int_equal(policy_cidr_parse("10.0.0.0/08", &c, err, sizeof err),
                   -EINVAL);
  assert_int_equal(policy_cidr_parse("10.0/8", &c, err, sizeof err), -EINVAL);
  assert_int_equal(policy_cidr_parse("/8", &c, err, sizeof err), -EINVAL);
  assert_int_equal(policy_cidr_parse("fe80::1%eth0/64", &c, err, sizeof err),
                   -EINVAL);
  char buf[POLICY_IP_STRLEN];
  assert_int_equal(policy_ip_parse("2001:DB8:0:0::1", &ip), 0);
  policy_ip_format(&ip, buf, sizeof buf);
  assert_string_equal(buf, "2001:db8::1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_canonical_forms),
    cmocka_unit_test(test_parts),
    cmocka_unit_test(test_rejected),
    cmocka_unit_test(test_patterns),
    cmocka_unit_test(test_bad_patterns),
    cmocka_unit_test(test_adversarial),
    cmocka_unit_test(test_names_ip),
    cmocka_unit_test(test_glob),
    cmocka_unit_test(test_special),
    cmocka_unit_test(test_numeric),
    cmocka_unit_test(test_cidr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
