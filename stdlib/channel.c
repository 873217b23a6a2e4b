/*
** channel.c - Go channels for Lua tasks: the global `channel`.
**
** A channel is a userdata with two wait queues (blocked senders, blocked
** receivers) and, when buffered, a ring of values in its user value table.
** A blocked sender's value stays on its own thread's stack (waiter.vidx);
** a receiver that finds it copies it from there.  A value for a blocked
** receiver is pushed on the receiver's thread, where its continuation
** finds it.  Waiters of plain send/receive live in the task's scratch
** area; those of a select in a userdata on the selecting thread's stack.
*/
#include "channel.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <lauxlib.h>

#include "sched.h"
#include "sl.h"

#define CASE_MT "sandlua.ChannelCase"

typedef struct chan chan;
typedef struct waiter waiter;
typedef struct selstate selstate;

struct waiter {
  sl_task *task;
  lua_State *L;     /* the blocked thread */
  chan *ch;
  waiter *prev, *next;
  selstate *sel;    /* NULL for a plain send/receive */
  int vidx;         /* sender: stack index of the value in L */
  int caseno;       /* select: 1-based case */
  int send;         /* in the channel's sendq */
  int queued;
};

typedef struct waitq {
  waiter *head, *tail;
} waitq;

struct selstate {
  int n;
  waiter w[];
};

struct chan {
  int cap, head, count, closed;
  waitq recvq, sendq;
  sl_chan_space_fn onspace;  /* one-shot, see sl_chan_notify_space */
  void *onspace_ud;
};

/* Run and clear the space notification (a receive happened or waits). */
static void note_space(chan *c) {
  sl_chan_space_fn fn = c->onspace;
  if (fn == NULL) return;
  c->onspace = NULL;
  fn(c->onspace_ud);
}

enum { OP_SEND, OP_RECV };

typedef struct chcase {
  chan *ch;
  int op;
} chcase;

/* {======================================================
** Wait queues
** ======================================================= */

static void q_push(waitq *q, waiter *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w;
  else q->head = w;
  q->tail = w;
  w->queued = 1;
}

static void q_remove(waitq *q, waiter *w) {
  if (w->prev) w->prev->next = w->next;
  else q->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else q->tail = w->prev;
  w->queued = 0;
}

static waiter *q_pop(waitq *q) {
  waiter *w = q->head;
  if (w) q_remove(q, w);
  return w;
}

/* Unlink every waiter of a select (one of its cases fired). */
static void sel_unlink(selstate *s) {
  for (int i = 0; i < s->n; i++) {
    waiter *w = &s->w[i];
    if (!w->queued) continue;
    q_remove(w->send ? &w->ch->sendq : &w->ch->recvq, w);
  }
}

/*
** Complete a receive of w: the value at `vidx` of L (0: nil) and ok.
** The receiver's continuation finds (value, ok) on top, a select's
** (caseno, value, ok).
*/
static void finish_recv(waiter *w, lua_State *L, int vidx, int ok) {
  lua_State *wl = w->L;
  if (w->sel) {
    sel_unlink(w->sel);
    lua_checkstack(wl, 3);
    lua_pushinteger(wl, w->caseno);
  }  /* a plain receive frame holds 2 slots of its LUA_MINSTACK */
  if (vidx != 0) {
    lua_pushvalue(L, vidx);
    lua_xmove(L, wl, 1);
  } else {
    lua_pushnil(wl);
  }
  lua_pushboolean(wl, ok);
  sl_sched_wake(w->task);
}

/* Complete a send of w: ok 0 when the channel was closed. */
static void finish_send(waiter *w, int ok) {
  lua_State *wl = w->L;
  if (w->sel) {
    sel_unlink(w->sel);
    lua_checkstack(wl, 3);
    lua_pushinteger(wl, w->caseno);
    lua_pushnil(wl);
  }  /* a plain send frame holds 3 slots of its LUA_MINSTACK */
  lua_pushboolean(wl, ok);
  sl_sched_wake(w->task);
}

/* Push the value of blocked sender w on L. */
static void take_sent(waiter *w, lua_State *L) {
  lua_pushvalue(w->L, w->vidx);
  lua_xmove(w->L, L, 1);
}

/* }====================================================== */

/* {======================================================
** Buffer (user value 1, a table used as a ring)
** ======================================================= */

