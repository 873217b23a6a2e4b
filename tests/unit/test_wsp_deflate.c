/* Unit tests of stdlib/websocket/wsp_deflate.c: permessage-deflate
** negotiation (RFC 7692 §7.1) and bounded inflation (§7.2.2, vectors of
** §7.2.3). */
#include "wsp_testutil.h"

static void test_offers(void **state) {
  (void)state;
  char b[200];
  assert_int_equal(
      wsp__pmd_offer(b, sizeof b, WSP_COMPRESS_CONTEXT_TAKEOVER, 0), 0);
  assert_string_equal(b, "permessage-deflate; client_max_window_bits");
  assert_int_equal(wsp__pmd_offer(b, sizeof b, WSP_COMPRESS_NO_CONTEXT, 0), 0);
  assert_string_equal(b,
                      "permessage-deflate; client_no_context_takeover; "
                      "server_no_context_takeover; client_max_window_bits");
  assert_int_equal(
      wsp__pmd_offer(b, sizeof b, WSP_COMPRESS_CONTEXT_TAKEOVER, 9), 0);
  assert_string_equal(b,
                      "permessage-deflate; server_max_window_bits=9; "
                      "client_max_window_bits");
  assert_int_equal(wsp__pmd_offer(b, 10, WSP_COMPRESS_CONTEXT_TAKEOVER, 0), -1);
}

static wsp__pmd accept_ok(const char *v, int server_bits) {
  wsp__pmd p;
  char err[160] = "";
  if (wsp__pmd_accept(v, WSP_COMPRESS_CONTEXT_TAKEOVER, server_bits, &p, err,
                      sizeof err) != 0)
    fail_msg("\"%s\": %s", v, err);
  return p;
}

static void accept_bad(const char *v, int server_bits, const char *part) {
  wsp__pmd p;
  char err[160] = "";
  assert_int_equal(wsp__pmd_accept(v, WSP_COMPRESS_CONTEXT_TAKEOVER,
                                   server_bits, &p, err, sizeof err),
                   -1);
  if (!strstr(err, part))
    fail_msg("\"%s\": error \"%s\" lacks \"%s\"", v, err, part);
}

static void test_accept_parameters(void **state) {
  (void)state;
  wsp__pmd p = accept_ok("permessage-deflate", 0);
  assert_int_equal(p.server_no_context_takeover, 0);
  assert_int_equal(p.client_no_context_takeover, 0);
  assert_int_equal(p.server_max_window_bits, 15);
  assert_int_equal(p.client_max_window_bits, 15);
  p = accept_ok(
      "permessage-deflate;server_no_context_takeover ;  "
      "client_no_context_takeover",
      0);
  assert_int_equal(p.server_no_context_takeover, 1);
  assert_int_equal(p.client_no_context_takeover, 1);
  /* Servers that pick smaller windows, for either side. */
  p = accept_ok(
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
      0);
  assert_int_equal(p.server_max_window_bits, 10);
  assert_int_equal(p.client_max_window_bits, 9);
  p = accept_ok("permessage-deflate; client_max_window_bits=\"8\"", 0);
  assert_int_equal(p.client_max_window_bits, 8);
  p = accept_ok("permessage-deflate; server_max_window_bits = 12", 12);
  assert_int_equal(p.server_max_window_bits, 12);
  p = accept_ok("permessage-deflate; server_max_window_bits=8", 12);
  assert_int_equal(p.server_max_window_bits, 8);
  /* Requested a window, server did not say: it keeps its default 15 and
  ** we inflate with 15 (lenient, still correct). */
  p = accept_ok("permessage-deflate", 10);
  assert_int_equal(p.server_max_window_bits, 15);

  accept_bad("permessage-deflate; server_max_window_bits=13", 12,
             "exceeds the 12 offered");
  accept_bad("permessage-deflate; server_max_window_bits=7", 0, "not 8 to 15");
  accept_bad("permessage-deflate; server_max_window_bits=16", 0, "not 8 to 15");
  accept_bad("permessage-deflate; server_max_window_bits=010", 0,
             "not 8 to 15");
  accept_bad("permessage-deflate; server_max_window_bits=1a", 0, "not 8 to 15");
  accept_bad("permessage-deflate; client_max_window_bits", 0, "needs a value");
  accept_bad("permessage-deflate; server_max_window_bits", 0, "needs a value");
  accept_bad("permessage-deflate; client_max_window_bits=\"9", 0,
             "unterminated");
  accept_bad("permessage-deflate; client_max_window_bits=", 0, "bad value");
  accept_bad("permessage-deflate; server_no_context_takeover=1", 0,
             "takes no value");
  accept_bad(
      "permessage-deflate; server_no_context_takeover; "
      "server_no_context_takeover",
      0, "repeated");
  accept_bad(
      "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
      0, "repeated");
  accept_bad("permessage-deflate; mystery", 0,
             "unknown permessage-deflate parameter mystery");
  accept_bad("permessage-deflate, permessage-deflate", 0,
             "more than one extension");
  accept_bad("permessage-deflate; ; x", 0, "malformed");
  accept_bad("permessage-deflate x", 0, "malformed");
  accept_bad("Permessage-Deflate", 0, "was not offered");
  accept_bad("deflate-frame", 0, "was not offered");
  accept_bad("", 0, "was not offered");
}

static wsp__buf inflate_all(const uint8_t *in, size_t n, size_t limit,
                            int *rc) {
  z_stream z = {0};
  wsp__buf out = {0};
  assert_int_equal(inflateInit2(&z, -15), Z_OK);
  *rc = wsp__inflate(&z, in, n, &out, limit, NULL);
  if (*rc == 0)
    *rc = wsp__inflate(&z, (const uint8_t *)"\x00\x00\xff\xff", 4, &out,
                       limit, NULL);
  inflateEnd(&z);
  return out;
}

