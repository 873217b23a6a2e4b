/* Unit tests of stdlib/websocket/wsp_conn.c: the message layer, the rules
** of RFC 6455 for a client (each violation with its close code), the
** closing handshake, sending, and permessage-deflate per message. */
#include "wsp_testutil.h"
#include "counting_alloc.h"

#include <errno.h>

#define PMD_EXT "Sec-WebSocket-Extensions: permessage-deflate\r\n"

static uint8_t buf[1 << 18];

/* ---- RFC 6455 §5.7 examples, as a server would send them ------------- */

static void test_rfc6455_examples(void **state) {
  (void)state;
  wsp_conn *c = tu_open_plain();
  wsp_event ev;
  const uint8_t *out = (const uint8_t *)"";
  assert_int_equal(wsp_output(c, &out), 0); /* nothing queued yet */
  assert_null(out);
  static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  size_t n = wsp_feed(c, hello, sizeof hello, &ev);
  assert_int_equal(n, sizeof hello);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_int_equal(ev.len, 5);
  assert_ptr_equal(ev.data, hello + 2); /* zero copy */

  static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                 0x80, 0x02, 0x6c, 0x6f};
  ev = tu_feed1(c, frag, sizeof frag);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "Hello", 5);

  static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  ev = tu_feed1(c, ping, sizeof ping);
  assert_int_equal(ev.type, WSP_EV_PING);
  assert_memory_equal(ev.data, "Hello", 5);
  wsp__frame f;
  uint8_t *p;
  assert_true(tu_next_out(c, &f, &p)); /* the pong, masked */
  assert_int_equal(f.opcode, WSP_OP_PONG);
  assert_int_equal(f.fin, 1);
  assert_true(f.len == 5);
  assert_memory_equal(p, "Hello", 5);
  free(p);
  assert_false(tu_next_out(c, &f, &p));

  uint8_t *big = malloc(65536 + 10);
  size_t h = wsp__write_header(big, 1, 0, WSP_OP_BINARY, 256, NULL);
  assert_int_equal(h, 4);
  for (int i = 0; i < 256; i++) big[h + i] = (uint8_t)i;
  ev = tu_feed1(c, big, h + 256);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, 256);
  assert_int_equal(ev.data[255], 255);
  h = wsp__write_header(big, 1, 0, WSP_OP_BINARY, 65536, NULL);
  assert_int_equal(h, 10);
  memset(big + h, 7, 65536);
  ev = tu_feed1(c, big, h + 65536);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, 65536);
  free(big);

  static const uint8_t pong[] = {0x8a, 0x00};
  ev = tu_feed1(c, pong, 2);
  assert_int_equal(ev.type, WSP_EV_PONG);
  assert_int_equal(ev.len, 0);
  wsp_free(c);
}

/* ---- input split at every byte --------------------------------------- */

static size_t build_stream(uint8_t *s) {
  size_t n = 0;
  n += tu_frame(s + n, 0, 0, WSP_OP_TEXT, "caf\xc3", 4); /* é split */
  n += tu_frame(s + n, 1, 0, WSP_OP_PING, "p1", 2);      /* interleaved */
  n += tu_frame(s + n, 0, 0, WSP_OP_CONT, "\xa9 ", 2);
  n += tu_frame(s + n, 1, 0, WSP_OP_PONG, "", 0);
  n += tu_frame(s + n, 1, 0, WSP_OP_CONT, "au lait", 7);
  n += tu_frame(s + n, 1, 0, WSP_OP_BINARY, "\x00\x01\x02", 3);
  n += tu_frame(s + n, 1, 0, WSP_OP_TEXT, "", 0);
  n += tu_frame(s + n, 1, 0, WSP_OP_CLOSE,
                "\x03\xe8"
                "bye",
                5);
  return n;
}

static void test_split_anywhere(void **state) {
  (void)state;
  uint8_t s[256];
  size_t n = build_stream(s);
  for (size_t step = 1; step <= n; step++) {
    wsp_conn *c = tu_open_plain();
    char log[256] = "";
    size_t pos = 0;
    while (pos < n) {
      size_t k = n - pos < step ? n - pos : step, kpos = 0;
      while (kpos < k) {
        wsp_event ev;
        size_t used = wsp_feed(c, s + pos + kpos, k - kpos, &ev);
        kpos += used;
        char one[64] = "";
        switch (ev.type) {
          case WSP_EV_TEXT:
            snprintf(one, sizeof one, "T[%.*s]", (int)ev.len, ev.data);
            break;
          case WSP_EV_BINARY: snprintf(one, sizeof one, "B%zu", ev.len); break;
          case WSP_EV_PING:
            snprintf(one, sizeof one, "PI[%.*s]", (int)ev.len, ev.data);
            break;
          case WSP_EV_PONG: snprintf(one, sizeof one, "PO%zu", ev.len); break;
          case WSP_EV_CLOSE:
            snprintf(one, sizeof one, "C%d[%.*s]", ev.code, (int)ev.len,
                     ev.data);
            break;
          case WSP_EV_ERROR:
            fail_msg("step %zu: error %s", step, ev.error);
            break;
          default: assert_true(used > 0); break;
        }
        strcat(log, one);
      }
      pos += k;
    }
    assert_string_equal(log, "PI[p1]PO0T[caf\xc3\xa9 au lait]B3T[]C1000[bye]");
    assert_int_equal(wsp_get_state(c), WSP_CLOSED);
    wsp_free(c);
  }
}

/* ---- frame rules: each violation and its close code ------------------ */

static void expect_frame_fail(const wsp_options *o, const char *ext,
                              const uint8_t *in, size_t n, int code) {
  wsp_conn *c = tu_open(o, ext);
  wsp_event ev;
  size_t used = wsp_feed(c, in, n, &ev);
  if (ev.type == WSP_EV_NONE && used < n)
    used += wsp_feed(c, in + used, n - used, &ev);
  tu_expect_fail(c, ev, code);
  assert_int_equal(used, n); /* the rest is dropped */
  /* Nothing more happens after a failure. */
  assert_int_equal(wsp_feed(c, (const uint8_t *)"\x81\x01x", 3, &ev), 3);
  assert_int_equal(ev.type, WSP_EV_NONE);
  assert_int_equal(wsp_send(c, WSP_TEXT, "x", 1), -EPIPE);
  assert_int_equal(wsp_close(c, 1000, NULL, 0), -EPIPE);
  wsp_free(c);
}