static void buf_push(lua_State *L, chan *c, int chidx, int vidx) {
  lua_getiuservalue(L, chidx, 1);
  lua_pushvalue(L, vidx);
  lua_rawseti(L, -2, (c->head + c->count) % c->cap + 1);
  lua_pop(L, 1);
  c->count++;
}

/* Push the oldest buffered value and drop it from the buffer. */
static void buf_pop(lua_State *L, chan *c, int chidx) {
  lua_getiuservalue(L, chidx, 1);
  lua_rawgeti(L, -1, c->head + 1);
  lua_pushnil(L);
  lua_rawseti(L, -3, c->head + 1);
  lua_remove(L, -2);
  c->head = (c->head + 1) % c->cap;
  c->count--;
}

/* }====================================================== */

/* {======================================================
** The operations (non-blocking parts)
** ======================================================= */

static int can_send(chan *c) {
  return c->closed || c->recvq.head != NULL || c->count < c->cap;
}

static int can_recv(chan *c) {
  return c->count > 0 || c->sendq.head != NULL || c->closed;
}

/* Send the value at vidx; the channel must be ready and open. */
static void do_send(lua_State *L, chan *c, int chidx, int vidx) {
  waiter *w = q_pop(&c->recvq);
  if (w) finish_recv(w, L, vidx, 1);
  else buf_push(L, c, chidx, vidx);
}

/* Receive from a ready channel: pushes the value and returns ok. */
static int do_recv(lua_State *L, chan *c, int chidx) {
  note_space(c);
  if (c->count > 0) {
    buf_pop(L, c, chidx);
    waiter *w = q_pop(&c->sendq);
    if (w) {  /* a blocked sender's value takes the freed slot */
      take_sent(w, L);
      buf_push(L, c, chidx, lua_gettop(L));
      lua_pop(L, 1);
      finish_send(w, 1);
    }
    return 1;
  }
  waiter *w = q_pop(&c->sendq);
  if (w) {
    take_sent(w, L);
    finish_send(w, 1);
    return 1;
  }
  lua_pushnil(L);  /* closed */
  return 0;
}

static void do_close(lua_State *L, chan *c);

static chan *checkchan(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, SL_CHANNEL_MT);
}

/*
** The channel argument of a Lua function of this file, whose upvalue 1 is
** the channel metatable (cheaper than luaL_checkudata's lookup by name).
** Leaves the metatable on the stack (one call less on the hot path): use
** the arguments by absolute index, set the top before.
*/
static chan *argchan(lua_State *L, int idx) {
  chan *c = lua_touserdata(L, idx);
  if (c == NULL || !lua_getmetatable(L, idx) ||
      !lua_rawequal(L, -1, lua_upvalueindex(1)))
    return checkchan(L, idx);  /* raises the usual message */
  return c;
}

void sl_chan_new(lua_State *L, int cap) {
  chan *c = lua_newuserdatauv(L, sizeof *c, 2);
  memset(c, 0, sizeof *c);
  c->cap = cap;
  if (cap > 0) {
    lua_createtable(L, cap < 64 ? cap : 64, 0);
    lua_setiuservalue(L, -2, 1);
  }
  luaL_setmetatable(L, SL_CHANNEL_MT);
}

void sl_chan_setowner(lua_State *L, int chidx) {
  checkchan(L, chidx);
  lua_setiuservalue(L, chidx, 2);  /* chidx is resolved before the pop */
}

int sl_chan_trysend(lua_State *L, int chidx, int vidx) {
  chan *c = checkchan(L, chidx);
  chidx = lua_absindex(L, chidx);
  vidx = lua_absindex(L, vidx);
  if (c->closed || !can_send(c)) return 0;
  do_send(L, c, chidx, vidx);
  return 1;
}

void sl_chan_notify_space(lua_State *L, int chidx, sl_chan_space_fn fn,
                          void *ud) {
  chan *c = checkchan(L, chidx);
  c->onspace = fn;
  c->onspace_ud = ud;
}

int sl_chan_isclosed(lua_State *L, int chidx) {
  return checkchan(L, chidx)->closed;
}

void sl_chan_close(lua_State *L, int chidx) {
  do_close(L, checkchan(L, chidx));
}

void sl_chan_drain(lua_State *L, int chidx) {
  chan *c = checkchan(L, chidx);
  chidx = lua_absindex(L, chidx);
  while (c->count > 0) {
    buf_pop(L, c, chidx);
    lua_pop(L, 1);
  }
}

/* }====================================================== */

