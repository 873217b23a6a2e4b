/* Unit tests of sandbox/limits.c: defaults, parsing, ranges, precedence of
** the command line over a policy, formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../../sandbox/limits.h"

static void test_defaults(void **state) {
  (void)state;
  sandbox_limits l;
  sandbox_limits_init(&l);
  assert_int_equal(l.value[SL_LIMIT_MEMORY], 256 << 20);
  assert_int_equal(l.value[SL_LIMIT_CPU], INT64_C(300) * 1000000000);
  assert_int_equal(l.value[SL_LIMIT_TIMEOUT], 0);
  assert_int_equal(l.value[SL_LIMIT_INSTRUCTIONS], 0);
  assert_int_equal(l.value[SL_LIMIT_OUTPUT], 0);
  assert_int_equal(l.value[SL_LIMIT_CONNECTIONS], 64);
  for (int i = 0; i < SL_LIMIT_COUNT; i++)
    assert_int_equal(l.source[i], SANDBOX_SOURCE_DEFAULT);
}

static void parse_ok(sl_limit w, const char *text, int64_t want) {
  sandbox_limits l;
  char err[128] = "";
  sandbox_limits_init(&l);
  int rc = sandbox_limits_parse(&l, w, text, SANDBOX_SOURCE_CLI, err,
                                sizeof err);
  if (rc != 0) fail_msg("\"%s\": %s", text, err);
  assert_int_equal(l.value[w], want);
  assert_int_equal(l.source[w], SANDBOX_SOURCE_CLI);
}

static void parse_bad(sl_limit w, const char *text, int code,
                      const char *part) {
  sandbox_limits l;
  char err[128] = "";
  sandbox_limits_init(&l);
  int64_t before = l.value[w];
  assert_int_equal(sandbox_limits_parse(&l, w, text, SANDBOX_SOURCE_CLI, err,
                                        sizeof err), code);
  assert_int_equal(l.value[w], before);  /* untouched */
  if (strstr(err, part) == NULL) fail_msg("\"%s\": \"%s\"", text, err);
}

static void test_parse(void **state) {
  (void)state;
  parse_ok(SL_LIMIT_MEMORY, "64M", 64 << 20);
  parse_ok(SL_LIMIT_MEMORY, "0", 0);
  parse_ok(SL_LIMIT_MEMORY, "1048576", 1 << 20);
  parse_ok(SL_LIMIT_CPU, "1m30s", INT64_C(90) * 1000000000);
  parse_ok(SL_LIMIT_TIMEOUT, "250ms", 250000000);
  parse_ok(SL_LIMIT_INSTRUCTIONS, "1000000", 1000000);
  parse_ok(SL_LIMIT_OUTPUT, "1K", 1024);
  parse_ok(SL_LIMIT_CONNECTIONS, "0", 0);
  parse_ok(SL_LIMIT_CONNECTIONS, "100000", 100000);
}

static void test_parse_errors(void **state) {
  (void)state;
  parse_bad(SL_LIMIT_MEMORY, "lots", -EINVAL, "lots");
  parse_bad(SL_LIMIT_MEMORY, "512K", -ERANGE, "at least 1M");
  parse_bad(SL_LIMIT_CPU, "10", -EINVAL, "10");
  parse_bad(SL_LIMIT_CPU, "-1s", -ERANGE, "negative");
  parse_bad(SL_LIMIT_TIMEOUT, "10us", -ERANGE, "at least 1ms");
  parse_bad(SL_LIMIT_INSTRUCTIONS, "", -EINVAL, "whole number");
  parse_bad(SL_LIMIT_INSTRUCTIONS, "1e6", -EINVAL, "whole number");
  parse_bad(SL_LIMIT_INSTRUCTIONS, "-5", -EINVAL, "whole number");
  parse_bad(SL_LIMIT_INSTRUCTIONS, "9223372036854775808", -ERANGE,
            "too large");
  parse_bad(SL_LIMIT_CONNECTIONS, "100001", -ERANGE, "at most 100000");
  parse_bad(SL_LIMIT_OUTPUT, "1X", -EINVAL, "1X");
}

static void test_command_line_wins_over_policy(void **state) {
  (void)state;
  sandbox_limits l;
  char err[64];
  sandbox_limits_init(&l);
  /* The policy after the command line: ignored. */
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_MEMORY, 64 << 20,
                                      SANDBOX_SOURCE_CLI, err, sizeof err), 0);
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_MEMORY, 128 << 20,
                                      SANDBOX_SOURCE_POLICY, err, sizeof err),
                   0);
  assert_int_equal(l.value[SL_LIMIT_MEMORY], 64 << 20);
  /* The policy over the default, then the command line over both. */
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_TIMEOUT, 5000000000,
                                      SANDBOX_SOURCE_POLICY, err, sizeof err),
                   0);
  assert_int_equal(l.value[SL_LIMIT_TIMEOUT], 5000000000);
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_TIMEOUT, 1000000000,
                                      SANDBOX_SOURCE_CLI, err, sizeof err), 0);
  assert_int_equal(l.value[SL_LIMIT_TIMEOUT], 1000000000);
  /* An out-of-range policy value is an error even when it would lose. */
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_MEMORY, 1,
                                      SANDBOX_SOURCE_POLICY, err, sizeof err),
                   -ERANGE);
  assert_int_equal(sandbox_limits_set(&l, SL_LIMIT_COUNT, 1,
                                      SANDBOX_SOURCE_CLI, err, sizeof err),
                   -EINVAL);
}

static void fmt(sl_limit w, int64_t v, const char *want) {
  char buf[48];
  sl_limit_format(w, v, buf, sizeof buf);
  assert_string_equal(buf, want);
}

static void test_format(void **state) {
  (void)state;
  fmt(SL_LIMIT_MEMORY, 64 << 20, "64M");
  fmt(SL_LIMIT_MEMORY, INT64_C(2) << 30, "2G");
  fmt(SL_LIMIT_OUTPUT, 1536, "1536B");
  fmt(SL_LIMIT_OUTPUT, 2048, "2K");
  fmt(SL_LIMIT_CPU, INT64_C(300) * 1000000000, "5m0s");
  fmt(SL_LIMIT_TIMEOUT, 250000000, "250ms");
  fmt(SL_LIMIT_TIMEOUT, 1500000000, "1.5s");
  fmt(SL_LIMIT_TIMEOUT, INT64_C(3723) * 1000000000, "1h2m3s");
  fmt(SL_LIMIT_INSTRUCTIONS, 1000000, "1000000");
  assert_string_equal(sl_limits[SL_LIMIT_CPU].name, "cpu");
  assert_int_equal(sl_limits[SL_LIMIT_OUTPUT].exit_code, 8);
  assert_int_equal(sl_limits[SL_LIMIT_CONNECTIONS].exit_code, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_parse),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_command_line_wins_over_policy),
    cmocka_unit_test(test_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
