/*
** json_encode.c - json.encode: walks tables with raw access and writes
** into the module's growable buffer (json.c); strings go through the one
** JSON string escaper (common/jsonstr.h), numbers are written here.
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

static const char digits2[] = /* "00" "01" ... "99" */
    "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374"
    "75767778798081828384858687888990919293949596979899";

/* {======================================================
** Encoder
** ======================================================= */

typedef struct encoder {
  lua_State *L;
  jbox *b;
  int depth;                              /* tables being written */
  const void *seen[JSON_MAXDEPTH];        /* those tables, for recursion */
  int keyidx[JSON_MAXDEPTH];              /* stack slot of the current key, */
  lua_Integer index[JSON_MAXDEPTH];       /* or array index (keyidx 0) */
  char msg[160];                          /* error, when E_FAIL */
} encoder;

static int enc_value(encoder *e, int idx);

static int enc_fail(encoder *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int enc_fail(encoder *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  va_end(ap);
  return E_FAIL;
}

/* Is s[0..n) a Lua-style identifier (printed as .name in a path)? */
static int isident(const char *s, size_t n) {
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (i > 0 && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return 1;
}

/*
** Push the path of the value being written when the error happened, like
** $.users[3]["a key"] (array indexes are Lua's, from 1).  Keys are still
** anchored on the stack.  Stack: +1.
*/
static void enc_pushpath(encoder *e) {
  lua_State *L = e->L;
  luaL_Buffer pb;
  luaL_buffinit(L, &pb);
  luaL_addchar(&pb, '$');
  for (int i = 0; i < e->depth; i++) {
    if (e->keyidx[i] > 0) {
      size_t n;
      const char *k = lua_tolstring(L, e->keyidx[i], &n);
      if (isident(k, n)) {
        luaL_addchar(&pb, '.');
        luaL_addlstring(&pb, k, n);
      } else {
        int utf8 = sl_utf8_valid(k, n);
        luaL_addstring(&pb, "[\"");
        for (size_t j = 0; j < n && j < 64; j++) {
          unsigned char c = (unsigned char)k[j];
          char esc[8];
          if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' ||
              (c >= 0x80 && !utf8)) {
            snprintf(esc, sizeof(esc), "\\x%02X", c);
            luaL_addstring(&pb, esc);
          } else {
            luaL_addchar(&pb, (char)c);
          }
        }
        if (n > 64) luaL_addstring(&pb, "...");
        luaL_addstring(&pb, "\"]");
      }
    } else if (e->keyidx[i] == 0) {
      lua_pushfstring(L, "[%I]", (LUAI_UACINT)e->index[i]);
      luaL_addvalue(&pb);
    }
  }
  luaL_pushresult(&pb);
}

/* Write s[0..n) as a JSON string; `what` names it in errors. */
static int enc_string(encoder *e, const char *str, size_t n,
                      const char *what) {
  lua_State *L = e->L;
  jbox *b = e->b;
  size_t pos = 0;
  int bad = 0;
  /* Room for the worst case (and both quotes), in slices of at most 64 KiB
   * of input. */
  size_t slice = n < 65536 ? n : 65536;
  box_reserve(L, b, slice * SL_JSONSTR_STEP + 2)[0] = '"';
  b->len++;
  for (;;) {
    b->len += sl_jsonstr_escape_strict(str, n, &pos, b->buf + b->len,
                                       b->cap - b->len - 1, &bad);
    if (unlikely(bad))
      return enc_fail(e, "invalid UTF-8 at byte %zu of %s", pos + 1, what);
    if (likely(pos == n)) break;
    slice = n - pos < 65536 ? n - pos : 65536;
    box_reserve(L, b, slice * SL_JSONSTR_STEP + 1);
  }
  b->buf[b->len++] = '"'; /* the byte kept free */
  return E_OK;
}

/* Write integer v in decimal at o; returns the length (at most 20). */
static inline int fmt_int(char *o, lua_Integer v) {
  char tmp[24];
  char *t = tmp + sizeof(tmp);
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  while (u >= 100) {
    unsigned r = (unsigned)(u % 100);
    u /= 100;
    t -= 2;
    memcpy(t, digits2 + 2 * r, 2);
  }
  if (u >= 10) {
    t -= 2;
    memcpy(t, digits2 + 2 * u, 2);
  } else {
    *--t = (char)('0' + u);
  }
  if (v < 0) *--t = '-';
  int n = (int)(tmp + sizeof(tmp) - t);
  memcpy(o, t, (size_t)n);
  return n;
}

/*
** Write |xi| / 10^k in decimal (k >= 1), without trailing zeros in the
** fraction.  Returns the length.
*/
static int fmt_fixed(char *o, int64_t xi, int k) {
  char dg[24];
  int n = 0;
  uint64_t u = xi < 0 ? 0 - (uint64_t)xi : (uint64_t)xi;
  while (u % 10 == 0 && k > 0) u /= 10, k--;
  do {
    dg[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  char *q = o;
  if (xi < 0) *q++ = '-';
  if (n <= k) {
    *q++ = '0';
    *q++ = '.';
    for (int i = n; i < k; i++) *q++ = '0';
    while (n > 0) *q++ = dg[--n];
  } else {
    while (n > k) *q++ = dg[--n];
    *q++ = '.';
    while (n > 0) *q++ = dg[--n];
  }
  return (int)(q - o);
}

/*
** Write float d so that it reads back as the same float, and as a float:
** integral values get ".0" ("1.0"), so decode(encode(x)) keeps math.type.
** A value with few decimals is written exactly that way ("0.1", "1234.56"),
** else the shortest of %.15g, %.16g and %.17g that reads back as d.  inf
** and nan are written as null.
*/
static void enc_float(encoder *e, double d) {
  lua_State *L = e->L;
  jbox *b = e->b;
  char *o = box_reserve(L, b, 32);
  if (isnan(d) || isinf(d)) {
    memcpy(o, "null", 4);
    b->len += 4;
    return;
  }
  int n;
  if (fabs(d) < 1e15) {
    if (d == (double)(int64_t)d) {  /* integral value */
      if (d == 0 && signbit(d)) *o++ = '-', b->len++;
      n = fmt_int(o, (lua_Integer)d);
      o[n++] = '.';
      o[n++] = '0';
      b->len += (size_t)n;
      return;
    }
    /* Fixed point: d * 10^k is an integer xi that (xi / 10^k) gives back
    ** d exactly; both are exact doubles, so strtod of the text is d. */
    for (int k = 1; k <= 17; k++) {
      double x = d * pow10tab[k];
      if (fabs(x) >= 9007199254740992.0) break;  /* 2^53 */
      int64_t xi = (int64_t)x;
      if ((double)xi == x && (double)xi / pow10tab[k] == d) {
        b->len += (size_t)fmt_fixed(o, xi, k);
        return;
      }
    }
  }
  n = snprintf(o, 32, "%.15g", d);
  if (strtod(o, NULL) != d) {
    n = snprintf(o, 32, "%.16g", d);
    if (strtod(o, NULL) != d) n = snprintf(o, 32, "%.17g", d);
  }
  int plain = 1;
  for (int i = 0; i < n; i++) {
    char c = o[i];
    if (c == '.' || c == 'e') plain = 0;
    else if (c == ',') o[i] = '.', plain = 0;  /* a locale's point */
  }
  if (plain) {
    o[n++] = '.';
    o[n++] = '0';
  }
  b->len += (size_t)n;
}

/* Does the table at idx appear on the path being written? */
static int enc_seen(encoder *e, const void *t) {
  for (int i = 0; i < e->depth; i++)
    if (e->seen[i] == t) return 1;
  return 0;
}

/* Byte order, as Go sorts map keys. */
static inline int keycmp(const jkey *a, const jkey *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  const unsigned char *x = (const unsigned char *)a->s;
  const unsigned char *y = (const unsigned char *)b->s;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return (int)x[i] - (int)y[i];
  return (a->len > b->len) - (a->len < b->len);
}

static int keycmp_q(const void *a, const void *b) {
  return keycmp((const jkey *)a, (const jkey *)b);
}

static void sort_keys(jkey *k, size_t n) {
  if (n > 16) {
    qsort(k, n, sizeof(*k), keycmp_q);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    jkey x = k[i];
    size_t j = i;
    while (j > 0 && keycmp(&x, &k[j - 1]) < 0) {
      k[j] = k[j - 1];
      j--;
    }
    k[j] = x;
  }
}

static const char *keytype(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx))
    return "float";
  return luaL_typename(L, idx);
}

/*
** Write the object whose string keys are at stack slots top+1..top+n, in
** byte order of the keys.
*/
static int enc_object(encoder *e, int idx, int top, size_t n) {
  lua_State *L = e->L;
  jbox *b = e->b;
  size_t base = b->nkeys;
  jkey *k = json__box_keys(L, b, n);
  for (size_t i = 0; i < n; i++) {
    k[i].idx = top + 1 + (int)i;
    k[i].s = lua_tolstring(L, k[i].idx, &k[i].len);
  }
  sort_keys(k, n);
  b->nkeys += n;
  box_addc(L, b, '{');
  for (size_t i = 0; i < n; i++) {
    jkey *ki = &b->keys[base + i];  /* nested objects may move keys */
    int kidx = ki->idx;
    e->keyidx[e->depth - 1] = kidx;
    if (i > 0) box_addc(L, b, ',');
    if (enc_string(e, ki->s, ki->len, "key") != E_OK) return E_FAIL;
    box_addc(L, b, ':');
    lua_pushvalue(L, kidx);
    lua_rawget(L, idx);
    if (enc_value(e, lua_gettop(L)) != E_OK) return E_FAIL;
    lua_pop(L, 1);
  }
  box_addc(L, b, '}');
  b->nkeys = base;
  return E_OK;
}

/*
** Write the table at idx: an array when its keys are exactly 1..n, an
** object when they are all strings, [] when it is empty; anything else
** fails.  Stack: balanced on success; on failure the stack keeps what
** the error path needs.
*/
static int enc_table(encoder *e, int idx) {
  lua_State *L = e->L;
  jbox *b = e->b;
  const void *t = lua_topointer(L, idx);
  if (e->depth >= JSON_MAXDEPTH)
    return enc_fail(e, "nesting deeper than %d levels", JSON_MAXDEPTH);
  if (enc_seen(e, t)) return enc_fail(e, "table contains itself");
  int d = e->depth++;
  e->seen[d] = t;
  e->keyidx[d] = -1;
  json__need_stack(L, 8, "json.encode");
  int top = lua_gettop(L);
  lua_pushnil(L);
  if (!lua_next(L, idx)) {
    box_add(L, b, "[]", 2);
    e->depth--;
    return E_OK;
  }
  if (lua_type(L, -2) == LUA_TSTRING) {
    /* Object: keep a copy of every key on the stack, below the iterator. */
    size_t n = 1;
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    while (lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        lua_pop(L, 1);
        return enc_fail(e, "table has both string keys and %s keys",
                        keytype(L, -1));
      }
      lua_pop(L, 1);
      if ((++n & 31) == 0 && !lua_checkstack(L, 40)) {
        lua_settop(L, top);
        return enc_fail(e, "object with too many keys to sort (%zu)", n);
      }
      lua_pushvalue(L, -1);
    }
    if (enc_object(e, idx, top, n) != E_OK) return E_FAIL;
    lua_settop(L, top);
  } else if (lua_isinteger(L, -2)) {
    lua_Integer n = 0, max = 0;
    do {
      if (!lua_isinteger(L, -2)) {
        const char *kt = keytype(L, -2);
        lua_settop(L, top);
        return enc_fail(e, "table has both integer keys and %s keys", kt);
      }
      lua_Integer k = lua_tointeger(L, -2);
      if (k > max) max = k;
      if (k < 1) max = -1;
      n++;
      lua_pop(L, 1);
      if (max < 0) break;
    } while (lua_next(L, idx));
    lua_settop(L, top);
    if (max != n) {
      if (max < 0)
        return enc_fail(e, "array index out of range (keys must be 1..n)");
      return enc_fail(e, "sparse array: %lld values but index %lld",
                      (long long)n, (long long)max);
    }
    box_addc(L, b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
      if (i > 1) box_addc(L, b, ',');
      e->keyidx[d] = 0;
      e->index[d] = i;
      lua_rawgeti(L, idx, i);
      if (enc_value(e, top + 1) != E_OK) return E_FAIL;
      lua_pop(L, 1);
    }
    box_addc(L, b, ']');
  } else {
    const char *kt = keytype(L, -2);
    lua_settop(L, top);
    return enc_fail(e, "table key of type %s (keys must be strings or 1..n)",
                    kt);
  }
  e->depth--;
  return E_OK;
}