/* RFC 7692 §7.2.3: payloads that inflate to "Hello". */
static void test_rfc7692_vectors(void **state) {
  (void)state;
  static const struct {
    const char *name;
    const char *data;
    size_t n;
  } v[] = {
      {"7.2.3.1 one compressed block", "\xf2\x48\xcd\xc9\xc9\x07\x00", 7},
      {"7.2.3.3 no compression", "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00",
       11},
      {"7.2.3.4 BFINAL set", "\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8},
      {"7.2.3.5 two blocks",
       "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00", 13},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    int rc;
    wsp__buf out = inflate_all((const uint8_t *)v[i].data, v[i].n, 100, &rc);
    if (rc != 0) fail_msg("%s: rc %d", v[i].name, rc);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.p, "Hello", 5);
    free(out.p);
  }
  /* 7.2.3.2: the second message refers to the first one's window. */
  z_stream z = {0};
  wsp__buf out = {0};
  assert_int_equal(inflateInit2(&z, -15), Z_OK);
  assert_int_equal(
      wsp__inflate(
          &z, (const uint8_t *)"\xf2\x48\xcd\xc9\xc9\x07\x00\x00\x00\xff\xff",
          11, &out, 100, NULL),
      0);
  assert_int_equal(out.len, 5);
  out.len = 0;
  assert_int_equal(
      wsp__inflate(&z, (const uint8_t *)"\xf2\x00\x11\x00\x00\x00\x00\xff\xff",
                   9, &out, 100, NULL),
      0);
  assert_int_equal(out.len, 5);
  assert_memory_equal(out.p, "Hello", 5);
  /* After a BFINAL block the window is kept for the next message too. */
  out.len = 0;
  assert_int_equal(
      wsp__inflate(
          &z,
          (const uint8_t *)"\xf3\x48\xcd\xc9\xc9\x07\x00\x00\x00\x00\xff\xff",
          12, &out, 100, NULL),
      0);
  out.len = 0;
  assert_int_equal(
      wsp__inflate(&z, (const uint8_t *)"\xf2\x00\x11\x00\x00\x00\x00\xff\xff",
                   9, &out, 100, NULL),
      0);
  assert_memory_equal(out.p, "Hello", 5);
  inflateEnd(&z);
  free(out.p);
  /* 7.2.3.6: an empty message is a single 0x00 byte. */
  int rc;
  out = inflate_all((const uint8_t *)"\x00", 1, 100, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(out.len, 0);
  free(out.p);
}

/* A decompression bomb stops at the limit, whatever its size. */
static void test_inflate_bounded(void **state) {
  (void)state;
  size_t big = 8 << 20;
  uint8_t *zeros = calloc(1, big);
  uLongf zn = compressBound(big);
  uint8_t *packed = malloc(zn);
  z_stream d = {0};
  assert_int_equal(deflateInit2(&d, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY),
                   Z_OK);
  d.next_in = zeros;
  d.avail_in = (uInt)big;
  d.next_out = packed;
  d.avail_out = (uInt)zn;
  assert_int_equal(deflate(&d, Z_SYNC_FLUSH), Z_OK);
  size_t plen = zn - d.avail_out;
  deflateEnd(&d);
  assert_true(plen < 16 << 10); /* 8 MiB of zeros in a few KiB */
  int rc;
  wsp__buf out = inflate_all(packed, plen, 65536, &rc);
  assert_int_equal(rc, 1);
  assert_int_equal(out.len, 65536);
  assert_int_equal(out.cap, 65536); /* memory never passed the limit */
  free(out.p);
  out = inflate_all(packed, plen, big, &rc); /* exactly the limit: fine */
  assert_int_equal(rc, 0);
  assert_int_equal(out.len, big);
  assert_int_equal(out.cap, big); /* no growth past the exact fit */
  free(out.p);
  /* Corrupt data. */
  out = inflate_all((const uint8_t *)"\xff\xff\xff\xff", 4, 100, &rc);
  assert_int_equal(rc, -1);
  free(out.p);
  free(zeros);
  free(packed);
}

static void test_window_bits_for_inflate(void **state) {
  (void)state;
  /* zlib deflates with 9 when asked for 8: inflate with at least 9. */
  assert_int_equal(wsp__inflate_bits(8), 9);
  assert_int_equal(wsp__inflate_bits(9), 9);
  assert_int_equal(wsp__inflate_bits(15), 15);
  /* The caveat itself: raw deflate refuses windowBits 8. */
  z_stream d = {0};
  assert_int_equal(deflateInit2(&d, 1, Z_DEFLATED, -8, 8, Z_DEFAULT_STRATEGY),
                   Z_STREAM_ERROR);
}

static void test_buf_reserve(void **state) {
  (void)state;
  wsp__buf b = {0};
  assert_int_equal(wsp__buf_reserve(&b, 1, NULL), 0);
  assert_true(b.cap >= 1);
  b.len = b.cap;
  assert_int_equal(wsp__buf_reserve(&b, 1000, NULL), 0);
  assert_true(b.cap >= b.len + 1000);
  assert_int_equal(wsp__buf_reserve(&b, SIZE_MAX - 10, NULL), -1);
  free(b.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offers),
      cmocka_unit_test(test_accept_parameters),
      cmocka_unit_test(test_rfc7692_vectors),
      cmocka_unit_test(test_inflate_bounded),
      cmocka_unit_test(test_window_bits_for_inflate),
      cmocka_unit_test(test_buf_reserve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
