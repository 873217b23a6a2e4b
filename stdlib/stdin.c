/*
** stdin.c - standard input as an event source: io.read and io.lines() on
** standard input block only the task that calls them.
**
** The bytes of descriptor 0 go into one buffer (counted memory) when the
** loop says it is readable; a read format is served once the buffer holds
** what it needs (a whole line, a whole numeral, N bytes, everything up to
** the end), so a chat script reads lines while its connections deliver
** messages.  Meanwhile the task waits on the loop like any blocking call.
** Where the loop cannot watch descriptor 0 (a regular file, /dev/null) or
** the caller cannot yield (a metamethod, a table.sort comparator), the read
** blocks the process as lua5.4's does.
**
** io.read and io.lines() keep their lua5.4 results (liolib's g_read): each
** format in turn, and the first that fails gives fail and ends the list.
** When the default input is not standard input (io.input(file), outside
** the sandbox) the stock functions run.
*/
#include "sched_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../sandbox/libmem.h"

#define RD_CHUNK 4096
#define MAXNUMERAL 200  /* as liolib's L_MAXLENNUM */

typedef struct sin_waiter {
  struct sin_waiter *next;
  sl_task *task;
} sin_waiter;
_Static_assert(sizeof(sin_waiter) <= SL_TASK_SCRATCH, "sin_waiter: scratch");

typedef struct sl_stdin {
  sl_evio io;        /* descriptor 0 on the loop */
  sl_sched *S;
  char *buf;
  size_t off, len, cap;
  int eof;           /* read returned 0 */
  int err;           /* read failed: errno */
  int unwatchable;   /* the loop cannot watch it: read directly */
  int held;
  sin_waiter *waiters;
} sl_stdin;

static char stdin_key;

/* The unread bytes (never a null pointer, even before the first read). */
static const char *unread(const sl_stdin *in) {
  return in->buf ? in->buf + in->off : "";
}

/* Is there a whole line (or the end of input) to serve? */
static int line_ready(const sl_stdin *in) {
  return in->eof || in->err ||
         (in->len > in->off && memchr(unread(in), '\n', in->len - in->off));
}

/* {======================================================
** The buffer
** ======================================================= */

static int fill_room(sl_stdin *in) {
  if (in->off > 0 && in->off == in->len) in->off = in->len = 0;
  if (in->cap - in->len >= RD_CHUNK) return 0;
  if (in->off > 0) {
    memmove(in->buf, in->buf + in->off, in->len - in->off);
    in->len -= in->off;
    in->off = 0;
    if (in->cap - in->len >= RD_CHUNK) return 0;
  }
  size_t cap = in->cap ? 2 * in->cap : 2 * RD_CHUNK;
  char *b = sandbox_libmem_realloc(in->buf, cap);
  if (b == NULL) return -1;
  in->buf = b;
  in->cap = cap;
  return 0;
}

/* One read(2) into the buffer: 1 got bytes, 0 end of input, -1 error
** (in->err), -2 nothing yet (EAGAIN). */
static int fill(sl_stdin *in) {
  if (in->eof) return 0;
  if (fill_room(in) != 0) {
    in->err = ENOMEM;
    return -1;
  }
  ssize_t n = read(0, in->buf + in->len, in->cap - in->len);
  if (n > 0) {
    in->len += (size_t)n;
    return 1;
  }
  if (n == 0) {
    in->eof = 1;
    return 0;
  }
  if (errno == EAGAIN || errno == EINTR) return -2;
  in->err = errno;
  return -1;
}

/* Bytes stdio already took from descriptor 0 (a REPL line read ahead)
** come first. */
static void take_stdio_buffer(sl_stdin *in) {
#ifdef __GLIBC__
  while (stdin->_IO_read_ptr < stdin->_IO_read_end) {
    size_t n = (size_t)(stdin->_IO_read_end - stdin->_IO_read_ptr);
    if (fill_room(in) != 0) return;
    if (n > in->cap - in->len) n = in->cap - in->len;
    memcpy(in->buf + in->len, stdin->_IO_read_ptr, n);
    in->len += n;
    stdin->_IO_read_ptr += n;
  }
#endif
}

/* }====================================================== */

/* {======================================================
** Formats: ready (the buffer holds what it needs) and served
** ======================================================= */

static int isnumch(int c, int hex) {
  return (c >= '0' && c <= '9') || c == '.' || c == 'x' || c == 'X' ||
         c == '+' || c == '-' || (hex && ((c >= 'a' && c <= 'f') ||
                                          (c >= 'A' && c <= 'F'))) ||
         c == 'e' || c == 'E' || c == 'p' || c == 'P';
}

