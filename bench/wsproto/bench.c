/*
** bench/wsproto: throughput of the WebSocket protocol engine next to its
** limits, in one run: receive (parse + unmask, and the client's wsp_feed)
** and send (mask + serialize) of 64 B, 4 KiB and 1 MiB messages against
** memcpy of the same bytes; inflate and deflate of a 1 MiB JSON message
** against zlib alone with the same parameters.
*/
#include "../../stdlib/websocket/wsp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint8_t sink;

/* Run f(arg) repeatedly for about 0.25 s; bytes per call -> MB/s (best of 3). */
static double rate(void (*f)(void *), void *arg, size_t bytes) {
  double best = 0;
  for (int round = 0; round < 3; round++) {
    size_t calls = 0;
    double t0 = now(), t;
    do {
      f(arg);
      calls++;
    } while ((t = now()) - t0 < 0.08);
    double r = (double)bytes * (double)calls / (t - t0) / 1e6;
    if (r > best) best = r;
  }
  return best;
}

static wsp_conn *open_conn(int compression, const char *ext) {
  wsp_options o = {.host = "bench", .compression = compression,
                   .read_limit = 64 << 20};
  wsp_conn *c;
  char err[200], resp[512], key[25], acc[29];
  size_t n, used;
  if (wsp_new(&o, &c, err, sizeof err) != 0) abort();
  const char *req = (const char *)wsp_request(c, &n);
  memcpy(key, strstr(req, "Sec-WebSocket-Key: ") + 19, 24);
  key[24] = '\0';
  wsp__accept_for_key(key, acc);
  n = (size_t)snprintf(resp, sizeof resp,
                       "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n%s\r\n", acc, ext);
  if (wsp_handshake_feed(c, (const uint8_t *)resp, n, &used) != WSP_HS_OK) abort();
  return c;
}

/* ---- receive ------------------------------------------------------- */

typedef struct {
  uint8_t *wire;  /* frames back to back */
  size_t wire_len, msg, count;
  uint8_t *dst;
  wsp_conn *c;
} rx_job;

static void job_memcpy(void *a) {
  rx_job *j = a;
  for (size_t i = 0; i < j->count; i++) memcpy(j->dst + i * j->msg, j->wire + i * j->msg, j->msg);
  sink = j->dst[j->msg - 1];
}

/* The frame layer on masked frames (as a server receives them): parse each
** header, unmask the payload in place. */
static void job_parse_unmask(void *a) {
  rx_job *j = a;
  wsp__hparser hp = {0};
  wsp__frame f;
  size_t pos = 0, used;
  while (pos < j->wire_len) {
    if (wsp__parse_header(&hp, j->wire + pos, j->wire_len - pos, &used, &f) != 1) abort();
    pos += used;
    wsp__mask(j->wire + pos, j->wire + pos, (size_t)f.len, f.mask, 0);
    pos += (size_t)f.len;
  }
  sink = j->wire[pos - 1];
}

/* The client's path: wsp_feed of unmasked server frames, one event each. */
static void job_feed(void *a) {
  rx_job *j = a;
  size_t pos = 0;
  wsp_event ev;
  while (pos < j->wire_len) {
    pos += wsp_feed(j->c, j->wire + pos, j->wire_len - pos, &ev);
    if (ev.type == WSP_EV_BINARY || ev.type == WSP_EV_TEXT) sink = ev.data[0];
    else if (ev.type != WSP_EV_NONE) abort();
  }
}

static uint8_t *make_frames(size_t msg, size_t count, int masked, int op, size_t *len) {
  uint8_t *w = malloc((msg + 14) * count), mask[4] = {1, 2, 3, 4};
  size_t pos = 0;
  for (size_t i = 0; i < count; i++) {
    pos += wsp__write_header(w + pos, 1, 0, op, msg, masked ? mask : NULL);
    for (size_t k = 0; k < msg; k++) w[pos + k] = (uint8_t)('a' + (k + i) % 26);
    pos += msg;
  }
  *len = pos;
  return w;
}

/* ---- send ------------------------------------------------------------ */

typedef struct {
  wsp_conn *c;
  const uint8_t *msg;
  size_t len, count;
  uint8_t *dst;
  int type;
} tx_job;

