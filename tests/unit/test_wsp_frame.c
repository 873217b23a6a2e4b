/* Unit tests of stdlib/websocket/wsp_frame.c: headers, masking, masks. */
#include <sys/wait.h>
#include <unistd.h>

#include "wsp_testutil.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* RFC 6455 §5.7: serializer output byte for byte. */
static void test_rfc6455_vectors_serialize(void **state) {
  (void)state;
  uint8_t out[32];
  size_t h;
  static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
  static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  h = wsp__write_header(out, 1, 0, WSP_OP_TEXT, 5, NULL);
  memcpy(out + h, "Hello", 5);
  assert_memory_equal(out, unmasked, sizeof unmasked);
  h = wsp__write_header(out, 1, 0, WSP_OP_TEXT, 5, MASK);
  wsp__mask(out + h, (const uint8_t *)"Hello", 5, MASK, 0);
  assert_int_equal(h + 5, sizeof masked);
  assert_memory_equal(out, masked, sizeof masked);
  h = wsp__write_header(out, 1, 0, WSP_OP_PONG, 5, MASK);
  wsp__mask(out + h, (const uint8_t *)"Hello", 5, MASK, 0);
  assert_memory_equal(out, pong, sizeof pong);
  /* 256 bytes: 16-bit length; 64 KiB: 64-bit length. */
  h = wsp__write_header(out, 1, 0, WSP_OP_BINARY, 256, NULL);
  assert_int_equal(h, 4);
  assert_memory_equal(out, "\x82\x7e\x01\x00", 4);
  h = wsp__write_header(out, 1, 0, WSP_OP_BINARY, 65536, NULL);
  assert_int_equal(h, 10);
  assert_memory_equal(out, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
  /* Fragments: "Hel" then "lo". */
  h = wsp__write_header(out, 0, 0, WSP_OP_TEXT, 3, NULL);
  assert_memory_equal(out, "\x01\x03", 2);
  h = wsp__write_header(out, 1, 0, WSP_OP_CONT, 2, NULL);
  assert_memory_equal(out, "\x80\x02", 2);
  /* RSV1 (permessage-deflate) is 0x40. */
  wsp__write_header(out, 1, 4, WSP_OP_TEXT, 7, NULL);
  assert_int_equal(out[0], 0xc1);
}

/* Parse a header fed one byte at a time and all at once. */
static void parse_both_ways(const uint8_t *hdr, size_t n, wsp__frame *f) {
  wsp__hparser p = {0};
  wsp__frame g;
  size_t used;
  assert_int_equal(wsp__parse_header(&p, hdr, n, &used, f), 1);
  assert_int_equal(used, n);
  for (size_t i = 0; i < n; i++) {
    int r = wsp__parse_header(&p, hdr + i, 1, &used, &g);
    assert_int_equal(used, 1);
    assert_int_equal(r, i + 1 == n ? 1 : 0);
  }
  assert_int_equal(g.fin, f->fin);
  assert_int_equal(g.opcode, f->opcode);
  assert_true(g.len == f->len);
  assert_memory_equal(g.mask, f->mask, 4);
}

static void test_rfc6455_vectors_parse(void **state) {
  (void)state;
  wsp__frame f;
  parse_both_ways((const uint8_t *)"\x81\x85\x37\xfa\x21\x3d", 6, &f);
  assert_int_equal(f.fin, 1);
  assert_int_equal(f.opcode, WSP_OP_TEXT);
  assert_int_equal(f.masked, 1);
  assert_true(f.len == 5);
  assert_memory_equal(f.mask, MASK, 4);
  uint8_t pay[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  wsp__mask(pay, pay, 5, f.mask, 0); /* unmask in place */
  assert_memory_equal(pay, "Hello", 5);

  parse_both_ways((const uint8_t *)"\x01\x03", 2, &f);
  assert_int_equal(f.fin, 0);
  assert_true(f.len == 3);
  parse_both_ways((const uint8_t *)"\x89\x05", 2, &f);
  assert_int_equal(f.opcode, WSP_OP_PING);
  parse_both_ways((const uint8_t *)"\x82\x7e\x01\x00", 4, &f);
  assert_true(f.len == 256);
  parse_both_ways((const uint8_t *)"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00",
                  10, &f);
  assert_true(f.len == 65536);
  parse_both_ways((const uint8_t *)"\xf1\x00", 2, &f);
  assert_int_equal(f.rsv, 7);
  /* Non-minimal encodings are accepted (RFC requires minimal of senders). */
  parse_both_ways((const uint8_t *)"\x82\x7e\x00\x05", 4, &f);
  assert_true(f.len == 5);
}

static void test_length_top_bit(void **state) {
  (void)state;
  wsp__hparser p = {0};
  wsp__frame f;
  size_t used;
  assert_int_equal(
      wsp__parse_header(
          &p, (const uint8_t *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10,
          &used, &f),
      -1);
  assert_int_equal(
      wsp__parse_header(
          &p, (const uint8_t *)"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 10,
          &used, &f),
      1);
  assert_true(f.len == INT64_MAX);
}

/* The word-at-a-time mask equals the byte-wise definition for every
** length, phase and alignment. */
static void test_mask_matches_definition(void **state) {
  (void)state;
  uint8_t src[300], dst[300], ref[300];
  for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 7 + 3);
  for (size_t off = 0; off < 8; off++)
    for (size_t phase = 0; phase < 4; phase++)
      for (size_t n = 0; n + off <= 290; n += 13) {
        for (size_t i = 0; i < n; i++)
          ref[i] = src[off + i] ^ MASK[(phase + i) % 4];
        size_t next = wsp__mask(dst + off, src + off, n, MASK, phase);
        assert_int_equal(next, (phase + n) % 4);
        assert_memory_equal(dst + off, ref, n);
        memcpy(dst, src, sizeof src);
        wsp__mask(dst + off, dst + off, n, MASK, phase); /* in place */
        assert_memory_equal(dst + off, ref, n);
      }
  /* Chunked with carried phase equals one pass. */
  wsp__mask(ref, src, 300, MASK, 0);
  size_t ph = wsp__mask(dst, src, 7, MASK, 0);
  ph = wsp__mask(dst + 7, src + 7, 100, MASK, ph);
  wsp__mask(dst + 107, src + 107, 193, MASK, ph);
  assert_memory_equal(dst, ref, 300);
}

static void test_rng_masks(void **state) {
  (void)state;
  uint8_t m[4];
  uint32_t seen[1000];
  int dup = 0;
  for (int i = 0; i < 1000; i++) { /* crosses a refill of the pool */
    assert_int_equal(wsp__rng_mask(m), 0);
    memcpy(&seen[i], m, 4);
    for (int j = 0; j < i; j++) dup += seen[j] == seen[i];
  }
  assert_true(dup <= 1); /* 1000 draws of 32 bits: a repeat is ~1e-4 */
  uint8_t big[WSP__RNG_MAX + 1];
  assert_int_equal(wsp__rng_bytes(big, sizeof big), -1);
}

/* Connections share one pool: a connection's key and masks do not draw
** (and throw away) a block of their own. */
static void test_rng_pool_is_shared(void **state) {
  (void)state;
  wsp_options o = {.host = "example.com", .path = "/"};
  uint8_t m[4];
  assert_int_equal(wsp__rng_mask(m), 0);
  size_t left = wsp__rng_left();
  if (left < 100) { /* start the count away from a refill */
    for (size_t i = 0; i < left / 4 + 1; i++) wsp__rng_mask(m);
    left = wsp__rng_left();
  }
  assert_true(left >= 100);
  wsp_conn *a = tu_open(&o, NULL), *b = tu_new(&o);
  assert_int_equal(wsp__rng_left(), left - 32); /* two 16-byte keys */
  assert_int_equal(wsp_close(a, 1000, NULL, 0), 0);
  assert_int_equal(wsp__rng_left(), left - 36); /* one mask */
  size_t n;
  const char *ka = strstr((const char *)wsp_request(a, &n), "Key: ");
  const char *kb = strstr((const char *)wsp_request(b, &n), "Key: ");
  assert_non_null(ka);
  assert_non_null(kb);
  assert_memory_not_equal(ka, kb, 29);
  wsp_free(a);
  wsp_free(b);
  /* keys of many connections, across refills, all differ */
  static char keys[600][25];
  for (int i = 0; i < 600; i++) {
    wsp_conn *c = tu_new(&o);
    const char *k = strstr((const char *)wsp_request(c, &n), "Key: ");
    assert_non_null(k);
    memcpy(keys[i], k + 5, 24);
    keys[i][24] = '\0';
    for (int j = 0; j < i; j++) assert_string_not_equal(keys[j], keys[i]);
    wsp_free(c);
  }
}

/* A forked child never hands out the bytes the parent hands out next. */
static void test_rng_fork(void **state) {
  (void)state;
  uint8_t m[4], mine[16], theirs[16];
  assert_int_equal(wsp__rng_mask(m), 0); /* the pool is filled */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uint8_t b[17];
    b[16] = (uint8_t)(wsp__rng_left() == 0); /* emptied by the fork */
    if (wsp__rng_bytes(b, 16) != 0) _exit(1);
    _exit(write(fds[1], b, 17) == 17 ? 0 : 1);
  }
  assert_int_equal(wsp__rng_bytes(mine, 16), 0);
  uint8_t b[17];
  assert_int_equal(read(fds[0], b, 17), 17);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  memcpy(theirs, b, 16);
  assert_int_equal(b[16], 1);
  assert_memory_not_equal(mine, theirs, 16);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6455_vectors_serialize),
      cmocka_unit_test(test_rfc6455_vectors_parse),
      cmocka_unit_test(test_length_top_bit),
      cmocka_unit_test(test_mask_matches_definition),
      cmocka_unit_test(test_rng_masks),
      cmocka_unit_test(test_rng_pool_is_shared),
      cmocka_unit_test(test_rng_fork),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
