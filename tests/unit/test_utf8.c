/* Unit tests of common/utf8.c: the strict (RFC 3629) UTF-8 validator,
** incremental, one-shot and one character at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/utf8.h"

static const char *const VALID[] = {
    "",
    "hello",
    "\x7f",
    "\xc2\x80",         /* U+0080, the first 2-byte character */
    "\xdf\xbf",         /* U+07FF */
    "\xe0\xa0\x80",     /* U+0800 */
    "\xed\x9f\xbf",     /* U+D7FF, below the surrogates */
    "\xee\x80\x80",     /* U+E000, above them */
    "\xef\xbf\xbf",     /* U+FFFF */
    "\xf0\x90\x80\x80", /* U+10000 */
    "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last */
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", /* kosme */
    "0123456789abcdef0123456789abcdef\xe2\x82\xac",
    NULL};

/* {text, index of the first invalid byte} */
static const struct {
  const char *s;
  size_t bad;
} INVALID[] = {
    {"\x80", 0}, /* lone continuation */
    {"abc\xbf", 3},
    {"\xc0\x80", 0}, /* overlong NUL */
    {"\xc0\xaf", 0}, /* overlong '/' */
    {"\xc1\xbf", 0},
    {"\xe0\x80\xaf", 1}, /* overlong 3-byte */
    {"\xe0\x9f\xbf", 1},
    {"\xed\xa0\x80", 1}, /* surrogate U+D800 */
    {"\xed\xaf\xbf", 1}, /* U+DBFF */
    {"\xed\xb0\x80", 1}, /* U+DC00 */
    {"\xed\xbf\xbf", 1}, /* U+DFFF */
    {"\xed\xa0\xbd\xed\xb8\x80", 1}, /* a CESU-8 surrogate pair */
    {"\xf0\x80\x80\xaf", 1}, /* overlong 4-byte */
    {"\xf0\x8f\xbf\xbf", 1},
    {"\xf4\x90\x80\x80", 1}, /* U+110000 */
    {"\xf4\xbf\xbf\xbf", 1},
    {"\xf5\x80\x80\x80", 0}, /* leads over U+10FFFF */
    {"\xf7\xbf\xbf\xbf", 0},
    {"\xf8\x88\x80\x80\x80", 0}, /* 5- and 6-byte forms */
    {"\xfc\x84\x80\x80\x80\x80", 0},
    {"\xff", 0},
    {"\xfe", 0},
    {"\xc2\x41", 1}, /* lead then ASCII */
    {"\xe2\x82\x41", 2},
    {"\xf0\x9f\x98\x41", 3},
    {"\xc2\xc2\x80", 1}, /* lead then lead */
    {"0123456789abcdef\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
     "edited",
     28},
};

static void test_valid(void **state) {
  (void)state;
  for (int i = 0; VALID[i]; i++)
    assert_true(sl_utf8_valid(VALID[i], strlen(VALID[i])));
}

static void test_invalid_reports_first_bad_byte(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof INVALID / sizeof INVALID[0]; i++) {
    const char *s = INVALID[i].s;
    sl_utf8 st = 0;
    assert_false(sl_utf8_valid(s, strlen(s)));
    size_t at = sl_utf8_check(&st, (const uint8_t *)s, strlen(s));
    if (at != INVALID[i].bad)
      fail_msg("case %zu: bad at %zu, want %zu", i, at, INVALID[i].bad);
    /* Fed one byte at a time, it fails on exactly that byte. */
    st = 0;
    for (size_t k = 0; k < strlen(s); k++) {
      size_t r = sl_utf8_check(&st, (const uint8_t *)s + k, 1);
      if (k < INVALID[i].bad) assert_true(r == (size_t)-1);
      if (k == INVALID[i].bad) {
        assert_int_equal(r, 0);
        break;
      }
    }
  }
}