static void test_frame_rules(void **state) {
  (void)state;
  wsp_options plain = {.host = "h"};
  wsp_options pmd = {.host = "h", .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  /* Masked frame from the server. */
  expect_frame_fail(
      &plain, NULL,
      (const uint8_t *)"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11,
      1002);
  /* RSV bits only as negotiated. */
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\xc1\x01x", 3,
                    1002); /* RSV1 */
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\xa1\x01x", 3,
                    1002); /* RSV2 */
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x91\x01x", 3,
                    1002); /* RSV3 */
  expect_frame_fail(&pmd, PMD_EXT, (const uint8_t *)"\xa1\x01x", 3, 1002);
  expect_frame_fail(&pmd, PMD_EXT, (const uint8_t *)"\x91\x01x", 3, 1002);
  expect_frame_fail(&pmd, PMD_EXT, (const uint8_t *)"\xc9\x00", 2,
                    1002); /* RSV1 ping */
  expect_frame_fail(&pmd, PMD_EXT, (const uint8_t *)"\x41\x01\x00\xc0\x01\x00",
                    6, 1002);
  /* Reserved opcodes. */
  for (int op = 3; op <= 0xf; op++) {
    if (op == 8 || op == 9 || op == 10) continue;
    uint8_t fr[2] = {(uint8_t)(0x80 | op), 0};
    expect_frame_fail(&plain, NULL, fr, 2, 1002);
  }
  /* Control frames: at most 125 bytes, never fragmented. */
  uint8_t big[140];
  size_t n = tu_frame(big, 1, 0, WSP_OP_PING, buf, 126);
  expect_frame_fail(&plain, NULL, big, n, 1002);
  n = tu_frame(big, 1, 0, WSP_OP_CLOSE, buf, 126);
  expect_frame_fail(&plain, NULL, big, n, 1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x09\x00", 2, 1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x0a\x00", 2, 1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x08\x00", 2, 1002);
  /* Continuation rules. */
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x80\x01x", 3, 1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x00\x01x", 3, 1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x01\x01x\x81\x01x", 6,
                    1002);
  expect_frame_fail(&plain, NULL, (const uint8_t *)"\x02\x01x\x02\x01x", 6,
                    1002);
  /* 64-bit length with the top bit set. */
  expect_frame_fail(&plain, NULL,
                    (const uint8_t *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01",
                    10, 1002);
}

static void test_control_during_fragments(void **state) {
  (void)state;
  wsp_conn *c = tu_open_plain();
  uint8_t s[64];
  size_t n = 0;
  n += tu_frame(s + n, 0, 0, WSP_OP_BINARY, "ab", 2);
  n += tu_frame(s + n, 1, 0, WSP_OP_PING, "x", 1);
  n += tu_frame(s + n, 1, 0, WSP_OP_PONG, "y", 1);
  n += tu_frame(s + n, 1, 0, WSP_OP_CONT, "cd", 2);
  wsp_event ev;
  size_t pos = wsp_feed(c, s, n, &ev);
  assert_int_equal(ev.type, WSP_EV_PING);
  pos += wsp_feed(c, s + pos, n - pos, &ev);
  assert_int_equal(ev.type, WSP_EV_PONG);
  pos += wsp_feed(c, s + pos, n - pos, &ev);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(pos, n);
  assert_memory_equal(ev.data, "abcd", 4);
  /* A close in the middle of a message ends the connection. */
  n = 0;
  n += tu_frame(s + n, 0, 0, WSP_OP_TEXT, "ab", 2);
  n += tu_frame(s + n, 1, 0, WSP_OP_CLOSE, "\x03\xe9", 2);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_CLOSE);
  assert_int_equal(ev.code, 1001);
  wsp_free(c);
}

/* A peer that pings without reading our pongs cannot grow the output. */
static void test_pong_backlog(void **state) {
  (void)state;
  wsp_conn *c = tu_open_plain();
  uint8_t s[130];
  size_t n = tu_frame(s, 1, 0, WSP_OP_PING, buf, 125);
  const uint8_t *out;
  for (int i = 0; i < 5000; i++) {
    wsp_event ev = tu_feed1(c, s, n);
    assert_int_equal(ev.type, WSP_EV_PING);
  }
  size_t pending = wsp_output(c, &out);
  assert_true(pending <= WSP_PONG_BACKLOG + 131);
  assert_true(pending > WSP_PONG_BACKLOG);
  /* Once written, pongs flow again. */
  wsp_output_consumed(c, pending);
  tu_feed1(c, s, n);
  assert_int_equal(wsp_output(c, &out), 131);
  wsp_free(c);
}

/* ---- size limit ------------------------------------------------------ */

static void test_read_limit(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .read_limit = 100};
  uint8_t s[512];
  wsp_event ev;
  /* Exactly the limit: fine, in one frame and in fragments. */
  wsp_conn *c = tu_open(&o, NULL);
  size_t n = tu_frame(s, 1, 0, WSP_OP_BINARY, buf, 100);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  n = tu_frame(s, 0, 0, WSP_OP_BINARY, buf, 60);
  n += tu_frame(s + n, 1, 0, WSP_OP_CONT, buf, 40);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.len, 100);
  /* A frame split across reads is buffered, never past the limit. */
  n = tu_frame(s, 1, 0, WSP_OP_BINARY, buf, 100);
  assert_int_equal(wsp_feed(c, s, 30, &ev), 30);
  assert_int_equal(ev.type, WSP_EV_NONE);
  ev = tu_feed1(c, s + 30, n - 30);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, 100);
  assert_int_equal(c->msg.cap, 100);
  wsp_free(c);
  /* One byte over: refused at the header, before any payload arrives. */
  c = tu_open(&o, NULL);
  n = wsp__write_header(s, 1, 0, WSP_OP_BINARY, 101, NULL);
  assert_int_equal(wsp_feed(c, s, n, &ev), n);
  tu_expect_fail(c, ev, 1009);
  wsp_free(c);
  /* A huge declared length: same, nothing is allocated for it. */
  c = tu_open(&o, NULL);
  n = wsp__write_header(s, 1, 0, WSP_OP_BINARY, UINT64_C(1) << 62, NULL);
  wsp_feed(c, s, n, &ev);
  tu_expect_fail(c, ev, 1009);
  wsp_free(c);
  /* Fragments adding up past the limit: refused at the fragment's header. */
  c = tu_open(&o, NULL);
  n = tu_frame(s, 0, 0, WSP_OP_TEXT, buf, 60);
  n += wsp__write_header(s + n, 1, 0, WSP_OP_CONT, 41, NULL);
  wsp_feed(c, s, n, &ev);
  tu_expect_fail(c, ev, 1009);
  assert_int_equal(c->msg.len, 60); /* the excess was never buffered */
  assert_true(c->msg.cap <= 256);
  wsp_free(c);
}

/* A large message buffer is released after use, a small one kept. */
static void test_message_buffer_release(void **state) {
  (void)state;
  wsp_conn *c = tu_open_plain();
  size_t big = (1 << 20) + 10;
  uint8_t *s = calloc(1, big + 14);
  size_t h = wsp__write_header(s, 0, 0, WSP_OP_BINARY, big - 10, NULL);
  h += big - 10;
  h += wsp__write_header(s + h, 1, 0, WSP_OP_CONT, 10, NULL);
  h += 10;
  wsp_event ev = tu_feed1(c, s, h);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, big);
  assert_true(c->msg.cap >= big); /* still borrowed by the event */
  ev = tu_feed1(c, (const uint8_t *)"\x8a\x00", 2);
  assert_int_equal(ev.type, WSP_EV_PONG);
  assert_null(c->msg.p);
  h = tu_frame(s, 0, 0, WSP_OP_BINARY, "ab", 2);
  h += tu_frame(s + h, 1, 0, WSP_OP_CONT, "cd", 2);
  ev = tu_feed1(c, s, h);
  assert_int_equal(ev.len, 4);
  tu_feed1(c, (const uint8_t *)"\x8a\x00", 2);
  assert_non_null(c->msg.p); /* small: kept for the next message */
  free(s);
  wsp_free(c);
}

