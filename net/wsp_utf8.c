/*
** wsp_utf8.c - incremental, strict UTF-8 validation (RFC 3629) for text
** messages and close reasons: it reports the first invalid byte even when
** a character is split across frames or input chunks.
**
** State: bits 0-1 = continuation bytes still expected, bits 8-15 and 16-23
** = the allowed range of the next byte (narrower than 80..BF right after
** E0, ED, F0 and F4, which is how overlongs, surrogates and code points
** over U+10FFFF are refused).
*/
#include "wsp_internal.h"

#include <string.h>

#define ST(need, lo, hi) \
  ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)

size_t wsp__utf8_check(wsp__utf8 *st, const uint8_t *s, size_t n) {
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
      if (b < 0x80)
        state = 0;
      else if (b < 0xc2)
        goto bad; /* continuation byte or overlong 2-byte lead */
      else if (b < 0xe0)
        state = ST(1, 0x80, 0xbf);
      else if (b == 0xe0)
        state = ST(2, 0xa0, 0xbf);
      else if (b == 0xed)
        state = ST(2, 0x80, 0x9f); /* no surrogates */
      else if (b < 0xf0)
        state = ST(2, 0x80, 0xbf);
      else if (b == 0xf0)
        state = ST(3, 0x90, 0xbf);
      else if (b < 0xf4)
        state = ST(3, 0x80, 0xbf);
      else if (b == 0xf4)
        state = ST(3, 0x80, 0x8f); /* not above U+10FFFF */
      else
        goto bad;
    } else {
      uint8_t b = s[i];
      if (b < ((state >> 8) & 0xff) || b > ((state >> 16) & 0xff)) goto bad;
      uint32_t need = (state & 3) - 1;
      state = need ? ST(need, 0x80, 0xbf) : 0;
    }
    i++;
  }
  *st = state;
  return (size_t)-1;
bad:
  *st = state;
  return i;
}

int wsp__utf8_done(wsp__utf8 st) {
  return st == 0;
}

int wsp__utf8_valid(const uint8_t *s, size_t n) {
  wsp__utf8 st = 0;
  return wsp__utf8_check(&st, s, n) == (size_t)-1 && wsp__utf8_done(st);
}