static void job_send(void *a) {
  tx_job *j = a;
  const uint8_t *o;
  size_t n;
  for (size_t i = 0; i < j->count; i++) {
    if (wsp_send(j->c, j->type, j->msg, j->len) != 0) abort();
    while ((n = wsp_output(j->c, &o)) > 0) {
      sink = o[n - 1];
      wsp_output_consumed(j->c, n);
    }
  }
}

static void job_tx_memcpy(void *a) {
  tx_job *j = a;
  for (size_t i = 0; i < j->count; i++) memcpy(j->dst, j->msg, j->len);
  sink = j->dst[j->len - 1];
}

/* ---- compression -------------------------------------------------------- */

typedef struct {
  const uint8_t *json;
  size_t len;
  uint8_t *packed;
  size_t packed_len, cap;
  uint8_t *out;
  uint8_t *wire;
  size_t wire_len;
  wsp_conn *c;
  z_stream z;
} z_job;

static void job_zlib_deflate(void *a) {
  z_job *j = a;
  j->z.next_in = (Bytef *)(uintptr_t)j->json;
  j->z.avail_in = (uInt)j->len;
  j->z.next_out = j->packed;
  j->z.avail_out = (uInt)j->cap;
  if (deflate(&j->z, Z_SYNC_FLUSH) != Z_OK) abort();
  j->packed_len = j->cap - j->z.avail_out - 4;
}

static void job_zlib_inflate(void *a) {
  z_job *j = a;
  j->z.next_in = j->packed;
  j->z.avail_in = (uInt)j->packed_len;
  j->z.next_out = j->out;
  j->z.avail_out = (uInt)(j->len + 1);
  if (inflate(&j->z, Z_SYNC_FLUSH) != Z_OK) abort();
  j->z.next_in = (Bytef *)"\x00\x00\xff\xff";
  j->z.avail_in = 4;
  int rc = inflate(&j->z, Z_SYNC_FLUSH);
  if ((rc != Z_OK && rc != Z_BUF_ERROR) || j->z.avail_out != 1) abort();
  sink = j->out[0];
}

static void job_engine_inflate(void *a) {
  z_job *j = a;
  size_t pos = 0;
  wsp_event ev;
  while (pos < j->wire_len) {
    pos += wsp_feed(j->c, j->wire + pos, j->wire_len - pos, &ev);
    if (ev.type == WSP_EV_TEXT) {
      if (ev.len != j->len) abort();
      sink = ev.data[0];
    } else if (ev.type != WSP_EV_NONE) {
      fprintf(stderr, "bench: %s\n", ev.error ? ev.error : "?");
      abort();
    }
  }
}

static uint8_t *make_json(size_t len) {
  uint8_t *b = malloc(len + 64);
  size_t n = 0;
  uint32_t x = 12345;
  static const char *const names[] = {"alice", "bob", "carol", "dave", "eve", "mallory"};
  b[n++] = '[';
  while (n < len - 120) {
    x = x * 1664525 + 1013904223;
    n += (size_t)sprintf((char *)b + n,
                         "{\"id\":%u,\"user\":\"%s\",\"score\":%u.%02u,\"active\":%s,"
                         "\"tags\":[\"t%u\",\"t%u\"]},",
                         x >> 12, names[(x >> 8) % 6], (x >> 16) % 1000, x % 100,
                         (x & 1) ? "true" : "false", (x >> 4) % 50, (x >> 20) % 50);
  }
  while (n < len - 1) b[n++] = ' ';
  b[len - 1] = ']';
  return b;
}

static void line(const char *what, double engine, double base, const char *base_name) {
  printf("  %-44s %9.0f MB/s   %-12s %9.0f MB/s   ratio %5.1f%%\n", what, engine,
         base_name, base, 100.0 * engine / base);
}

