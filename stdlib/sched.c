/*
** sched.c - the cooperative scheduler (see sched.h for the contract).
**
** A task is a full userdata (struct sl_task) anchored in the registry while
** the task lives; its thread is the userdata's user value, and the thread's
** extra space points back at the task.  The extra space of other threads
** tells what they are: NULL for a script's own coroutine (copied from the
** main thread), &sl_sched__parked for a script's coroutine suspended inside a
** blocking call of its task.
**
** A blocking call yields its thread with S->blocking set.  The coroutine
** functions (coroutine.c) see the flag when their lua_resume returns, and yield
** their own thread in turn (with a continuation that resumes the child
** again), so the yield reaches the scheduler's lua_resume of the task
** thread.  S->chain_ok says whether every thread of that chain can yield,
** so a call that cannot block fails before it queues anything.
*/
#include "sched_internal.h"

#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "sl.h"

static char sched_key;   /* registry key of the scheduler userdata */

static void no_new_thread(lua_State *co) { (void)co; }
static lua_State *no_enter(lua_State *co) { (void)co; return NULL; }
static void no_leave(lua_State *prev) { (void)prev; }
static void no_check(lua_State *L) { (void)L; }
static int no_status(int status) { return status; }
static const sl_sched_hooks no_hooks = {no_new_thread, no_enter, no_leave,
                                        no_check, no_status};
char sl_sched__parked;  /* extra space mark of a parked coroutine */
const sl_sched_hooks *sl_sched__hooks = &no_hooks;
static lua_State *volatile running_thread;
static sl_sched *running_sched;  /* the scheduler running a task */
static sl_ev *volatile waiting_ev;  /* in sl_ev_wait */
static volatile sig_atomic_t interrupted;

#define MAX_WAIT_NS (INT64_C(3600) * 1000000000)  /* longest single wait */


int64_t sl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

lua_State *sl_sched_running_thread(void) { return running_thread; }

void sl_sched_interrupt(void) {
  interrupted = 1;
  sl_ev *ev = waiting_ev;
  if (ev != NULL) sl_ev_wake(ev);  /* an eventfd write */
}
lua_State *sl_task_thread(sl_task *t) { return t->wl; }
sl_sched *sl_task_sched(sl_task *t) { return t->S; }
void *sl_task_scratch(sl_task *t) { return t->scratch.bytes; }
lua_State *sl_sched_state(sl_sched *S) { return S->L; }
void sl_sched_hold(sl_sched *S) { S->holds++; }
void sl_sched_release(sl_sched *S) { if (S->holds > 0) S->holds--; }

/* {======================================================
** Timers: a binary min-heap; the loop waits until its root is due
** ======================================================= */

static void heap_swap(sl_sched *S, int i, int j) {
  sl_timer *a = S->heap[i];
  S->heap[i] = S->heap[j];
  S->heap[j] = a;
  S->heap[i]->idx = i;
  S->heap[j]->idx = j;
}

static void heap_up(sl_sched *S, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (S->heap[p]->due <= S->heap[i]->due) break;
    heap_swap(S, i, p);
    i = p;
  }
}

static void heap_down(sl_sched *S, int i) {
  for (;;) {
    int l = 2 * i + 1, m = i;
    if (l < S->nheap && S->heap[l]->due < S->heap[m]->due) m = l;
    if (l + 1 < S->nheap && S->heap[l + 1]->due < S->heap[m]->due) m = l + 1;
    if (m == i) return;
    heap_swap(S, i, m);
    i = m;
  }
}

static void heap_remove(sl_sched *S, int i) {
  S->heap[i]->idx = -1;
  S->nheap--;
  if (i == S->nheap) return;
  S->heap[i] = S->heap[S->nheap];
  S->heap[i]->idx = i;
  heap_up(S, i);
  heap_down(S, S->heap[i]->idx);
}

void sl_timer_init(sl_timer *t) {
  memset(t, 0, sizeof *t);
  t->idx = -1;
}

void sl_timer_start(sl_sched *S, sl_timer *t, int64_t ns, sl_timer_cb cb) {
  if (S->closed) return;
  if (t->S != NULL && t->idx >= 0) heap_remove(t->S, t->idx);
  if (S->nheap == S->capheap) {
    int cap = S->capheap ? 2 * S->capheap : 16;
    sl_timer **h = realloc(S->heap, (size_t)cap * sizeof *h);
    if (h == NULL) abort();  /* as Lua's allocator failing inside C */
    S->heap = h;
    S->capheap = cap;
  }
  t->S = S;
  t->cb = cb;
  int64_t now = sl_now_ns();
  if (ns < 0) ns = 0;
  t->due = ns > INT64_MAX - now ? INT64_MAX : now + ns;
  t->idx = S->nheap;
  S->heap[S->nheap++] = t;
  heap_up(S, t->idx);
}

