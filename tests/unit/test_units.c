/* Unit tests of security/units.c: Go durations and byte sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/units.h"

static int64_t dur_ok(const char *s) {
  int64_t ns = -12345;
  char err[128] = "";
  int rc = units_parse_duration(s, &ns, err, sizeof err);
  if (rc != 0) fail_msg("\"%s\": %s", s, err);
  return ns;
}

static void dur_bad(const char *s, int code, const char *part) {
  int64_t ns = -12345;
  char err[128] = "";
  assert_int_equal(units_parse_duration(s, &ns, err, sizeof err), code);
  assert_int_equal(ns, -12345);  /* untouched on failure */
  if (strstr(err, part) == NULL) fail_msg("\"%s\": message \"%s\"", s, err);
}

static void test_durations_go_syntax(void **state) {
  (void)state;
  assert_int_equal(dur_ok("0"), 0);
  assert_int_equal(dur_ok("-0"), 0);
  assert_int_equal(dur_ok("0s"), 0);
  assert_int_equal(dur_ok("5s"), 5 * UNITS_SECOND);
  assert_int_equal(dur_ok("+5s"), 5 * UNITS_SECOND);
  assert_int_equal(dur_ok("-5s"), -5 * UNITS_SECOND);
  assert_int_equal(dur_ok("250ms"), 250 * UNITS_MILLISECOND);
  assert_int_equal(dur_ok("1.5s"), 1500 * UNITS_MILLISECOND);
  assert_int_equal(dur_ok(".5s"), 500 * UNITS_MILLISECOND);
  assert_int_equal(dur_ok("1.s"), UNITS_SECOND);
  assert_int_equal(dur_ok("1h30m"), 90 * UNITS_MINUTE);
  assert_int_equal(dur_ok("1h2m3.5s"),
                   UNITS_HOUR + 2 * UNITS_MINUTE + 3500 * UNITS_MILLISECOND);
  assert_int_equal(dur_ok("1h30m45s500ms"),
                   UNITS_HOUR + 30 * UNITS_MINUTE + 45 * UNITS_SECOND +
                       500 * UNITS_MILLISECOND);
  assert_int_equal(dur_ok("3ns"), 3);
  assert_int_equal(dur_ok("7us"), 7000);
  assert_int_equal(dur_ok("7\xc2\xb5s"), 7000);
  assert_int_equal(dur_ok("7\xce\xbcs"), 7000);
  assert_int_equal(dur_ok("1.000000001s"), UNITS_SECOND + 1);
  assert_int_equal(dur_ok("0.1ns"), 0);
  assert_int_equal(dur_ok("2562047h47m16.854775807s"), INT64_MAX);
  assert_int_equal(dur_ok("-2562047h47m16.854775808s"), INT64_MIN);
}

static void test_durations_invalid(void **state) {
  (void)state;
  dur_bad("", -EINVAL, "invalid duration \"\"");
  dur_bad("-", -EINVAL, "invalid duration");
  dur_bad("1", -EINVAL, "missing unit in duration \"1\"");
  dur_bad("1s2", -EINVAL, "missing unit");
  dur_bad("s", -EINVAL, "invalid duration \"s\"");
  dur_bad(".s", -EINVAL, "invalid duration");
  dur_bad("1x", -EINVAL, "unknown unit in duration \"1x\"");
  dur_bad("1 s", -EINVAL, "unknown unit");
  dur_bad(" 1s", -EINVAL, "invalid duration");
  dur_bad("1sec", -EINVAL, "");
  dur_bad("1S", -EINVAL, "unknown unit");
  dur_bad("--1s", -EINVAL, "invalid duration");
  dur_bad("1e3s", -EINVAL, "unknown unit");
  dur_bad("9223372036854775808ns", -ERANGE, "out of range");
  dur_bad("2562048h", -ERANGE, "out of range");
  dur_bad("99999999999999999999999s", -ERANGE, "out of range");
  int64_t ns;
  assert_int_equal(units_parse_duration(NULL, &ns, NULL, 0), -EINVAL);
}

static void test_sizes(void **state) {
  (void)state;
  int64_t b;
  char err[128];
  assert_int_equal(units_parse_size("0", &b, err, sizeof err), 0);
  assert_int_equal(b, 0);
  assert_int_equal(units_parse_size("1048576", &b, err, sizeof err), 0);
  assert_int_equal(b, 1048576);
  assert_int_equal(units_parse_size("64M", &b, err, sizeof err), 0);
  assert_int_equal(b, 64 << 20);
  assert_int_equal(units_parse_size("512KiB", &b, err, sizeof err), 0);
  assert_int_equal(b, 512 << 10);
  assert_int_equal(units_parse_size("2G", &b, err, sizeof err), 0);
  assert_int_equal(b, INT64_C(2) << 30);
  assert_int_equal(units_parse_size("10B", &b, err, sizeof err), 0);
  assert_int_equal(b, 10);
  const char *bad[] = {"", "M", "-1", "1.5M", "64m", "64 M", "64MB", "x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    b = -7;
    assert_int_equal(units_parse_size(bad[i], &b, err, sizeof err), -EINVAL);
    assert_int_equal(b, -7);
    assert_non_null(strstr(err, "invalid size"));
  }
  assert_int_equal(units_parse_size("8388608T", &b, err, sizeof err), -ERANGE);
  assert_non_null(strstr(err, "out of range"));
  assert_int_equal(units_parse_size("99999999999999999999999", &b, err,
                                    sizeof err), -ERANGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_durations_go_syntax),
    cmocka_unit_test(test_durations_invalid),
    cmocka_unit_test(test_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
