/*
** sl.h - shared helpers of the sandlua standard library.
**
** Provides to every Lua-facing module of stdlib/: the error kinds and the
** one-line way to return a failure (sl_fail), the metatable names, and the
** luaopen_* entry points that stdlib/init.c registers.  Modules include this
** header; nothing below stdlib/ (security/, sandbox/) does.
*/
#ifndef SL_STDLIB_SL_H
#define SL_STDLIB_SL_H

#include <stdarg.h>
#include <stddef.h>

#include <lua.h>
#include <lauxlib.h>

/*
** Error kinds, as in the reference runtime.  XX(name, retryable by default).
** One list generates the enum, the names and the default retryability.
*/
#define SL_ERRKIND_MAP(XX)        \
  XX(NOT_FOUND, 0)                \
  XX(ALREADY_EXISTS, 0)           \
  XX(INVALID, 0)                  \
  XX(PERMISSION_DENIED, 0)        \
  XX(UNAVAILABLE, 1)              \
  XX(INTERNAL, 0)                 \
  XX(CANCELED, 0)                 \
  XX(CONFLICT, 0)                 \
  XX(TIMEOUT, 1)                  \
  XX(RATE_LIMITED, 1)             \
  XX(UNKNOWN, 0)

typedef enum sl_errkind {
#define SL_ERRKIND_ENUM(name, r) SL_##name,
  SL_ERRKIND_MAP(SL_ERRKIND_ENUM)
#undef SL_ERRKIND_ENUM
  SL_ERRKIND_COUNT
} sl_errkind;

/* Retryability of an error object: unknown (nil), false or true. */
#define SL_RETRY_DEFAULT (-2)   /* the kind's default, see SL_ERRKIND_MAP */
#define SL_RETRY_NIL (-1)
#define SL_RETRY_NO 0
#define SL_RETRY_YES 1

#define SL_ERROR_MT "sandlua.Error"
/* time.Duration values (stdlib/time.c): a userdata holding int64 ns. */
#define SL_DURATION_MT "sandlua.Duration"

/* Name of a kind ("TIMEOUT"); NULL when out of range. */
const char *sl_errkind_name(sl_errkind kind);

/* Kind from its name; returns -1 when the name is not a kind. */
int sl_errkind_from_name(const char *name);

/*
** Push a new error object with the given kind, retryability and message
** (printf-style).  Captures a traceback of the calling Lua code.  Stack: +1.
*/
void sl_pusherror(lua_State *L, sl_errkind kind, int retryable,
                  const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
** Return a failure to Lua in one line: pushes nil and an error object of
** `kind` with explicit retryability (SL_RETRY_*) and returns 2; sl_fail
** takes the kind's default.
**   return sl_fail(L, SL_TIMEOUT, "connect %s: %s", url, why);
*/
int sl_fail_r(lua_State *L, sl_errkind kind, int retryable,
              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sl_fail(L, kind, ...) \
  sl_fail_r((L), (kind), SL_RETRY_DEFAULT, __VA_ARGS__)

/*
** If the value at `idx` is an error object, return its kind, else -1.
** Does not raise.
*/
int sl_iserror(lua_State *L, int idx);

/* Message of the error object at `idx` (valid while it is on the stack). */
const char *sl_errmessage(lua_State *L, int idx);

/* Attach a details table (at the top of the stack, popped) to the error
** object at `idx`. */
void sl_seterrdetails(lua_State *L, int idx);

/* Entry points of the built-in modules (registered by stdlib/init.c). */
int luaopen_errors(lua_State *L);
int luaopen_json(lua_State *L);
int luaopen_channel(lua_State *L);
int luaopen_time(lua_State *L);
int luaopen_security(lua_State *L);
int luaopen_websocket(lua_State *L);

/*
** Get the WebSocket client ready before the sandbox locks the process
** down: the event loop, the extra CA files (trusted by every wss://
** connection; the connect option ca_file may name them too), the DNS
** resolver (reading resolv.conf and the hosts file; dns_server
** "ADDR[:PORT]" or NULL).  TLS itself and the default trust store are set
** up by the first wss:// connection.  Returns 0, -2 when a CA file cannot
** be used (a command-line error), or -1, with a message in err.
*/
int sl_websocket_prepare(lua_State *L, const char *dns_server,
                         const char *const *ca_files, int n_ca_files,
                         char *err, size_t errlen);

/*
** A string argument that goes to C as a C string: as luaL_checklstring,
** but a zero byte in it (which C would take for its end, checking less
** than the script gave) raises "bad argument #idx to 'f' (... contains a
** zero byte)".  *len may be NULL.
*/
const char *sl_checkcstring(lua_State *L, int idx, size_t *len);

/* As sl_checkcstring for a string value that is not an argument (a table
** field, an option): NULL when it holds a zero byte. */
const char *sl_tocstring(lua_State *L, int idx, size_t *len);

/*
** Close every open connection now (1001, each peer's reply awaited at most
** 2 s in all), as lua_close would: for the interpreter once the script is
** over.  Safe when the module was never used.
*/
void sl_websocket_shutdown(lua_State *L);

/*
** Register every built-in module in package.preload and set the globals
** the reference runtime has (errors, json, ...).  Stack: 0.
*/
void sl_openlibs(lua_State *L);

#endif
