/*
** coroutine.c - the `coroutine` library as the scheduler runs it (see
** sched.h): resume and wrap let a blocking call's yield pass through a
** script's own coroutines to the scheduler and back; create, wrap and
** resume run the scheduler's hooks (a new thread, the running thread, a
** limit hit), so that no other module wraps coroutines.
*/
#include "sched_internal.h"

#include <string.h>

#include <lualib.h>

/* {======================================================
** Coroutine functions that let a blocking yield through
** ======================================================= */

static sl_sched *upS(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

static lua_State *getco(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  return co;
}

static int resume_child(sl_sched *S, lua_State *L, lua_State *co, int narg,
                        int *nres) {
  int saved = S->chain_ok;
  lua_State *savedtop = S->top;
  S->chain_ok = saved && lua_isyieldable(L);
  S->top = co;
  lua_State *prev = HOOKS->enter(co);  /* e.g. the limits' signals stop co */
  int st = lua_resume(co, L, narg, nres);
  HOOKS->leave(prev);
  S->chain_ok = saved;
  S->top = savedtop;
  if (st != LUA_OK && st != LUA_YIELD) HOOKS->status(st);
  return st;
}

/*
** After resuming co from L: move its results to L and return their number,
** or -1 with an error message on L, or -2 when co is parked in a blocking
** call (L must yield too).
*/
static int after_resume(sl_sched *S, lua_State *L, lua_State *co, int st,
                        int nres) {
  if (st == LUA_YIELD && S->blocking) {
    lua_pop(co, nres);
    XS(co) = &sl_sched__parked;
    return -2;
  }
  if (st == LUA_OK || st == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

static int auxresume(sl_sched *S, lua_State *L, lua_State *co, int narg) {
  if (XS(co) != NULL) {  /* a task, or parked inside a blocking call */
    lua_pop(L, narg);
    lua_pushliteral(L, "cannot resume non-suspended coroutine");
    return -1;
  }
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  int nres;
  int st = resume_child(S, L, co, narg, &nres);
  return after_resume(S, L, co, st, nres);
}

static int reresume(sl_sched *S, lua_State *L, lua_State *co) {
  int nres;
  XS(co) = NULL;
  int st = resume_child(S, L, co, 0, &nres);
  return after_resume(S, L, co, st, nres);
}

static int resume_results(lua_State *L, int r);

static int co_resume_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return resume_results(L, reresume(upS(L), L, lua_tothread(L, 1)));
}

static int resume_results(lua_State *L, int r) {
  if (r == -2) return lua_yieldk(L, 0, 0, co_resume_k);
  HOOKS->check(L);  /* a limit hit inside is not a false for pcall */
  /* a memory error the coroutine could not raise as such */
  if (r < 0 && lua_type(L, -1) == LUA_TSTRING &&
      strcmp(lua_tostring(L, -1), "not enough memory") == 0)
    HOOKS->status(LUA_ERRMEM);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

static int co_resume(lua_State *L) {
  lua_State *co = getco(L);
  return resume_results(L, auxresume(upS(L), L, co, lua_gettop(L) - 1));
}

static int wrap_results(lua_State *L, lua_State *co, int r);

static int auxwrap_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lua_State *co = lua_tothread(L, lua_upvalueindex(2));
  return wrap_results(L, co, reresume(upS(L), L, co));
}

static int wrap_results(lua_State *L, lua_State *co, int r) {
  if (r == -2) return lua_yieldk(L, 0, 0, auxwrap_k);
  HOOKS->check(L);
  if (r < 0) {
    int stat = lua_status(co);
    if (stat != LUA_OK && stat != LUA_YIELD) {  /* error in the coroutine */
      stat = lua_resetthread(co);  /* close its tbc variables */
      lua_xmove(co, L, 1);
    }
    if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, -2);
      lua_concat(L, 2);
    }
    return lua_error(L);
  }
  return r;
}

static int auxwrap(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(2));
  return wrap_results(L, co, auxresume(upS(L), L, co, lua_gettop(L)));
}

static int co_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_State *NL = lua_newthread(L);
  HOOKS->new_thread(NL);
  HOOKS->check(L);  /* its charge may pass a limit: say so now */
  lua_pushvalue(L, 1);
  lua_xmove(L, NL, 1);
  lua_pushcclosure(L, auxwrap, 2);  /* upvalues: scheduler, thread */
  return 1;
}

static int co_create(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *NL = lua_newthread(L);
  HOOKS->new_thread(NL);
  HOOKS->check(L);  /* its charge may pass a limit: say so now */
  lua_pushvalue(L, 1);
  lua_xmove(L, NL, 1);
  return 1;
}

static int co_yield(lua_State *L) {
  if (task_of(L) != NULL)
    return luaL_error(L, "attempt to yield from outside a coroutine");
  return lua_yield(L, lua_gettop(L));
}

static const char *status_of(lua_State *L, lua_State *co) {
  if (L == co) return "running";
  if (XS(co) != NULL) return "normal";  /* a task, or parked */
  switch (lua_status(co)) {
    case LUA_YIELD:
      return "suspended";
    case LUA_OK: {
      lua_Debug ar;
      if (lua_getstack(co, 0, &ar)) return "normal";
      if (lua_gettop(co) == 0) return "dead";
      return "suspended";
    }
    default:
      return "dead";
  }
}

static int co_status(lua_State *L) {
  lua_State *co = getco(L);
  lua_pushstring(L, status_of(L, co));
  return 1;
}

static int co_close(lua_State *L) {
  lua_State *co = getco(L);
  const char *st = status_of(L, co);
  if (strcmp(st, "dead") != 0 && strcmp(st, "suspended") != 0)
    return luaL_error(L, "cannot close a %s coroutine", st);
  lua_State *prev = HOOKS->enter(co);  /* its __close handlers run */
  int status = lua_resetthread(co);
  HOOKS->leave(prev);
  if (status != LUA_OK) HOOKS->status(status);
  HOOKS->check(L);
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_xmove(co, L, 1);
  return 2;
}

static int co_running(lua_State *L) {
  int ismain = lua_pushthread(L);
  lua_pushboolean(L, ismain || task_of(L) != NULL);
  return 2;
}

static int co_isyieldable(lua_State *L) {
  lua_State *co = lua_isnone(L, 1) ? L : getco(L);
  lua_pushboolean(L, lua_isyieldable(co) && task_of(co) == NULL);
  return 1;
}

static const luaL_Reg co_funcs[] = {
  {"spawn", sl_sched__spawn},
  {"create", co_create},
  {"resume", co_resume},
  {"wrap", co_wrap},
  {"yield", co_yield},
  {"status", co_status},
  {"close", co_close},
  {"running", co_running},
  {"isyieldable", co_isyieldable},
  {NULL, NULL}
};

/* }====================================================== */

void sl_sched_openlib(lua_State *L) {
  sl_sched *S = sl_sched_get(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, LUA_COLIBNAME) != LUA_TTABLE) {
    lua_pop(L, 1);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
  }
  lua_pushlightuserdata(L, S);
  luaL_setfuncs(L, co_funcs, 1);
  lua_pop(L, 2);
}
