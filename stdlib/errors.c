/*
** errors.c - error objects ("sandlua.Error") and the `errors` module.
**
** An error object is a userdata holding its kind and retryability, with one
** user value: a table {message=, details=, stack=, cause=}.  C modules create
** them through sl_fail()/sl_pusherror(); scripts through errors.new/wrap.
*/
#include "sl.h"
#include "../common/escape.h"

#include <stdio.h>
#include <string.h>

typedef struct sl_error {
  int kind;       /* sl_errkind */
  int retryable;  /* SL_RETRY_NIL, SL_RETRY_NO or SL_RETRY_YES */
} sl_error;

static const char *const kind_names[] = {
#define SL_ERRKIND_NAME(name, r) #name,
  SL_ERRKIND_MAP(SL_ERRKIND_NAME)
#undef SL_ERRKIND_NAME
};

static const int kind_retry[] = {
#define SL_ERRKIND_RETRY(name, r) r,
  SL_ERRKIND_MAP(SL_ERRKIND_RETRY)
#undef SL_ERRKIND_RETRY
};

const char *sl_errkind_name(sl_errkind kind) {
  if ((int)kind < 0 || kind >= SL_ERRKIND_COUNT) return NULL;
  return kind_names[kind];
}

int sl_errkind_from_name(const char *name) {
  for (int i = 0; i < SL_ERRKIND_COUNT; i++)
    if (strcmp(kind_names[i], name) == 0) return i;
  return -1;
}

static sl_error *toerror(lua_State *L, int idx) {
  return (sl_error *)luaL_testudata(L, idx, SL_ERROR_MT);
}

static sl_error *checkerror(lua_State *L, int idx) {
  return (sl_error *)luaL_checkudata(L, idx, SL_ERROR_MT);
}

/*
** Push a new error object whose message is at the top of the stack (popped).
** Stack: -1 (message) +1 (error).
*/
static sl_error *newerror(lua_State *L, int kind, int retryable) {
  int msg = lua_gettop(L);
  sl_error *e = (sl_error *)lua_newuserdatauv(L, sizeof(*e), 1);
  e->kind = kind;
  e->retryable = retryable == SL_RETRY_DEFAULT
                     ? (kind_retry[kind] ? SL_RETRY_YES : SL_RETRY_NO)
                     : retryable;
  luaL_setmetatable(L, SL_ERROR_MT);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, msg);
  lua_setfield(L, -2, "message");
  luaL_traceback(L, L, NULL, 1);
  lua_setfield(L, -2, "stack");
  lua_setiuservalue(L, -2, 1);
  lua_remove(L, msg);  /* remove message */
  return e;
}

/*
** The message of an error made in C: the format's arguments come from
** input (URLs, headers, server replies), so control characters are
** escaped (common/escape.h).  Stack: +1 (the message).
*/
static void pushmessage(lua_State *L, const char *fmt, va_list ap) {
  size_t n;
  const char *m = lua_pushvfstring(L, fmt, ap);
  n = lua_rawlen(L, -1);
  if (!sl_has_ctl(m, n)) return;
  size_t len = sl_escape_ctl_len(m, n);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, len + 1);
  sl_escape_ctl(out, len + 1, m, n);
  luaL_pushresultsize(&b, len);
  lua_remove(L, -2);  /* the raw message */
}

static void sl_pusherrorv(lua_State *L, sl_errkind kind, int retryable,
                   const char *fmt, va_list ap) {
  pushmessage(L, fmt, ap);
  newerror(L, kind, retryable);
}

void sl_pusherror(lua_State *L, sl_errkind kind, int retryable,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_pusherrorv(L, kind, retryable, fmt, ap);
  va_end(ap);
}

int sl_fail_r(lua_State *L, sl_errkind kind, int retryable,
              const char *fmt, ...) {
  va_list ap;
  lua_pushnil(L);
  va_start(ap, fmt);
  sl_pusherrorv(L, kind, retryable, fmt, ap);
  va_end(ap);
  return 2;
}

int sl_iserror(lua_State *L, int idx) {
  sl_error *e = toerror(L, idx);
  return e ? e->kind : -1;
}

/* Push field `name` of the error object at idx.  Stack: +1. */
static int getfield(lua_State *L, int idx, const char *name) {
  lua_getiuservalue(L, idx, 1);
  int t = lua_getfield(L, -1, name);
  lua_remove(L, -2);
  return t;
}

const char *sl_errmessage(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  getfield(L, idx, "message");
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1);  /* the string stays alive in the user value table */
  return s ? s : "";
}

void sl_seterrdetails(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getiuservalue(L, idx, 1);
  lua_insert(L, -2);
  lua_setfield(L, -2, "details");
  lua_pop(L, 1);
}

/* {======================================================
** Methods
** ======================================================= */

static int err_kind(lua_State *L) {
  lua_pushstring(L, kind_names[checkerror(L, 1)->kind]);
  return 1;
}

static int err_message(lua_State *L) {
  checkerror(L, 1);
  getfield(L, 1, "message");
  return 1;
}

static int err_retryable(lua_State *L) {
  sl_error *e = checkerror(L, 1);
  if (e->retryable == SL_RETRY_NIL)
    lua_pushnil(L);
  else
    lua_pushboolean(L, e->retryable == SL_RETRY_YES);
  return 1;
}

