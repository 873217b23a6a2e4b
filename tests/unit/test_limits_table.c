/* Unit tests of common/limits_table.c and its two readers: every row of
** SL_LIMITS is sane (bounds hold the default, names, options and keys are
** unique, exit statuses are the ones of common/exitcodes.h), and each
** limit's text is read alike by the command-line path (sandbox/limits.c,
** sandbox_limits_parse) and by the policy `sandbox:` path
** (security/policy_sandbox.c): the same values accepted, the same bounds,
** the same message for a value out of range (never ignored). */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/exitcodes.h"
#include "../../common/limits_table.h"
#include "../../sandbox/limits.h"
#include "../../security/policy.h"

static void test_rows(void **state) {
  (void)state;
  char err[256];
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    const sl_limit_info *li = &sl_limits[i];
    assert_true(strncmp(li->option, "--", 2) == 0);
    assert_non_null(li->help);
    assert_true(li->lowest >= 0 && li->lowest <= li->highest);
    assert_int_equal(sl_limit_check((sl_limit)i, li->dflt, err, sizeof err),
                     0);
    assert_true(li->exit_code == 0 ||
                (li->exit_code > SL_EXIT_POLICY &&
                 li->exit_code < SL_EXIT_SANDBOX));
    for (int j = 0; j < i; j++) {
      assert_string_not_equal(li->name, sl_limits[j].name);
      assert_string_not_equal(li->option, sl_limits[j].option);
      assert_string_not_equal(li->key, sl_limits[j].key);
      assert_true(li->exit_code == 0 ||
                  li->exit_code != sl_limits[j].exit_code);
    }
  }
  assert_int_equal(sl_limits[SL_LIMIT_MEMORY].exit_code, SL_EXIT_MEMORY);
  assert_int_equal(sl_limits[SL_LIMIT_CPU].exit_code, SL_EXIT_CPU);
  assert_int_equal(sl_limits[SL_LIMIT_TIMEOUT].exit_code, SL_EXIT_TIMEOUT);
  assert_int_equal(sl_limits[SL_LIMIT_INSTRUCTIONS].exit_code,
                   SL_EXIT_INSTRUCTIONS);
  assert_int_equal(sl_limits[SL_LIMIT_OUTPUT].exit_code, SL_EXIT_OUTPUT);
}

/*
** Read `text` for limit `which` on both paths.  Each returns 0 and the
** value, or an error whose message is the same: "--option" gets it as is,
** the policy as "sandbox.KEY: message".  Returns the command line's rc.
*/
static int both(sl_limit which, const char *text) {
  const sl_limit_info *li = &sl_limits[which];
  sandbox_limits lim;
  char err[256] = "", yaml[256], want[512];
  sandbox_limits_init(&lim);
  int rc = sandbox_limits_parse(&lim, which, text, SANDBOX_SOURCE_CLI, err,
                                sizeof err);
  policy_set *set = policy_set_new();
  policy_diags d;
  memset(&d, 0, sizeof d);
  assert_non_null(set);
  snprintf(yaml, sizeof yaml, "sandbox:\n  %s: %s\n", li->key, text);
  int prc = policy_load_buffer(set, "t.yaml", yaml, strlen(yaml), &d);
  if (rc == 0 && !sl_limit_tightens(which, lim.value[which])) {
    /* a policy may only tighten: the command line's value is refused */
    if (prc == 0) fail_msg("%s %s: the policy loosens", li->key, text);
    assert_non_null(strstr(d.error.message, "would loosen the sandbox"));
    assert_non_null(strstr(d.error.message, li->option));
    assert_false(set->sandbox.set[which]);
  } else if (rc == 0) {
    if (prc != 0) fail_msg("%s %s: policy says %s", li->key, text,
                           d.error.message);
    assert_true(set->sandbox.set[which]);
    assert_int_equal(set->sandbox.value[which], lim.value[which]);
    /* interp/main.c feeds the policy's value to the sandbox */
    assert_int_equal(sandbox_limits_set(&lim, which, set->sandbox.value[which],
                                        SANDBOX_SOURCE_POLICY, err,
                                        sizeof err),
                     0);
  } else {
    if (prc == 0) fail_msg("%s %s: the policy accepts it (%s)", li->option,
                           text, err);
    snprintf(want, sizeof want, "sandbox.%s: %s", li->key, err);
    assert_string_equal(d.error.message, want);
    assert_int_equal(d.error.line, 2);
    assert_false(set->sandbox.set[which]);
  }
  policy_diags_free(&d);
  policy_set_free(set);
  return rc;
}

static void format(sl_limit which, int64_t v, char *buf, size_t len) {
  sl_limit_format(which, v, buf, len);
}

static void test_both_paths_read_alike(void **state) {
  (void)state;
  /* Above INT64_MAX, for each kind: the parser's own range error. */
  static const char *const overflow[] = {
    [SL_LIMIT_KIND_SIZE] = "8388608T",
    [SL_LIMIT_KIND_DURATION] = "2562048h",
    [SL_LIMIT_KIND_COUNT] = "9223372036854775808",
  };
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    sl_limit w = (sl_limit)i;
    const sl_limit_info *li = &sl_limits[i];
    char text[64];
    /* accepted: 0, the default, the lowest and the highest bound */
    assert_int_equal(both(w, "0"), 0);
    format(w, li->dflt, text, sizeof text);
    assert_int_equal(both(w, text), 0);
    format(w, li->lowest, text, sizeof text);
    assert_int_equal(both(w, text), 0);
    snprintf(text, sizeof text, "%" PRId64 "%s", li->highest,
             li->kind == SL_LIMIT_KIND_DURATION ? "ns" : "");
    assert_int_equal(both(w, text), 0);
    /* refused: under the lowest (but not 0), over the highest, negative,
    ** malformed, past the parser's range */
    if (li->lowest > 1) {
      snprintf(text, sizeof text, "%" PRId64 "%s", li->lowest - 1,
               li->kind == SL_LIMIT_KIND_DURATION ? "ns" : "");
      assert_int_equal(both(w, text), -ERANGE);
    }
    if (li->highest < INT64_MAX) {
      snprintf(text, sizeof text, "%" PRId64, li->highest + 1);
      assert_int_equal(both(w, text), -ERANGE);
    }
    assert_int_not_equal(both(w, li->kind == SL_LIMIT_KIND_DURATION ? "-1s"
                                                                    : "-1"),
                         0);
    assert_int_equal(both(w, "x1"), -EINVAL);
    assert_int_equal(both(w, overflow[li->kind]), -ERANGE);
  }
}

/* A value out of range is an error even where a higher source wins. */
static void test_out_of_range_never_ignored(void **state) {
  (void)state;
  char err[256];
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    sandbox_limits lim;
    sandbox_limits_init(&lim);
    assert_int_equal(sandbox_limits_set(&lim, (sl_limit)i, 0,
                                        SANDBOX_SOURCE_CLI, err, sizeof err),
                     0);
    assert_int_equal(sandbox_limits_set(&lim, (sl_limit)i, -1,
                                        SANDBOX_SOURCE_POLICY, err,
                                        sizeof err),
                     -ERANGE);
    assert_string_equal(err, "must not be negative");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rows),
    cmocka_unit_test(test_both_paths_read_alike),
    cmocka_unit_test(test_out_of_range_never_ignored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
