/*
** env.c - the safe Lua environment, built from allowlists (see env.h).
**
** The script sees a new globals table.  Library tables are read-only
** proxies: an empty table whose metatable has __index (a private copy of the
** allowed fields), __newindex (raises), __pairs (iterates the copy) and
** __metatable (false, so getmetatable/setmetatable cannot reach or replace
** it); rawset refuses them.  The real tables stay in the registry.
*/
#include "env.h"

#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "limits.h"
#include "readpaths.h"

/* Registry keys. */
#define PROXIES_KEY "sandlua.sandbox.proxies"  /* real table -> proxy (weak) */
#define ISPROXY_KEY "sandlua.sandbox.isproxy"  /* proxy -> true (weak) */

static int closing = 0;

void sandbox_env_closing(void) {
  closing = 1;
}

/* {======================================================
** Read-only proxies
** ======================================================= */

static int proxy_newindex(lua_State *L) {
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  return luaL_error(L, "attempt to modify read-only table '%s' (field '%s')",
                    name, luaL_tolstring(L, 2, NULL));
}

static int proxy_pairs(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));  /* next (the real one) */
  lua_pushvalue(L, lua_upvalueindex(2));  /* the copy */
  lua_pushnil(L);
  return 3;
}

static void pushregtable(lua_State *L, const char *key, const char *mode) {
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, key) == 0) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
}

/*
** Replace the table at the top (the private copy) by a read-only proxy of
** it named `name`.  Stack: -1 +1.
*/
static void makeproxy(lua_State *L, const char *name) {
  int copy = lua_gettop(L);
  lua_newtable(L);                    /* the proxy */
  lua_createtable(L, 0, 4);           /* its metatable */
  lua_pushvalue(L, copy);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, proxy_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_getfield(L, LUA_REGISTRYINDEX, "sandlua.sandbox.next");
  lua_pushvalue(L, copy);
  lua_pushcclosure(L, proxy_pairs, 2);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  pushregtable(L, ISPROXY_KEY, "k");
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);                      /* isproxy */
  lua_replace(L, copy);               /* the proxy replaces the copy */
}

static int isproxy(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  pushregtable(L, ISPROXY_KEY, "k");
  lua_pushvalue(L, idx);
  int r = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return r;
}

/*
** Push the proxy of the real table at idx: a copy of every field, tables
** among them proxied in turn (the cache ends cycles).  For built-in
** modules, whose fields are all meant for scripts.  Stack: +1.
*/
static void pushmoduleproxy(lua_State *L, int idx, const char *name) {
  idx = lua_absindex(L, idx);
  pushregtable(L, PROXIES_KEY, "k");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, -2) != LUA_TNIL) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_newtable(L);
  makeproxy(L, name);     /* empty copy -> proxy; cached before filling */
  lua_pushvalue(L, idx);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);      /* proxies[real] = proxy */
  lua_remove(L, -2);      /* proxies */
  lua_getmetatable(L, -1);
  lua_getfield(L, -1, "__index");
  lua_remove(L, -2);      /* the copy, to fill */
  int copy = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      if (lua_type(L, -2) == LUA_TSTRING)
        lua_pushfstring(L, "%s.%s", name, lua_tostring(L, -2));
      else
        lua_pushfstring(L, "%s.?", name);
      pushmoduleproxy(L, -2, lua_tostring(L, -1));
      lua_remove(L, -2);  /* sub name */
      lua_remove(L, -2);  /* the real sub-table */
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, copy);
  }
  lua_pop(L, 1);          /* the copy */
}

/* }====================================================== */

/* {======================================================
** Replacements of base functions
** ======================================================= */

/* print, counted by the output limit. */
static void out(lua_State *L, FILE *f, const char *s, size_t len) {
  size_t n = sandbox_output(len);
  if (n > 0) fwrite(s, 1, n, f);
  if (n < len) {
    fflush(f);
    sandbox_check(L);
  }
}