/* {======================================================
** Lua functions
** ======================================================= */

static int ch_new(lua_State *L) {
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, cap >= 0 && cap <= INT32_MAX / 2, 1,
                "size must be between 0 and 1073741823");
  sl_chan_new(L, (int)cap);
  return 1;
}

/* Make w the wait of task t (thread L) on channel c, all else zero. */
static void waiter_init(waiter *w, sl_task *t, lua_State *L, chan *c) {
  memset(w, 0, sizeof *w);
  w->task = t;
  w->L = L;
  w->ch = c;
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (!lua_toboolean(L, -1))
    return luaL_error(L, "send on closed channel");
  return 1;
}

static int ch_send(lua_State *L) {
  lua_settop(L, 2);
  chan *c = argchan(L, 1);
  if (c->closed) return luaL_error(L, "send on closed channel");
  if (can_send(c)) {
    do_send(L, c, 1, 2);
    lua_pushboolean(L, 1);
    return 1;
  }
  sl_task *t = sl_sched_self(L, "channel.send");
  waiter *w = sl_task_scratch(t);
  waiter_init(w, t, L, c);
  w->vidx = 2;
  q_push(&c->sendq, w);
  return sl_sched_block(L, "channel.send", send_k, 0);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  (void)L;
  return 2;
}

static int ch_receive(lua_State *L) {
  chan *c = argchan(L, 1);
  if (can_recv(c)) {
    lua_pushboolean(L, do_recv(L, c, 1));
    return 2;
  }
  sl_task *t = sl_sched_self(L, "channel.receive");
  waiter *w = sl_task_scratch(t);
  waiter_init(w, t, L, c);
  q_push(&c->recvq, w);
  note_space(c);
  return sl_sched_block(L, "channel.receive", recv_k, 0);
}

static void do_close(lua_State *L, chan *c) {
  if (c->closed) return;
  c->closed = 1;
  waiter *w;
  while ((w = q_pop(&c->recvq)) != NULL) finish_recv(w, L, 0, 0);
  while ((w = q_pop(&c->sendq)) != NULL) finish_send(w, 0);
  note_space(c);
}

static int ch_close(lua_State *L) {
  do_close(L, argchan(L, 1));
  return 0;
}

static int ch_len(lua_State *L) {
  lua_pushinteger(L, argchan(L, 1)->count);
  return 1;
}

static int ch_cap(lua_State *L) {
  lua_pushinteger(L, argchan(L, 1)->cap);
  return 1;
}

static int new_case(lua_State *L, int op) {
  lua_settop(L, 2);
  chan *c = argchan(L, 1);
  chcase *k = lua_newuserdatauv(L, sizeof *k, 2);
  k->ch = c;
  k->op = op;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  return 1;
}

static int ch_case_send(lua_State *L) { return new_case(L, OP_SEND); }

static int ch_case_receive(lua_State *L) {
  lua_settop(L, 1);
  return new_case(L, OP_RECV);
}

/* {------------------------------------------------------
** select
** ------------------------------------------------------- */

static uint64_t rng_state;

/* xorshift64*, seeded once per process. */
static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * UINT64_C(2685821657736338717);
}

static void rng_seed(void) {
  if (rng_state != 0) return;
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
    s = (uint64_t)sl_now_ns() ^ (uint64_t)(uintptr_t)&s;
  rng_state = s ? s : UINT64_C(0x9e3779b97f4a7c15);
}

/* Uniform in [0, n). */
static int rng_below(int n) {
  return (int)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* Build {channel = ch, value = v, ok = ok} from case index 1+caseno. */
static int sel_result(lua_State *L, int caseidx, int vidx, int ok) {
  lua_createtable(L, 0, 3);
  lua_getiuservalue(L, caseidx, 1);
  lua_setfield(L, -2, "channel");
  if (vidx != 0) {
    lua_pushvalue(L, vidx);
    lua_setfield(L, -2, "value");
  }
  lua_pushboolean(L, ok);
  lua_setfield(L, -2, "ok");
  return 1;
}

static int sel_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  int n = (int)ctx;
  int caseno = (int)lua_tointeger(L, -3);
  int ok = lua_toboolean(L, -1);
  chcase *k = lua_touserdata(L, 1 + caseno);
  if (k->op == OP_SEND) {
    if (!ok) return luaL_error(L, "send on closed channel");
    return sel_result(L, 1 + caseno, 0, 1);
  }
  (void)n;
  return sel_result(L, 1 + caseno, lua_gettop(L) - 1, ok);
}