/* ---- UTF-8 ------------------------------------------------------------ */

static void test_utf8_rules(void **state) {
  (void)state;
  wsp_options o = {.host = "h"};
  uint8_t s[256];
  size_t n;
  wsp_event ev;
  /* Single frame. */
  n = tu_frame(s, 1, 0, WSP_OP_TEXT, "ok\xff", 3);
  expect_frame_fail(&o, NULL, s, n, 1007);
  n = tu_frame(s, 1, 0, WSP_OP_TEXT, "\xed\xa0\x80", 3);
  expect_frame_fail(&o, NULL, s, n, 1007);
  /* Truncated at the end of the message. */
  n = tu_frame(s, 1, 0, WSP_OP_TEXT, "\xe2\x82", 2);
  expect_frame_fail(&o, NULL, s, n, 1007);
  n = tu_frame(s, 0, 0, WSP_OP_TEXT, "a", 1);
  n += tu_frame(s + n, 1, 0, WSP_OP_CONT, "\xe2\x82", 2);
  expect_frame_fail(&o, NULL, s, n, 1007);
  /* Binary messages are not checked. */
  wsp_conn *c = tu_open(&o, NULL);
  n = tu_frame(s, 1, 0, WSP_OP_BINARY, "\xff\xfe", 2);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  wsp_free(c);
  /* Fail fast: the bad byte is reported as soon as it arrives, in the
  ** first fragment, before the frame (let alone the message) is complete. */
  c = tu_open(&o, NULL);
  n = wsp__write_header(s, 0, 0, WSP_OP_TEXT, 50, NULL);
  memcpy(s + n, "abc\xc0", 4);
  wsp_feed(c, s, n + 4, &ev);
  tu_expect_fail(c, ev, 1007);
  wsp_free(c);
  /* Across a fragment boundary: E2 82 | 41 fails on the 41. */
  c = tu_open(&o, NULL);
  n = tu_frame(s, 0, 0, WSP_OP_TEXT, "\xe2\x82", 2);
  assert_int_equal(wsp_feed(c, s, n, &ev), n);
  assert_int_equal(ev.type, WSP_EV_NONE);
  n = wsp__write_header(s, 0, 0, WSP_OP_CONT, 10, NULL);
  s[n] = 'A';
  wsp_feed(c, s, n + 1, &ev);
  tu_expect_fail(c, ev, 1007);
  wsp_free(c);
  /* ... while a valid split (E2 82 | AC) is accepted. */
  c = tu_open(&o, NULL);
  n = tu_frame(s, 0, 0, WSP_OP_TEXT, "\xe2\x82", 2);
  n += tu_frame(s + n, 1, 0, WSP_OP_CONT, "\xac", 1);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_memory_equal(ev.data, "\xe2\x82\xac", 3);
  wsp_free(c);
}

/* ---- closing handshake ------------------------------------------------ */

static wsp_event peer_close(wsp_conn *c, const void *body, size_t len) {
  uint8_t s[200];
  size_t n = tu_frame(s, 1, 0, WSP_OP_CLOSE, body, len);
  return tu_feed1(c, s, n);
}

static void test_close_codes(void **state) {
  (void)state;
  static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                              1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  static const int invalid[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                1016, 1100, 2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    wsp_conn *c = tu_open_plain();
    uint8_t body[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
    wsp_event ev = peer_close(c, body, 2);
    assert_int_equal(ev.type, WSP_EV_CLOSE);
    assert_int_equal(ev.code, valid[i]); /* 1012-1014 pass through */
    assert_int_equal(ev.len, 0);
    assert_int_equal(wsp_get_state(c), WSP_CLOSED);
    wsp__frame f;
    uint8_t *p;
    assert_true(tu_next_out(c, &f, &p)); /* our reply echoes the code */
    assert_int_equal(f.opcode, WSP_OP_CLOSE);
    assert_true(f.len == 2);
    assert_int_equal(p[0] << 8 | p[1], valid[i]);
    free(p);
    assert_true(wsp_close_code_valid(valid[i]));
    wsp_free(c);
  }
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    wsp_conn *c = tu_open_plain();
    uint8_t body[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
    wsp_event ev = peer_close(c, body, 2);
    tu_expect_fail(c, ev, 1002);
    assert_false(wsp_close_code_valid(invalid[i]));
    wsp_free(c);
  }
  /* A 1-byte body is a protocol error. */
  wsp_conn *c = tu_open_plain();
  tu_expect_fail(c, peer_close(c, "\x03", 1), 1002);
  wsp_free(c);
  /* An invalid UTF-8 reason. */
  c = tu_open_plain();
  tu_expect_fail(c, peer_close(c, "\x03\xe8\xff", 3), 1007);
  wsp_free(c);
  /* Empty body: 1005 reported, empty close sent back. */
  c = tu_open_plain();
  wsp_event ev = peer_close(c, "", 0);
  assert_int_equal(ev.type, WSP_EV_CLOSE);
  assert_int_equal(ev.code, 1005);
  wsp__frame f;
  uint8_t *p;
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.opcode, WSP_OP_CLOSE);
  assert_true(f.len == 0);
  free(p);
  /* Closed: input ignored, sends refused. */
  ev.type = WSP_EV_TEXT;
  assert_int_equal(wsp_feed(c, (const uint8_t *)"\x81\x01x", 3, &ev), 3);
  assert_int_equal(ev.type, WSP_EV_NONE);
  assert_int_equal(wsp_send(c, WSP_BINARY, "x", 1), -EPIPE);
  assert_int_equal(wsp_ping(c, "", 0), -EPIPE);
  assert_int_equal(wsp_close(c, 1000, "", 0), -EPIPE);
  wsp_free(c);
  /* Reason passes through. */
  c = tu_open_plain();
  ev = peer_close(c, "\x0f\xa0going \xc3\xa9", 10);
  assert_int_equal(ev.code, 4000);
  assert_int_equal(ev.len, 8);
  assert_memory_equal(ev.data, "going \xc3\xa9", 8);
  wsp_free(c);
}