/*
** warn: lua5.4's protocol (lauxlib's warnf: "@on", "@off", pieces joined
** until one is not to be continued, "Lua warning: " before, a newline
** after), off until -W or warn("@on"), written to stderr through the
** output count.  Past --max-output the rest is dropped; the limit, hit,
** ends the script at its next check (raising here could unwind a thread
** that is not running).
*/
static struct { int on, cont; } warnst;

static void warn_out(const char *s) {
  size_t len = strlen(s), n = sandbox_output(len);
  fwrite(s, 1, n, stderr);
}

static void sb_warnf(void *ud, const char *msg, int tocont) {
  (void)ud;
  if (!warnst.cont && !tocont && msg[0] == '@') {  /* a control message */
    if (strcmp(msg + 1, "on") == 0) warnst.on = 1;
    else if (strcmp(msg + 1, "off") == 0) warnst.on = 0;
    return;
  }
  if (warnst.on) {
    if (!warnst.cont) warn_out("Lua warning: ");
    warn_out(msg);
    if (!tocont) {
      warn_out("\n");
      fflush(stderr);
    }
  }
  warnst.cont = tocont;
}

static int sb_print(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) out(L, stdout, "\t", 1);
    out(L, stdout, s, len);
    lua_pop(L, 1);
  }
  out(L, stdout, "\n", 1);
  fflush(stdout);
  return 0;
}

/* Write the arguments from `arg` on as io.write does (numbers with the
** same formats); results as liolib's g_write, the file being `self`. */
static int writeargs(lua_State *L, FILE *f, int arg, int self) {
  int nargs = lua_gettop(L) - arg + 1;
  int status = 1;
  for (; nargs--; arg++) {
    char num[64];
    const char *s;
    size_t len;
    if (lua_type(L, arg) == LUA_TNUMBER) {
      int w = lua_isinteger(L, arg)
                  ? snprintf(num, sizeof num, LUA_INTEGER_FMT,
                             (LUAI_UACINT)lua_tointeger(L, arg))
                  : snprintf(num, sizeof num, LUA_NUMBER_FMT,
                             (LUAI_UACNUMBER)lua_tonumber(L, arg));
      s = num;
      len = (size_t)w;
    } else {
      s = luaL_checklstring(L, arg, &len);
    }
    size_t n = sandbox_output(len);
    status = status && fwrite(s, 1, n, f) == n;
    if (n < len) {
      fflush(f);
      sandbox_check(L);
    }
  }
  if (status) {
    lua_pushvalue(L, self);
    return 1;
  }
  return luaL_fileresult(L, 0, NULL);
}

/* io.write(...): to stdout; returns io.stdout (upvalue 1). */
static int sb_io_write(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return writeargs(L, stdout, 2, 1);
}

/* stream:write(...) and stream:flush() of io.stdout / io.stderr; upvalue 1
** is 1 for stdout, 2 for stderr. */
static FILE *streamfile(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  return lua_tointeger(L, lua_upvalueindex(1)) == 2 ? stderr : stdout;
}

static int sb_stream_write(lua_State *L) {
  FILE *f = streamfile(L);
  return writeargs(L, f, 2, 1);
}

static int sb_stream_flush(lua_State *L) {
  FILE *f = streamfile(L);
  errno = 0;
  return luaL_fileresult(L, fflush(f) == 0, NULL);
}

