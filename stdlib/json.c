/*
** json.c - the `json` module: strict RFC 8259 encode and decode.
**
** json.encode(v) -> string | nil, err      json.decode(s) -> value | nil, err
**
** The decoder is a hand-written recursive-descent parser that pushes Lua
** values straight onto the stack (no intermediate tree); the encoder walks
** tables with raw access and writes into a growable buffer.  Both refuse
** nesting deeper than JSON_MAXDEPTH.  Failures of the input are returned
** as errors of kind INVALID whose message says where (decode: line, column
** and byte; encode: the path of the value, e.g. $.users[3].name) and whose
** details carry the same facts.  docs/json.md is the user documentation.
**
** Memory: buffers are allocated with the state's allocator (so a memory
** cap applies) and owned by a "box" userdata, the shared upvalue of both
** functions, whose __gc frees them: a raised error (a memory error) leaks
** nothing, and calls reuse the buffers (big ones are dropped after a call).
** See box_get for why a call made from a finalizer cannot disturb them.
** The encoder sorts object keys through pointers to key strings that stay
** anchored on the Lua stack while it uses them.
*/
#include "sl.h"

#include "../common/jsonstr.h"
#include "../common/utf8.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAXDEPTH 128
#define JSON_BOX_MT "sandlua.json.Buffer"
/* A cached box keeps buffers up to this size between calls. */
#define JSON_KEEP (1u << 20)

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* {======================================================
** Buffers
** ======================================================= */

/* One sorted key of an object being encoded. */
typedef struct jkey {
  const char *s;
  size_t len;
  int idx;  /* stack slot anchoring the key string */
} jkey;

typedef struct jbox {
  char *buf;      /* encode: output; decode: unescaped string */
  size_t len, cap;
  jkey *keys;     /* encode: keys of the objects on the current path */
  size_t nkeys, kcap;
} jbox;

static void box_free(lua_State *L, jbox *b) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (b->buf) f(ud, b->buf, b->cap, 0);
  if (b->keys) f(ud, b->keys, b->kcap * sizeof(jkey), 0);
  b->buf = NULL;
  b->keys = NULL;
  b->len = b->cap = b->nkeys = b->kcap = 0;
}

/* __gc: free everything. */
static int box_gc(lua_State *L) {
  box_free(L, (jbox *)luaL_checkudata(L, 1, JSON_BOX_MT));
  return 0;
}

static void *box_realloc(lua_State *L, void *p, size_t osize, size_t nsize) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  void *q = f(ud, p, osize, nsize);
  if (q == NULL) {
    lua_pushliteral(L, "not enough memory");
    lua_error(L);
  }
  return q;
}

/* Make room for `extra` more bytes in b->buf.  May raise a memory error. */
static __attribute__((noinline)) void box_grow(lua_State *L, jbox *b,
                                               size_t extra) {
  size_t need = b->len + extra;
  size_t ncap = b->cap ? b->cap : 256;
  if (need < b->len || need > ((size_t)-1) / 4)
    luaL_error(L, "json: buffer too large");
  while (ncap < need) ncap *= 2;
  b->buf = (char *)box_realloc(L, b->buf, b->cap, ncap);
  b->cap = ncap;
}

static inline char *box_reserve(lua_State *L, jbox *b, size_t extra) {
  if (unlikely(b->cap - b->len < extra)) box_grow(L, b, extra);
  return b->buf + b->len;
}

static inline void box_add(lua_State *L, jbox *b, const void *s, size_t n) {
  memcpy(box_reserve(L, b, n), s, n);
  b->len += n;
}

static inline void box_addc(lua_State *L, jbox *b, char c) {
  *box_reserve(L, b, 1) = c;
  b->len++;
}

/* Make room for n more keys; returns the first free one. */
static jkey *box_keys(lua_State *L, jbox *b, size_t n) {
  if (b->kcap - b->nkeys < n) {
    size_t ncap = b->kcap ? b->kcap : 64;
    while (ncap < b->nkeys + n) ncap *= 2;
    b->keys = (jkey *)box_realloc(L, b->keys, b->kcap * sizeof(jkey),
                                  ncap * sizeof(jkey));
    b->kcap = ncap;
  }
  return b->keys + b->nkeys;
}