int sl_timer_stop(sl_timer *t) {
  if (t->S == NULL || t->idx < 0) return 0;
  heap_remove(t->S, t->idx);
  return 1;
}

/* Run the callbacks of the timers due by `now`. */
static void fire_due(sl_sched *S, int64_t now) {
  while (S->nheap > 0 && S->heap[0]->due <= now) {
    sl_timer *t = S->heap[0];
    heap_remove(S, 0);
    t->cb(t);
  }
}

/* }====================================================== */

/* {======================================================
** Waiting
** ======================================================= */

sl_ev *sl_sched_loop(lua_State *L) {
  sl_sched *S = sl_sched_get(L);
  if (S->ev.epfd < 0)
    luaL_error(L, "cannot create the event loop: %s", strerror(-S->ev_err));
  return &S->ev;
}

/*
** Wait for a socket event or the earliest timer, whichever comes first
** (epoll_pwait2: nanoseconds).  While no socket is held only timers can
** wake a task: sleep to the earliest deadline without the loop (a signal
** ends the sleep early; the loop looks at the clock again).
*/
static int wait_events(sl_sched *S) {
  int64_t d = -1;
  if (S->nheap > 0) {
    d = S->heap[0]->due - sl_now_ns();
    if (d <= 0) return 0;  /* time.sleep(0): no system call */
    if (d > MAX_WAIT_NS) d = MAX_WAIT_NS;  /* re-armed on the next turn */
  }
  if (S->holds == 0 && S->nheap > 0) {
    int64_t due = S->heap[0]->due;
    struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
    if (!interrupted) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    return 0;
  }
  if (S->ev.epfd < 0) return -1;
  waiting_ev = &S->ev;  /* before looking at the flag: no lost interrupt */
  if (!interrupted) sl_ev_wait(&S->ev, d);
  waiting_ev = NULL;
  S->last_poll = sl_now_ns();
  return 0;
}

/* }====================================================== */

/* {======================================================
** Tasks
** ======================================================= */

static void runq_push(sl_sched *S, sl_task *t) {
  t->next = NULL;
  if (S->runq_tail) S->runq_tail->next = t;
  else S->runq = t;
  S->runq_tail = t;
  S->nrunq++;
}

static sl_task *runq_pop(sl_sched *S) {
  sl_task *t = S->runq;
  S->runq = t->next;
  if (S->runq == NULL) S->runq_tail = NULL;
  S->nrunq--;
  return t;
}

/*
** New runnable task running the function below its n-1 arguments at the
** top of L (consumed).  Stack: -n.
*/
static sl_task *task_new(sl_sched *S, lua_State *L, int n) {
  lua_State *co = lua_newthread(L);
  HOOKS->new_thread(co);  /* e.g. one instruction budget for all */
  sl_task *t = lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);  /* the thread */
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, co, n);
  t->co = t->wl = co;
  t->S = S;
  t->id = ++S->next_id;
  t->nargs = n - 1;
  t->state = T_RUNNABLE;
  XS(co) = t;
  t->aprev = S->all_tail;
  if (S->all_tail) S->all_tail->anext = t;
  else S->all = t;
  S->all_tail = t;
  runq_push(S, t);
  return t;
}

static void task_finish(sl_sched *S, sl_task *t) {
  if (t->aprev) t->aprev->anext = t->anext;
  else S->all = t->anext;
  if (t->anext) t->anext->aprev = t->aprev;
  else S->all_tail = t->aprev;
  t->state = T_DONE;
  XS(t->co) = NULL;
  luaL_unref(S->L, LUA_REGISTRYINDEX, t->ref);  /* t may be freed by now */
}

int sl_sched__spawn(lua_State *L) {
  sl_sched *S = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TFUNCTION);
  task_new(S, L, lua_gettop(L));
  return 0;
}

sl_task *sl_sched_self(lua_State *L, const char *what) {
  sl_sched *S = running_sched;
  if (S == NULL || S->current == NULL || S->L == L)
    luaL_error(L, "%s: cannot block here (not inside a task)", what);
  if (L != S->top)  /* a coroutine resumed by C code, not by coroutine.* */
    luaL_error(L, "%s: cannot block here (inside a coroutine resumed from "
               "C)", what);
  if (!lua_isyieldable(L) || !S->chain_ok)
    luaL_error(L, "%s: cannot block here (attempt to yield across a "
               "C-call boundary)", what);
  return S->current;
}