static void test_close_initiated_by_us(void **state) {
  (void)state;
  wsp_conn *c = tu_open_plain();
  char reason[130];
  memset(reason, 'r', sizeof reason);
  assert_int_equal(wsp_close(c, 999, NULL, 0), -EINVAL);
  assert_int_equal(wsp_close(c, 1006, NULL, 0), -EINVAL);
  assert_int_equal(wsp_close(c, 5000, NULL, 0), -EINVAL);
  assert_int_equal(wsp_close(c, 1000, reason, 124), -EINVAL);
  assert_int_equal(wsp_close(c, 1000, "\xff", 1), -EINVAL);
  assert_int_equal(wsp_close(c, 1005, "x", 1), -EINVAL);
  assert_int_equal(wsp_get_state(c), WSP_OPEN);
  assert_int_equal(wsp_close(c, 1013, reason, 123), 0);
  assert_int_equal(wsp_get_state(c), WSP_CLOSING);
  assert_int_equal(wsp_close(c, 1000, NULL, 0), -EPIPE);
  assert_int_equal(wsp_send(c, WSP_TEXT, "x", 1), -EPIPE);
  wsp__frame f;
  uint8_t *p;
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.opcode, WSP_OP_CLOSE);
  assert_true(f.len == 125);
  assert_int_equal(p[0] << 8 | p[1], 1013);
  free(p);
  /* Messages still arrive while we wait for the peer's close. */
  uint8_t s[32];
  size_t n = tu_frame(s, 1, 0, WSP_OP_TEXT, "late", 4);
  wsp_event ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  /* A ping now gets no pong (nothing may follow our close). */
  n = tu_frame(s, 1, 0, WSP_OP_PING, "", 0);
  ev = tu_feed1(c, s, n);
  assert_int_equal(ev.type, WSP_EV_PING);
  assert_false(tu_next_out(c, &f, &p));
  /* The peer's reply completes the handshake; no further close is sent. */
  ev = peer_close(c, "\x03\xe8", 2);
  assert_int_equal(ev.type, WSP_EV_CLOSE);
  assert_int_equal(ev.code, 1000);
  assert_int_equal(wsp_get_state(c), WSP_CLOSED);
  assert_false(tu_next_out(c, &f, &p));
  wsp_free(c);
  /* Empty close. */
  c = tu_open_plain();
  assert_int_equal(wsp_close(c, 1005, NULL, 0), 0);
  assert_true(tu_next_out(c, &f, &p));
  assert_true(f.len == 0);
  free(p);
  wsp_free(c);
}

/* ---- sending ---------------------------------------------------------- */

static void test_send_fragments_and_masks(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .send_frame_size = 1000};
  wsp_conn *c = tu_open(&o, NULL);
  size_t len = 2500;
  uint8_t *msg = malloc(len), *got = malloc(len);
  for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)('a' + i % 26);
  assert_int_equal(wsp_send(c, WSP_TEXT, msg, len), 0);
  assert_true(wsp_sending(c));
  assert_int_equal(wsp_send(c, WSP_TEXT, "x", 1), -EBUSY);
  assert_int_equal(wsp_ping(c, "p", 1), 0); /* goes out before fragment 1 */
  wsp__frame f;
  uint8_t *p, masks[4][4];
  size_t at = 0;
  int k = 0;
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.opcode, WSP_OP_PING);
  free(p);
  while (tu_next_out(c, &f, &p)) {
    assert_int_equal(f.opcode, k == 0 ? WSP_OP_TEXT : WSP_OP_CONT);
    assert_int_equal(f.rsv, 0);
    assert_int_equal(f.fin, at + f.len == len);
    assert_true(f.len <= 1000);
    memcpy(got + at, p, (size_t)f.len);
    memcpy(masks[k], f.mask, 4);
    at += (size_t)f.len;
    free(p);
    if (k == 0)
      assert_int_equal(wsp_pong(c, "q", 1), 0); /* between fragments */
    if (k == 0) {
      assert_true(tu_next_out(c, &f, &p));
      assert_int_equal(f.opcode, WSP_OP_PONG);
      free(p);
    }
    k++;
  }
  assert_int_equal(k, 3);
  assert_int_equal(at, len);
  assert_memory_equal(got, msg, len);
  assert_false(memcmp(masks[0], masks[1], 4) == 0 &&
               memcmp(masks[1], masks[2], 4) == 0);
  assert_false(wsp_sending(c));
  /* Empty message: one empty final frame. */
  assert_int_equal(wsp_send(c, WSP_BINARY, NULL, 0), 0);
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.opcode, WSP_OP_BINARY);
  assert_int_equal(f.fin, 1);
  assert_true(f.len == 0);
  free(p);
  /* Errors. */
  assert_int_equal(wsp_send(c, WSP_TEXT, "\xc0\xaf", 2), -EILSEQ);
  assert_int_equal(wsp_send(c, 3, "x", 1), -EINVAL);
  assert_int_equal(wsp_ping(c, buf, 126), -EMSGSIZE);
  assert_int_equal(wsp_pong(c, buf, 126), -EMSGSIZE);
  assert_int_equal(wsp_ping(c, buf, 125), 0);
  /* Partial writes: consume a few bytes at a time. */
  const uint8_t *out;
  size_t total = wsp_output(c, &out), seen = 0;
  assert_int_equal(total, 2 + 4 + 125);
  while (seen < total) {
    size_t n = wsp_output(c, &out);
    assert_int_equal(n, total - seen);
    wsp_output_consumed(c, 7);
    seen += n < 7 ? n : 7;
  }
  assert_int_equal(wsp_output(c, &out), 0);
  wsp_output_consumed(c, 100); /* more than there is: harmless */
  /* A close abandons the message in progress. */
  assert_int_equal(wsp_send(c, WSP_BINARY, msg, len), 0);
  assert_true(tu_next_out(c, &f, &p));
  free(p);
  assert_int_equal(wsp_close(c, 1000, NULL, 0), 0);
  assert_false(wsp_sending(c));
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.opcode, WSP_OP_CLOSE);
  free(p);
  assert_false(tu_next_out(c, &f, &p));
  free(msg);
  free(got);
  wsp_free(c);
}

/* ---- permessage-deflate ---------------------------------------------- */

/* Compress like a server: raw deflate, sync flush, trailer removed. */
static size_t server_deflate(z_stream *z, const void *in, size_t n,
                             uint8_t *out, size_t cap) {
  z->next_in = (Bytef *)(uintptr_t)in;
  z->avail_in = (uInt)n;
  z->next_out = out;
  z->avail_out = (uInt)cap;
  assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
  size_t len = cap - z->avail_out;
  assert_memory_equal(out + len - 4, "\x00\x00\xff\xff", 4);
  return len - 4;
}

static void test_pmd_rfc7692_frames(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  wsp_conn *c = tu_open(&o, PMD_EXT);
  wsp_event ev;
  /* §7.2.3.1, one frame and fragmented. */
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "Hello", 5);
  wsp_free(c);
  c = tu_open(&o, PMD_EXT);
  ev = tu_feed1(
      c, (const uint8_t *)"\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00", 11);
  assert_memory_equal(ev.data, "Hello", 5);
  /* §7.2.3.2: the second message uses the first's window. */
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x05\xf2\x00\x11\x00\x00", 7);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "Hello", 5);
  /* §7.2.3.3 stored block; §7.2.3.4 BFINAL; §7.2.3.5 two blocks. */
  ev = tu_feed1(
      c,
      (const uint8_t *)"\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00",
      13);
  assert_memory_equal(ev.data, "Hello", 5);
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00",
                10);
  assert_memory_equal(ev.data, "Hello", 5);
  ev = tu_feed1(
      c,
      (const uint8_t
           *)"\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00",
      15);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "Hello", 5);
  /* §7.2.3.6: empty message. */
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x01\x00", 3);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_int_equal(ev.len, 0);
  /* Uncompressed frames on a compressed connection (RSV1 clear). */
  ev = tu_feed1(c, (const uint8_t *)"\x81\x05" "Hello", 7);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_memory_equal(ev.data, "Hello", 5);
  ev = tu_feed1(c, (const uint8_t *)"\x8a\x03" "abc", 5);  /* pong with payload */
  assert_int_equal(ev.type, WSP_EV_PONG);
  ev = tu_feed1(c, (const uint8_t *)"\x02\x01x\x80\x01y", 6);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  /* Corrupt compressed data: 1007. */
  ev = tu_feed1(c, (const uint8_t *)"\xc2\x04\xff\xff\xff\xff", 6);
  tu_expect_fail(c, ev, 1007);
  wsp_free(c);
  /* Compressed text with invalid UTF-8 after inflation: 1007. */
  c = tu_open(&o, PMD_EXT);
  z_stream z = {0};
  uint8_t s[64];
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  size_t n = server_deflate(&z, "ab\xff", 3, s + 2, sizeof s - 2);
  wsp__write_header(s, 1, 4, WSP_OP_TEXT, n, NULL);
  tu_expect_fail(c, tu_feed1(c, s, n + 2), 1007);
  deflateEnd(&z);
  wsp_free(c);
}

