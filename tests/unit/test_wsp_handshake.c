/* Unit tests of stdlib/websocket/wsp_handshake.c: request and response. */
#include "wsp_testutil.h"

#include <errno.h>
#include <openssl/evp.h>

static const char *req_text(wsp_conn *c) {
  size_t n;
  const char *r = (const char *)wsp_request(c, &n);
  assert_int_equal(strlen(r), n); /* NUL-free, and we check it ends */
  assert_true(n >= 4 && memcmp(r + n - 4, "\r\n\r\n", 4) == 0);
  return r;
}

static void new_fails(const wsp_options *o, int code, const char *part) {
  wsp_conn *c = (wsp_conn *)1;
  char err[200] = "";
  assert_int_equal(wsp_new(o, &c, err, sizeof err), code);
  assert_null(c);
  if (!strstr(err, part)) fail_msg("message \"%s\" lacks \"%s\"", err, part);
}

/* RFC 6455 §1.3 / §4.2.2 example key. */
static void test_accept_rfc_example(void **state) {
  (void)state;
  char out[29];
  assert_int_equal(wsp__accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_request_basic(void **state) {
  (void)state;
  wsp_options o = {.host = "example.com", .path = "/chat?x=1"};
  wsp_conn *c = tu_new(&o);
  const char *r = req_text(c);
  assert_true(
      strncmp(r, "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n", 43) == 0);
  assert_non_null(strstr(r, "\r\nUpgrade: websocket\r\n"));
  assert_non_null(strstr(r, "\r\nConnection: Upgrade\r\n"));
  assert_non_null(strstr(r, "\r\nSec-WebSocket-Version: 13\r\n"));
  assert_null(strstr(r, "Sec-WebSocket-Protocol"));
  assert_null(strstr(r, "Sec-WebSocket-Extensions"));
  /* The key is base64 of 16 bytes, fresh per connection. */
  const char *k = strstr(r, "Sec-WebSocket-Key: ") + 19;
  unsigned char raw[24];
  assert_int_equal(strchr(k, '\r') - k, 24);
  assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)k, 24), 18);
  assert_memory_equal(k + 22, "==", 2); /* 16 bytes + 2 padding */
  wsp_conn *c2 = tu_new(&o);
  const char *k2 = strstr(req_text(c2), "Sec-WebSocket-Key: ") + 19;
  assert_false(memcmp(k, k2, 24) == 0);
  wsp_free(c2);
  wsp_free(c);
}

static void expect_host(wsp_options o, const char *line) {
  wsp_conn *c = tu_new(&o);
  const char *r = req_text(c);
  if (!strstr(r, line)) fail_msg("request lacks \"%s\":\n%s", line, r);
  wsp_free(c);
}

static void test_request_host_port(void **state) {
  (void)state;
  expect_host((wsp_options){.host = "a.example", .port = 80},
              "\r\nHost: a.example\r\n");
  expect_host((wsp_options){.host = "a.example", .port = 8080},
              "\r\nHost: a.example:8080\r\n");
  expect_host((wsp_options){.host = "a.example", .port = 443},
              "\r\nHost: a.example:443\r\n");
  expect_host((wsp_options){.host = "a.example", .is_tls = 1},
              "\r\nHost: a.example\r\n");
  expect_host((wsp_options){.host = "a.example", .is_tls = 1, .port = 443},
              "\r\nHost: a.example\r\n");
  expect_host((wsp_options){.host = "a.example", .is_tls = 1, .port = 80},
              "\r\nHost: a.example:80\r\n");
  expect_host((wsp_options){.host = "::1", .port = 9000},
              "\r\nHost: [::1]:9000\r\n");
  expect_host((wsp_options){.host = "[::1]"}, "\r\nHost: [::1]\r\n");
  expect_host((wsp_options){.host = "127.0.0.1", .path = "/"},
              "GET / HTTP/1.1\r\n");
}

