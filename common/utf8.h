/*
** utf8.h - the one strict UTF-8 validator (RFC 3629: no overlongs, no
** surrogates D800-DFFF, nothing above U+10FFFF), for every layer: the
** WebSocket engine (net/: text messages split across frames), the JSON
** module (stdlib/), the policy loader and the audit log (security/).
**
** Plain C, no Lua, no libraries.  One decision table, sl_utf8__lead, says
** which bytes may follow a lead byte; the incremental check, its one-shot
** form and the one-sequence form (sl_utf8_seq, for scanners that meet a
** non-ASCII byte among other work) are all built on it.
*/
#ifndef SL_COMMON_UTF8_H
#define SL_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* State between chunks: 0 is "at a character boundary". */
typedef uint32_t sl_utf8;

/*
** State bits: 0-1 = continuation bytes still expected, 8-15 and 16-23 =
** the allowed range of the next byte (narrower than 80..BF right after E0,
** ED, F0 and F4, which is how overlongs, surrogates and code points over
** U+10FFFF are refused).
*/
#define SL_UTF8__ST(need, lo, hi) \
  ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)

/* The state after lead byte b >= 0x80, or 0 when b cannot start a
** character (a continuation byte, C0, C1, F5-FF). */
static inline uint32_t sl_utf8__lead(unsigned b) {
  if (b < 0xc2) return 0; /* continuation byte or overlong 2-byte lead */
  if (b < 0xe0) return SL_UTF8__ST(1, 0x80, 0xbf);
  if (b == 0xe0) return SL_UTF8__ST(2, 0xa0, 0xbf);
  if (b == 0xed) return SL_UTF8__ST(2, 0x80, 0x9f); /* no surrogates */
  if (b < 0xf0) return SL_UTF8__ST(2, 0x80, 0xbf);
  if (b == 0xf0) return SL_UTF8__ST(3, 0x90, 0xbf);
  if (b < 0xf4) return SL_UTF8__ST(3, 0x80, 0xbf);
  if (b == 0xf4) return SL_UTF8__ST(3, 0x80, 0x8f); /* not above U+10FFFF */
  return 0;
}

/*
** Validate n more bytes.  Returns (size_t)-1 when every byte is valid so
** far (the text may still end inside a character: see sl_utf8_done), else
** the index in s of the first invalid byte.
*/
size_t sl_utf8_check(sl_utf8 *st, const uint8_t *s, size_t n);

/* 1 when the text ended at a character boundary. */
static inline int sl_utf8_done(sl_utf8 st) { return st == 0; }

/* One-shot: 1 when s[0..n) is valid UTF-8. */
int sl_utf8_valid(const void *s, size_t n);

/*
** Length (2 to 4) of the valid character that starts with the byte
** p[0] >= 0x80, of which `avail` bytes are readable, or 0 when it is
** invalid or truncated.
*/
static inline size_t sl_utf8_seq(const unsigned char *p, size_t avail) {
  unsigned c = p[0];
  if (c < 0xe0) {
    if (c < 0xc2 || avail < 2 || (p[1] & 0xc0) != 0x80) return 0;
    return 2;
  }
  uint32_t st = sl_utf8__lead(c);
  size_t need = st & 3;
  if (st == 0 || avail <= need || p[1] < ((st >> 8) & 0xff) ||
      p[1] > ((st >> 16) & 0xff) || (p[2] & 0xc0) != 0x80)
    return 0;
  if (need == 3 && (p[3] & 0xc0) != 0x80) return 0;
  return need + 1;
}

#endif
