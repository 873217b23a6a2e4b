/*
** jsonstr.h - the one JSON string escaper (RFC 8259 §7), for the json
** module's encoder (stdlib/) and the audit log's records (security/), and
** the byte classes the json decoder scans strings with.
**
** Plain C, no Lua, no libraries.  The escaper writes into a window the
** caller provides and never splits an escape or a character, so a
** growable buffer calls it in a loop and a fixed one truncates cleanly.
*/
#ifndef SL_COMMON_JSONSTR_H
#define SL_COMMON_JSONSTR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* The modes of sl_jsonstr_escape. */
enum {
  /*
  ** The json module: ", \ and the control characters U+0000-001F are
  ** escaped (\b \f \n \r \t short, the others as \u00XX); invalid UTF-8
  ** stops the escaping.
  */
  SL_JSONSTR_STRICT,
  /*
  ** Log lines any reader can take: DEL, U+2028 and U+2029 are escaped
  ** too, only \n \r \t are short, and an invalid byte becomes \ufffd.
  */
  SL_JSONSTR_SAFE
};

/* Longest output of one input byte (an escape such as \u001f). */
#define SL_JSONSTR_STEP 6

/*
** Escape s[*pos..n) (without the surrounding quotes) into out[0..outlen):
** as much as fits whole.  Advances *pos past what was written and returns
** the number of bytes written.  In SL_JSONSTR_STRICT mode it stops at the
** first invalid UTF-8 byte and sets *bad to 1 (else 0; bad may be NULL in
** SL_JSONSTR_SAFE mode).  With outlen >= SL_JSONSTR_STEP each call makes
** progress; it is fastest with SL_JSONSTR_STEP bytes of room per input
** byte.
*/
size_t sl_jsonstr_escape(const char *s, size_t n, size_t *pos, char *out,
                         size_t outlen, int mode, int *bad);

/* Bytes that stand for themselves inside a JSON string, both ways: 1 for
** 0x20-0x7F but '"' and '\\'. */
extern const unsigned char sl_jsonstr_plain[256];

/*
** Eight bytes at a time: true when none of p[0..8) needs attention inside
** a JSON string (a quote, a backslash, a control character or a non-ASCII
** byte).  The has-zero-byte test has no false positives as a whole.
*/
static inline int sl_jsonstr_plain8(const unsigned char *p) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t v;
  memcpy(&v, p, 8);
  uint64_t q = v ^ (ones * '"'), s = v ^ (ones * '\\');
  uint64_t t = (v | ((q - ones) & ~q) | ((s - ones) & ~s) |
                ((v - ones * 0x20) & ~v)) & highs;
  return t == 0;
}

