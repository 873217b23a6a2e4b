/*
** json_internal.h - what the files of the `json` module share: json.c (the
** module), json_box.c (its buffers), json_encode.c and json_decode.c.
** Not an API.
*/
#ifndef SL_STDLIB_JSON_INTERNAL_H
#define SL_STDLIB_JSON_INTERNAL_H

#include "sl.h"

#include <stddef.h>
#include <string.h>

#define JSON_MAXDEPTH 128

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum { E_OK, E_FAIL };

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

/* Make room for `extra` more bytes in b->buf.  May raise a memory error. */
void json__box_grow(lua_State *L, jbox *b, size_t extra);

static inline char *box_reserve(lua_State *L, jbox *b, size_t extra) {
  if (unlikely(b->cap - b->len < extra)) json__box_grow(L, b, extra);
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
jkey *json__box_keys(lua_State *L, jbox *b, size_t n);

/* Push a new, empty box (its __gc frees its buffers).  Stack: +1. */
void json__box_new(lua_State *L);

/* The box of this module (the functions' shared upvalue), emptied. */
jbox *json__box_get(lua_State *L);

/* After a call: don't keep big buffers. */
void json__box_release(lua_State *L, jbox *b);

/* Room for n more stack slots, else raise a memory error. */
void json__need_stack(lua_State *L, int n, const char *who);

/* Raise when a non-nil argument follows the first: there are no options. */
void json__noextra(lua_State *L, const char *msg);

/* Exact powers of ten, for numbers in both directions. */
static const double pow10tab[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* json.encode (json_encode.c) and json.decode (json_decode.c). */
int json__encode(lua_State *L);
int json__decode(lua_State *L);

#endif
