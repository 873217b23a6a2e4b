/*
** wsp_deflate.c - permessage-deflate (RFC 7692): the offer, the check of
** the server's answer, and bounded inflation.  Deflating into frames is
** done by wsp_conn.c, which owns the output buffer.
*/
#include "wsp_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wsp__pmd_offer(char *out, size_t outlen, int mode, int server_bits) {
  char sb[40] = "";
  if (server_bits)
    snprintf(sb, sizeof sb, "; server_max_window_bits=%d", server_bits);
  /* client_max_window_bits without a value: the server may pick our
  ** window (RFC 7692 §7.1.2.2); we follow any choice from 9 to 15. */
  int n =
      snprintf(out, outlen, "permessage-deflate%s%s; client_max_window_bits",
               mode == WSP_COMPRESS_NO_CONTEXT
                   ? "; client_no_context_takeover; server_no_context_takeover"
                   : "",
               sb);
  return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int is_ows(char ch) {
  return ch == ' ' || ch == '\t';
}

static int tchar(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
         (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Window bits value: 8..15 without leading zeros; -1 otherwise. */
static int window_bits(const char *v, size_t n) {
  if (n == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
    return 10 + v[1] - '0';
  return -1;
}

#define FAIL(...) return sl_errf(err, errlen, -1, __VA_ARGS__)

int wsp__pmd_accept(const char *value, int mode, int server_bits,
                    wsp__pmd *agreed, char *err, size_t errlen) {
  const char *p = value;
  int seen_snct = 0, seen_cnct = 0, sbits = -1, cbits = -1;
  (void)mode;
  while (is_ows(*p)) p++;
  const char *name = p;
  while (tchar((unsigned char)*p)) p++;
  if ((size_t)(p - name) != strlen("permessage-deflate") ||
      memcmp(name, "permessage-deflate", (size_t)(p - name)) != 0)
    FAIL("extension \"%.*s\" was not offered", (int)(p - name), name);
  for (;;) {
    while (is_ows(*p)) p++;
    if (*p == '\0') break;
    if (*p == ',') FAIL("more than one extension accepted");
    if (*p != ';') FAIL("malformed extension parameters");
    p++;
    while (is_ows(*p)) p++;
    const char *pn = p;
    while (tchar((unsigned char)*p)) p++;
    size_t pnl = (size_t)(p - pn);
    if (pnl == 0) FAIL("malformed extension parameters");
    while (is_ows(*p)) p++;
    char val[8];
    size_t vl = 0;
    int has_value = 0;
    if (*p == '=') {
      has_value = 1;
      p++;
      while (is_ows(*p)) p++;
      const char *vs;
      size_t vn;
      if (*p == '"') { /* quoted-string; the content must be a token */
        vs = ++p;
        while (*p && *p != '"') p++;
        if (*p != '"') FAIL("unterminated quoted parameter value");
        vn = (size_t)(p - vs);
        p++;
      } else {
        vs = p;
        while (tchar((unsigned char)*p)) p++;
        vn = (size_t)(p - vs);
      }
      if (vn == 0 || vn >= sizeof val) FAIL("bad value for %.*s", (int)pnl, pn);
      memcpy(val, vs, vn);
      val[vn] = '\0';
      vl = vn;
    }
#define IS(s) (pnl == strlen(s) && memcmp(pn, s, pnl) == 0)
    if (IS("server_no_context_takeover") || IS("client_no_context_takeover")) {
      int *seen = IS("server_no_context_takeover") ? &seen_snct : &seen_cnct;
      if (has_value) FAIL("%.*s takes no value", (int)pnl, pn);
      if (*seen) FAIL("%.*s repeated", (int)pnl, pn);
      *seen = 1;
    } else if (IS("server_max_window_bits") || IS("client_max_window_bits")) {
      int *bits = IS("server_max_window_bits") ? &sbits : &cbits;
      if (*bits != -1) FAIL("%.*s repeated", (int)pnl, pn);
      if (!has_value) FAIL("%.*s needs a value", (int)pnl, pn);
      *bits = window_bits(val, vl);
      if (*bits < 0) FAIL("%.*s=%s is not 8 to 15", (int)pnl, pn, val);
    } else {
      FAIL("unknown permessage-deflate parameter %.*s", (int)pnl, pn);
    }
#undef IS
  }
  if (server_bits && sbits > server_bits)
    FAIL("server_max_window_bits=%d exceeds the %d offered", sbits,
         server_bits);
  agreed->server_no_context_takeover = seen_snct;
  agreed->client_no_context_takeover = seen_cnct;
  agreed->server_max_window_bits = sbits < 0 ? 15 : sbits;
  agreed->client_max_window_bits = cbits < 0 ? 15 : cbits;
  return 0;
}

int wsp__pmd_start(struct wsp_conn *c) {
  /* zlib's raw deflate refuses windowBits 8 (it would use 9, and a 9-bit
  ** window can refer further back than a peer with an 8-bit window keeps):
  ** when the server limits us to 8 we send every message uncompressed,
  ** which RFC 7692 allows (RSV1 clear). */
  c->can_deflate = c->pmd && c->pmd_params.client_max_window_bits >= 9;
  return 0; /* the zlib streams are created on first use */
}

int wsp__inflate_bits(int bits) {
  /* zlib cannot deflate a raw stream with an 8-bit window and silently
  ** uses 9 when asked for 8, so a zlib-based peer that agreed to 8 may
  ** refer 512 bytes back: inflate with at least 9.  A larger inflate
  ** window than the peer's is always safe. */
  return bits < 9 ? 9 : bits;
}

void *wsp__realloc(wsp__alloc_fn a, void *p, size_t size) {
  return a ? a(p, size) : realloc(p, size);
}

void wsp__free(wsp__alloc_fn a, void *p) {
  if (p == NULL) return;
  if (a) {
    a(p, 0);
  } else {
    free(p);
  }
}

char *wsp__strdup(wsp__alloc_fn a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = wsp__realloc(a, NULL, n);
  if (d) memcpy(d, s, n);
  return d;
}

int wsp__buf_reserve(wsp__buf *b, size_t extra, wsp__alloc_fn a) {
  if (extra <= b->cap - b->len) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return -1;
  size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  uint8_t *p = wsp__realloc(a, b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

/*
** After a BFINAL block: start a new raw stream that keeps the window, so
** later data may still refer to it.  inflateResetKeep (exported by zlib
** since 1.2.5.2, declared in zlib.h) does this in O(1); copying the window
** out and back as a dictionary would cost 32 KiB per BFINAL block, which a
** peer could send every few bytes.
*/
static int restart_stream(z_stream *z) {
  return inflateResetKeep(z) == Z_OK ? 0 : -1;
}

/* Grow out to hold `extra` more bytes, doubling, never past limit. */
static int grow(wsp__buf *out, size_t extra, size_t limit, wsp__alloc_fn a) {
  size_t cap = out->cap < 4096 ? 4096 : out->cap * 2;
  if (cap < out->len + extra) cap = out->len + extra;
  if (cap > limit) cap = limit;
  uint8_t *p = wsp__realloc(a, out->p, cap);
  if (!p) return -1;
  out->p = p;
  out->cap = cap;
  return 0;
}

int wsp__inflate(z_stream *z, const uint8_t *in, size_t n, wsp__buf *out,
                 size_t limit, wsp__alloc_fn a) {
  while (n > 0 || z->avail_in > 0) {
    if (z->avail_in == 0) {
      uInt take = n > (UINT_MAX >> 1) ? (UINT_MAX >> 1) : (uInt)n;
      z->next_in = (Bytef *)(uintptr_t)in;
      z->avail_in = take;
      in += take;
      n -= take;
    }
    for (;;) {
      int rc;
      if (out->len == out->cap) {
        /* Full: see whether there is more output before growing, so a
        ** message that fills the buffer exactly costs no reallocation,
        ** and output past the limit is never stored. */
        uint8_t scratch[256];
        z->next_out = scratch;
        z->avail_out = sizeof scratch;
        rc = inflate(z, Z_SYNC_FLUSH);
        size_t got = sizeof scratch - z->avail_out;
        if (got) {
          if (got > limit - out->len) return 1;
          if (grow(out, got, limit, a) != 0) return -2;
          memcpy(out->p + out->len, scratch, got);
          out->len += got;
        }
      } else {
        size_t room = out->cap - out->len;
        uInt avail = room > (UINT_MAX >> 1) ? (UINT_MAX >> 1) : (uInt)room;
        z->next_out = out->p + out->len;
        z->avail_out = avail;
        rc = inflate(z, Z_SYNC_FLUSH);
        out->len += avail - z->avail_out;
      }
      if (rc == Z_STREAM_END) {
        if (restart_stream(z) != 0) return -1;
        if (z->avail_in == 0) break;
        continue;
      }
      if (rc == Z_BUF_ERROR) { /* no progress possible */
        if (z->avail_out == 0) continue;
        if (z->avail_in == 0) break;
        return -1; /* stuck with input and room left: never loop */
      }
      if (rc == Z_MEM_ERROR) return -2; /* the window, made on first use */
      if (rc != Z_OK) return -1;
      if (z->avail_in == 0 && z->avail_out > 0) break;
    }
  }
  return 0;
}
