/*
** bench/wsproto: throughput of the WebSocket protocol engine next to its
** limits, in one run: receive (parse + unmask, and the client's wsp_feed)
** and send (mask + serialize) of 64 B, 4 KiB and 1 MiB messages against
** memcpy of the same bytes; inflate and deflate of a 1 MiB JSON message
** against zlib alone with the same parameters.
*/
#include "../../net/wsp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

/* CPU time of this thread: the machine is shared, and time spent
** descheduled must not count against either side. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint8_t sink;

/* MB/s of one slice: run f(arg) for about 20 ms of CPU time. */
static double slice(void (*f)(void *), void *arg, size_t bytes) {
  size_t calls = 0;
  double t0 = now(), t;
  do {
    f(arg);
    calls++;
  } while ((t = now()) - t0 < 0.02);
  return (double)bytes * (double)calls / (t - t0) / 1e6;
}

/* Measure two jobs in alternating slices, best of 7 each, so that both
** see the same machine conditions. */
static void compare(void (*fa)(void *), void *a, void (*fb)(void *), void *b,
                    size_t bytes, double *ra, double *rb) {
  *ra = *rb = 0;
  for (int round = 0; round < 7; round++) {
    double x = slice(fa, a, bytes), y = slice(fb, b, bytes);
    if (x > *ra) *ra = x;
    if (y > *rb) *rb = y;
  }
}

static wsp_conn *open_conn(int compression, const char *ext) {
  wsp_options o = {
      .host = "bench", .compression = compression, .read_limit = 64 << 20};
  wsp_conn *c;
  char err[200], resp[512], key[25], acc[29];
  size_t n, used;
  if (wsp_new(&o, &c, err, sizeof err) != 0) abort();
  const char *req = (const char *)wsp_request(c, &n);
  memcpy(key, strstr(req, "Sec-WebSocket-Key: ") + 19, 24);
  key[24] = '\0';
  wsp__accept_for_key(key, acc);
  n = (size_t)snprintf(
      resp, sizeof resp,
      "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: %s\r\n%s\r\n",
      acc, ext);
  if (wsp_handshake_feed(c, (const uint8_t *)resp, n, &used) != WSP_HS_OK)
    abort();
  return c;
}

/* ---- masks ------------------------------------------------------------ */

static void job_rng_buffered(void *a) {
  uint8_t m[4];
  (void)a;
  for (int i = 0; i < 1024; i++) {
    if (wsp__rng_mask(m) != 0) abort();
    sink = m[0];
  }
}

static void job_rng_direct(void *a) {
  uint8_t m[4];
  (void)a;
  for (int i = 0; i < 1024; i++) {
    if (RAND_bytes(m, 4) != 1) abort();
    sink = m[0];
  }
}

/* ---- receive ------------------------------------------------------- */

typedef struct {
  uint8_t *wire; /* frames back to back */
  size_t wire_len, msg, count;
  uint8_t *dst;
  wsp_conn *c;
} rx_job;

static void job_memcpy(void *a) {
  rx_job *j = a;
  for (size_t i = 0; i < j->count; i++)
    memcpy(j->dst + i * j->msg, j->wire + i * j->msg, j->msg);
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
    if (wsp__parse_header(&hp, j->wire + pos, j->wire_len - pos, &used, &f) !=
        1)
      abort();
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
    if (ev.type == WSP_EV_BINARY || ev.type == WSP_EV_TEXT)
      sink = ev.data[ev.len - 1];
    else if (ev.type != WSP_EV_NONE)
      abort();
  }
}

static uint8_t *make_frames(size_t msg, size_t count, int masked, int op,
                            size_t *len) {
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
  inflateReset(&j->z);
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
  static const char *const names[] = {"alice", "bob", "carol",
                                      "dave",  "eve", "mallory"};
  b[n++] = '[';
  while (n < len - 120) {
    x = x * 1664525 + 1013904223;
    n += (size_t)sprintf(
        (char *)b + n,
        "{\"id\":%u,\"user\":\"%s\",\"score\":%u.%02u,\"active\":%s,"
        "\"tags\":[\"t%u\",\"t%u\"]},",
        x >> 12, names[(x >> 8) % 6], (x >> 16) % 1000, x % 100,
        (x & 1) ? "true" : "false", (x >> 4) % 50, (x >> 20) % 50);
  }
  while (n < len - 1) b[n++] = ' ';
  b[len - 1] = ']';
  return b;
}

static void line(const char *what, double engine, double base,
                 const char *base_name) {
  printf("  %-44s %9.0f MB/s   %-12s %9.0f MB/s   ratio %5.1f%%\n", what,
         engine, base_name, base, 100.0 * engine / base);
}

