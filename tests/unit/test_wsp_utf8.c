/* Unit tests of stdlib/websocket/wsp_utf8.c: strict incremental UTF-8. */
#include "wsp_testutil.h"

static const char *const VALID[] = {
    "",
    "hello",
    "\xc2\x80",
    "\xdf\xbf",
    "\xe0\xa0\x80",
    "\xed\x9f\xbf",
    "\xee\x80\x80",
    "\xef\xbf\xbf",
    "\xf0\x90\x80\x80",
    "\xf4\x8f\xbf\xbf",
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
    {"\xc0\xaf", 0}, /* overlong '/' */
    {"\xc1\xbf", 0},
    {"\xe0\x80\xaf", 1}, /* overlong 3-byte */
    {"\xe0\x9f\xbf", 1},
    {"\xed\xa0\x80", 1}, /* surrogate U+D800 */
    {"\xed\xbf\xbf", 1},
    {"\xf0\x80\x80\xaf", 1}, /* overlong 4-byte */
    {"\xf4\x90\x80\x80", 1}, /* over U+10FFFF */
    {"\xf5\x80\x80\x80", 0},
    {"\xff", 0},
    {"\xfe", 0},
    {"\xc2\x41", 1}, /* lead then ASCII */
    {"\xe2\x82\x41", 2},
    {"0123456789abcdef\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
     "edited",
     28},
};

static void test_valid(void **state) {
  (void)state;
  for (int i = 0; VALID[i]; i++)
    assert_true(wsp__utf8_valid((const uint8_t *)VALID[i], strlen(VALID[i])));
}

static void test_invalid_reports_first_bad_byte(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof INVALID / sizeof INVALID[0]; i++) {
    const char *s = INVALID[i].s;
    wsp__utf8 st = 0;
    assert_false(wsp__utf8_valid((const uint8_t *)s, strlen(s)));
    size_t at = wsp__utf8_check(&st, (const uint8_t *)s, strlen(s));
    if (at != INVALID[i].bad)
      fail_msg("case %zu: bad at %zu, want %zu", i, at, INVALID[i].bad);
    /* Fed one byte at a time, it fails on exactly that byte. */
    st = 0;
    for (size_t k = 0; k < strlen(s); k++) {
      size_t r = wsp__utf8_check(&st, (const uint8_t *)s + k, 1);
      if (k < INVALID[i].bad) assert_true(r == (size_t)-1);
      if (k == INVALID[i].bad) {
        assert_int_equal(r, 0);
        break;
      }
    }
  }
}

static void test_split_sequences_and_truncation(void **state) {
  (void)state;
  const char *s = "\xf0\x9f\x98\x80 \xe2\x82\xac"; /* 😀 € */
  size_t n = strlen(s);
  for (size_t cut = 0; cut <= n; cut++) {
    wsp__utf8 st = 0;
    assert_true(wsp__utf8_check(&st, (const uint8_t *)s, cut) == (size_t)-1);
    /* Incomplete at the cut unless at a boundary. */
    int boundary = cut == 0 || cut == 4 || cut == 5 || cut == n;
    assert_int_equal(wsp__utf8_done(st), boundary);
    assert_true(wsp__utf8_check(&st, (const uint8_t *)s + cut, n - cut) ==
                (size_t)-1);
    assert_true(wsp__utf8_done(st));
  }
  assert_false(wsp__utf8_valid((const uint8_t *)"\xe2\x82", 2));
}

/* The ASCII fast paths (32 and 8 bytes at a time) stop exactly at the
** first non-ASCII byte, wherever it is. */
static void test_fast_path_positions(void **state) {
  (void)state;
  uint8_t b[100];
  for (size_t pos = 0; pos < sizeof b; pos++) {
    memset(b, 'a', sizeof b);
    b[pos] = 0xff;
    wsp__utf8 st = 0;
    assert_int_equal(wsp__utf8_check(&st, b, sizeof b), pos);
    b[pos] = 0xc3; /* a valid 2-byte character split at the end */
    if (pos + 1 < sizeof b) b[pos + 1] = 0xa9;
    st = 0;
    assert_true(wsp__utf8_check(&st, b, sizeof b) == (size_t)-1);
    assert_int_equal(wsp__utf8_done(st), pos + 1 < sizeof b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid_reports_first_bad_byte),
      cmocka_unit_test(test_split_sequences_and_truncation),
      cmocka_unit_test(test_fast_path_positions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
