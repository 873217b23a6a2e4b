/*
** wsp_testutil.h - helpers for the WebSocket protocol engine's unit tests:
** play the server side of the handshake, build server frames, and decode
** the client's masked output.  Header-only (static functions), included by
** tests/unit/test_wsp_*.c.
*/
#ifndef SL_TESTS_WSP_TESTUTIL_H
#define SL_TESTS_WSP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../net/wsp_internal.h"

#define TU __attribute__((unused))

/* The Sec-WebSocket-Accept a server would send for c's request. */
TU static void tu_accept(wsp_conn *c, char out[29]) {
  size_t n;
  const char *req = (const char *)wsp_request(c, &n);
  const char *k = strstr(req, "Sec-WebSocket-Key: ");
  char key[25];
  assert_non_null(k);
  memcpy(key, k + 19, 24);
  key[24] = '\0';
  assert_int_equal(wsp__accept_for_key(key, out), 0);
}

/* A 101 response for c with extra header lines (each ending in \r\n). */
TU static char *tu_response(wsp_conn *c, const char *extra) {
  char acc[29];
  static char buf[4096];
  tu_accept(c, acc);
  snprintf(buf, sizeof buf,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
           acc, extra ? extra : "");
  return buf;
}

TU static wsp_conn *tu_new(const wsp_options *o) {
  wsp_conn *c = NULL;
  char err[200] = "";
  if (wsp_new(o, &c, err, sizeof err) != 0) fail_msg("wsp_new: %s", err);
  return c;
}

/* A connection through a successful handshake (extensions header optional). */
TU static wsp_conn *tu_open(const wsp_options *o, const char *extra) {
  wsp_conn *c = tu_new(o);
  const char *r = tu_response(c, extra);
  size_t used = 0;
  wsp_hs_status st =
      wsp_handshake_feed(c, (const uint8_t *)r, strlen(r), &used);
  if (st != WSP_HS_OK)
    fail_msg("handshake: %s", wsp_handshake_result(c)->error);
  assert_int_equal(used, strlen(r));
  assert_int_equal(wsp_get_state(c), WSP_OPEN);
  return c;
}

TU static wsp_conn *tu_open_plain(void) {
  wsp_options o = {.host = "example.com"};
  return tu_open(&o, NULL);
}

/* An unmasked server frame into out; returns its length. */
TU static size_t tu_frame(uint8_t *out, int fin, int rsv, int op,
                          const void *payload, size_t len) {
  size_t h = wsp__write_header(out, fin, rsv, op, len, NULL);
  if (len) memcpy(out + h, payload, len);
  return h + len;
}

/* Feed all of in, one call at a time, collecting at most one event that
** is not NONE (the test fails on a second). */
TU static wsp_event tu_feed1(wsp_conn *c, const uint8_t *in, size_t len) {
  wsp_event ev, got = {0};
  size_t pos = 0;
  while (pos < len) {
    size_t n = wsp_feed(c, in + pos, len - pos, &ev);
    assert_true(n > 0 || ev.type != WSP_EV_NONE);
    pos += n;
    if (ev.type != WSP_EV_NONE) {
      if (got.type != WSP_EV_NONE) fail_msg("two events, expected one");
      got = ev;
    }
  }
  return got;
}

/* Expect a protocol failure with close code `code`, and that the client
** queued a close frame with that code. */
TU static void tu_expect_fail(wsp_conn *c, wsp_event ev, int code) {
  const uint8_t *o;
  uint8_t buf[256];
  wsp__hparser hp = {0};
  wsp__frame f;
  size_t used, n;
  if (ev.type != WSP_EV_ERROR)
    fail_msg("expected an error with code %d, got event %d", code, ev.type);
  assert_int_equal(ev.code, code);
  assert_int_equal(wsp_get_state(c), WSP_CLOSED);
  n = wsp_output(c, &o);
  assert_true(n >= 8);
  /* The last frame in the output is our close. */
  size_t pos = 0;
  int found = 0;
  while (pos < n) {
    assert_int_equal(wsp__parse_header(&hp, o + pos, n - pos, &used, &f), 1);
    pos += used;
    assert_true(f.masked);
    assert_true(f.len <= n - pos);
    wsp__mask(buf, o + pos, (size_t)f.len, f.mask, 0);
    if (f.opcode == WSP_OP_CLOSE) {
      assert_int_equal(buf[0] << 8 | buf[1], code);
      found = 1;
    }
    pos += (size_t)f.len;
  }
  assert_true(found);
}

/* Decode the client's output: the next frame, unmasked into a malloc'd
** buffer (*payload), consuming it.  Returns 0 when no output is left. */
TU static int tu_next_out(wsp_conn *c, wsp__frame *f, uint8_t **payload) {
  const uint8_t *o;
  wsp__hparser hp = {0};
  size_t used, n = wsp_output(c, &o);
  *payload = NULL;
  if (n == 0) return 0;
  assert_int_equal(wsp__parse_header(&hp, o, n, &used, f), 1);
  assert_true(f->masked);
  assert_true(f->len <= n - used);
  *payload = malloc((size_t)f->len + 1);
  wsp__mask(*payload, o + used, (size_t)f->len, f->mask, 0);
  wsp_output_consumed(c, used + (size_t)f->len);
  return 1;
}

#endif