int main(void) {
  static const size_t sizes[] = {64, 4096, 1 << 20};
  double x, y;
  char label[80];
  printf("wsproto benchmark: thread CPU time, best of 7 alternating slices;\n"
         "ratio = engine speed / baseline speed\n");
  /* 1024 masks per call: the rates read as M masks/s. */
  compare(job_rng_buffered, NULL, job_rng_direct, NULL, 1024, &x, &y);
  printf("masks: RAND_bytes in %d B blocks %.1f M/s, RAND_bytes(4) per "
         "frame %.1f M/s (%.0fx)\n", WSP__RNG_POOL, x, y, x / y);

  printf("receive (4 MiB of messages per call):\n");
  for (int s = 0; s < 3; s++) {
    size_t msg = sizes[s], count = (4 << 20) / msg;
    rx_job j = {.msg = msg, .count = count};
    j.dst = malloc(msg * count);
    j.wire = make_frames(msg, count, 1, WSP_OP_BINARY, &j.wire_len);
    compare(job_parse_unmask, &j, job_memcpy, &j, msg * count, &x, &y);
    snprintf(label, sizeof label, "parse+unmask in place, %zu B msgs", msg);
    line(label, x, y, "memcpy");
    free(j.wire);
    j.c = open_conn(WSP_COMPRESS_NONE, "");
    j.wire = make_frames(msg, count, 0, WSP_OP_TEXT, &j.wire_len);
    compare(job_feed, &j, job_memcpy, &j, msg * count, &x, &y);
    snprintf(label, sizeof label, "client wsp_feed text (UTF-8), %zu B", msg);
    line(label, x, y, "memcpy");
    wsp_free(j.c);
    free(j.wire);
    free(j.dst);
  }

  printf("send:\n");
  for (int s = 0; s < 3; s++) {
    size_t msg = sizes[s], count = msg < 65536 ? (1 << 20) / msg : 4;
    uint8_t *m = malloc(msg);
    for (size_t k = 0; k < msg; k++) m[k] = (uint8_t)('a' + k % 26);
    tx_job j = {.msg = m, .len = msg, .count = count, .dst = malloc(msg),
                .type = WSP_BINARY};
    j.c = open_conn(WSP_COMPRESS_NONE, "");
    compare(job_send, &j, job_tx_memcpy, &j, msg * count, &x, &y);
    snprintf(label, sizeof label, "mask+serialize (wsp_send), %zu B msgs",
             msg);
    line(label, x, y, "memcpy");
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
  /* The payload both inflaters decode: one message from a fresh stream. */
  if (deflateInit2(&j.z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    abort();
  job_zlib_deflate(&j);
  deflateEnd(&j.z);
  printf("  (compressed to %zu bytes, %.1f%%)\n", j.packed_len,
         100.0 * (double)j.packed_len / (double)j.len);

  /* Deflate: both keep their stream across messages (context takeover). */
  z_job zd = j;
  zd.packed = malloc(j.cap);
  if (deflateInit2(&zd.z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    abort();
  tx_job t = {.msg = j.json, .len = j.len, .count = 1, .type = WSP_TEXT};
  t.c = open_conn(WSP_COMPRESS_CONTEXT_TAKEOVER,
                  "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  compare(job_send, &t, job_zlib_deflate, &zd, j.len, &x, &y);
  line("deflate+mask+serialize (wsp_send, text)", x, y, "zlib deflate");
  wsp_free(t.c);
  deflateEnd(&zd.z);
  free(zd.packed);

  /* Inflate: both reset per message (no context takeover). */
  z_job zi = j;
  if (inflateInit2(&zi.z, -15) != Z_OK) abort();
  j.wire = malloc(j.packed_len + 14);
  j.wire_len = wsp__write_header(j.wire, 1, 4, WSP_OP_TEXT, j.packed_len, NULL);
  memcpy(j.wire + j.wire_len, j.packed, j.packed_len);
  j.wire_len += j.packed_len;
  j.c = open_conn(WSP_COMPRESS_NO_CONTEXT,
                  "Sec-WebSocket-Extensions: permessage-deflate; "
                  "server_no_context_takeover\r\n");
  compare(job_engine_inflate, &j, job_zlib_inflate, &zi, j.len, &x, &y);
  line("parse+inflate+UTF-8 (wsp_feed, text)", x, y, "zlib inflate");
  wsp_free(j.c);
  inflateEnd(&zi.z);

  printf("targets: parse+unmask >= 25%% of memcpy at 1 MiB; compressed "
         "within 20%% of zlib (ratio >= 83.3%%)\n");
  free(j.wire);
  free(j.packed);
  free(j.out);
  free((void *)j.json);
  return 0;
}