static void test_pmd_bomb(void **state) {
  (void)state;
  wsp_options o = {.host = "h",
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                   .read_limit = 1 << 20};
  wsp_conn *c = tu_open(&o, PMD_EXT);
  size_t big = 64 << 20; /* 64 MiB of zeros in ~64 KiB */
  uint8_t *zeros = calloc(1, 1 << 20), *packed = malloc(1 << 18);
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY),
                   Z_OK);
  z.next_out = packed + 10;
  z.avail_out = (1 << 18) - 10;
  for (size_t i = 0; i < big >> 20; i++) {
    z.next_in = zeros;
    z.avail_in = 1 << 20;
    assert_int_equal(deflate(&z, Z_NO_FLUSH), Z_OK);
  }
  assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  size_t n = (1 << 18) - 10 - z.avail_out - 4;
  deflateEnd(&z);
  size_t h = wsp__write_header(packed, 1, 4, WSP_OP_BINARY, n, NULL);
  memmove(packed + h, packed + 10, n);
  wsp_event ev = tu_feed1(c, packed, h + n);
  tu_expect_fail(c, ev, 1009);
  assert_true(c->msg.cap <= (1 << 20)); /* never more than the limit */
  free(zeros);
  free(packed);
  wsp_free(c);
}

/* Decode the client's compressed output back into a message. */
static size_t client_message(wsp_conn *c, z_stream *inf, uint8_t *out,
                             size_t cap, int *rsv1, int *frames) {
  wsp__frame f;
  uint8_t *p;
  size_t len = 0;
  *frames = 0;
  while (tu_next_out(c, &f, &p)) {
    if ((*frames)++ == 0)
      *rsv1 = (f.rsv & 4) != 0;
    else
      assert_int_equal(f.rsv, 0);
    if (*rsv1) {
      inf->next_in = p;
      inf->avail_in = (uInt)f.len;
      inf->next_out = out + len;
      inf->avail_out = (uInt)(cap - len);
      int rc = inflate(inf, Z_SYNC_FLUSH);
      assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
      len = cap - inf->avail_out;
      if (f.fin) {
        inf->next_in = (Bytef *)"\x00\x00\xff\xff";
        inf->avail_in = 4;
        rc = inflate(inf, Z_SYNC_FLUSH);
        assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
        len = cap - inf->avail_out;
      }
    } else {
      memcpy(out + len, p, (size_t)f.len);
      len += (size_t)f.len;
    }
    int fin = f.fin;
    free(p);
    if (fin) break;
  }
  return len;
}

static void test_pmd_send(void **state) {
  (void)state;
  wsp_options o = {.host = "h",
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                   .compression_threshold = 64,
                   .send_frame_size = 512};
  wsp_conn *c = tu_open(&o, PMD_EXT);
  z_stream inf = {0};
  assert_int_equal(inflateInit2(&inf, -15), Z_OK);
  static uint8_t msg[20000], got[20000];
  uint32_t x = 1;
  for (size_t i = 0; i < sizeof msg; i++) { /* half JSON-ish, half noise */
    x = x * 1103515245 + 12345;
    msg[i] =
        i % 2 ? (uint8_t) "{\"k\": [1, 2, 3]}, "[i % 18] : (uint8_t)(x >> 24);
  }
  int rsv1, frames;
  /* Under the threshold: uncompressed, RSV1 clear. */
  assert_int_equal(wsp_send(c, WSP_BINARY, msg, 63), 0);
  size_t n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(rsv1, 0);
  assert_int_equal(n, 63);
  assert_memory_equal(got, msg, 63);
  /* At the threshold: compressed. */
  assert_int_equal(wsp_send(c, WSP_BINARY, msg, 64), 0);
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(rsv1, 1);
  assert_int_equal(n, 64);
  assert_memory_equal(got, msg, 64);
  /* Large: many compressed frames, each at most send_frame_size. */
  assert_int_equal(wsp_send(c, WSP_BINARY, msg, sizeof msg), 0);
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(rsv1, 1);
  assert_true(frames > 1);
  assert_int_equal(n, sizeof msg);
  assert_memory_equal(got, msg, sizeof msg);
  /* Context takeover: the same message again compresses much smaller. */
  assert_int_equal(
      wsp_send(c, WSP_TEXT,
               "hello hello hello hello hello hello hello hello hello "
               "hello hello hello hello hello",
               83),
      0);
  const uint8_t *out;
  size_t first = wsp_output(c, &out);
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(n, 83);
  assert_int_equal(
      wsp_send(c, WSP_TEXT,
               "hello hello hello hello hello hello hello hello hello "
               "hello hello hello hello hello",
               83),
      0);
  size_t second = wsp_output(c, &out);
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(n, 83);
  assert_true(second < first);
  /* Empty compressed message (threshold 0). */
  inflateEnd(&inf);
  wsp_free(c);
  o.compression_threshold = 0;
  c = tu_open(&o, PMD_EXT);
  assert_int_equal(inflateInit2(&inf, -15), Z_OK);
  assert_int_equal(wsp_send(c, WSP_TEXT, "", 0), 0);
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(rsv1, 1);
  assert_int_equal(n, 0);
  inflateEnd(&inf);
  wsp_free(c);
}

