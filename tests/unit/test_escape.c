/* Unit tests of common/escape.c: control characters made visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/escape.h"

static void esc(const char *in, size_t n, const char *want) {
  char out[256];
  size_t need = sl_escape_ctl(out, sizeof out, in, n);
  assert_string_equal(out, want);
  assert_int_equal(need, strlen(want));
  assert_int_equal(sl_escape_ctl_len(in, n), strlen(want));
  assert_int_equal(sl_has_ctl(in, n), strcmp(want, in) != 0 || n != strlen(in));
}

static void test_every_control_byte(void **state) {
  (void)state;
  esc("plain", 5, "plain");
  esc("a\r\nb", 4, "a\\r\\nb");
  esc("\t", 1, "\\t");
  esc("\x1b[31m", 5, "\\x1b[31m");
  esc("\x7f", 1, "\\x7f");
  esc("a\0b", 3, "a\\x00b");
  esc("back\\slash", 10, "back\\slash");
  esc("caf\xc3\xa9", 5, "caf\xc3\xa9");  /* UTF-8 is not control */
  for (int c = 0; c < 0x20; c++) {
    char in[1] = {(char)c}, out[8];
    sl_escape_ctl(out, sizeof out, in, 1);
    assert_true(out[0] == '\\' && strlen(out) >= 2);
  }
}

static void test_cut_at_a_whole_escape(void **state) {
  char out[6];
  (void)state;
  /* "ab\x1b" needs 6 bytes; 5 fit with the NUL: never half an escape. */
  assert_int_equal(sl_escape_ctl(out, sizeof out, "ab\x1b" "c", 4), 7);
  assert_string_equal(out, "ab");
  assert_int_equal(sl_escape_ctl(out, 1, "abc", 3), 3);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_control_byte),
    cmocka_unit_test(test_cut_at_a_whole_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