static int enc_value(encoder *e, int idx) {
  lua_State *L = e->L;
  jbox *b = e->b;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      box_add(L, b, "null", 4);
      return E_OK;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) box_add(L, b, "true", 4);
      else box_add(L, b, "false", 5);
      return E_OK;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        char *o = box_reserve(L, b, 24);
        b->len += (size_t)fmt_int(o, lua_tointeger(L, idx));
      } else {
        enc_float(e, (double)lua_tonumber(L, idx));
      }
      return E_OK;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return enc_string(e, s, n, "string");
    }
    case LUA_TTABLE:
      return enc_table(e, idx);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {  /* json.null */
        box_add(L, b, "null", 4);
        return E_OK;
      }
      /* FALLTHROUGH */
    default:
      return enc_fail(e, "cannot encode a %s", luaL_typename(L, idx));
  }
}

/*
** json.encode(v) -> string, or nil and an INVALID error whose message and
** details.path say which value could not be written.
*/
int json__encode(lua_State *L) {
  luaL_checkany(L, 1);
  json__noextra(L, "json.encode takes one value");
  encoder e;
  e.L = L;
  e.depth = 0;
  e.b = json__box_get(L);
  if (enc_value(&e, 1) != E_OK) {
    enc_pushpath(&e);
    const char *path = lua_tostring(L, -1);
    lua_pushnil(L);
    sl_pusherror(L, SL_INVALID, SL_RETRY_DEFAULT, "json.encode: %s at %s",
                 e.msg, path);
    json__box_release(L, e.b);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -4);
    lua_setfield(L, -2, "path");
    sl_seterrdetails(L, -2);
    return 2;
  }
  lua_pushlstring(L, e.b->buf, e.b->len);
  json__box_release(L, e.b);
  return 1;
}

/* }====================================================== */

