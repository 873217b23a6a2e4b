/*
** utf8.c - incremental, strict UTF-8 validation (RFC 3629): it reports the
** first invalid byte even when a character is split across chunks.  ASCII
** is skipped 32 and 8 bytes at a time (the WebSocket engine's text
** messages: bench/wsproto measures it).
*/
#include "utf8.h"

#include <string.h>

size_t sl_utf8_check(sl_utf8 *st, const uint8_t *s, size_t n) {
  uint32_t state = *st;
  size_t i = 0;
  while (i < n) {
    if (state == 0) {
      /* Skip ASCII 32, then 8 bytes at a time. */
      while (i + 32 <= n) {
        uint64_t a, b, c, d;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        memcpy(&c, s + i + 16, 8);
        memcpy(&d, s + i + 24, 8);
        if ((a | b | c | d) & UINT64_C(0x8080808080808080)) break;
        i += 32;
      }
      while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080)) break;
        i += 8;
      }
      if (i >= n) break;
      uint8_t b = s[i];
      if (b >= 0x80 && (state = sl_utf8__lead(b)) == 0) goto bad;
    } else {
      uint8_t b = s[i];
      if (b < ((state >> 8) & 0xff) || b > ((state >> 16) & 0xff)) goto bad;
      uint32_t need = (state & 3) - 1;
      state = need ? SL_UTF8__ST(need, 0x80, 0xbf) : 0;
    }
    i++;
  }
  *st = state;
  return (size_t)-1;
bad:
  *st = state;
  return i;
}

int sl_utf8_valid(const void *s, size_t n) {
  sl_utf8 st = 0;
  return sl_utf8_check(&st, (const uint8_t *)s, n) == (size_t)-1 &&
         sl_utf8_done(st);
}