/*
** The box of this module (the functions' shared upvalue).  A call uses it
** only in stretches where no Lua code can run: the encoder creates no
** collectable object while it writes (so no finalizer runs), and the
** decoder copies a string out of it before the GC can step.  So a call from
** a finalizer, in the middle of another, cannot disturb it.
*/
static jbox *box_get(lua_State *L) {
  jbox *b = (jbox *)lua_touserdata(L, lua_upvalueindex(1));
  b->len = 0;
  b->nkeys = 0;
  return b;
}

/* After a call: don't keep big buffers. */
static void box_release(lua_State *L, jbox *b) {
  if (unlikely(b->cap > JSON_KEEP || b->kcap * sizeof(jkey) > JSON_KEEP))
    box_free(L, b);
}

/*
** Room for n more stack slots, else raise: with a bounded depth, running
** out means running out of memory (luaL_checkstack would say "stack
** overflow").
*/
static void need_stack(lua_State *L, int n, const char *who) {
  if (unlikely(!lua_checkstack(L, n)))
    luaL_error(L, "not enough memory or stack space (%s)", who);
}

/* }====================================================== */

/* {======================================================
** UTF-8
** ======================================================= */

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

static const double pow10tab[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static char digits2[200];  /* "00" "01" ... "99" */

static void init_tables(void) {
  for (int i = 0; i < 100; i++) {
    digits2[2 * i] = (char)('0' + i / 10);
    digits2[2 * i + 1] = (char)('0' + i % 10);
  }
}

/* }====================================================== */

/* Raise when a non-nil argument follows the first: there are no options. */
static void noextra(lua_State *L, const char *msg) {
  for (int i = lua_gettop(L); i > 1; i--)
    luaL_argcheck(L, lua_isnil(L, i), i, msg);
  lua_settop(L, 1);
}

/* {======================================================
** Encoder
** ======================================================= */

enum { E_OK, E_FAIL };

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
  jkey *k = box_keys(L, b, n);
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
  need_stack(L, 8, "json.encode");
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
static int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  noextra(L, "json.encode takes one value");
  encoder e;
  e.L = L;
  e.depth = 0;
  e.b = box_get(L);
  if (enc_value(&e, 1) != E_OK) {
    enc_pushpath(&e);
    const char *path = lua_tostring(L, -1);
    lua_pushnil(L);
    sl_pusherror(L, SL_INVALID, SL_RETRY_DEFAULT, "json.encode: %s at %s",
                 e.msg, path);
    box_release(L, e.b);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -4);
    lua_setfield(L, -2, "path");
    sl_seterrdetails(L, -2);
    return 2;
  }
  lua_pushlstring(L, e.b->buf, e.b->len);
  box_release(L, e.b);
  return 1;
}

/* }====================================================== */

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
  need_stack(L, ARRAY_CHUNK + 8, "json.decode");
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
  need_stack(L, 2 * OBJECT_CHUNK + 8, "json.decode");
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
static int json_decode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  noextra(L, "json.decode takes one string");
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  decoder d;
  d.L = L;
  d.s = (const unsigned char *)s;
  d.end = d.s + n;
  d.depth = 0;
  d.b = box_get(L);
  const unsigned char *p = skip_ws(d.s);
  if (p == d.end) {
    dec_fail(&d, p, "empty input");
  } else if (dec_value(&d, &p) == E_OK) {
    p = skip_ws(p);
    if (p == d.end) {
      box_release(L, d.b);
      return 1;
    }
    dec_unexpected(&d, p, " after the value");
  }
  box_release(L, d.b);
  lua_settop(L, 1);
  return dec_error(&d);
}

/* }====================================================== */

static const luaL_Reg json_funcs[] = {
  {"encode", json_encode},
  {"decode", json_decode},
  {NULL, NULL}
};

int luaopen_json(lua_State *L) {
  if (digits2[1] == 0) init_tables();
  if (luaL_newmetatable(L, JSON_BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlibtable(L, json_funcs);
  jbox *b = (jbox *)lua_newuserdatauv(L, sizeof(*b), 0);
  memset(b, 0, sizeof(*b));
  luaL_setmetatable(L, JSON_BOX_MT);
  luaL_setfuncs(L, json_funcs, 1);  /* the box is their shared upvalue */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