/*
** channel.select{case, ..., default = true}.  Stack while it works:
** 1 the table, 2..n+1 the cases, n+2..2n+1 their values (send cases).
*/
static int ch_select(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_Integer nn = (lua_Integer)lua_rawlen(L, 1);
  luaL_argcheck(L, nn <= 4096, 1, "too many cases (at most 4096)");
  int n = (int)nn;
  lua_getfield(L, 1, "default");
  int has_default = lua_toboolean(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, 2 * n + 8, "too many cases");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    int hasmt = lua_getmetatable(L, -1);
    int iscase = hasmt && lua_rawequal(L, -1, lua_upvalueindex(2));
    if (hasmt) lua_pop(L, 1);
    if (!iscase)
      return luaL_error(L, "channel.select: case %d is not a channel case "
                        "(ch:case_send(v) or ch:case_receive()), got %s",
                        i, luaL_typename(L, -1));
  }
  int nready = 0;
  int pick = 0;
  for (int i = 1; i <= n; i++) {
    chcase *k = lua_touserdata(L, 1 + i);
    if (k->op == OP_SEND ? can_send(k->ch) : can_recv(k->ch)) {
      /* reservoir sampling: uniform among the ready cases */
      nready++;
      if (rng_below(nready) == 0) pick = i;
    }
  }
  for (int i = 1; i <= n; i++) {  /* values of the send cases */
    chcase *k = lua_touserdata(L, 1 + i);
    if (k->op == OP_SEND) lua_getiuservalue(L, 1 + i, 2);
    else lua_pushnil(L);
  }
  if (pick > 0) {
    chcase *k = lua_touserdata(L, 1 + pick);
    lua_getiuservalue(L, 1 + pick, 1);  /* the channel */
    int chidx = lua_gettop(L);
    if (k->op == OP_SEND) {
      if (k->ch->closed) return luaL_error(L, "send on closed channel");
      do_send(L, k->ch, chidx, 1 + n + pick);
      return sel_result(L, 1 + pick, 0, 1);
    }
    int ok = do_recv(L, k->ch, chidx);
    return sel_result(L, 1 + pick, lua_gettop(L), ok);
  }
  if (has_default) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "default");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
  }
  sl_task *t = sl_sched_self(L, "channel.select");
  selstate *s = lua_newuserdatauv(L, sizeof *s + (size_t)n * sizeof(waiter),
                                  0);
  s->n = n;
  for (int i = 1; i <= n; i++) {
    chcase *k = lua_touserdata(L, 1 + i);
    waiter *w = &s->w[i - 1];
    waiter_init(w, t, L, k->ch);
    w->sel = s;
    w->caseno = i;
    if (k->op == OP_SEND) {
      w->vidx = 1 + n + i;
      w->send = 1;
      q_push(&k->ch->sendq, w);
    } else {
      q_push(&k->ch->recvq, w);
    }
  }
  for (int i = 0; i < n; i++)
    if (!s->w[i].send) note_space(s->w[i].ch);
  return sl_sched_block(L, "channel.select", sel_k, n);
}

/* }------------------------------------------------------ */

static const luaL_Reg ch_methods[] = {
  {"send", ch_send},
  {"receive", ch_receive},
  {"close", ch_close},
  {"case_send", ch_case_send},
  {"case_receive", ch_case_receive},
  {"len", ch_len},
  {"cap", ch_cap},
  {NULL, NULL}
};

static const luaL_Reg ch_funcs[] = {
  {"new", ch_new},
  {"select", ch_select},
  {NULL, NULL}
};

int luaopen_channel(lua_State *L) {
  rng_seed();
  sl_sched_get(L);
  luaL_newmetatable(L, SL_CHANNEL_MT);
  lua_pushliteral(L, SL_CHANNEL_MT);  /* getmetatable gives the name */
  lua_setfield(L, -2, "__metatable");
  luaL_newmetatable(L, CASE_MT);
  lua_pushliteral(L, CASE_MT);
  lua_setfield(L, -2, "__metatable");
  lua_newtable(L);  /* methods */
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  luaL_setfuncs(L, ch_methods, 2);
  lua_setfield(L, -3, "__index");
  lua_newtable(L);  /* the module */
  lua_insert(L, -3);
  luaL_setfuncs(L, ch_funcs, 2);
  return 1;
}