/* Every valid text split at every byte, in two chunks and byte by byte,
** is valid; cut short anywhere inside a character, it is incomplete. */
static void test_split_at_every_byte(void **state) {
  (void)state;
  for (int i = 0; VALID[i]; i++) {
    const uint8_t *s = (const uint8_t *)VALID[i];
    size_t n = strlen(VALID[i]);
    sl_utf8 one = 0;
    for (size_t cut = 0; cut <= n; cut++) {
      sl_utf8 st = 0;
      assert_true(sl_utf8_check(&st, s, cut) == (size_t)-1);
      /* At a boundary exactly when the byte at the cut is not a
       * continuation byte. */
      int boundary = cut == n || (s[cut] & 0xc0) != 0x80;
      assert_int_equal(sl_utf8_done(st), boundary);
      assert_int_equal(sl_utf8_valid(s, cut), boundary);
      assert_true(sl_utf8_check(&st, s + cut, n - cut) == (size_t)-1);
      assert_true(sl_utf8_done(st));
      if (cut < n) assert_true(sl_utf8_check(&one, s + cut, 1) == (size_t)-1);
    }
    assert_true(sl_utf8_done(one));
  }
}

/* Each multi-byte character truncated at every position. */
static void test_truncated_at_every_position(void **state) {
  (void)state;
  static const char *const chars[] = {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
                                      "\xed\x9f\xbf", "\xef\xbf\xbf",
                                      "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
  for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
    const unsigned char *s = (const unsigned char *)chars[c];
    size_t n = strlen(chars[c]);
    assert_int_equal(sl_utf8_seq(s, n), n);
    for (size_t k = 1; k < n; k++) {
      assert_false(sl_utf8_valid(s, k));
      assert_int_equal(sl_utf8_seq(s, k), 0);
      /* ... then ASCII where the next continuation byte should be. */
      unsigned char b[8];
      memcpy(b, s, k);
      b[k] = 'x';
      sl_utf8 st = 0;
      assert_int_equal(sl_utf8_check(&st, b, k + 1), k);
      assert_int_equal(sl_utf8_seq(b, k + 1), 0);
    }
  }
}

/* The ASCII fast paths (32 and 8 bytes at a time) stop exactly at the
** first non-ASCII byte, wherever it is. */
static void test_fast_path_positions(void **state) {
  (void)state;
  uint8_t b[100];
  for (size_t pos = 0; pos < sizeof b; pos++) {
    memset(b, 'a', sizeof b);
    b[pos] = 0xff;
    sl_utf8 st = 0;
    assert_int_equal(sl_utf8_check(&st, b, sizeof b), pos);
    b[pos] = 0xc3; /* a valid 2-byte character split at the end */
    if (pos + 1 < sizeof b) b[pos + 1] = 0xa9;
    st = 0;
    assert_true(sl_utf8_check(&st, b, sizeof b) == (size_t)-1);
    assert_int_equal(sl_utf8_done(st), pos + 1 < sizeof b);
  }
}

/* A decoder written from RFC 3629's definition: the length of the valid
** character at s, or 0. */
static size_t reference(const unsigned char *s, size_t n) {
  unsigned c = s[0], cp, min;
  size_t k;
  if ((c & 0xe0) == 0xc0) k = 2, min = 0x80, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) k = 3, min = 0x800, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) k = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (k > n) return 0;
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return k;
}

/* Every lead byte with every second and third byte (and the fourth from a
** sample), in all three forms, against the reference. */
static void test_against_reference(void **state) {
  (void)state;
  static const unsigned char fourth[] = {0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0,
                                         0xff};
  for (unsigned a = 0x80; a < 0x100; a++)
    for (unsigned b = 0; b < 0x100; b++)
      for (unsigned c = 0; c < 0x100; c++)
        for (size_t d = 0; d < sizeof fourth; d++) {
          unsigned char s[4] = {(unsigned char)a, (unsigned char)b,
                                (unsigned char)c, fourth[d]};
          size_t want = reference(s, 4);
          size_t got = sl_utf8_seq(s, 4);
          if (got != want)
            fail_msg("%02x %02x %02x %02x: %zu, want %zu", a, b, c,
                     fourth[d], got, want);
          if (want == 0) continue;
          assert_true(sl_utf8_valid(s, want));
          if (d == 0 && want < 4) assert_int_equal(sl_utf8_seq(s, want), want);
        }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid_reports_first_bad_byte),
      cmocka_unit_test(test_split_at_every_byte),
      cmocka_unit_test(test_truncated_at_every_position),
      cmocka_unit_test(test_fast_path_positions),
      cmocka_unit_test(test_against_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