/* load(chunk [, chunkname [, mode [, env]]]): text chunks only. */
static int sb_load(lua_State *L) {
  const char *mode = luaL_optstring(L, 3, "t");
  if (strchr(mode, 'b') != NULL) {
    luaL_pushfail(L);
    lua_pushfstring(L, "binary chunks cannot be loaded in the sandbox "
                       "(mode '%s')", mode);
    return 2;
  }
  int n = lua_gettop(L);
  if (n < 3) lua_settop(L, n = 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* collectgarbage: only the options that do not tune the collector. */
static int sb_collectgarbage(lua_State *L) {
  static const char *const allowed[] = {"collect", "count", "step",
                                        "isrunning", NULL};
  const char *opt = luaL_optstring(L, 1, "collect");
  int ok = 0;
  for (int i = 0; allowed[i]; i++)
    if (strcmp(opt, allowed[i]) == 0) ok = 1;
  if (!ok)
    return luaL_error(L, "collectgarbage: option '%s' is not available in "
                         "the sandbox", opt);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int sb_rawset(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (isproxy(L, 1))
    return luaL_error(L, "attempt to modify a read-only table with rawset");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

/* After a protected call: a limit hit is re-raised (sticky). */
static int finishpcall(lua_State *L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    sandbox_note_status(status);
    sandbox_check(L);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0,
                          finishpcall);
  return finishpcall(L, status, 0);
}

/* The message handler of xpcall: the script's, unless a limit was hit (the
** hook raised it, and Lua runs message handlers with hooks off: a handler
** that loops would never be stopped). */
static int sb_msgh(lua_State *L) {
  if (sandbox_limits_hit() >= 0) return 1;  /* the error, unchanged */
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_iscfunction(L, 2)) {  /* C handlers (debug.traceback) cannot loop */
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, sb_msgh, 1);
    lua_replace(L, 2);
  }
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finishpcall);
  return finishpcall(L, status, 2);
}

/* os.exit([code [, close]]): code true, false, nil or 0..255; a limit hit
** is not masked by an exit. */
static int sb_exit(lua_State *L) {
  int code;
  if (lua_isnoneornil(L, 1) || lua_isboolean(L, 1)) {
    code = (lua_isnoneornil(L, 1) || lua_toboolean(L, 1)) ? EXIT_SUCCESS
                                                          : EXIT_FAILURE;
  } else {
    int isnum;
    lua_Integer c = lua_tointegerx(L, 1, &isnum);
    luaL_argcheck(L, isnum && lua_type(L, 1) == LUA_TNUMBER && c >= 0 &&
                         c <= 255, 1,
                  "exit code must be true, false or an integer 0..255");
    code = (int)c;
  }
  sandbox_check(L);
  fflush(stdout);
  fflush(stderr);
  if (lua_toboolean(L, 2) && !closing) {
    sandbox_env_closing();
    sandbox_limits_closing();
    lua_close(L);
  }
  exit(code);
}

/* }====================================================== */

/* {======================================================
** Loading files in text mode
** ======================================================= */

typedef struct filereader {
  FILE *f;
  int nfirst;        /* bytes in first[] not handed out yet */
  char first[4];
  char buf[BUFSIZ];
} filereader;

static const char *readfile(lua_State *L, void *ud, size_t *size) {
  filereader *r = (filereader *)ud;
  (void)L;
  if (r->nfirst > 0) {
    *size = (size_t)r->nfirst;
    r->nfirst = 0;
    return r->first;
  }
  if (feof(r->f)) return NULL;
  *size = fread(r->buf, 1, sizeof r->buf, r->f);
  return *size > 0 ? r->buf : NULL;
}

/*
** As luaL_loadfilex(L, path, "t") (path NULL: stdin): skips a UTF-8 BOM
** and a first line starting with '#'.  Unlike lauxlib it never reopens the
** file (freopen needs dup3, which the filter refuses): a binary chunk gets
** lua_load's "attempt to load a binary chunk (mode is 't')".  Stack: +1.
*/
/* Load the chunk in f (closed when `owned`) named by the string at
** fnameindex (removed).  Stack: +1 over fnameindex - 1. */
static int load_stream(lua_State *L, FILE *f, int owned, int fnameindex) {
  filereader r;
  r.f = f;
  r.nfirst = 0;
  int c = getc(r.f);
  if (c == 0xEF && getc(r.f) == 0xBB && getc(r.f) == 0xBF) c = getc(r.f);
  if (c == '#') {  /* a Unix exec line: skip it, keep the line count */
    while ((c = getc(r.f)) != EOF && c != '\n') {
    }
    if (c == '\n') r.first[r.nfirst++] = '\n';
  } else if (c != EOF) {
    r.first[r.nfirst++] = (char)c;
  }
  int status = lua_load(L, readfile, &r, lua_tostring(L, fnameindex), "t");
  int readerr = ferror(r.f);
  if (owned) fclose(r.f);
  if (readerr) {
    lua_settop(L, fnameindex);
    lua_pushfstring(L, "cannot read %s", lua_tostring(L, fnameindex) + 1);
    status = LUA_ERRFILE;
  }
  lua_remove(L, fnameindex);
  return status;
}