static void test_request_subprotocols_extensions_headers(void **state) {
  (void)state;
  const char *protos[] = {"chat.v2", "json"};
  wsp_header hdrs[] = {{"Authorization", "Bearer abc"}, {"X-Trace", ""}};
  wsp_options o = {.host = "h",
                   .subprotocols = protos,
                   .nsubprotocols = 2,
                   .headers = hdrs,
                   .nheaders = 2,
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  wsp_conn *c = tu_new(&o);
  const char *r = req_text(c);
  assert_non_null(strstr(r, "\r\nSec-WebSocket-Protocol: chat.v2, json\r\n"));
  assert_non_null(strstr(r,
                         "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                         "client_max_window_bits\r\n"));
  assert_non_null(
      strstr(r, "\r\nAuthorization: Bearer abc\r\nX-Trace: \r\n\r\n"));
  wsp_free(c);
  o.compression = WSP_COMPRESS_NO_CONTEXT;
  o.server_max_window_bits = 10;
  c = tu_new(&o);
  assert_non_null(
      strstr(req_text(c),
             "\r\nSec-WebSocket-Extensions: permessage-deflate; "
             "client_no_context_takeover; server_no_context_takeover; "
             "server_max_window_bits=10; client_max_window_bits\r\n"));
  wsp_free(c);
}

static void test_request_invalid_options(void **state) {
  (void)state;
  new_fails(&(wsp_options){0}, -EINVAL, "invalid host");
  new_fails(&(wsp_options){.host = ""}, -EINVAL, "invalid host");
  new_fails(&(wsp_options){.host = "a b"}, -EINVAL, "invalid host");
  new_fails(&(wsp_options){.host = "a\r\nX: y"}, -EINVAL, "invalid host");
  new_fails(&(wsp_options){.host = "a/b"}, -EINVAL, "invalid host");
  new_fails(&(wsp_options){.host = "h", .path = "chat"}, -EINVAL,
            "invalid path");
  new_fails(&(wsp_options){.host = "h", .path = "/a b"}, -EINVAL,
            "invalid path");
  new_fails(&(wsp_options){.host = "h", .path = "/a\r\n"}, -EINVAL,
            "invalid path");
  new_fails(&(wsp_options){.host = "h", .path = "/\xc3\xa9"}, -EINVAL,
            "invalid path");
  new_fails(&(wsp_options){.host = "h", .port = 65536}, -EINVAL,
            "invalid port");
  new_fails(&(wsp_options){.host = "h", .port = -1}, -EINVAL, "invalid port");

  const char *bad_proto[] = {"ok", "no space"};
  new_fails(
      &(wsp_options){
          .host = "h", .subprotocols = bad_proto, .nsubprotocols = 2},
      -EINVAL, "invalid subprotocol \"no space\"");
  const char *empty_proto[] = {""};
  new_fails(
      &(wsp_options){
          .host = "h", .subprotocols = empty_proto, .nsubprotocols = 1},
      -EINVAL, "invalid subprotocol");
  const char *dup_proto[] = {"a", "b", "a"};
  new_fails(
      &(wsp_options){
          .host = "h", .subprotocols = dup_proto, .nsubprotocols = 3},
      -EINVAL, "listed twice");

  static const struct {
    wsp_header h;
    const char *part;
  } bad[] = {
      {{"X-A", "v\r\nInjected: 1"}, "invalid value for header \"X-A\""},
      {{"X-A", "v\nx"}, "invalid value"},
      {{"X-A", "v\rx"}, "invalid value"},
      {{"X-A", "a\x01"}, "invalid value"},
      {{"X-A", " lead"}, "invalid value"},
      {{"X-A", "trail "}, "invalid value"},
      {{"X-A", NULL}, "invalid value"},
      {{"X A", "v"}, "invalid header name \"X A\""},
      {{"X:A", "v"}, "invalid header name"},
      {{"", "v"}, "invalid header name"},
      {{"X\r\n", "v"}, "invalid header name"},
      {{NULL, "v"}, "invalid header name"},
      {{"Host", "evil"}, "header \"Host\" is set by the handshake"},
      {{"host", "evil"}, "is set by the handshake"},
      {{"UPGRADE", "x"}, "is set by the handshake"},
      {{"Connection", "close"}, "is set by the handshake"},
      {{"Sec-WebSocket-Key", "x"}, "is set by the handshake"},
      {{"sec-websocket-version", "8"}, "is set by the handshake"},
      {{"Sec-WebSocket-Protocol", "x"}, "is set by the handshake"},
      {{"Sec-WebSocket-Extensions", "x"}, "is set by the handshake"},
      {{"Content-Length", "5"}, "is set by the handshake"},
      {{"Transfer-Encoding", "chunked"}, "is set by the handshake"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    new_fails(&(wsp_options){.host = "h", .headers = &bad[i].h, .nheaders = 1},
              -EINVAL, bad[i].part);
  /* A value with a NUL cannot even be expressed: C strings end there, and
  ** the Lua binding must reject embedded NULs before calling wsp_new. */

  new_fails(&(wsp_options){.host = "h", .compression = 3}, -EINVAL,
            "compression must be");
  new_fails(&(wsp_options){.host = "h", .compression = -1}, -EINVAL,
            "compression must be");
  new_fails(
      &(wsp_options){.host = "h", .compression = 1, .compression_level = 10},
      -EINVAL, "compression_level");
  new_fails(
      &(wsp_options){
          .host = "h", .compression = 1, .server_max_window_bits = 7},
      -EINVAL, "server_max_window_bits must be 8 to 15");
  new_fails(
      &(wsp_options){
          .host = "h", .compression = 1, .server_max_window_bits = 16},
      -EINVAL, "server_max_window_bits must be 8 to 15");
  new_fails(&(wsp_options){.host = "h", .server_max_window_bits = 10}, -EINVAL,
            "needs compression");
  new_fails(&(wsp_options){.host = "h", .read_limit = WSP_MAX_READ_LIMIT + 1},
            -EINVAL, "read_limit");
  new_fails(
      &(wsp_options){.host = "h", .send_frame_size = WSP_MAX_FRAME_SIZE + 1},
      -EINVAL, "send_frame_size must be 16 bytes to 16 MiB");
  new_fails(
      &(wsp_options){.host = "h", .send_frame_size = WSP_MIN_FRAME_SIZE - 1},
      -EINVAL, "send_frame_size");
  new_fails(&(wsp_options){.host = "h", .header_limit = 10}, -EINVAL,
            "header_limit");
  new_fails(&(wsp_options){.host = "h", .header_limit = 2 << 20}, -EINVAL,
            "header_limit");
}

/* Feed a response; returns the status, fills *c_out. */
static wsp_hs_status feed_all(wsp_conn *c, const char *r, size_t *used) {
  return wsp_handshake_feed(c, (const uint8_t *)r, strlen(r), used);
}

static void expect_hs_fail(wsp_options *o, const char *resp_fmt, int status,
                           const char *part) {
  wsp_conn *c = tu_new(o);
  char acc[29], resp[2048];
  size_t used;
  tu_accept(c, acc);
  const char *at = strstr(resp_fmt, "%s");
  if (at)
    snprintf(resp, sizeof resp, "%.*s%s%s", (int)(at - resp_fmt), resp_fmt, acc,
             at + 2);
  else
    snprintf(resp, sizeof resp, "%s", resp_fmt);
  assert_int_equal(feed_all(c, resp, &used), WSP_HS_FAIL);
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  assert_int_equal(hi->status, status);
  assert_non_null(hi->error);
  if (!strstr(hi->error, part))
    fail_msg("error \"%s\" lacks \"%s\"", hi->error, part);
  assert_int_equal(wsp_get_state(c), WSP_CLOSED);
  /* Further input is refused the same way. */
  assert_int_equal(feed_all(c, "x", &used), WSP_HS_FAIL);
  wsp_free(c);
}

#define OK_HEAD                                                            \
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: " \
  "Upgrade\r\n"

/* The request has a size cap: INVALID past it, never sent; at it, built. */
static void test_request_size_cap(void **state) {
  static char big[WSP_MAX_REQUEST];
  wsp_header h[2] = {{"X-A", big}, {"X-B", "b"}};
  wsp_conn *c = NULL;
  char err[256];
  size_t len;
  (void)state;
  memset(big, 'a', sizeof big - 1);
  new_fails(&(wsp_options){.host = "h", .headers = h, .nheaders = 1},
            -EINVAL, "over the cap of 16384");
  /* shrink the value until the request fits exactly */
  big[WSP_MAX_REQUEST - 400] = '\0';
  assert_int_equal(wsp_new(&(wsp_options){.host = "h", .headers = h,
                                          .nheaders = 1}, &c, err,
                           sizeof err), 0);
  wsp_request(c, &len);
  assert_true(len <= WSP_MAX_REQUEST);
  size_t room = WSP_MAX_REQUEST - len;
  wsp_free(c);
  memset(big + WSP_MAX_REQUEST - 400, 'a', room);
  big[WSP_MAX_REQUEST - 400 + room] = '\0';
  assert_int_equal(wsp_new(&(wsp_options){.host = "h", .headers = h,
                                          .nheaders = 1}, &c, err,
                           sizeof err), 0);
  wsp_request(c, &len);
  assert_int_equal(len, WSP_MAX_REQUEST);
  wsp_free(c);
  big[WSP_MAX_REQUEST - 400 + room] = 'a';
  big[WSP_MAX_REQUEST - 400 + room + 1] = '\0';
  new_fails(&(wsp_options){.host = "h", .headers = h, .nheaders = 1},
            -EINVAL, "16385 bytes");
}

static void test_response_accepted(void **state) {
  (void)state;
  wsp_options o = {.host = "h"};
  wsp_conn *c = tu_new(&o);
  char acc[29], resp[512];
  size_t used;
  tu_accept(c, acc);
  /* Case-insensitive names and tokens, lists, bare LF line ends, and the
  ** first frame arriving with the response. */
  snprintf(
      resp, sizeof resp,
      "HTTP/1.1 101 OK\nupgrade: WebSocket\nCONNECTION: keep-alive, UPGRADE\n"
      "sec-websocket-accept:   %s  \nServer: t\n\n\x81\x02hi",
      acc);
  assert_int_equal(feed_all(c, resp, &used), WSP_HS_OK);
  assert_int_equal(used, strlen(resp) - 4);
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  assert_int_equal(hi->status, 101);
  assert_null(hi->error);
  assert_null(hi->subprotocol);
  assert_int_equal(hi->compression, 0);
  wsp_event ev = tu_feed1(c, (const uint8_t *)resp + used, 4);
  assert_int_equal(ev.type, WSP_EV_TEXT);
  assert_memory_equal(ev.data, "hi", 2);
  wsp_free(c);
}

/* Every split of the response gives the same result. */
static void test_response_split_anywhere(void **state) {
  (void)state;
  const char *protos[] = {"a", "b"};
  wsp_options o = {.host = "h",
                   .subprotocols = protos,
                   .nsubprotocols = 2,
                   .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  wsp_conn *c0 = tu_new(&o);
  char acc[29];
  tu_accept(c0, acc);
  wsp_free(c0);
  for (size_t step = 1; step <= 7; step++) {
    wsp_conn *c = tu_new(&o);
    char resp[512];
    tu_accept(c, acc);
    snprintf(resp, sizeof resp,
             OK_HEAD
             "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: b\r\n"
             "Sec-WebSocket-Extensions: permessage-deflate; "
             "server_max_window_bits=12\r\n\r\n",
             acc);
    size_t n = strlen(resp), pos = 0, used;
    wsp_hs_status st = WSP_HS_MORE;
    while (pos < n && st == WSP_HS_MORE) {
      size_t k = n - pos < step ? n - pos : step;
      st = wsp_handshake_feed(c, (const uint8_t *)resp + pos, k, &used);
      pos += used;
      if (st == WSP_HS_MORE) assert_int_equal(used, k);
    }
    assert_int_equal(st, WSP_HS_OK);
    assert_int_equal(pos, n);
    const wsp_handshake_info *hi = wsp_handshake_result(c);
    assert_string_equal(hi->subprotocol, "b");
    assert_int_equal(hi->compression, 1);
    assert_int_equal(hi->server_max_window_bits, 12);
    assert_int_equal(hi->client_max_window_bits, 15);
    assert_string_equal(hi->extensions,
                        "permessage-deflate; server_max_window_bits=12");
    wsp_free(c);
  }
}

static void test_response_status_and_redirects(void **state) {
  (void)state;
  wsp_options o = {.host = "h"};
  expect_hs_fail(
      &o, "HTTP/1.1 301 Moved\r\nLocation: ws://evil.example/\r\n\r\n", 301,
      "server answered 301 (redirect to ws://evil.example/, not followed)");
  wsp_conn *c = tu_new(&o);
  size_t used;
  assert_int_equal(
      feed_all(c, "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", &used),
      WSP_HS_FAIL);
  assert_string_equal(wsp_handshake_result(c)->location, "/x");
  wsp_free(c);
  expect_hs_fail(&o, "HTTP/1.1 307 T\r\n\r\n", 307, "server answered 307");
  expect_hs_fail(&o, "HTTP/1.1 200 OK\r\nSec-WebSocket-Accept: %s\r\n\r\n", 200,
                 "server answered 200, not 101");
  expect_hs_fail(&o, "HTTP/1.1 403 Forbidden\r\n\r\n", 403,
                 "server answered 403");
  expect_hs_fail(&o, "HTTP/1.1 100 Continue\r\n\r\n", 100,
                 "server answered 100");
  expect_hs_fail(&o, "HTTP/1.0 101 Switching\r\n\r\n", 0,
                 "malformed status line");
  expect_hs_fail(&o, "HTTP/1.1 1010 x\r\n\r\n", 0, "malformed status line");
  expect_hs_fail(&o, "HTTP/1.1 10 x\r\n\r\n", 0, "malformed status line");
  expect_hs_fail(&o, "garbage\r\n\r\n", 0, "malformed status line");
  expect_hs_fail(&o, "HTTP/1.1 101 ok\x01\r\n\r\n", 101, "control character");
}

static void test_response_headers_checked(void **state) {
  (void)state;
  wsp_options o = {.host = "h"};
  expect_hs_fail(&o,
                 "HTTP/1.1 101 S\r\nConnection: "
                 "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 101, "missing \"Upgrade: websocket\"");
  expect_hs_fail(&o,
                 "HTTP/1.1 101 S\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n",
                 101, "Upgrade: websocket");
  expect_hs_fail(&o,
                 "HTTP/1.1 101 S\r\nUpgrade: "
                 "websocket\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 101, "missing \"Connection: Upgrade\"");
  expect_hs_fail(
      &o,
      "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: upgraded\r\n"
      "Sec-WebSocket-Accept: %s\r\n\r\n",
      101, "Connection: Upgrade");
  expect_hs_fail(&o, OK_HEAD "\r\n%s", 101, "missing Sec-WebSocket-Accept");
  expect_hs_fail(&o,
                 OK_HEAD
                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n%s",
                 101, "wrong Sec-WebSocket-Accept");
  expect_hs_fail(
      &o, OK_HEAD "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Accept: x\r\n\r\n",
      101, "repeated Sec-WebSocket-Accept");
  expect_hs_fail(&o, OK_HEAD "Sec-WebSocket-Accept: %s\r\n folded\r\n\r\n", 101,
                 "obsolete header line folding");
  expect_hs_fail(&o, OK_HEAD "Sec-WebSocket-Accept: %s\r\nNo colon\r\n\r\n",
                 101, "malformed header line");
  expect_hs_fail(&o, OK_HEAD "Sec-WebSocket-Accept: %s\r\nBad Name: x\r\n\r\n",
                 101, "malformed header line");
  expect_hs_fail(&o,
                 OK_HEAD
                 "Sec-WebSocket-Accept: %s\r\nX: a\x01"
                 "b\r\n\r\n",
                 101, "control character in header");
  /* Subprotocol: only one of those offered, exactly once. */
  expect_hs_fail(
      &o,
      OK_HEAD
      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
      101, "subprotocol \"chat\", which was not offered");
  const char *protos[] = {"chat", "json"};
  wsp_options op = {.host = "h", .subprotocols = protos, .nsubprotocols = 2};
  expect_hs_fail(
      &op,
      OK_HEAD "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: xml\r\n\r\n",
      101, "not offered");
  expect_hs_fail(
      &op,
      OK_HEAD
      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: chat, json\r\n\r\n",
      101, "not offered");
  expect_hs_fail(
      &op,
      OK_HEAD
      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: CHAT\r\n\r\n",
      101, "not offered");
  expect_hs_fail(&op,
                 OK_HEAD
                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: chat\r\n"
                 "Sec-WebSocket-Protocol: chat\r\n\r\n",
                 101, "not offered");
  /* Extensions: none offered, or not as offered. */
  expect_hs_fail(&o,
                 OK_HEAD
                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: "
                 "permessage-deflate\r\n\r\n",
                 101, "none were offered");
  wsp_options oc = {.host = "h", .compression = WSP_COMPRESS_CONTEXT_TAKEOVER};
  expect_hs_fail(&oc,
                 OK_HEAD
                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: "
                 "x-webkit-deflate-frame\r\n\r\n",
                 101, "was not offered");
  expect_hs_fail(&oc,
                 OK_HEAD
                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: "
                 "permessage-deflate\r\n"
                 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                 101, "more than one extension");
}

static void test_response_header_limit(void **state) {
  (void)state;
  wsp_options o = {.host = "h", .header_limit = 256};
  wsp_conn *c = tu_new(&o);
  char big[400];
  size_t used;
  memset(big, 'x', sizeof big);
  memcpy(big, "HTTP/1.1 101 S\r\nX: ", 19);
  big[sizeof big - 1] = '\0';
  /* Fed in pieces: fails once the block passes 256 bytes. */
  assert_int_equal(wsp_handshake_feed(c, (const uint8_t *)big, 200, &used),
                   WSP_HS_MORE);
  assert_int_equal(
      wsp_handshake_feed(c, (const uint8_t *)big + 200, 199, &used),
      WSP_HS_FAIL);
  assert_non_null(strstr(wsp_handshake_result(c)->error, "exceeds 256 bytes"));
  wsp_free(c);
  /* Exactly at the limit is fine. */
  c = tu_new(&o);
  char acc[29], resp[300];
  tu_accept(c, acc);
  int n = snprintf(resp, sizeof resp,
                   OK_HEAD "Sec-WebSocket-Accept: %s\r\nX: ", acc);
  while (n < 254) resp[n++] = 'y';
  memcpy(resp + n, "\r\n\r\n", 5);
  assert_int_equal(strlen(resp), 258);
  assert_int_equal(feed_all(c, resp, &used), WSP_HS_FAIL);
  wsp_free(c);
  c = tu_new(&o);
  tu_accept(c, acc);
  n = snprintf(resp, sizeof resp,
               OK_HEAD "Sec-WebSocket-Accept: %s\r\nX: ", acc);
  while (n < 252) resp[n++] = 'y';
  memcpy(resp + n, "\r\n\r\n", 5);
  assert_int_equal(strlen(resp), 256);
  assert_int_equal(feed_all(c, resp, &used), WSP_HS_OK);
  wsp_free(c);
  /* A NUL inside the block. */
  c = tu_new(&o);
  assert_int_equal(
      wsp_handshake_feed(c, (const uint8_t *)"HTTP/1.1 101 S\r\nX: \0\r\n\r\n",
                         25, &used),
      WSP_HS_FAIL);
  assert_non_null(strstr(wsp_handshake_result(c)->error, "NUL"));
  wsp_free(c);
}

static void test_before_handshake(void **state) {
  (void)state;
  wsp_options o = {.host = "h"};
  wsp_conn *c = tu_new(&o);
  wsp_event ev;
  assert_int_equal(wsp_get_state(c), WSP_HANDSHAKE);
  assert_int_equal(wsp_send(c, WSP_TEXT, "x", 1), -EPIPE);
  assert_int_equal(wsp_ping(c, "", 0), -EPIPE);
  assert_int_equal(wsp_close(c, 1000, "", 0), -EPIPE);
  assert_int_equal(wsp_feed(c, (const uint8_t *)"\x81\x00", 2, &ev), 2);
  assert_int_equal(ev.type, WSP_EV_NONE);
  wsp_free(c);
  wsp_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_rfc_example),
      cmocka_unit_test(test_request_basic),
      cmocka_unit_test(test_request_host_port),
      cmocka_unit_test(test_request_subprotocols_extensions_headers),
      cmocka_unit_test(test_request_invalid_options),
    cmocka_unit_test(test_request_size_cap),
    cmocka_unit_test(test_response_accepted),
      cmocka_unit_test(test_response_split_anywhere),
      cmocka_unit_test(test_response_status_and_redirects),
      cmocka_unit_test(test_response_headers_checked),
      cmocka_unit_test(test_response_header_limit),
      cmocka_unit_test(test_before_handshake),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
