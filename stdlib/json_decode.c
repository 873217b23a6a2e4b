/*
** json_decode.c - json.decode: a hand-written recursive-descent parser
** that pushes Lua values straight onto the stack (no intermediate tree),
** unescaping strings into the module's buffer (json.c).
*/
#include "json_internal.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/jsonstr.h"
#include "../common/utf8.h"

/* Write code point cp (valid, not a surrogate) as UTF-8; returns length. */
static inline int utf8_put(char *o, unsigned long cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* {======================================================
** Decoder
** ======================================================= */

typedef struct decoder {
  lua_State *L;
  jbox *b;
  const unsigned char *s, *end;  /* *end is the string's final '\0' */
  const unsigned char *errp;     /* where the error is, when failing */
  char msg[96];
  int depth;
} decoder;

static int dec_value(decoder *d, const unsigned char **pp);

static __attribute__((noinline)) int dec_fail(decoder *d,
                                              const unsigned char *p,
                                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int dec_fail(decoder *d, const unsigned char *p, const char *fmt,
                    ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
  va_end(ap);
  d->errp = p;
  return E_FAIL;
}

/* "unexpected X": the byte at p, described for a human. */
static __attribute__((noinline)) int dec_unexpected(decoder *d,
                                                    const unsigned char *p,
                                                    const char *ctx) {
  if (p >= d->end) return dec_fail(d, p, "unexpected end of input%s", ctx);
  unsigned c = *p;
  if (c > 0x20 && c < 0x7F)
    return dec_fail(d, p, "unexpected '%c'%s", (int)c, ctx);
  return dec_fail(d, p, "unexpected byte 0x%02X%s", c, ctx);
}

static inline const unsigned char *skip_ws(const unsigned char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}

static int hexval(const unsigned char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = p[i], x;
    if (c >= '0' && c <= '9') x = c - '0';
    else if (c >= 'a' && c <= 'f') x = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') x = c - 'A' + 10;
    else return -1;
    v = v * 16 + x;
  }
  return v;
}

/*
** The slow path of a string with escapes: [start, *pp) was scanned and is
** plain; *pp is at a backslash.  Unescapes into the box.  Pushes the
** string.
*/
static __attribute__((noinline)) int dec_string_esc(
    decoder *d, const unsigned char *start, const unsigned char **pp) {
  lua_State *L = d->L;
  jbox *b = d->b;
  const unsigned char *p = *pp, *run = start, *end = d->end;
  b->len = 0;
  for (;;) {
    while (end - p >= 8 && sl_jsonstr_plain8(p)) p += 8;
    while (sl_jsonstr_plain[*p]) p++;
    unsigned c = *p;
    if (c >= 0x80) {
      size_t l = sl_utf8_seq(p, (size_t)(end - p));
      if (l == 0) return dec_fail(d, p, "invalid UTF-8 in string");
      p += l;
      continue;
    }
    box_add(L, b, run, (size_t)(p - run));
    if (c == '"') {
      lua_pushlstring(L, b->buf, b->len);
      *pp = p + 1;
      return E_OK;
    }
    if (c != '\\') {
      if (p >= end) return dec_fail(d, p, "unterminated string");
      return dec_fail(d, p, "control character 0x%02X in string "
                      "(must be escaped)", c);
    }
    const unsigned char *esc = p;
    char *o = box_reserve(L, b, 4);
    p += 2;
    switch (esc[1]) {
      case '"': *o = '"'; break;
      case '\\': *o = '\\'; break;
      case '/': *o = '/'; break;
      case 'b': *o = '\b'; break;
      case 'f': *o = '\f'; break;
      case 'n': *o = '\n'; break;
      case 'r': *o = '\r'; break;
      case 't': *o = '\t'; break;
      case 'u': {
        long cp = end - p >= 4 ? hexval(p) : -1;
        if (cp < 0)
          return dec_fail(d, esc, "invalid \\u escape (4 hex digits needed)");
        p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return dec_fail(d, esc, "lone low surrogate \\u%04lX", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          long lo = (end - p >= 6 && p[0] == '\\' && p[1] == 'u')
                        ? hexval(p + 2) : -1;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return dec_fail(d, esc,
                            "high surrogate \\u%04lX not followed by a "
                            "low surrogate", cp);
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        b->len += (size_t)utf8_put(o, (unsigned long)cp);
        run = p;
        continue;
      }
      default:
        if (esc + 1 >= end)
          return dec_fail(d, esc + 1, "unterminated string");
        if (esc[1] > 0x20 && esc[1] < 0x7F)
          return dec_fail(d, esc, "invalid escape '\\%c'", esc[1]);
        return dec_fail(d, esc, "invalid escape (byte 0x%02X after '\\')",
                        esc[1]);
    }
    b->len++;
    run = p;
  }
}

/* A string; p is after the opening quote.  Pushes it. */
static inline int dec_string(decoder *d, const unsigned char **pp) {
  const unsigned char *p = *pp, *start = p, *end = d->end;
  for (;;) {
    while (end - p >= 8 && sl_jsonstr_plain8(p)) p += 8;
    while (sl_jsonstr_plain[*p]) p++;
    unsigned c = *p;
    if (likely(c == '"')) {
      lua_pushlstring(d->L, (const char *)start, (size_t)(p - start));
      *pp = p + 1;
      return E_OK;
    }
    if (c >= 0x80) {
      size_t l = sl_utf8_seq(p, (size_t)(end - p));
      if (l == 0) return dec_fail(d, p, "invalid UTF-8 in string");
      p += l;
      continue;
    }
    if (c == '\\') {
      *pp = p;
      return dec_string_esc(d, start, pp);
    }
    if (p >= end) return dec_fail(d, p, "unterminated string");
    return dec_fail(d, p, "control character 0x%02X in string "
                    "(must be escaped)", c);
  }
}


/* strtod in the "C" locale's syntax, whatever the current locale.  May
** return HUGE_VAL (the caller refuses it). */
static __attribute__((noinline)) double slow_strtod(decoder *d,
                                                    const unsigned char *s,
                                                    size_t n) {
  char *endp;
  double v = strtod((const char *)s, &endp);
  if (endp == (const char *)s + n) return v;
  /* Another locale: copy with its decimal point. */
  jbox *b = d->b;
  b->len = 0;
  char *o = box_reserve(d->L, b, n + 1);
  char point = localeconv()->decimal_point[0];
  for (size_t i = 0; i < n; i++) o[i] = s[i] == '.' ? point : (char)s[i];
  o[n] = '\0';
  return strtod(o, NULL);
}

/* Does the input at p start with the literal lit? */
static int end_has(decoder *d, const unsigned char *p, const char *lit) {
  size_t n = strlen(lit);
  return (size_t)(d->end - p) >= n && memcmp(p, lit, n) == 0;
}

static inline int isdigitc(unsigned c) { return c - '0' < 10; }

/*
** A number; p is at its first byte ('-' or a digit).  Integers that fit in
** 64 bits become Lua integers (except -0, a float -0.0 to keep the sign);
** everything else a float.  Pushes it.
*/
static int dec_number(decoder *d, const unsigned char **pp) {
  const unsigned char *p = *pp, *start = p;
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  uint64_t m = 0;
  int nd = 0;        /* significant digits in m */
  int dropped = 0;   /* digits that did not fit in m */
  int e10 = 0;       /* decimal exponent to apply to m */
  if (*p == '0') {
    p++;
    if (isdigitc(*p)) return dec_fail(d, start, "leading zero in number");
  } else if (isdigitc(*p)) {
    do {
      if (nd < 19) {
        m = m * 10 + (*p - '0');
        nd += m != 0;
      } else {
        dropped++;
      }
      p++;
    } while (isdigitc(*p));
  } else {
    if (p[0] == 'I' && end_has(d, p, "Infinity"))
      return dec_fail(d, start, "-Infinity is not JSON");
    return dec_fail(d, p, "invalid number (digit expected after '-')");
  }
  int isfloat = 0;
  if (*p == '.') {
    p++;
    if (!isdigitc(*p))
      return dec_fail(d, p, "invalid number (digit expected after '.')");
    do {
      if (nd < 19) {
        m = m * 10 + (*p - '0');
        nd += m != 0;
        e10--;
      } else {
        dropped++;
      }
      p++;
    } while (isdigitc(*p));
    isfloat = 1;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    int eneg = 0;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    if (!isdigitc(*p))
      return dec_fail(d, p, "invalid number (digit expected in exponent)");
    int x = 0;
    do {
      if (x < 100000) x = x * 10 + (*p - '0');
      p++;
    } while (isdigitc(*p));
    e10 += eneg ? -x : x;
    isfloat = 1;
  }
  *pp = p;
  lua_State *L = d->L;
  if (!isfloat && dropped == 0) {
    if (!neg) {
      if (m <= (uint64_t)INT64_MAX) {
        lua_pushinteger(L, (lua_Integer)m);
        return E_OK;
      }
    } else if (m == 0) {
      lua_pushnumber(L, -0.0);
      return E_OK;
    } else if (m <= (uint64_t)INT64_MAX + 1) {
      lua_pushinteger(L, (lua_Integer)(0 - m));
      return E_OK;
    }
  }
  /* Exact when m and 10^|e10| are both exact doubles (Clinger). */
  if (dropped == 0 && m < (1ull << 53) && e10 >= -22 && e10 <= 22) {
    double v = (double)m;
    v = e10 < 0 ? v / pow10tab[-e10] : v * pow10tab[e10];
    lua_pushnumber(L, neg ? -v : v);
    return E_OK;
  }
  double v = slow_strtod(d, start, (size_t)(p - start));
  if (isinf(v)) return dec_fail(d, start, "number out of range");
  lua_pushnumber(L, v);
  return E_OK;
}

static int dec_literal(decoder *d, const unsigned char **pp, const char *lit,
                       size_t n) {
  const unsigned char *p = *pp;
  if ((size_t)(d->end - p) < n || memcmp(p, lit, n) != 0)
    return dec_fail(d, p, "invalid literal (expected '%s')", lit);
  *pp = p + n;
  return E_OK;
}

/*
** Arrays and objects collect their first values on the stack, then make a
** table of the right size (no rehash while it fills); bigger ones are
** filled CHUNK values at a time.
*/
#define ARRAY_CHUNK 128
#define OBJECT_CHUNK 32

/* Move the n values at the top into t[from + 1 .. from + n]. */
static void flush_array(lua_State *L, int *t, int base, lua_Integer from,
                        int n) {
  if (*t == 0) {
    lua_createtable(L, n, 0);
    lua_insert(L, base + 1);
    *t = base + 1;
  }
  for (int i = n; i > 0; i--) lua_rawseti(L, *t, from + i);  /* pops */
}

static int dec_array(decoder *d, const unsigned char **pp) {
  lua_State *L = d->L;
  const unsigned char *p = skip_ws(*pp);
  if (*p == ']') {
    lua_createtable(L, 0, 0);
    *pp = p + 1;
    return E_OK;
  }
  json__need_stack(L, ARRAY_CHUNK + 8, "json.decode");
  int base = lua_gettop(L), t = 0, n = 0;
  lua_Integer done = 0;
  for (;;) {
    if (dec_value(d, &p) != E_OK) return E_FAIL;
    if (++n == ARRAY_CHUNK) {
      flush_array(L, &t, base, done, n);
      done += n;
      n = 0;
    }
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      if (*p == ']') return dec_fail(d, p, "trailing comma before ']'");
    } else if (*p == ']') {
      *pp = p + 1;
      if (n > 0 || t == 0) flush_array(L, &t, base, done, n);
      return E_OK;
    } else {
      return dec_unexpected(d, p, " (expected ',' or ']')");
    }
  }
}

/* Set the n key/value pairs at the top into t, in order (the last of
** duplicate keys wins), and pop them. */
static void flush_object(lua_State *L, int *t, int base, int n) {
  if (*t == 0) {
    lua_createtable(L, 0, n);
    lua_insert(L, base + 1);
    *t = base + 1;
  }
  int first = lua_gettop(L) - 2 * n + 1;
  for (int i = 0; i < n; i++) {
    lua_pushvalue(L, first + 2 * i);
    lua_pushvalue(L, first + 2 * i + 1);
    lua_rawset(L, *t);
  }
  lua_settop(L, *t);
}

static int dec_object(decoder *d, const unsigned char **pp) {
  lua_State *L = d->L;
  const unsigned char *p = skip_ws(*pp);
  if (*p == '}') {
    lua_createtable(L, 0, 0);
    *pp = p + 1;
    return E_OK;
  }
  json__need_stack(L, 2 * OBJECT_CHUNK + 8, "json.decode");
  int base = lua_gettop(L), t = 0, n = 0;
  for (;;) {
    if (*p != '"') return dec_unexpected(d, p, " (expected a string key)");
    p++;
    if (dec_string(d, &p) != E_OK) return E_FAIL;
    p = skip_ws(p);
    if (*p != ':') return dec_unexpected(d, p, " (expected ':')");
    p = skip_ws(p + 1);
    if (dec_value(d, &p) != E_OK) return E_FAIL;
    if (++n == OBJECT_CHUNK) {
      flush_object(L, &t, base, n);
      n = 0;
    }
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      if (*p == '}') return dec_fail(d, p, "trailing comma before '}'");
    } else if (*p == '}') {
      *pp = p + 1;
      if (n > 0) flush_object(L, &t, base, n);
      return E_OK;
    } else {
      return dec_unexpected(d, p, " (expected ',' or '}')");
    }
  }
}

/* A value; p is at its first byte (whitespace skipped).  Pushes it. */
static int dec_value(decoder *d, const unsigned char **pp) {
  const unsigned char *p = *pp;
  switch (*p) {
    case '"':
      *pp = p + 1;
      return dec_string(d, pp);
    case '{':
    case '[': {
      if (d->depth >= JSON_MAXDEPTH)
        return dec_fail(d, p, "nesting deeper than %d levels", JSON_MAXDEPTH);
      d->depth++;
      *pp = p + 1;
      int r = *p == '{' ? dec_object(d, pp) : dec_array(d, pp);
      d->depth--;
      return r;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return dec_number(d, pp);
    case 't':
      lua_pushboolean(d->L, 1);
      return dec_literal(d, pp, "true", 4);
    case 'f':
      lua_pushboolean(d->L, 0);
      return dec_literal(d, pp, "false", 5);
    case 'n':
      lua_pushnil(d->L);
      return dec_literal(d, pp, "null", 4);
    case 'N':
      if (end_has(d, p, "NaN")) return dec_fail(d, p, "NaN is not JSON");
      break;
    case 'I':
      if (end_has(d, p, "Infinity"))
        return dec_fail(d, p, "Infinity is not JSON");
      break;
    case '/':
      return dec_fail(d, p, "comments are not allowed");
    case ']':
    case '}':
    case ',':
    case ':':
      break;
    default:
      if (p >= d->end) break;
      if (*p == '\'') return dec_fail(d, p, "strings need double quotes");
      break;
  }
  return dec_unexpected(d, p, " (expected a value)");
}

/*
** Push nil and the error object for a failed decode: the message gives
** line and column (1-based, columns in characters) and the byte (1-based
** index into the input; #s + 1 for the end).  Returns 2.
*/
static int dec_error(decoder *d) {
  lua_State *L = d->L;
  size_t off = (size_t)(d->errp - d->s);
  size_t line = 1, col = 1;
  for (const unsigned char *q = d->s; q < d->errp; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else if ((*q & 0xC0) != 0x80) {
      col++;
    }
  }
  char where[96];
  snprintf(where, sizeof(where), "line %zu column %zu (byte %zu)", line, col,
           off + 1);
  lua_pushnil(L);
  sl_pusherror(L, SL_INVALID, SL_RETRY_DEFAULT, "json.decode: %s at %s",
               d->msg, where);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)off + 1);
  lua_setfield(L, -2, "offset");
  lua_pushinteger(L, (lua_Integer)line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, (lua_Integer)col);
  lua_setfield(L, -2, "column");
  sl_seterrdetails(L, -2);
  return 2;
}

/*
** json.decode(s) -> value, or nil and an INVALID error saying where.
** A top-level null decodes as nil with no error.
*/
int json__decode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  json__noextra(L, "json.decode takes one string");
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  decoder d;
  d.L = L;
  d.s = (const unsigned char *)s;
  d.end = d.s + n;
  d.depth = 0;
  d.b = json__box_get(L);
  const unsigned char *p = skip_ws(d.s);
  if (p == d.end) {
    dec_fail(&d, p, "empty input");
  } else if (dec_value(&d, &p) == E_OK) {
    p = skip_ws(p);
    if (p == d.end) {
      json__box_release(L, d.b);
      return 1;
    }
    dec_unexpected(&d, p, " after the value");
  }
  json__box_release(L, d.b);
  lua_settop(L, 1);
  return dec_error(&d);
}

/* }====================================================== */