int sandbox_loadfile(lua_State *L, const char *path) {
  int fnameindex = lua_gettop(L) + 1;
  FILE *f;
  if (path == NULL) {
    lua_pushliteral(L, "=stdin");
    f = stdin;
  } else {
    lua_pushfstring(L, "@%s", path);
    errno = 0;
    f = fopen(path, "r");
    if (f == NULL) {
      const char *why = strerror(errno);
      lua_pushfstring(L, "cannot open %s: %s", path, why);
      lua_remove(L, fnameindex);
      return LUA_ERRFILE;
    }
  }
  return load_stream(L, f, path != NULL, fnameindex);
}

/* }====================================================== */

/* {======================================================
** Reading files: --allow-read (readpaths.h)
** ======================================================= */

/* A path argument: a string with no zero byte (never a cut path). */
static const char *checkpath(lua_State *L, int arg) {
  size_t n;
  const char *s = luaL_checklstring(L, arg, &n);
  if (strlen(s) != n) luaL_argerror(L, arg, "the path contains a zero byte");
  return s;
}

/* What is wrong with opening path (a negative errno from
** sandbox_read_open), pushed. */
static const char *push_read_error(lua_State *L, const char *path, int rc) {
  switch (-rc) {
    case EACCES:
      return lua_pushfstring(L, "%s: not readable in the sandbox (under no "
                             "--allow-read path)", path);
    case ELOOP:
      return lua_pushfstring(L, "%s: a symbolic link (links are not followed "
                             "in the sandbox)", path);
    case EINVAL:
      return lua_pushfstring(L, "%s: not a regular file", path);
    default:
      return lua_pushfstring(L, "%s: %s", path, strerror(-rc));
  }
}

/* Raise when no --allow-read was given: `fn` is not there at all. */
static void need_roots(lua_State *L, const char *fn) {
  if (sandbox_read_count() == 0)
    luaL_error(L, "%s is not available in the sandbox: files can be read "
               "only under --allow-read PATH", fn);
}

static int sb_fclose(lua_State *L) {
  luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  errno = 0;
  return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* Open path (checked) as a Lua file handle: +1 (the handle), or 0 with
** the error pushed. */
static int open_handle(lua_State *L, const char *path) {
  luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->closef = NULL;  /* not open yet: __gc leaves it */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  int fd = sandbox_read_open(path);
  if (fd < 0) {
    lua_pop(L, 1);
    push_read_error(L, path, fd);
    errno = -fd;
    return 0;
  }
  p->f = fdopen(fd, "r");
  if (p->f == NULL) {
    int e = errno;
    close(fd);
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: %s", path, strerror(e));
    errno = e;
    return 0;
  }
  p->closef = sb_fclose;
  return 1;
}

/* io.open(path [, mode]): reading only, under the --allow-read paths. */
static int sb_io_open(lua_State *L) {
  const char *path = checkpath(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  need_roots(L, "io.open");
  size_t ml = strlen(mode);
  int valid = ml >= 1 && strchr("rwa", mode[0]) != NULL;
  size_t k = 1;
  if (valid && mode[k] == '+') k++;
  valid = valid && strspn(mode + k, "b") == ml - k;
  luaL_argcheck(L, valid, 2, "invalid mode");
  if (mode[0] != 'r' || mode[1] == '+') {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: files are read-only in the sandbox (mode '%s')",
                    path, mode);
    lua_pushinteger(L, EACCES);
    return 3;
  }
  if (open_handle(L, path)) return 1;
  int e = errno;
  luaL_pushfail(L);
  lua_insert(L, -2);
  lua_pushinteger(L, e);
  return 3;
}

/* The iterator of io.lines(file): the file's own, closing it at the end.
** Upvalues: 1 the file's lines iterator, 2 the file. */
static int lines_closing(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 0, LUA_MULTRET);
  if (lua_gettop(L) == 0 || lua_isnil(L, 1)) {
    lua_getfield(L, lua_upvalueindex(2), "close");
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 1, 0);
  }
  return lua_gettop(L);
}