int sl_sched_can_block(lua_State *L) {
  sl_sched *S = running_sched;
  return S != NULL && S->current != NULL && S->L != L && L == S->top &&
         lua_isyieldable(L) && S->chain_ok;
}

int sl_sched_block(lua_State *L, const char *what, lua_KFunction k,
                   lua_KContext ctx) {
  sl_sched *S = running_sched;
  if (S == NULL || S->current == NULL)  /* sl_sched_self was not called */
    return luaL_error(L, "%s: cannot block here (not inside a task)", what);
  sl_task *t = S->current;
  t->what = what;
  t->wl = L;
  if (t->woken) {
    t->woken = 0;
    t->state = T_RUNNABLE;
    runq_push(S, t);
  } else {
    t->state = T_BLOCKED;
  }
  S->blocking = 1;
  return lua_yieldk(L, 0, ctx, k);
}

void sl_sched_wake(sl_task *t) {
  sl_sched *S = t->S;
  if (t->state == T_BLOCKED) {
    t->state = T_RUNNABLE;
    runq_push(S, t);  /* the loop runs it once the wait returns */
  } else if (t->state == T_RUNNING) {
    t->woken = 1;
  }
}

/* }====================================================== */

/* {======================================================
** The loop
** ======================================================= */

/* Move the error of co to S->L as a message with co's traceback. */
static void push_task_error(sl_sched *S, lua_State *co) {
  lua_State *L = S->L;
  lua_xmove(co, L, 1);
  const char *msg = lua_tostring(L, -1);
  if (msg == NULL) {
    if (luaL_callmeta(L, -1, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING) {
      int iserr = sl_iserror(L, -2) >= 0;
      lua_remove(L, -2);
      if (!iserr) return;  /* as lua.c: an object with __tostring */
      msg = lua_tostring(L, -1);
    } else {
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, -1));
      lua_remove(L, -2);
    }
  }
  luaL_traceback(L, co, msg, 0);
  /* the task's function was called from C, as lua.c's chunks are */
  lua_pushliteral(L, "\n\t[C]: in ?");
  lua_concat(L, 2);
  lua_remove(L, -2);
}

/* "file:line" of the innermost Lua function of thread co, pushed on L. */
static void push_where(lua_State *L, lua_State *co) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(co, level, &ar); level++) {
    lua_getinfo(co, "Sl", &ar);
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
      return;
    }
  }
  lua_pushliteral(L, "?");
}

#define DEADLOCK_LIST_MAX 50  /* tasks named in the report (and the main) */

static void push_deadlock(sl_sched *S) {
  lua_State *L = S->L;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "deadlock: all tasks are blocked");
  int listed = 0, more = 0;
  for (sl_task *t = S->all; t != NULL; t = t->anext) {
    if (t->state != T_BLOCKED) continue;
    if (listed == DEADLOCK_LIST_MAX && t != S->main) {
      more++;
      continue;
    }
    listed++;
    lua_pushfstring(L, "\n  task %d%s: %s at ", (int)t->id,
                    t == S->main ? " (main)" : "",
                    t->what ? t->what : "?");
    luaL_addvalue(&b);
    push_where(L, t->wl);
    luaL_addvalue(&b);
  }
  if (more > 0) {
    lua_pushfstring(L, "\n  ... and %d more blocked tasks", more);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
}

/* Resume t once; on an error leave the message on S->L. */
static int resume_task(sl_sched *S, sl_task *t) {
  int nres, nargs = t->nargs;
  lua_State *co = t->co;
  t->nargs = 0;
  t->state = T_RUNNING;
  S->current = t;
  S->chain_ok = 1;
  S->top = co;
  running_thread = co;
  sl_sched *saved = running_sched;
  running_sched = S;
  lua_State *prev = HOOKS->enter(co);  /* e.g. the limits' signals stop co */
  int st = lua_resume(co, S->L, nargs, &nres);
  HOOKS->leave(prev);
  running_sched = saved;
  running_thread = NULL;
  S->current = NULL;
  if (st == LUA_YIELD) {
    if (S->blocking) {
      S->blocking = 0;
    } else {  /* a plain yield of the task thread: run again later */
      lua_pop(co, nres);
      t->state = T_RUNNABLE;
      runq_push(S, t);
    }
    return LUA_OK;
  }
  if (st == LUA_OK) {
    if (t == S->main) {
      S->main_nres = nres;
      S->main_done = 1;
    } else {
      lua_settop(co, 0);
    }
    task_finish(S, t);
    return LUA_OK;
  }
  S->blocking = 0;
  push_task_error(S, co);
  if (t == S->main) S->main_done = 1;
  task_finish(S, t);
  return st;
}