/* details() returns a copy, so the script cannot change a shared error. */
static int err_details(lua_State *L) {
  checkerror(L, 1);
  if (getfield(L, 1, "details") != LUA_TTABLE) return 1;
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, -3)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  return 1;
}

static int err_stack(lua_State *L) {
  checkerror(L, 1);
  getfield(L, 1, "stack");
  return 1;
}


/* }====================================================== */

/* {======================================================
** Module functions
** ======================================================= */

static int checkkind(lua_State *L, int idx, const char *what) {
  const char *name = lua_tostring(L, idx);
  int kind = name ? sl_errkind_from_name(name) : -1;
  if (kind < 0)
    return luaL_error(L, "%s: unknown error kind '%s'", what,
                      name ? name : luaL_typename(L, idx));
  return kind;
}

/*
** errors.new("message") or errors.new{message=, kind=, retryable=, details=}.
*/
static int errors_new(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    if (!lua_isnone(L, 2) && sl_errkind_from_name(lua_tostring(L, 1)) >= 0)
      return luaL_error(L,
          "errors.new(kind, message) is not supported; use "
          "errors.new{kind = errors.%s, message = ...}", lua_tostring(L, 1));
    luaL_argcheck(L, lua_isnone(L, 2), 2, "errors.new takes one argument");
    lua_settop(L, 1);
    newerror(L, SL_UNKNOWN, SL_RETRY_NIL);
    return 1;
  }
  luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1, "string or table");
  lua_settop(L, 1);
  for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "message") && strcmp(k, "kind") && strcmp(k, "retryable") &&
        strcmp(k, "details"))
      return luaL_error(L, "errors.new: unknown field '%s'",
                        lua_type(L, -2) == LUA_TSTRING ? k
                                                       : luaL_typename(L, -2));
  }
  int kind = SL_UNKNOWN, retry = SL_RETRY_NIL;
  if (lua_getfield(L, 1, "kind") != LUA_TNIL)
    kind = checkkind(L, -1, "errors.new");
  switch (lua_getfield(L, 1, "retryable")) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN:
      retry = lua_toboolean(L, -1) ? SL_RETRY_YES : SL_RETRY_NO;
      break;
    default:
      return luaL_error(L, "errors.new: field 'retryable' must be a boolean");
  }
  int dt = lua_getfield(L, 1, "details");
  if (dt != LUA_TNIL && dt != LUA_TTABLE)
    return luaL_error(L, "errors.new: field 'details' must be a table");
  if (lua_getfield(L, 1, "message") != LUA_TSTRING)
    return luaL_error(L, "errors.new: field 'message' must be a string");
  newerror(L, kind, retry);
  if (dt == LUA_TTABLE) {
    lua_pushvalue(L, 4);
    sl_seterrdetails(L, -2);
  }
  return 1;
}

/*
** errors.wrap(err, context): a new error "context: message" with the same
** kind, retryability and details; errors.is sees through it.  nil -> nil.
*/
static int errors_wrap(lua_State *L) {
  const char *ctx = luaL_checkstring(L, 2);
  if (lua_isnil(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  sl_error *e = toerror(L, 1);
  if (e == NULL) {
    const char *s = lua_tostring(L, 1);
    luaL_argexpected(L, s != NULL, 1, "error object or string");
    lua_pushfstring(L, "%s: %s", ctx, s);
    newerror(L, SL_UNKNOWN, SL_RETRY_NIL);
    return 1;
  }
  lua_pushfstring(L, "%s: %s", ctx, sl_errmessage(L, 1));
  newerror(L, e->kind, e->retryable);
  lua_getiuservalue(L, -1, 1);
  getfield(L, 1, "details");
  lua_setfield(L, -2, "details");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "cause");
  lua_pop(L, 1);
  return 1;
}

/*
** errors.is(err, target): target is a kind name (the kinds match) or an
** error object (err is it, or was wrapped from it).  Never raises on err.
*/
static int errors_is(lua_State *L) {
  luaL_checkany(L, 2);
  sl_error *e = toerror(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushboolean(L, e && strcmp(kind_names[e->kind],
                                   lua_tostring(L, 2)) == 0);
    return 1;
  }
  luaL_argexpected(L, toerror(L, 2) != NULL, 2, "kind or error object");
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  while (toerror(L, -1)) {  /* walk the chain of causes */
    if (lua_rawequal(L, -1, 2)) {
      lua_pushboolean(L, 1);
      return 1;
    }
    getfield(L, -1, "cause");
    lua_remove(L, -2);
  }
  lua_pushboolean(L, 0);
  return 1;
}

/* }====================================================== */

static const luaL_Reg err_methods[] = {
  {"kind", err_kind},
  {"message", err_message},
  {"retryable", err_retryable},
  {"details", err_details},
  {"stack", err_stack},
  {NULL, NULL}
};

static const luaL_Reg errors_funcs[] = {
  {"new", errors_new},
  {"wrap", errors_wrap},
  {"is", errors_is},
  {NULL, NULL}
};

int luaopen_errors(lua_State *L) {
  if (luaL_newmetatable(L, SL_ERROR_MT)) {
    luaL_newlib(L, err_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, err_message);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "sandlua.Error");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  luaL_newlib(L, errors_funcs);
  for (int i = 0; i < SL_ERRKIND_COUNT; i++) {
    lua_pushstring(L, kind_names[i]);
    lua_setfield(L, -2, kind_names[i]);
  }
  return 1;
}