/* io.lines([file, ...]): standard input (upvalue 1, the stdin-aware
** io.lines), or a file under the --allow-read paths, as lua5.4's. */
static int sb_io_lines(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  const char *path = checkpath(L, 1);
  need_roots(L, "io.lines");
  if (!open_handle(L, path)) return lua_error(L);
  int file = lua_gettop(L);
  lua_getfield(L, file, "lines");
  lua_pushvalue(L, file);
  for (int i = 2; i < file; i++) lua_pushvalue(L, i);  /* the formats */
  lua_call(L, file - 1, 1);
  lua_pushvalue(L, file);
  lua_pushcclosure(L, lines_closing, 2);
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushvalue(L, file);  /* to-be-closed, as lua5.4's */
  return 4;
}

/* Load the file at arg 1 (a path under the roots, or stdin when nil):
** LUA_OK with the chunk pushed, or the error pushed. */
static int load_arg(lua_State *L, const char *fn) {
  if (lua_isnoneornil(L, 1)) return sandbox_loadfile(L, NULL);
  const char *path = checkpath(L, 1);
  need_roots(L, fn);
  int fd = sandbox_read_open(path);
  if (fd < 0) {
    lua_pushfstring(L, "cannot open %s", push_read_error(L, path, fd));
    lua_remove(L, -2);
    return LUA_ERRFILE;
  }
  FILE *f = fdopen(fd, "r");
  if (f == NULL) {
    close(fd);
    lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
    return LUA_ERRFILE;
  }
  lua_pushfstring(L, "@%s", path);
  return load_stream(L, f, 1, lua_gettop(L));
}

