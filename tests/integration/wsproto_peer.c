/*
** wsproto_peer.c - drives the WebSocket protocol engine over a real TCP
** connection, for tests/integration/test_wsproto_interop.py: connects to
** 127.0.0.1:<port>, handshakes with compression mode <comp>, sends text
** and binary messages of several sizes (compressed or not, fragmented),
** checks each echo, pings, closes.  Prints the agreed parameters and
** "ok"; exits non-zero with a reason otherwise.
*/
#include "../../net/wsproto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1;
static uint8_t rb[1 << 16];
static size_t rlen, rpos;

static int flush(wsp_conn *c) {
  const uint8_t *o;
  size_t n;
  while ((n = wsp_output(c, &o)) > 0) {
    ssize_t w = write(fd, o, n);
    if (w <= 0) return -1;
    wsp_output_consumed(c, (size_t)w);
  }
  return 0;
}

static int next_event(wsp_conn *c, wsp_event *ev) {
  for (;;) {
    if (rpos == rlen) {
      ssize_t n = read(fd, rb, sizeof rb);
      if (n <= 0) return -1;
      rlen = (size_t)n;
      rpos = 0;
    }
    rpos += wsp_feed(c, rb + rpos, rlen - rpos, ev);
    if (ev->type != WSP_EV_NONE) return 0;
  }
}

static int run(wsp_conn *c, uint8_t *m) {
  static const size_t sizes[] = {0, 5, 99, 100, 1000, 70000, 1 << 20};
  size_t n, used;
  const uint8_t *req = wsp_request(c, &n);
  wsp_hs_status st = WSP_HS_MORE;
  wsp_event ev;
  if (write(fd, req, n) != (ssize_t)n) return puts("write failed"), 1;
  while (st == WSP_HS_MORE) {
    ssize_t k = read(fd, rb, sizeof rb);
    if (k <= 0) return puts("eof in handshake"), 1;
    st = wsp_handshake_feed(c, rb, (size_t)k, &used);
    rlen = (size_t)k;
    rpos = used;
  }
  const wsp_handshake_info *hi = wsp_handshake_result(c);
  if (st != WSP_HS_OK)
    return printf("handshake failed: %d %s\n", hi->status, hi->error), 1;
  printf("subprotocol=%s compression=%d snct=%d cnct=%d sbits=%d cbits=%d\n",
         hi->subprotocol ? hi->subprotocol : "-", hi->compression,
         hi->server_no_context_takeover, hi->client_no_context_takeover,
         hi->server_max_window_bits, hi->client_max_window_bits);
  for (int round = 0; round < 2; round++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      int text = i % 2;
      for (size_t k = 0; k < sizes[i]; k++)
        m[k] = (uint8_t)("{\"k\": [1,2,3], \"v\": \"x\"}"[k % 25] +
                         (k / 1000 + (size_t)round) % 3);
      if (wsp_send(c, text ? WSP_TEXT : WSP_BINARY, m, sizes[i]) != 0)
        return puts("send refused"), 1;
      if (flush(c) != 0) return puts("write failed"), 1;
      if (next_event(c, &ev) != 0) return puts("eof"), 1;
      if (ev.type != (text ? WSP_EV_TEXT : WSP_EV_BINARY) ||
          ev.len != sizes[i] || (sizes[i] && memcmp(ev.data, m, sizes[i])))
        return printf("bad echo of %zu bytes: event %d len %zu %s\n",
                      sizes[i], ev.type, ev.len, ev.error ? ev.error : ""),
               1;
    }
  if (wsp_ping(c, "hi", 2) != 0 || flush(c) != 0) return puts("ping"), 1;
  if (next_event(c, &ev) != 0 || ev.type != WSP_EV_PONG || ev.len != 2)
    return puts("no pong"), 1;
  if (wsp_close(c, 1000, "bye", 3) != 0 || flush(c) != 0)
    return puts("close"), 1;
  if (next_event(c, &ev) != 0 || ev.type != WSP_EV_CLOSE || ev.code != 1000)
    return puts("no close reply"), 1;
  if (wsp_get_state(c) != WSP_CLOSED) return puts("not closed"), 1;
  puts("ok");
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const char *protos[] = {"chat"};
  wsp_options o = {.host = "127.0.0.1", .port = atoi(argv[1]),
                   .compression = atoi(argv[2]), .compression_threshold = 100,
                   .subprotocols = protos, .nsubprotocols = 1,
                   .send_frame_size = 4096};
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)o.port)};
  wsp_conn *c;
  char err[200];
  int rc;
  if (wsp_new(&o, &c, err, sizeof err) != 0) return puts(err), 1;
  uint8_t *m = malloc(1 << 20);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (!m || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    puts("connect failed");
    rc = 1;
  } else {
    rc = run(c, m);
  }
  if (fd >= 0) close(fd);
  free(m);
  wsp_free(c);
  return rc;
}