/* Is the format at arg n servable now? */
static int ready(sl_stdin *in, lua_State *L, int n) {
  const char *p = unread(in);
  size_t avail = in->len - in->off;
  if (in->eof || in->err) return 1;
  if (lua_type(L, n) == LUA_TNUMBER) {
    lua_Integer k = lua_tointeger(L, n);
    return k <= 0 ? avail > 0 : (size_t)k <= avail;
  }
  const char *f = luaL_checkstring(L, n);
  if (*f == '*') f++;
  switch (*f) {
    case 'l': case 'L':
      return line_ready(in);
    case 'a':
      return 0;  /* only at the end */
    case 'n': {
      size_t i = 0;
      while (i < avail && strchr(" \t\n\v\f\r", p[i])) i++;
      size_t start = i;
      while (i < avail && i - start <= MAXNUMERAL && isnumch(p[i], 1)) i++;
      return i < avail || i - start > MAXNUMERAL;
    }
    default:
      return 1;  /* the format error is raised when served */
  }
}

/* liolib's read_number, on the buffer: a numeral of at most MAXNUMERAL
** characters, as lua_stringtonumber reads it; fail otherwise. */
static int serve_number(sl_stdin *in, lua_State *L) {
  const char *p = unread(in), *e = p + (in->len - in->off);
  while (p < e && strchr(" \t\n\v\f\r", *p)) p++;
  char b[MAXNUMERAL + 1];
  size_t n = 0;
  int hex = 0, c;
#define TEST2(s) (p < e && (*p == (s)[0] || *p == (s)[1]) && n < MAXNUMERAL \
                  ? (b[n++] = *p++, 1) : 0)
#define DIGITS() do { int cnt = 0; \
    while (p < e && n < MAXNUMERAL && \
           (hex ? (((c = *p) >= '0' && c <= '9') || \
                   (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) \
                : (*p >= '0' && *p <= '9'))) { b[n++] = *p++; cnt++; } \
    count += cnt; } while (0)
  int count = 0;
  TEST2("-+");
  if (TEST2("00")) {
    if (TEST2("xX")) hex = 1;
    else count = 1;
  }
  DIGITS();
  if (TEST2("..")) DIGITS();
  if (count > 0 && TEST2(hex ? "pP" : "eE")) {
    TEST2("-+");
    hex = 0;
    DIGITS();
  }
#undef TEST2
#undef DIGITS
  in->off += (size_t)(p - unread(in));
  b[n] = '\0';
  if (lua_stringtonumber(L, b)) return 1;
  lua_pushnil(L);
  return 0;
}

static int serve_line(sl_stdin *in, lua_State *L, int keepnl) {
  const char *p = unread(in);
  size_t avail = in->len - in->off;
  const char *nl = avail ? memchr(p, '\n', avail) : NULL;
  size_t n = nl ? (size_t)(nl - p) + 1 : avail;
  if (n == 0) {  /* end of input */
    lua_pushnil(L);
    return 0;
  }
  lua_pushlstring(L, p, nl && !keepnl ? n - 1 : n);
  in->off += n;
  return 1;
}

static int serve_chars(sl_stdin *in, lua_State *L, lua_Integer k) {
  size_t avail = in->len - in->off;
  if (k <= 0) {  /* test for the end */
    lua_pushliteral(L, "");
    return avail > 0;
  }
  size_t n = (size_t)k < avail ? (size_t)k : avail;
  lua_pushlstring(L, unread(in), n);
  in->off += n;
  return n > 0;
}

/* liolib's g_read over the arguments first..top. */
static int serve(sl_stdin *in, lua_State *L, int first) {
  int nargs = lua_gettop(L) - first + 1;
  if (in->err && in->len == in->off) {
    int e = in->err;
    in->err = 0;
    return luaL_fileresult(L, (errno = e, 0), NULL);
  }
  if (nargs == 0) return serve_line(in, L, 0) ? 1 : (lua_pop(L, 1),
                                                     luaL_pushfail(L), 1);
  luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments");
  int n, ok = 1;
  for (n = first; nargs-- && ok; n++) {
    if (lua_type(L, n) == LUA_TNUMBER) {
      ok = serve_chars(in, L, (lua_Integer)luaL_checkinteger(L, n));
      continue;
    }
    const char *f = luaL_checkstring(L, n);
    if (*f == '*') f++;
    switch (*f) {
      case 'n': ok = serve_number(in, L); break;
      case 'l': ok = serve_line(in, L, 0); break;
      case 'L': ok = serve_line(in, L, 1); break;
      case 'a':
        lua_pushlstring(L, unread(in), in->len - in->off);
        in->off = in->len;
        break;
      default:
        return luaL_argerror(L, n, "invalid format");
    }
  }
  if (!ok) {
    lua_pop(L, 1);
    luaL_pushfail(L);
  }
  return n - first;
}

/* }====================================================== */

/* {======================================================
** Waiting
** ======================================================= */