/* loadfile([file [, mode [, env]]]): text chunks only. */
static int sb_loadfile(lua_State *L) {
  const char *mode = luaL_optstring(L, 2, "t");
  int env = !lua_isnone(L, 3) ? 3 : 0;
  if (strchr(mode, 'b') != NULL) {
    luaL_pushfail(L);
    lua_pushfstring(L, "binary chunks cannot be loaded in the sandbox "
                       "(mode '%s')", mode);
    return 2;
  }
  if (load_arg(L, "loadfile") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (env) {
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

static int dofilecont(lua_State *L, int d1, lua_KContext d2) {
  (void)d1;
  (void)d2;
  return lua_gettop(L) - 1;
}

/* dofile([file]): as lua5.4's, text chunks, files under the roots. */
static int sb_dofile(lua_State *L) {
  lua_settop(L, 1);
  if (load_arg(L, "dofile") != LUA_OK) return lua_error(L);
  lua_callk(L, 0, LUA_MULTRET, 0, dofilecont);
  return dofilecont(L, 0, 0);
}

/* }====================================================== */

/* {======================================================
** require
** ======================================================= */

static int validname(const char *s) {
  if (*s == '\0' || *s == '.') return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (c == '.') {
      if (p[1] == '.' || p[1] == '\0') return 0;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return 0;
    }
  }
  return 1;
}

/*
** require(name): upvalues 1 the script's loaded table, 2 the real require,
** 3 the real preload table, 4 the paths (a sequence of directories).
*/
static int sb_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_pushvalue(L, 1);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL) {  /* built in */
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) == LUA_TTABLE) {
      pushmoduleproxy(L, -1, name);
      lua_remove(L, -2);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(1));
    lua_pushliteral(L, ":preload:");
    return 2;
  }
  lua_pop(L, 1);
  lua_pushfstring(L, "\n\tno field package.preload['%s']", name);  /* 2 */
  if (!validname(name)) {
    lua_pushliteral(L, "\n\tnot a module name (letters, digits, '_', '-' "
                       "and '.' between parts)");
    lua_concat(L, 2);
  } else {
    const char *rel = luaL_gsub(L, name, ".", "/");  /* 3 */
    lua_Integer n = luaL_len(L, lua_upvalueindex(4));
    for (lua_Integer i = 1; i <= n; i++) {
      static const char *const forms[] = {"%s/%s.lua", "%s/%s/init.lua"};
      lua_rawgeti(L, lua_upvalueindex(4), i);  /* 4 */
      const char *dir = lua_tostring(L, 4);
      for (int k = 0; k < 2; k++) {
        const char *path = lua_pushfstring(L, forms[k], dir, rel);  /* 5 */
        FILE *f = fopen(path, "r");
        if (f == NULL) {
          lua_pushfstring(L, "%s\n\tno file '%s'", lua_tostring(L, 2), path);
          lua_replace(L, 2);
          lua_pop(L, 1);  /* path */
          continue;
        }
        fclose(f);
        if (sandbox_loadfile(L, path) != LUA_OK)
          return luaL_error(L, "error loading module '%s' from file '%s':"
                            "\n\t%s", name, path, lua_tostring(L, -1));
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 5);
        lua_call(L, 2, 1);  /* 6: the module's value */
        if (lua_isnil(L, 6)) {
          lua_pop(L, 1);
          lua_pushvalue(L, 1);
          if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
          }
        }
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 6);
        lua_rawset(L, lua_upvalueindex(1));
        lua_pushvalue(L, 5);  /* path */
        return 2;
      }
      lua_pop(L, 1);  /* dir */
    }
  }
  return luaL_error(L, "module '%s' not found:%s\n\t(the sandbox searches "
                    "only --module-path DIR and --allow-read DIR; the "
                    "script's own directory when an --allow-read path holds "
                    "it)", name, lua_tostring(L, 2));
}

/* }====================================================== */

/* {======================================================
** Building the environment
** ======================================================= */

typedef struct libspec {
  const char *name;
  const char *const *fields;  /* allowed fields; NULL-terminated */
} libspec;

static const char *const base_fields[] = {
  "assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs",
  "load", "loadfile",
  "next", "pairs", "rawequal", "rawset",
  "rawget", "rawlen", "select", "setmetatable", "tonumber", "tostring",
  "type", "warn", "_VERSION", NULL
};
static const char *const string_fields[] = {
  "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
  "match", "pack", "packsize", "rep", "reverse", "sub", "unpack", "upper",
  NULL
};
static const char *const table_fields[] = {
  "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL
};
static const char *const math_fields[] = {
  "abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor",
  "fmod", "huge", "log", "max", "maxinteger", "min", "mininteger", "modf",
  "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan", "tointeger",
  "type", "ult", NULL
};
static const char *const utf8_fields[] = {
  "char", "charpattern", "codepoint", "codes", "len", "offset", NULL
};
/* spawn: added by the scheduler (stdlib/sched.c) when it is built in. */
static const char *const coroutine_fields[] = {
  "close", "create", "isyieldable", "resume", "running", "spawn", "status",
  "wrap", "yield", NULL
};
static const char *const os_fields[] = {
  "clock", "date", "difftime", "exit", "time", NULL
};
static const char *const io_fields[] = {"lines", "open", "read", "write", NULL};
static const char *const debug_fields[] = {"traceback", NULL};

static const libspec libs[] = {
  {"string", string_fields},
  {"table", table_fields},
  {"math", math_fields},
  {"utf8", utf8_fields},
  {"coroutine", coroutine_fields},
  {"os", os_fields},
  {"io", io_fields},
  {"debug", debug_fields},
  {NULL, NULL}
};