int main(void) {
  static const size_t sizes[] = {64, 4096, 1 << 20};
  printf("wsproto benchmark (best of 3; ratio = engine / baseline speed)\n");
  printf("receive:\n");
  for (int s = 0; s < 3; s++) {
    size_t msg = sizes[s], count = (4 << 20) / msg;
    rx_job j = {.msg = msg, .count = count};
    char label[80];
    j.dst = malloc(msg * count);
    j.wire = make_frames(msg, count, 1, WSP_OP_BINARY, &j.wire_len);
    for (size_t i = 0; i < count; i++) memcpy(j.dst + i * msg, j.wire, msg);
    double mc = rate(job_memcpy, &j, msg * count);
    double pu = rate(job_parse_unmask, &j, msg * count);
    snprintf(label, sizeof label, "parse+unmask in place, %zu B msgs", msg);
    line(label, pu, mc, "memcpy");
    free(j.wire);
    j.wire = make_frames(msg, count, 0, WSP_OP_BINARY, &j.wire_len);
    j.c = open_conn(WSP_COMPRESS_NONE, "");
    double fb = rate(job_feed, &j, msg * count);
    snprintf(label, sizeof label, "client wsp_feed binary, %zu B msgs", msg);
    line(label, fb, mc, "memcpy");
    free(j.wire);
    j.wire = make_frames(msg, count, 0, WSP_OP_TEXT, &j.wire_len);
    double ft = rate(job_feed, &j, msg * count);
    snprintf(label, sizeof label, "client wsp_feed text (UTF-8), %zu B msgs", msg);
    line(label, ft, mc, "memcpy");
    wsp_free(j.c);
    free(j.wire);
    free(j.dst);
  }
  printf("send:\n");
  for (int s = 0; s < 3; s++) {
    size_t msg = sizes[s], count = msg < 65536 ? (1 << 20) / msg : 4;
    uint8_t *m = malloc(msg);
    for (size_t k = 0; k < msg; k++) m[k] = (uint8_t)('a' + k % 26);
    tx_job j = {.msg = m, .len = msg, .count = count, .dst = malloc(msg), .type = WSP_BINARY};
    j.c = open_conn(WSP_COMPRESS_NONE, "");
    char label[80];
    double mc = rate(job_tx_memcpy, &j, msg * count);
    double tx = rate(job_send, &j, msg * count);
    snprintf(label, sizeof label, "mask+serialize (wsp_send), %zu B msgs", msg);
    line(label, tx, mc, "memcpy");
    wsp_free(j.c);
    free(j.dst);
    free(m);
  }

  printf("permessage-deflate, 1 MiB JSON (level 1, window 15):\n");
  z_job j = {.len = 1 << 20};
  j.json = make_json(j.len);
  j.cap = compressBound(j.len) + 64;
  j.packed = malloc(j.cap);
  j.out = malloc(j.len + 1);
  if (deflateInit2(&j.z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  double zd = rate(job_zlib_deflate, &j, j.len);
  deflateEnd(&j.z);
  /* One fresh stream for the payload used by both inflaters. */
  deflateInit2(&j.z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  job_zlib_deflate(&j);
  deflateEnd(&j.z);
  printf("  (compressed to %zu bytes, %.1f%%)\n", j.packed_len, 100.0 * j.packed_len / j.len);

  tx_job t = {.msg = j.json, .len = j.len, .count = 1, .type = WSP_TEXT};
  t.c = open_conn(WSP_COMPRESS_CONTEXT_TAKEOVER,
                  "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  double ed = rate(job_send, &t, j.len);
  line("deflate+mask+serialize (wsp_send, text)", ed, zd, "zlib deflate");
  wsp_free(t.c);

  /* Inflate: the same compressed message, each time a fresh stream. */
  if (inflateInit2(&j.z, -15) != Z_OK) abort();
  double zi = rate(job_zlib_inflate, &j, j.len);
  inflateEnd(&j.z);
  j.wire = malloc(j.packed_len + 14);
  j.wire_len = wsp__write_header(j.wire, 1, 4, WSP_OP_TEXT, j.packed_len, NULL);
  memcpy(j.wire + j.wire_len, j.packed, j.packed_len);
  j.wire_len += j.packed_len;
  j.c = open_conn(WSP_COMPRESS_NO_CONTEXT,
                  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
  double ei = rate(job_engine_inflate, &j, j.len);
  line("parse+inflate+UTF-8 (wsp_feed, text)", ei, zi, "zlib inflate");
  wsp_free(j.c);

  printf("targets: unmask >= 25%% of memcpy at 1 MiB; compressed within 20%% of zlib "
         "(ratio >= 83.3%%)\n");
  free(j.wire);
  free(j.packed);
  free(j.out);
  free((void *)j.json);
  return 0;
}