static void wake_all(sl_stdin *in) {
  sin_waiter *w = in->waiters;
  in->waiters = NULL;
  for (; w; w = w->next) sl_sched_wake(w->task);
}

static void unwatch(sl_stdin *in) {
  if (in->io.want) sl_ev_watch(&in->S->ev, &in->io, 0);
  if (in->held) {
    in->held = 0;
    sl_sched_release(in->S);
  }
}

static void on_readable(sl_evio *io, unsigned events) {
  sl_stdin *in = (sl_stdin *)io;
  (void)events;
  int r = fill(in);
  if (r == -2) return;
  if (r != 1 || in->waiters == NULL) unwatch(in);  /* end, error, or idle */
  wake_all(in);
}

static sl_stdin *get_stdin(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &stdin_key);
  sl_stdin *in = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (in->S == NULL) {
    in->S = sl_sched_get(L);
    take_stdio_buffer(in);
  }
  return in;
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

/* Serve the formats from arg `first` on, waiting as needed. */
static int read_from(lua_State *L, int first) {
  sl_stdin *in = get_stdin(L);
  int top = lua_gettop(L);
  for (;;) {
    int all = 1;
    if (top < first) {
      all = line_ready(in);
    } else {
      for (int n = first; n <= top && all; n++) all = ready(in, L, n);
    }
    if (all) {
      if (in->waiters == NULL) unwatch(in);  /* nobody else waits */
      return serve(in, L, first);
    }
    if (!in->unwatchable && sl_sched_can_block(L)) {
      if (in->io.want == 0) {
        in->io.fd = 0;
        in->io.cb = on_readable;
        if (sl_ev_watch(&in->S->ev, &in->io, SL_EV_READ) != 0) {
          in->unwatchable = 1;  /* EPERM: a regular file, /dev/null */
          continue;
        }
        sl_sched_hold(in->S);
        in->held = 1;
      }
      sl_task *t = sl_sched_self(L, "io.read");
      sin_waiter *w = sl_task_scratch(t);
      w->task = t;
      w->next = in->waiters;
      in->waiters = w;
      return sl_sched_block(L, "io.read", read_k, first);
    }
    /* block the process, as lua5.4 does */
    int r;
    do r = fill(in);
    while (r == -2);
  }
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return read_from(L, (int)ctx);
}

/* }====================================================== */

/* {======================================================
** io.read, io.lines
** ======================================================= */

/* Is the default input standard input? */
static int input_is_stdin(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_FILEHANDLE) == LUA_TNIL) {
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "_IO_input");
  luaL_Stream *s = luaL_testudata(L, -1, LUA_FILEHANDLE);
  lua_pop(L, 1);
  return s == NULL || s->f == stdin;
}

static int io_read(lua_State *L) {
  if (!input_is_stdin(L)) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  return read_from(L, 1);
}

/* The iterator of io.lines(): its formats are upvalues 2..n+1 (upvalue 1
** the count); fail at the end, as liolib's. */
static int lines_iter(lua_State *L) {
  lua_settop(L, 0);
  int n = (int)lua_tointeger(L, lua_upvalueindex(1));
  luaL_checkstack(L, n, "too many arguments");
  for (int i = 1; i <= n; i++) lua_pushvalue(L, lua_upvalueindex(1 + i));
  return read_from(L, 1);
}

static int io_lines(lua_State *L) {
  if (!lua_isnoneornil(L, 1) || !input_is_stdin(L)) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  int n = lua_gettop(L) - 1;  /* formats after the nil file name */
  if (n < 0) n = 0;
  luaL_argcheck(L, n <= 250, 252, "too many arguments");
  lua_pushinteger(L, n);
  for (int i = 2; i <= n + 1; i++) lua_pushvalue(L, i);
  lua_pushcclosure(L, lines_iter, n + 1);
  return 1;
}

static int stdin_gc(lua_State *L) {
  sl_stdin *in = lua_touserdata(L, 1);
  in->waiters = NULL;
  if (in->S != NULL && !in->S->closed) unwatch(in);
  in->held = 0;
  sandbox_libmem_free(in->buf);
  in->buf = NULL;
  in->off = in->len = in->cap = 0;
  return 0;
}

void sl_stdin_openlib(lua_State *L) {
  sl_stdin *in = lua_newuserdatauv(L, sizeof *in, 0);
  memset(in, 0, sizeof *in);
  in->io.fd = 0;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, stdin_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &stdin_key);
  if (lua_getglobal(L, LUA_IOLIBNAME) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "read");
  lua_pushcclosure(L, io_read, 1);
  lua_setfield(L, -2, "read");
  lua_getfield(L, -1, "lines");
  lua_pushcclosure(L, io_lines, 1);
  lua_setfield(L, -2, "lines");
  lua_pop(L, 1);
}

/* }====================================================== */