/* One input holding complete messages (whole, fragmented, compressed,
** empty compressed) and then a frame that breaks the protocol: every
** message comes out first, in order, then the failure; each kind of
** violation, whatever the message before it. */
static void test_messages_before_failure(void **state) {
  (void)state;
  static const struct {
    const char *bad;
    size_t n;
    int code;
  } bads[] = {
      {"\xa1\x01x", 3, 1002},                 /* RSV2 */
      {"\x85\x00", 2, 1002},                  /* reserved opcode */
      {"\x81\x01\xff", 3, 1007},              /* invalid UTF-8 */
      {"\x80\x01x", 3, 1002},                 /* continuation first */
      {"\x88\x02\x03\xe7", 4, 1002},          /* close code 999 */
      {"\xc1\x04\xff\xff\xff\xff", 6, 1007}, /* bad deflate data */
      {"\x82\x7e\x01\x00", 4, 1009},          /* over read_limit 255 */
  };
  for (size_t b = 0; b < sizeof bads / sizeof *bads; b++) {
    wsp_options o = {.host = "h",
                     .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                     .read_limit = 255};
    wsp_conn *c = tu_open(&o, PMD_EXT);
    uint8_t in[256];
    size_t n = 0;
    n += tu_frame(in + n, 1, 0, WSP_OP_TEXT, "one", 3);
    n += tu_frame(in + n, 0, 0, WSP_OP_BINARY, "t", 1);
    n += tu_frame(in + n, 1, 0, WSP_OP_PING, "p", 1);
    n += tu_frame(in + n, 1, 0, WSP_OP_CONT, "wo", 2);
    n += tu_frame(in + n, 1, 4, WSP_OP_TEXT, "\xf2\x48\xcd\xc9\xc9\x07\x00",
                  7); /* "Hello", RFC 7692 §7.2.3.1 */
    n += tu_frame(in + n, 1, 4, WSP_OP_BINARY, "\x00", 1); /* empty */
    memcpy(in + n, bads[b].bad, bads[b].n);
    n += bads[b].n;
    static const struct {
      wsp_event_type type;
      const char *data;
      size_t len;
    } want[] = {{WSP_EV_TEXT, "one", 3},   {WSP_EV_PING, "p", 1},
                {WSP_EV_BINARY, "two", 3}, {WSP_EV_TEXT, "Hello", 5},
                {WSP_EV_BINARY, "", 0}};
    size_t pos = 0, k = 0;
    wsp_event ev;
    for (;;) {
      size_t used = wsp_feed(c, in + pos, n - pos, &ev);
      pos += used;
      if (ev.type == WSP_EV_NONE) {
        assert_true(used > 0);
        continue;
      }
      if (ev.type == WSP_EV_ERROR) break;
      assert_true(k < sizeof want / sizeof *want);
      assert_int_equal(ev.type, want[k].type);
      assert_int_equal(ev.len, want[k].len);
      assert_memory_equal(ev.data, want[k].data, want[k].len);
      k++;
    }
    assert_int_equal(k, sizeof want / sizeof *want);
    assert_int_equal(pos, n);
    tu_expect_fail(c, ev, bads[b].code);
    wsp_free(c);
  }
}

/* Empty compressed messages from the server, one after another (each a
** single 0x00 byte, RFC 7692 §7.2.3.6), text and binary, then a message
** that refers back (context takeover): all arrive, the window intact. */
static void test_pmd_receive_empty_messages(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  wsp_conn *c = tu_open(&o, PMD_EXT);
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  const char *msgs[] = {"hello hello", "", "", "", "hello hello", ""};
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    uint8_t s[128];
    size_t len = strlen(msgs[i]);
    size_t n = 1; /* zlib, flushed already, would write nothing */
    if (len)
      n = server_deflate(&z, msgs[i], len, s + 2, sizeof s - 2);
    else
      s[2] = 0x00;
    int op = i % 2 ? WSP_OP_BINARY : WSP_OP_TEXT;
    wsp__write_header(s, 1, 4, op, n, NULL);
    wsp_event ev = tu_feed1(c, s, n + 2);
    assert_int_equal(ev.type, op == WSP_OP_TEXT ? WSP_EV_TEXT : WSP_EV_BINARY);
    assert_int_equal(ev.len, len);
    assert_memory_equal(ev.data, msgs[i], len);
  }
  assert_int_equal(wsp_get_state(c), WSP_OPEN);
  deflateEnd(&z);
  wsp_free(c);
}

/* Empty messages one after another under permessage-deflate: the second
** finds zlib with nothing to flush (deflate says Z_BUF_ERROR, no bytes),
** and must still go out as a compressed empty message, not as a 1011
** close.  Both modes; empty after non-empty and before it too. */
static void test_pmd_send_empty_messages(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    wsp_options o = {.host = "h",
                     .compression = mode ? WSP_COMPRESS_NO_CONTEXT
                                         : WSP_COMPRESS_CONTEXT_TAKEOVER};
    wsp_conn *c = tu_open(
        &o, mode ? "Sec-WebSocket-Extensions: permessage-deflate; "
                   "server_no_context_takeover; client_no_context_takeover\r\n"
                 : PMD_EXT);
    z_stream inf = {0};
    assert_int_equal(inflateInit2(&inf, -15), Z_OK);
    static uint8_t got[256];
    int rsv1, frames;
    const char *msgs[] = {"", "", "", "hello", "", "", "hello", ""};
    const int types[] = {WSP_TEXT,   WSP_BINARY, WSP_TEXT, WSP_TEXT,
                         WSP_BINARY, WSP_BINARY, WSP_TEXT, WSP_TEXT};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
      size_t len = strlen(msgs[i]);
      assert_int_equal(wsp_send(c, types[i], msgs[i], len), 0);
      wsp__frame f;
      uint8_t *p;
      const uint8_t *out;
      /* Peek at the frame: the right opcode, RSV1, not a close. */
      size_t avail = wsp_output(c, &out);
      assert_true(avail >= 2);
      assert_int_equal(out[0] & 0x0f, types[i] == WSP_TEXT ? WSP_OP_TEXT
                                                           : WSP_OP_BINARY);
      size_t n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
      assert_int_equal(rsv1, 1);
      assert_int_equal(frames, 1);
      assert_int_equal(n, len);
      assert_memory_equal(got, msgs[i], len);
      assert_int_equal(wsp_get_state(c), WSP_OPEN);
      assert_false(tu_next_out(c, &f, &p));
      if (mode) inflateReset(&inf);
    }
    inflateEnd(&inf);
    wsp_free(c);
  }
}

/* A zlib allocator of the options: counts what it hands out. */
typedef struct zblock {
  size_t size;
  max_align_t align[];
} zblock;
static size_t z_live, z_calls;

static void *count_zalloc(void *opaque, unsigned items, unsigned size) {
  assert_null(opaque);
  zblock *b = malloc(sizeof *b + (size_t)items * size);
  if (b == NULL) return NULL;
  b->size = (size_t)items * size;
  z_live += b->size;
  z_calls++;
  return b->align;
}

static void count_zfree(void *opaque, void *p) {
  assert_null(opaque);
  zblock *b = (zblock *)(void *)((char *)p - offsetof(zblock, align));
  z_live -= b->size;
  free(b);
}

static void test_pmd_allocator(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                   .zalloc = count_zalloc, .zfree = count_zfree};
  z_live = z_calls = 0;
  wsp_conn *c = tu_open(&o, PMD_EXT);
  assert_int_equal(z_calls, 0);  /* zlib's state is made on first use */
  wsp_event ev =
      tu_feed1(c, (const uint8_t *)"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  size_t inflating = z_live;
  assert_true(inflating > 0);
  assert_int_equal(wsp_send(c, WSP_TEXT, "hello hello hello hello", 23), 0);
  const uint8_t *out;
  assert_true(wsp_output(c, &out) > 0);  /* frames are made when taken */
  assert_true(z_live > inflating + 100000);  /* deflate's window and hash */
  wsp_free(c);
  assert_int_equal(z_live, 0);  /* all given back */
}