/*
** The escape of the byte c at p that is neither plain nor a valid character
** to copy (for SL_JSONSTR_SAFE: an invalid byte, DEL, or U+2028/9, which
** break JavaScript): writes it at o (6 bytes free), sets *in to the input
** bytes it stands for and returns its length.
*/
static inline __attribute__((always_inline)) size_t
sl_jsonstr__esc(char *o, const unsigned char *p, const unsigned char *end,
                unsigned c, const int safe, size_t *in) {
  static const char hex[] = "0123456789abcdef";
  *in = 1;
  o[0] = '\\';
  switch (c) {
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    case '\b': if (!safe) { o[1] = 'b'; return 2; } break;
    case '\f': if (!safe) { o[1] = 'f'; return 2; } break;
    default:
      if (c < 0x80) break;
      if (c == 0xe2 && sl_utf8_seq(p, (size_t)(end - p)) == 3) { /* U+2028/9 */
        memcpy(o, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
        *in = 3;
      } else {
        memcpy(o, "\\ufffd", 6);
      }
      return 6;
  }
  o[1] = 'u'; o[2] = '0'; o[3] = '0';
  o[4] = hex[c >> 4]; o[5] = hex[c & 15];
  return 6;
}

/*
** The length of the character at p (c >= 0x80) to copy as it is, or 0 when
** it must be escaped (SL_JSONSTR_SAFE) or is invalid (*bad set in
** SL_JSONSTR_STRICT mode).
*/
static inline __attribute__((always_inline)) size_t
sl_jsonstr__char(const unsigned char *p, const unsigned char *end,
                 const int safe, int *bad) {
  size_t k = sl_utf8_seq(p, (size_t)(end - p));
  if (safe && k == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
      (p[2] == 0xa8 || p[2] == 0xa9))
    return 0;
  if (k == 0 && !safe) *bad = 1;
  return k;
}

/*
** The escaper's loop, written once; sl_jsonstr_escape instantiates it for
** each mode (so the mode costs nothing per byte), and the json encoder
** inlines its strict instance (sl_jsonstr_escape_strict).  While every
** input byte left in a stretch fits even escaped (6 bytes each), it checks
** no room; near the end of the window it goes one step at a time.
*/
static inline __attribute__((always_inline)) size_t
sl_jsonstr__escape(const char *str, size_t n, size_t *pos, char *out,
                   size_t outlen, const int safe, int *bad) {
  const unsigned char *s = (const unsigned char *)str;
  const unsigned char *p = s + *pos, *end = s + n, *run = p;
  char *o = out, *oend = out + outlen;
  size_t in, l, k;
  int badc = 0;
  /* [run, p) is written out lazily, before an escape and at the end. */
#define SL_JSONSTR__ROOM ((size_t)(oend - o) - (size_t)(p - run))
#define SL_JSONSTR__SCAN(lim)                                               \
  do {                                                                      \
    if (safe) {                                                             \
      while ((lim) - p >= 8 && sl_jsonstr_plain8(p)) {                      \
        uint64_t v_; /* and no DEL */                                       \
        memcpy(&v_, p, 8);                                                  \
        if ((v_ + 0x0101010101010101ull) & 0x8080808080808080ull) break;    \
        p += 8;                                                             \
      }                                                                     \
      while (p < (lim) && sl_jsonstr_plain[*p] && *p != 0x7f) p++;          \
    } else {                                                                \
      while ((lim) - p >= 8 && sl_jsonstr_plain8(p)) p += 8;                \
      while (p < (lim) && sl_jsonstr_plain[*p]) p++;                        \
    }                                                                       \
  } while (0)
  while (p < end) {
    size_t left = (size_t)(end - p), steps = SL_JSONSTR__ROOM / 6;
    if (steps > 0) { /* room for anything in p[0..steps) */
      const unsigned char *lim = p + (left < steps ? left : steps);
      while (p < lim) {
        SL_JSONSTR__SCAN(lim);
        if (p == lim) break;
        unsigned c = *p;
        if (c >= 0x80) {
          if ((k = sl_jsonstr__char(p, end, safe, &badc)) > 0) {
            p += k;
            continue;
          }
          if (badc) goto done;
        }
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        o += sl_jsonstr__esc(o, p, end, c, safe, &in);
        run = p += in;
      }
      continue;
    }
    /* One step at a time: plain bytes, then one character or escape. */
    size_t room = SL_JSONSTR__ROOM;
    const unsigned char *lim = p + (left < room ? left : room);
    SL_JSONSTR__SCAN(lim);
    if (p == end || p == lim) break;
    unsigned c = *p;
    if (c >= 0x80) {
      if ((k = sl_jsonstr__char(p, end, safe, &badc)) > 0) {
        if (k > SL_JSONSTR__ROOM) break;
        p += k;
        continue;
      }
      if (badc) break;
    }
    char esc[SL_JSONSTR_STEP];
    l = sl_jsonstr__esc(esc, p, end, c, safe, &in);
    if (l > SL_JSONSTR__ROOM) break;
    memcpy(o, run, (size_t)(p - run));
    o += p - run;
    memcpy(o, esc, l);
    o += l;
    run = p += in;
  }
done:
#undef SL_JSONSTR__SCAN
#undef SL_JSONSTR__ROOM
  memcpy(o, run, (size_t)(p - run));
  o += p - run;
  if (bad) *bad = badc;
  *pos = (size_t)(p - s);
  return (size_t)(o - out);
}

/* sl_jsonstr_escape(s, n, pos, out, outlen, SL_JSONSTR_STRICT, bad),
** inlined. */
static inline size_t sl_jsonstr_escape_strict(const char *s, size_t n,
                                              size_t *pos, char *out,
                                              size_t outlen, int *bad) {
  *bad = 0;
  return sl_jsonstr__escape(s, n, pos, out, outlen, 0, bad);
}

#endif