/* A replacement: {library, field, function}; the real function, when there
** is one, is its upvalue 1. */
typedef struct replacement {
  const char *lib;   /* NULL: base */
  const char *field;
  lua_CFunction fn;
} replacement;

static const replacement replacements[] = {
  {NULL, "load", sb_load},
  {NULL, "collectgarbage", sb_collectgarbage},
  {NULL, "rawset", sb_rawset},
  {"os", "exit", sb_exit},
  {"io", "lines", sb_io_lines},
  {"io", "open", sb_io_open},
  {NULL, "dofile", sb_dofile},
  {NULL, "loadfile", sb_loadfile},
  {NULL, NULL, NULL}
};

static lua_CFunction replacement_for(const char *lib, const char *field) {
  for (const replacement *r = replacements; r->field; r++) {
    if (((r->lib == NULL) == (lib == NULL)) &&
        (lib == NULL || strcmp(r->lib, lib) == 0) &&
        strcmp(r->field, field) == 0)
      return r->fn;
  }
  return NULL;
}

/*
** Functions of the full library the sandbox leaves out, present as stubs
** that say so and why, and what option (if any) has them: a script gets
** "os.getenv is not available in the sandbox: ...", never "attempt to call
** a nil value".
*/
typedef struct absent {
  const char *lib, *field, *why;
} absent;

static const absent absents[] = {
  {"os", "execute", "it runs other programs"},
  {"os", "getenv", "the host's environment is not the script's"},
  {"os", "remove", "files cannot be changed"},
  {"os", "rename", "files cannot be changed"},
  {"os", "tmpname", "files cannot be created"},
  {"io", "popen", "it runs other programs"},
  {"io", "tmpfile", "files cannot be created"},
  {"io", "output", "files cannot be written (io.write and print go to "
                   "standard output)"},
  {"io", "input", "the default input is standard input (io.open and "
                  "io.lines read files under --allow-read PATH)"},
  {"package", "loadlib", "native code cannot be loaded"},
  {NULL, NULL, NULL}
};

/* The stub: upvalue 1 the message. */
static int sb_absent(lua_State *L) {
  return luaL_error(L, "%s", lua_tostring(L, lua_upvalueindex(1)));
}

/* Add lib's stubs to the table on top. */
static void add_absents(lua_State *L, const char *lib) {
  for (const absent *a = absents; a->lib; a++) {
    if (strcmp(a->lib, lib) != 0) continue;
    lua_pushfstring(L, "%s.%s is not available in the sandbox: %s (only "
                    "--unsafe-no-sandbox, which drops the sandbox, has it)",
                    a->lib, a->field, a->why);
    lua_pushcclosure(L, sb_absent, 1);
    lua_setfield(L, -2, a->field);
  }
}

/* Copy the allowed fields of the real table at `real` into the table at
** `dst`, wrapping replacements around the real functions. */
static void copyfields(lua_State *L, int real, int dst, const char *lib,
                       const char *const *fields) {
  for (const char *const *f = fields; *f; f++) {
    if (lua_getfield(L, real, *f) == LUA_TNIL) {
      lua_pop(L, 1);  /* not in this build */
      continue;
    }
    lua_CFunction fn = replacement_for(lib, *f);
    if (fn != NULL) lua_pushcclosure(L, fn, 1);
    lua_setfield(L, dst, *f);
  }
}

/* io.stdout / io.stderr: {write, flush} proxies. */
static void pushstream(lua_State *L, int which, const char *name) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, which);
  lua_pushcclosure(L, sb_stream_write, 1);
  lua_setfield(L, -2, "write");
  lua_pushinteger(L, which);
  lua_pushcclosure(L, sb_stream_flush, 1);
  lua_setfield(L, -2, "flush");
  makeproxy(L, name);
}