/* A frame that declares 16 MiB and brings 10 bytes holds about 10 bytes:
** memory is charged as the payload arrives, not as it is declared. */
static void test_declared_length_is_not_allocated(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .alloc = count_alloc};
  m_live = 0;
  m_budget = SIZE_MAX;
  wsp_conn *c = tu_open(&o, "");
  size_t open = m_live;
  uint8_t s[32];
  size_t h = wsp__write_header(s, 1, 0, WSP_OP_BINARY, (size_t)16 << 20, NULL);
  memcpy(s + h, "0123456789", 10);
  wsp_event ev = tu_feed1(c, s, h + 10);
  assert_int_equal(ev.type, WSP_EV_NONE);
  assert_true(m_live - open < 4096);
  /* and what arrives is still assembled whole */
  static uint8_t rest[(16 << 20) - 10];
  size_t used, off = 0;
  while (off < sizeof rest) {
    used = wsp_feed(c, rest + off, sizeof rest - off, &ev);
    off += used;
    if (ev.type != WSP_EV_NONE) break;
  }
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, (size_t)16 << 20);
  assert_true(m_live - open <= ((size_t)16 << 20) + 8192);
  wsp_free(c);
  assert_int_equal(m_live, 0);
}

/* The allocator of the options: tests/unit/counting_alloc.h. */

static wsp_options counted_options(void) {
  static const char *const protos[] = {"chat", "superchat"};
  wsp_options o = {.host = "example.com",
                   .subprotocols = protos,
                   .nsubprotocols = 2,
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                   .compression_threshold = 0,
                   .alloc = count_alloc,
                   .zalloc = count_zalloc,
                   .zfree = count_zfree};
  return o;
}

#define COUNTED_EXT PMD_EXT "Sec-WebSocket-Protocol: superchat\r\n"

/* Every block of a connection comes from the allocator of the options
** (a block of another origin would crash its free) and goes back to it. */
static void test_allocator_counts_everything(void **state) {
  (void)state;
  wsp_options o = counted_options();
  m_live = z_live = 0;
  m_budget = SIZE_MAX;
  wsp_conn *c = tu_new(&o);
  assert_true(m_live > sizeof *c);  /* the connection, request, copies */
  const char *r = tu_response(c, COUNTED_EXT);
  size_t used;
  assert_int_equal(
      wsp_handshake_feed(c, (const uint8_t *)r, strlen(r), &used), WSP_HS_OK);
  assert_string_equal(wsp_handshake_result(c)->subprotocol, "superchat");
  size_t open = m_live;
  /* A fragmented 2 MiB message is assembled in a counted buffer. */
  size_t big = (size_t)2 << 20;
  uint8_t *s = calloc(1, big + 28);
  size_t h = wsp__write_header(s, 0, 0, WSP_OP_BINARY, big - 10, NULL);
  h += big - 10;
  h += wsp__write_header(s + h, 1, 0, WSP_OP_CONT, 10, NULL);
  h += 10;
  wsp_event ev = tu_feed1(c, s, h);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, big);
  assert_true(m_live >= open + big);
  /* A compressed one, and a ping (its pong is queued in the output). */
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_true(m_live < open + big);  /* the large buffer was released */
  assert_true(z_live > 0);
  ev = tu_feed1(c, (const uint8_t *)"\x89\x02hi", 4);
  assert_int_equal(ev.type, WSP_EV_PING);
  /* Sending: the output buffer (and deflate's state). */
  assert_int_equal(wsp_send(c, WSP_BINARY, s, 100000), 0);
  const uint8_t *out;
  while (wsp_output(c, &out) > 0) wsp_output_consumed(c, 1 << 20);
  assert_int_equal(wsp_close(c, 1000, "bye", 3), 0);
  wsp_free(c);
  assert_int_equal(m_live, 0);
  assert_int_equal(z_live, 0);
  free(s);
  /* A failed handshake keeps its reason in counted memory, given back. */
  c = tu_new(&o);
  assert_int_equal(wsp_handshake_feed(c, (const uint8_t *)"HTTP/1.1 404 No\r\n"
                                      "Location: /x\r\n\r\n", 33, &used),
                   WSP_HS_FAIL);
  assert_non_null(strstr(wsp_handshake_result(c)->error, "404"));
  wsp_free(c);
  assert_int_equal(m_live, 0);
}

/* Each allocation refused in turn: the operation fails cleanly (an error
** code, a failed handshake, an error event with 1011) and nothing
** leaks. */
static void test_allocator_refused(void **state) {
  (void)state;
  wsp_options o = counted_options();
  char err[100];
  wsp_conn *c = NULL;
  m_live = z_live = 0;
  /* wsp_new with every budget up to one that fits */
  size_t fit;
  for (fit = 0;; fit += 8) {
    m_budget = fit;
    int rc = wsp_new(&o, &c, err, sizeof err);
    if (rc == 0) break;
    assert_int_equal(rc, -ENOMEM);
    assert_null(c);
    assert_string_equal(err, "out of memory");
    assert_int_equal(m_live, 0);
    assert_true(fit < 100000);
  }
  /* no room for the response */
  m_budget = m_live;
  const char *r = tu_response(c, COUNTED_EXT);
  size_t used;
  assert_int_equal(
      wsp_handshake_feed(c, (const uint8_t *)r, strlen(r), &used),
      WSP_HS_FAIL);
  assert_non_null(strstr(wsp_handshake_result(c)->error, "out of memory"));
  wsp_free(c);
  assert_int_equal(m_live, 0);
  /* a message bigger than the memory left: 1011, queued for the peer */
  m_budget = SIZE_MAX;
  c = tu_open(&o, COUNTED_EXT);
  const uint8_t *out;
  assert_int_equal(wsp_output(c, &out), 0);  /* the output buffer exists */
  m_budget = m_live + 100000;
  static uint8_t hdr[WSP_MAX_HEADER + 200000];
  size_t h = wsp__write_header(hdr, 1, 0, WSP_OP_BINARY, 200000, NULL);
  memset(hdr + h, 'x', 200000);  /* it fails as the payload arrives */
  wsp_event ev = tu_feed1(c, hdr, h + 16);
  assert_int_equal(ev.type, WSP_EV_NONE);  /* 16 bytes fit */
  ev = tu_feed1(c, hdr + h + 16, 200000 - 16);
  assert_int_equal(ev.type, WSP_EV_ERROR);
  assert_int_equal(ev.code, WSP_CLOSE_INTERNAL_ERROR);
  assert_string_equal(ev.error, "out of memory");
  wsp_free(c);
  assert_int_equal(m_live, 0);
  /* inflating into a buffer that cannot grow: 1011 too */
  m_budget = SIZE_MAX;
  c = tu_open(&o, COUNTED_EXT);
  m_budget = m_live;
  ev = tu_feed1(c, (const uint8_t *)"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
  assert_int_equal(ev.type, WSP_EV_ERROR);
  assert_int_equal(ev.code, WSP_CLOSE_INTERNAL_ERROR);
  assert_string_equal(ev.error, "out of memory (inflate)");
  wsp_free(c);
  assert_int_equal(m_live, 0);
  /* sending without room for a frame: the message is abandoned */
  m_budget = SIZE_MAX;
  o.compression = WSP_COMPRESS_NONE;
  c = tu_open(&o, "Sec-WebSocket-Protocol: chat\r\n");
  m_budget = m_live;
  assert_int_equal(wsp_send(c, WSP_TEXT, "hello", 5), 0);
  assert_int_equal(wsp_output(c, &out), 0);
  assert_false(wsp_sending(c));
  assert_int_equal(wsp_get_state(c), WSP_CLOSED);
  assert_int_equal(wsp_ping(c, "x", 1), -EPIPE);
  wsp_free(c);
  assert_int_equal(m_live, 0);
  assert_int_equal(z_live, 0);
  m_budget = SIZE_MAX;
}

/* Tiny frames: the held-back trailer and zlib's pending output cross
** frame boundaries in every way. */
static void test_pmd_send_tiny_frames(void **state) {
  (void)state;
  static uint8_t msg[3000], got[3000];
  uint32_t x = 7;
  for (size_t i = 0; i < sizeof msg; i++) {
    x = x * 1103515245 + 12345;
    msg[i] = i % 3 ? (uint8_t)('a' + i % 5) : (uint8_t)(x >> 24);
  }
  for (size_t fs = WSP_MIN_FRAME_SIZE; fs <= 40; fs++) {
    wsp_options o = {.host = "h",
                     .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                     .send_frame_size = fs};
    wsp_conn *c = tu_open(&o, PMD_EXT);
    z_stream inf = {0};
    assert_int_equal(inflateInit2(&inf, -15), Z_OK);
    static const size_t lens[] = {0, 1, 5, 100, 3000};
    for (size_t k = 0; k < 5; k++) {
      int rsv1, frames;
      assert_int_equal(wsp_send(c, WSP_BINARY, msg, lens[k]), 0);
      size_t n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
      assert_int_equal(rsv1, 1);
      assert_int_equal(n, lens[k]);
      assert_memory_equal(got, msg, lens[k]);
      assert_false(wsp_sending(c));
    }
    inflateEnd(&inf);
    wsp_free(c);
  }
}

static void test_pmd_no_context_takeover(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .compression = WSP_COMPRESS_NO_CONTEXT};
  wsp_conn *c =
      tu_open(&o,
              "Sec-WebSocket-Extensions: permessage-deflate; "
              "server_no_context_takeover; client_no_context_takeover\r\n");
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  assert_int_equal(hi->server_no_context_takeover, 1);
  assert_int_equal(hi->client_no_context_takeover, 1);
  /* We reset per message: the same message gives the same bytes. */
  const char *m = "abcabcabcabcabcabcabcabcabc";
  uint8_t a[64], b[64];
  const uint8_t *out;
  wsp__frame f;
  uint8_t *p;
  size_t na, nb;
  assert_int_equal(wsp_send(c, WSP_TEXT, m, strlen(m)), 0);
  assert_true(tu_next_out(c, &f, &p));
  na = (size_t)f.len;
  memcpy(a, p, na);
  free(p);
  assert_int_equal(wsp_send(c, WSP_TEXT, m, strlen(m)), 0);
  assert_true(tu_next_out(c, &f, &p));
  nb = (size_t)f.len;
  memcpy(b, p, nb);
  free(p);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na);
  assert_int_equal(wsp_output(c, &out), 0);
  /* The server resets too: each message decodes on its own. */
  z_stream z = {0};
  uint8_t s[128];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(
        deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t n = server_deflate(&z, m, strlen(m), s + 2, sizeof s - 2);
    deflateEnd(&z);
    wsp__write_header(s, 1, 4, WSP_OP_TEXT, n, NULL);
    wsp_event ev = tu_feed1(c, s, n + 2);
    assert_int_equal(ev.type, WSP_EV_TEXT);
    assert_int_equal(ev.len, strlen(m));
  }
  wsp_free(c);
}

