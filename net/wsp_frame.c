/*
** wsp_frame.c - RFC 6455 frame headers (incremental parser, serializer),
** payload masking a word at a time, and the mask generator.
*/
#include "wsp_internal.h"

#include <pthread.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Header length once the first two bytes are known. */
static size_t header_need(const uint8_t *h) {
  size_t n = 2;
  uint8_t l7 = h[1] & 0x7f;
  if (l7 == 126)
    n += 2;
  else if (l7 == 127)
    n += 8;
  if (h[1] & 0x80) n += 4;
  return n;
}

/* Decode a complete header h (header_need(h) bytes). */
static int decode(const uint8_t *h, wsp__frame *f) {
  size_t pos = 2;
  uint64_t l = h[1] & 0x7f;
  f->fin = h[0] >> 7;
  f->rsv = (h[0] >> 4) & 7;
  f->opcode = h[0] & 0x0f;
  f->masked = h[1] >> 7;
  if (l == 126) {
    l = (uint64_t)h[2] << 8 | h[3];
    pos = 4;
  } else if (l == 127) {
    l = 0;
    for (int k = 0; k < 8; k++) l = l << 8 | h[2 + k];
    pos = 10;
  }
  if (f->masked)
    memcpy(f->mask, h + pos, 4);
  else
    memset(f->mask, 0, 4);
  f->len = l;
  return (l >> 63) ? -1 : 1;
}

int wsp__parse_header(wsp__hparser *p, const uint8_t *in, size_t len,
                      size_t *used, wsp__frame *f) {
  size_t i = 0, need;
  /* Fast path: the whole header is in the input. */
  if (p->have == 0 && len >= 2 && len >= (need = header_need(in))) {
    *used = need;
    return decode(in, f);
  }
  while (p->have < 2 && i < len) p->hdr[p->have++] = in[i++];
  if (p->have < 2) {
    *used = i;
    return 0;
  }
  need = header_need(p->hdr);
  while (p->have < need && i < len) p->hdr[p->have++] = in[i++];
  *used = i;
  if (p->have < need) return 0;

  p->have = 0;
  return decode(p->hdr, f);
}

size_t wsp__write_header(uint8_t *out, int fin, int rsv, int opcode,
                         uint64_t len, const uint8_t *mask) {
  size_t n = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0f));
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out[1] = (uint8_t)(m | len);
  } else if (len <= 0xffff) {
    out[1] = m | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    n = 4;
  } else {
    out[1] = m | 127;
    for (int k = 0; k < 8; k++) out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
    n = 10;
  }
  if (mask) {
    memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

size_t wsp__mask(uint8_t *dst, const uint8_t *src, size_t n,
                 const uint8_t mask[4], size_t phase) {
  uint8_t m[8];
  size_t i = 0;
  phase &= 3;
  /* The key rotated to this phase, twice: one 64-bit word. */
  for (int k = 0; k < 8; k++) m[k] = mask[(phase + (size_t)k) & 3];
  if (n >= 16) {
    uint64_t w;
    memcpy(&w, m, 8);
    for (; i + 32 <= n; i += 32) { /* unrolled; compilers vectorise it */
      uint64_t a, b, c, d;
      memcpy(&a, src + i, 8);
      memcpy(&b, src + i + 8, 8);
      memcpy(&c, src + i + 16, 8);
      memcpy(&d, src + i + 24, 8);
      a ^= w;
      b ^= w;
      c ^= w;
      d ^= w;
      memcpy(dst + i, &a, 8);
      memcpy(dst + i + 8, &b, 8);
      memcpy(dst + i + 16, &c, 8);
      memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
      uint64_t a;
      memcpy(&a, src + i, 8);
      a ^= w;
      memcpy(dst + i, &a, 8);
    }
  }
  for (; i < n; i++) dst[i] = src[i] ^ m[i & 7]; /* i % 8 keeps the phase */
  return (phase + n) & 3;
}

static _Thread_local struct {
  uint8_t buf[WSP__RNG_POOL];
  size_t pos; /* next unused byte; 0 (with an all-zero buf) before use */
  int ready;  /* buf was filled at least once */
} pool;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The child of a fork must not hand out the parent's next bytes. */
static void pool_forget(void) {
  OPENSSL_cleanse(pool.buf, sizeof pool.buf);
  pool.pos = 0;
  pool.ready = 0;
}

static void register_atfork(void) {
  pthread_atfork(NULL, NULL, pool_forget);
}

int wsp__rng_bytes(uint8_t *out, size_t n) {
  if (n > WSP__RNG_MAX) return -1;
  if (!pool.ready || pool.pos + n > sizeof pool.buf) {
    pthread_once(&atfork_once, register_atfork);
    if (RAND_bytes(pool.buf, (int)sizeof pool.buf) != 1) {
      pool_forget();
      return -1;
    }
    pool.pos = 0;
    pool.ready = 1;
  }
  memcpy(out, pool.buf + pool.pos, n);
  memset(pool.buf + pool.pos, 0, n); /* handed-out bytes are not kept */
  pool.pos += n;
  return 0;
}

int wsp__rng_mask(uint8_t out[4]) {
  return wsp__rng_bytes(out, 4);
}

size_t wsp__rng_left(void) {
  return pool.ready ? sizeof pool.buf - pool.pos : 0;
}