void sandbox_env_apply(lua_State *L, const char *const *paths, size_t n) {
  lua_setwarnf(L, sb_warnf, NULL);
  lua_pushglobaltable(L);
  int real = lua_gettop(L);
  lua_getfield(L, real, "next");
  lua_setfield(L, LUA_REGISTRYINDEX, "sandlua.sandbox.next");
  lua_newtable(L);                        /* the script's globals */
  int g = lua_gettop(L);
  lua_newtable(L);                        /* the script's package.loaded */
  int loaded = lua_gettop(L);

  copyfields(L, real, g, NULL, base_fields);
  lua_pushcfunction(L, sb_print);
  lua_setfield(L, g, "print");
  lua_pushcfunction(L, sb_pcall);
  lua_setfield(L, g, "pcall");
  lua_pushcfunction(L, sb_xpcall);
  lua_setfield(L, g, "xpcall");
  lua_pushvalue(L, g);
  lua_setfield(L, g, "_G");
  lua_pushvalue(L, g);
  lua_setfield(L, loaded, "_G");

  for (const libspec *lib = libs; lib->name; lib++) {
    lua_getfield(L, real, lib->name);
    int rl = lua_gettop(L);
    lua_newtable(L);
    int copy = lua_gettop(L);
    copyfields(L, rl, copy, lib->name, lib->fields);
    add_absents(L, lib->name);
    if (strcmp(lib->name, "io") == 0) {
      pushstream(L, 1, "io.stdout");
      lua_pushvalue(L, -1);
      lua_setfield(L, copy, "stdout");
      lua_pushcclosure(L, sb_io_write, 1);
      lua_setfield(L, copy, "write");
      pushstream(L, 2, "io.stderr");
      lua_setfield(L, copy, "stderr");
    }
    lua_pushvalue(L, copy);
    makeproxy(L, lib->name);
    if (strcmp(lib->name, "string") == 0) {
      /* Methods of strings look into the private copy; getmetatable("")
      ** answers a locked {__index = string}. */
      lua_pushliteral(L, "");
      lua_getmetatable(L, -1);
      lua_pushvalue(L, copy);
      lua_setfield(L, -2, "__index");
      lua_createtable(L, 0, 1);
      lua_pushvalue(L, -4);               /* the string proxy */
      lua_setfield(L, -2, "__index");
      makeproxy(L, "string metatable");
      lua_setfield(L, -2, "__metatable");
      lua_pop(L, 2);                      /* the metatable, "" */
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, g, lib->name);
    lua_setfield(L, loaded, lib->name);
    lua_settop(L, loaded);
  }

  /* Built-in modules (package.preload) that are also globals. */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  int preload = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, preload) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    const char *name = lua_tostring(L, -1);
    if (lua_getfield(L, real, name) == LUA_TTABLE) {
      pushmoduleproxy(L, -1, name);
      lua_pushvalue(L, -1);
      lua_setfield(L, g, name);
      lua_setfield(L, loaded, name);
    }
    lua_settop(L, preload + 1);
  }

  /* require and package. */
  lua_newtable(L);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, paths[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  int pathtab = lua_gettop(L);
  lua_pushvalue(L, loaded);
  lua_getfield(L, real, "require");
  lua_pushvalue(L, preload);
  lua_pushvalue(L, pathtab);
  lua_pushcclosure(L, sb_require, 4);
  lua_setfield(L, g, "require");
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, loaded);
  lua_setfield(L, -2, "loaded");
  lua_getfield(L, real, "package");
  lua_getfield(L, -1, "config");
  lua_setfield(L, -3, "config");
  lua_pop(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < n; i++) {
    lua_pushfstring(L, "%s%s/?.lua;%s/?/init.lua", i ? ";" : "", paths[i],
                    paths[i]);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_setfield(L, -2, "path");
  add_absents(L, "package");
  makeproxy(L, "package");
  lua_pushvalue(L, -1);
  lua_setfield(L, g, "package");
  lua_setfield(L, loaded, "package");

  /* The new table becomes the globals. */
  lua_pushvalue(L, g);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_settop(L, real - 1);
}

/* }====================================================== */