/* A server that picks small windows; 8 for us means we cannot deflate
** with zlib, so we send uncompressed (RSV1 clear). */
static void test_pmd_small_windows(void **state) {
  (void)state;
  wsp_options o = {.host = "h",
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER,
                   .server_max_window_bits = 10};
  wsp_conn *c =
      tu_open(&o,
              "Sec-WebSocket-Extensions: permessage-deflate; "
              "server_max_window_bits=8; client_max_window_bits=8\r\n");
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  assert_int_equal(hi->server_max_window_bits, 8);
  assert_int_equal(hi->client_max_window_bits, 8);
  wsp__frame f;
  uint8_t *p;
  assert_int_equal(wsp_send(c, WSP_TEXT, "aaaaaaaaaaaaaaaaaaaa", 20), 0);
  assert_true(tu_next_out(c, &f, &p));
  assert_int_equal(f.rsv, 0);
  assert_memory_equal(p, "aaaaaaaaaaaaaaaaaaaa", 20);
  free(p);
  /* A zlib server asked for 8 deflates with 9 (512 bytes back): we inflate
  ** with 9 and accept it. */
  static uint8_t msg[3000], s[4000];
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (uint8_t)(i % 500 < 250 ? 'a' + i % 7 : 'z' - i % 11);
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -9, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  static uint8_t tmp[4000];
  size_t n = server_deflate(&z, msg, sizeof msg, tmp, sizeof tmp);
  deflateEnd(&z);
  n = tu_frame(s, 1, 4, WSP_OP_BINARY, tmp, n);
  wsp_event ev = tu_feed1(c, s, n);
  if (ev.type == WSP_EV_ERROR) fail_msg("%s", ev.error);
  assert_int_equal(ev.type, WSP_EV_BINARY);
  assert_int_equal(ev.len, sizeof msg);
  assert_memory_equal(ev.data, msg, sizeof msg);
  wsp_free(c);
  /* client_max_window_bits=9: we deflate with 9. */
  c = tu_open(&o,
              "Sec-WebSocket-Extensions: permessage-deflate; "
              "client_max_window_bits=9\r\n");
  assert_int_equal(wsp_send(c, WSP_BINARY, msg, sizeof msg), 0);
  z_stream inf = {0};
  assert_int_equal(inflateInit2(&inf, -9),
                   Z_OK); /* a peer with a 9-bit window */
  static uint8_t got[4000];
  int rsv1, frames;
  n = client_message(c, &inf, got, sizeof got, &rsv1, &frames);
  assert_int_equal(rsv1, 1);
  assert_int_equal(n, sizeof msg);
  assert_memory_equal(got, msg, sizeof msg);
  inflateEnd(&inf);
  wsp_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6455_examples),
      cmocka_unit_test(test_split_anywhere),
      cmocka_unit_test(test_frame_rules),
      cmocka_unit_test(test_control_during_fragments),
      cmocka_unit_test(test_pong_backlog),
      cmocka_unit_test(test_read_limit),
      cmocka_unit_test(test_message_buffer_release),
      cmocka_unit_test(test_utf8_rules),
      cmocka_unit_test(test_close_codes),
      cmocka_unit_test(test_close_initiated_by_us),
      cmocka_unit_test(test_send_fragments_and_masks),
      cmocka_unit_test(test_pmd_rfc7692_frames),
      cmocka_unit_test(test_pmd_bomb),
      cmocka_unit_test(test_pmd_send),
      cmocka_unit_test(test_pmd_send_empty_messages),
      cmocka_unit_test(test_messages_before_failure),
      cmocka_unit_test(test_pmd_receive_empty_messages),
      cmocka_unit_test(test_pmd_allocator),
      cmocka_unit_test(test_allocator_counts_everything),
    cmocka_unit_test(test_declared_length_is_not_allocated),
      cmocka_unit_test(test_allocator_refused),
      cmocka_unit_test(test_pmd_send_tiny_frames),
      cmocka_unit_test(test_pmd_no_context_takeover),
      cmocka_unit_test(test_pmd_small_windows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
