/* Unit tests of common/jsonstr.c: the JSON string escaper in both modes,
** whole and through windows of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/jsonstr.h"

/* Escape all of s (n bytes) through windows of at most w bytes. */
static size_t esc_all(const char *s, size_t n, char *out, size_t w, int mode,
                      int *bad) {
  size_t pos = 0, o = 0;
  *bad = 0;
  while (pos < n && !*bad) {
    size_t before = pos;
    o += sl_jsonstr_escape(s, n, &pos, out + o, w, mode, bad);
    if (pos == before && !*bad) fail_msg("no progress at %zu (window %zu)",
                                         pos, w);
  }
  out[o] = '\0';
  return o;
}

static const struct {
  const char *in;
  size_t n;
  const char *strict; /* NULL: invalid UTF-8 */
  const char *safe;
} CASES[] = {
    {"", 0, "", ""},
    {"plain", 5, "plain", "plain"},
    {"a\"b\\c", 5, "a\\\"b\\\\c", "a\\\"b\\\\c"},
    {"\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t", "\\u0008\\u000c\\n\\r\\t"},
    {"\x01\x1f", 2, "\\u0001\\u001f", "\\u0001\\u001f"},
    {"nul\0x", 5, "nul\\u0000x", "nul\\u0000x"},
    {"del\x7f", 4, "del\x7f", "del\\u007f"},
    {"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "caf\xc3\xa9 \xf0\x9f\x98\x80",
     "caf\xc3\xa9 \xf0\x9f\x98\x80"},
    {"\xe2\x80\xa8|\xe2\x80\xa9", 7, "\xe2\x80\xa8|\xe2\x80\xa9",
     "\\u2028|\\u2029"},
    {"a\xff", 2, NULL, "a\\ufffd"},
    {"\xe2\x80", 2, NULL, "\\ufffd\\ufffd"},
    {"\xed\xa0\x80", 3, NULL, "\\ufffd\\ufffd\\ufffd"},
    {"\xc0\xaf", 2, NULL, "\\ufffd\\ufffd"},
    {"0123456789abcdef0123456789abcdef\x01", 33,
     "0123456789abcdef0123456789abcdef\\u0001",
     "0123456789abcdef0123456789abcdef\\u0001"},
};

static void test_modes(void **state) {
  (void)state;
  char out[256];
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    int bad;
    /* Whole, then through every window size from one step up. */
    for (size_t w = 200; w >= SL_JSONSTR_STEP; w--) {
      esc_all(CASES[i].in, CASES[i].n, out, w, SL_JSONSTR_SAFE, &bad);
      assert_int_equal(bad, 0);
      assert_string_equal(out, CASES[i].safe);
      esc_all(CASES[i].in, CASES[i].n, out, w, SL_JSONSTR_STRICT, &bad);
      if (CASES[i].strict) {
        assert_int_equal(bad, 0);
        assert_string_equal(out, CASES[i].strict);
      } else {
        assert_int_equal(bad, 1);
      }
    }
  }
}

/* Strict mode stops at the first invalid byte and says where. */
static void test_strict_reports_position(void **state) {
  (void)state;
  char out[64];
  int bad;
  size_t pos = 0;
  size_t o = sl_jsonstr_escape("ab\"\xe2\x82\xac\xc3", 7, &pos, out,
                               sizeof out, SL_JSONSTR_STRICT, &bad);
  assert_int_equal(bad, 1);
  assert_int_equal(pos, 6);
  assert_int_equal(o, 7);
  assert_memory_equal(out, "ab\\\"\xe2\x82\xac", 7);
}

/* A window too small for the next piece takes nothing of it: pieces are
** never split, and what was written is a prefix of the whole. */
static void test_window_never_splits(void **state) {
  (void)state;
  const char *s = "x\x01\xf0\x9f\x98\x80\"y";
  size_t n = strlen(s);
  char whole[64], part[64];
  int bad;
  size_t all = esc_all(s, n, whole, 64, SL_JSONSTR_STRICT, &bad);
  for (size_t w = 0; w < all; w++) {
    size_t pos = 0;
    size_t o = sl_jsonstr_escape(s, n, &pos, part, w, SL_JSONSTR_STRICT, &bad);
    assert_true(o <= w);
    assert_memory_equal(part, whole, o);
    /* Exactly the pieces that fit: the next one would not. */
    size_t rest_pos = pos, more;
    char next[64];
    more = sl_jsonstr_escape(s, n, &rest_pos, next, 64, SL_JSONSTR_STRICT,
                             &bad);
    if (pos < n) {
      assert_true(more > 0);
      assert_memory_equal(next, whole + o, more);
    }
  }
}

/* The byte classes the json decoder scans with. */
static void test_plain(void **state) {
  (void)state;
  for (int c = 0; c < 256; c++) {
    int want = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
    assert_int_equal(sl_jsonstr_plain[c], want);
    unsigned char b[8];
    memset(b, 'a', sizeof b);
    b[c % 8] = (unsigned char)c;
    assert_int_equal(sl_jsonstr_plain8(b), want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modes),
      cmocka_unit_test(test_strict_reports_position),
      cmocka_unit_test(test_window_never_splits),
      cmocka_unit_test(test_plain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