static int loop(sl_sched *S) {
  for (;;) {
    if (interrupted) {
      interrupted = 0;
      lua_pushliteral(S->L, "interrupted!");
      return LUA_ERRRUN;
    }
    if (S->nheap > 0) fire_due(S, sl_now_ns());
    for (int n = S->nrunq; n > 0 && S->nrunq > 0; n--) {
      int st = resume_task(S, runq_pop(S));
      if (st != LUA_OK) return st;
      if (S->main_done) return LUA_OK;
    }
    if (S->nrunq > 0) {
      /* give sockets a look now and then while tasks keep running */
      if (S->holds > 0 && S->ev.epfd >= 0) {
        int64_t now = sl_now_ns();
        if (now - S->last_poll >= 1000000) {
          sl_ev_wait(&S->ev, 0);
          S->last_poll = now;
          HOOKS->check(S->L);
        }
      }
      continue;
    }
    if (S->nheap == 0 && S->holds == 0) {
      push_deadlock(S);
      return LUA_ERRRUN;
    }
    if (wait_events(S) != 0) {
      lua_pushfstring(S->L, "cannot create the event loop: %s",
                      strerror(-S->ev_err));
      return LUA_ERRRUN;
    }
    HOOKS->check(S->L);  /* a limit's signal ends the wait (EINTR) */
  }
}

/* The loop under lua_pcall: its status in S->loop_status, a message on
** top when it is an error. */
static int loop_protected(lua_State *L) {
  sl_sched *S = lua_touserdata(L, 1);
  S->loop_status = loop(S);
  return S->loop_status == LUA_OK ? 0 : 1;
}

int sl_sched_run(lua_State *L, int narg, int nres) {
  sl_sched *S = sl_sched_get(L);
  if (S->running || L != S->L) {
    lua_pop(L, narg + 1);
    lua_pushliteral(L, "cannot run the scheduler from inside a task");
    return LUA_ERRRUN;
  }
  int base = lua_gettop(L) - narg;
  sl_task *t = task_new(S, L, narg + 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
  lua_getiuservalue(L, -1, 1);  /* keep the main thread on L's stack */
  lua_remove(L, -2);
  lua_State *co = lua_tothread(L, -1);
  S->main = t;
  S->main_done = 0;
  S->running = 1;
  lua_pushcfunction(L, loop_protected);
  lua_pushlightuserdata(L, S);
  int st = lua_pcall(L, 1, 1, 0);
  if (st == LUA_OK) {
    st = S->loop_status;
    if (st == LUA_OK) lua_pop(L, 1);
  } else {  /* raised by a timer callback or while reporting */
    S->current = NULL;
    S->blocking = 0;
    running_sched = NULL;
    running_thread = NULL;
  }
  S->running = 0;
  S->main = NULL;
  if (st == LUA_OK) {
    int n = S->main_nres;
    if (nres == LUA_MULTRET) nres = n;
    if (n > nres) {
      lua_pop(co, n - nres);
      n = nres;
    }
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, n);
      lua_pushliteral(L, "too many results");
      lua_remove(L, base);
      return LUA_ERRRUN;
    }
    lua_xmove(co, L, n);
    for (; n < nres; n++) lua_pushnil(L);
  }
  lua_remove(L, base);  /* the main thread */
  return st;
}

/* }====================================================== */

static int sched_gc(lua_State *L) {
  sl_sched *S = lua_touserdata(L, 1);
  if (S->closed) return 0;
  S->closed = 1;
  for (int i = 0; i < S->nheap; i++) S->heap[i]->idx = -1;
  S->nheap = 0;
  free(S->heap);
  S->heap = NULL;
  sl_ev_close(&S->ev);
  return 0;
}

sl_sched *sl_sched_get(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &sched_key) == LUA_TUSERDATA) {
    sl_sched *S = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return S;
  }
  lua_pop(L, 1);
  sl_sched *S = lua_newuserdatauv(L, sizeof *S, 0);
  memset(S, 0, sizeof *S);
  S->ev_err = sl_ev_init(&S->ev);  /* now: before a sandbox locks down */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, sched_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &sched_key);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  S->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  XS(S->L) = NULL;  /* copied into every new coroutine */
  return S;
}

void sl_sched_set_hooks(const sl_sched_hooks *h) {
  sl_sched__hooks = h != NULL ? h : &no_hooks;
}

