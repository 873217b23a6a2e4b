/*
** escape.c - control characters made visible (see escape.h).
*/
#include "escape.h"

#include <string.h>

static int is_ctl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

/* The escape of a control character c into e (at most 4 bytes). */
static size_t escape_one(unsigned char c, char e[4]) {
  static const char hex[] = "0123456789abcdef";
  e[0] = '\\';
  switch (c) {
    case '\n': e[1] = 'n'; return 2;
    case '\r': e[1] = 'r'; return 2;
    case '\t': e[1] = 't'; return 2;
    default:
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 15];
      return 4;
  }
}

size_t sl_escape_ctl_len(const char *s, size_t n) {
  size_t len = 0;
  char e[4];
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    len += is_ctl(c) ? escape_one(c, e) : 1;
  }
  return len;
}

size_t sl_escape_ctl(char *out, size_t outlen, const char *s, size_t n) {
  size_t o = 0, need = 0;
  char e[4];
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    size_t k = 1;
    if (is_ctl(c))
      k = escape_one(c, e);
    else
      e[0] = (char)c;
    if (need == o && o + k < outlen) {
      memcpy(out + o, e, k);
      o += k;
    }
    need += k;
  }
  if (outlen > 0) out[o] = '\0';
  return need;
}

int sl_has_ctl(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (is_ctl((unsigned char)s[i])) return 1;
  return 0;
}
