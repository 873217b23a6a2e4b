/*
** Unit tests of stdlib/sched.c's C API, used the way a socket module uses
** it: block a task from a C function, wake it from a timer callback or from
** a descriptor callback inside the loop's wait, results pushed on the task's
** thread.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../../stdlib/sched.h"
#include "../../stdlib/sl.h"

static lua_State *newstate(void) {
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  sl_openlibs(L);
  return L;
}

/* Run `code` as the main task; returns the status, result or message on
** top. */
static int run(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
  return sl_sched_run(L, 0, 1);
}

/* {======================================================
** Timers: order, never early, stop
** ======================================================= */

#define NTIMERS 300

typedef struct tstate {
  sl_timer tm[NTIMERS];
  int64_t due[NTIMERS];
  int stopped[NTIMERS];
  int fired_order[NTIMERS];
  int nfired, nwant;
  int early;
  int hold;  /* keep a "socket" open: wait in the loop */
  sl_task *task;
} tstate;

static tstate *TS;

static void timer_cb(sl_timer *tm) {
  int i = (int)(tm - TS->tm);
  if (sl_now_ns() < tm->due) TS->early++;
  TS->fired_order[TS->nfired++] = i;
  if (TS->nfired == TS->nwant) {
    if (TS->hold) sl_sched_release(sl_task_sched(TS->task));
    lua_State *wl = sl_task_thread(TS->task);
    lua_pushinteger(wl, TS->nfired);
    sl_sched_wake(TS->task);
  }
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  (void)L;
  return 1;  /* what the waker pushed */
}

static int l_wait_timers(lua_State *L) {
  TS->task = sl_sched_self(L, "wait_timers");
  sl_sched *S = sl_task_sched(TS->task);
  unsigned seed = 7;
  for (int i = 0; i < NTIMERS; i++) {
    sl_timer_init(&TS->tm[i]);
    int64_t ns = (int64_t)(rand_r(&seed) % 3000) * 1000;  /* 0..3 ms */
    sl_timer_start(S, &TS->tm[i], ns, timer_cb);
    TS->due[i] = TS->tm[i].due;
  }
  for (int i = 0; i < NTIMERS; i += 3) {  /* stop a third, re-arm some */
    assert_int_equal(sl_timer_stop(&TS->tm[i]), 1);
    assert_int_equal(sl_timer_stop(&TS->tm[i]), 0);
    TS->stopped[i] = 1;
  }
  TS->nwant = NTIMERS - (NTIMERS + 2) / 3;
  if (TS->hold) sl_sched_hold(S);
  return sl_sched_block(L, "wait_timers", wait_k, 0);
}

static void timers_order_and_stop(int hold) {
  tstate ts;
  memset(&ts, 0, sizeof ts);
  ts.hold = hold;
  TS = &ts;
  lua_State *L = newstate();
  lua_register(L, "wait_timers", l_wait_timers);
  assert_int_equal(run(L, "return wait_timers()"), LUA_OK);
  assert_int_equal(lua_tointeger(L, -1), ts.nwant);
  assert_int_equal(ts.nfired, ts.nwant);
  assert_int_equal(ts.early, 0);
  for (int k = 0; k < ts.nfired; k++) {
    int i = ts.fired_order[k];
    assert_false(ts.stopped[i]);
    if (k > 0) assert_true(ts.due[ts.fired_order[k - 1]] <= ts.due[i]);
  }
  lua_close(L);
}

/* Only timers: the loop sleeps with clock_nanosleep. */
static void test_timers_order_and_stop(void **state) {
  (void)state;
  timers_order_and_stop(0);
}

/* A socket is open: the loop waits in epoll with the timers' deadline. */
static void test_timers_in_loop(void **state) {
  (void)state;
  timers_order_and_stop(1);
}

/* }====================================================== */

/* {======================================================
** A wake-up from a descriptor callback inside the loop's wait
** ======================================================= */

typedef struct fdwake {
  sl_evio io;
  sl_task *task;
  sl_sched *S;
  int other[2];
} fdwake;

static fdwake FW;

/* As a socket callback would: runs inside the wait, wakes the task. */
static void fd_cb(sl_evio *io, unsigned events) {
  fdwake *w = (fdwake *)io;
  assert_true(events & SL_EV_READ);
  char buf[16];
  ssize_t n = read(io->fd, buf, sizeof buf);
  assert_true(n > 0);
  lua_pushlstring(sl_task_thread(w->task), buf, (size_t)n);
  assert_int_equal(sl_ev_watch(sl_sched_loop(sl_sched_state(w->S)), io, 0),
                   0);
  sl_sched_release(w->S);
  sl_sched_wake(w->task);
}

static int l_wait_fd(lua_State *L) {
  sl_ev *ev = sl_sched_loop(L);
  assert_ptr_equal(ev, sl_sched_loop(L));  /* one loop */
  FW.task = sl_sched_self(L, "wait_fd");
  FW.S = sl_task_sched(FW.task);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, FW.other), 0);
  FW.io.fd = FW.other[0];
  FW.io.cb = fd_cb;
  assert_int_equal(sl_ev_watch(ev, &FW.io, SL_EV_READ), 0);
  sl_sched_hold(FW.S);  /* an open "socket": not a deadlock */
  assert_int_equal(write(FW.other[1], "woken by fd", 11), 11);
  return sl_sched_block(L, "wait_fd", wait_k, 0);
}

static void test_wake_from_fd_callback(void **state) {
  (void)state;
  lua_State *L = newstate();
  memset(&FW, 0, sizeof FW);
  lua_register(L, "wait_fd", l_wait_fd);
  assert_int_equal(run(L, "return wait_fd()"), LUA_OK);
  assert_string_equal(lua_tostring(L, -1), "woken by fd");
  lua_close(L);
  close(FW.other[0]);
  close(FW.other[1]);
}

/* }====================================================== */

/* {======================================================
** The loop alone: a callback that unwatches another ready descriptor
** ======================================================= */

typedef struct pairio {
  sl_evio io;
  int calls;
  struct pairio *victim;
  sl_ev *ev;
} pairio;

static void pair_cb(sl_evio *io, unsigned events) {
  pairio *p = (pairio *)io;
  (void)events;
  p->calls++;
  char b[8];
  assert_true(read(io->fd, b, sizeof b) > 0);
  if (p->victim) {  /* its event is in this batch: must not be delivered */
    assert_int_equal(sl_ev_watch(p->ev, &p->victim->io, 0), 0);
    p->victim->io.fd = -1;
    p->victim = NULL;
  }
}

static void test_unwatch_inside_batch(void **state) {
  (void)state;
  sl_ev ev;
  assert_int_equal(sl_ev_init(&ev), 0);
  int a[2], b[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  pairio pa = {.io = {.fd = a[0], .cb = pair_cb}, .ev = &ev};
  pairio pb = {.io = {.fd = b[0], .cb = pair_cb}, .ev = &ev};
  pa.victim = &pb;
  pb.victim = &pa;  /* whichever comes first drops the other */
  assert_int_equal(sl_ev_watch(&ev, &pa.io, SL_EV_READ), 0);
  assert_int_equal(sl_ev_watch(&ev, &pb.io, SL_EV_READ), 0);
  assert_int_equal(write(a[1], "x", 1), 1);
  assert_int_equal(write(b[1], "y", 1), 1);
  assert_int_equal(sl_ev_wait(&ev, 1000000000), 1);
  assert_int_equal(pa.calls + pb.calls, 1);
  /* nothing ready, a timeout in nanoseconds: 0 events */
  assert_int_equal(sl_ev_wait(&ev, 1000), 0);
  /* a wake-up ends a wait without a callback */
  sl_ev_wake(&ev);
  assert_int_equal(sl_ev_wait(&ev, -1), 0);
  /* watching for nothing removes it: a hang-up is not reported */
  pairio *left = pa.calls ? &pa : &pb;
  assert_int_equal(sl_ev_watch(&ev, &left->io, 0), 0);
  close(left == &pa ? a[1] : b[1]);
  assert_int_equal(sl_ev_wait(&ev, 1000), 0);
  sl_ev_close(&ev);
  close(a[0]);
  close(b[0]);
  if (left == &pa) close(b[1]);
  else close(a[1]);
}

/* }====================================================== */

/* {======================================================
** A TCP connection on the shared loop, events through sl_evio
** ======================================================= */

typedef struct conn {
  sl_evio io;
  sl_task *reader;
  sl_sched *S;
  int listener, peer;
  int connected;
} conn;

static conn C;

static void conn_cb(sl_evio *io, unsigned events) {
  conn *c = (conn *)io;
  sl_ev *ev = sl_sched_loop(sl_sched_state(c->S));
  if (!c->connected) {
    assert_true(events & SL_EV_WRITE);
    c->connected = 1;
    c->peer = accept(c->listener, NULL, NULL);
    assert_true(c->peer >= 0);
    assert_int_equal(write(c->peer, "hello", 5), 5);
    assert_int_equal(sl_ev_watch(ev, io, SL_EV_READ), 0);
    return;
  }
  char buf[16];
  ssize_t n = recv(io->fd, buf, sizeof buf, 0);
  if (n > 0 && c->reader != NULL) {
    lua_pushlstring(sl_task_thread(c->reader), buf, (size_t)n);
    sl_sched_wake(c->reader);
    c->reader = NULL;
    assert_int_equal(sl_ev_watch(ev, io, 0), 0);
    sl_sched_release(c->S);
  }
}

static int l_tcp_read(lua_State *L) {
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  C.listener = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(C.listener >= 0);
  assert_int_equal(bind(C.listener, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(C.listener, 1), 0);
  assert_int_equal(getsockname(C.listener, (struct sockaddr *)&sa, &slen), 0);
  C.reader = sl_sched_self(L, "tcp_read");
  C.S = sl_task_sched(C.reader);
  C.io.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  C.io.cb = conn_cb;
  assert_true(C.io.fd >= 0);
  int r = connect(C.io.fd, (struct sockaddr *)&sa, sizeof sa);
  assert_true(r == 0 || errno == EINPROGRESS);
  assert_int_equal(sl_ev_watch(sl_sched_loop(L), &C.io, SL_EV_WRITE), 0);
  sl_sched_hold(C.S);
  return sl_sched_block(L, "tcp_read", wait_k, 0);
}

static void test_tcp_connection_events(void **state) {
  (void)state;
  memset(&C, 0, sizeof C);
  C.peer = -1;
  lua_State *L = newstate();
  lua_register(L, "tcp_read", l_tcp_read);
  assert_int_equal(run(L, "return tcp_read()"), LUA_OK);
  assert_string_equal(lua_tostring(L, -1), "hello");
  assert_true(C.connected);
  lua_close(L);
  close(C.io.fd);
  close(C.peer);
  close(C.listener);
}

/* }====================================================== */

/* {======================================================
** Errors: deadlock, blocking outside a task, errors in tasks
** ======================================================= */

static void test_deadlock_message(void **state) {
  (void)state;
  lua_State *L = newstate();
  assert_int_equal(run(L, "local c = channel.new()\n"
                          "coroutine.spawn(function() c:send(1) end)\n"
                          "channel.new():receive()"),
                   LUA_ERRRUN);
  const char *msg = lua_tostring(L, -1);
  assert_non_null(strstr(msg, "deadlock: all tasks are blocked\n"));
  assert_non_null(strstr(msg, "task 1 (main): channel.receive at "
                              "[string \"local c = channel.new()...\"]:3"));
  assert_non_null(strstr(msg, "task 2: channel.send at"));
  lua_pop(L, 1);
  /* the state stays usable: a new main task runs */
  assert_int_equal(run(L, "return 1 + 1"), LUA_OK);
  assert_int_equal(lua_tointeger(L, -1), 2);
  lua_close(L);
}

static void test_block_outside_task(void **state) {
  (void)state;
  lua_State *L = newstate();
  luaL_loadstring(L, "channel.new():receive()");
  assert_int_equal(lua_pcall(L, 0, 0, 0), LUA_ERRRUN);
  assert_non_null(strstr(lua_tostring(L, -1),
                         "channel.receive: cannot block here (not inside "
                         "a task)"));
  lua_close(L);
}

/* A C function resuming a coroutine itself, as a careless module might. */
static int l_c_resume(lua_State *L) {
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  int nres;
  int st = lua_resume(co, L, 0, &nres);
  lua_pushinteger(L, st);
  lua_xmove(co, L, 1);  /* the error message */
  return 2;
}

static void test_block_in_coroutine_resumed_from_c(void **state) {
  (void)state;
  lua_State *L = newstate();
  lua_register(L, "c_resume", l_c_resume);
  assert_int_equal(run(L, "local st, msg = c_resume(function() "
                          "channel.new():receive() end)\n"
                          "assert(st == 2) return msg"), LUA_OK);
  assert_non_null(strstr(lua_tostring(L, -1),
                         "channel.receive: cannot block here (inside a "
                         "coroutine resumed from C)"));
  lua_close(L);
}

static void test_error_in_spawned_task(void **state) {
  (void)state;
  lua_State *L = newstate();
  assert_int_equal(run(L, "coroutine.spawn(function() error('in task') end)\n"
                          "time.sleep('1ms')\nreturn 'not reached'"),
                   LUA_ERRRUN);
  const char *msg = lua_tostring(L, -1);
  assert_non_null(strstr(msg, "in task\nstack traceback:\n"));
  lua_close(L);
}

static void test_results_and_arguments(void **state) {
  (void)state;
  lua_State *L = newstate();
  luaL_loadstring(L, "local a, b = ...; time.sleep(0); return b, a");
  lua_pushinteger(L, 1);
  lua_pushinteger(L, 2);
  assert_int_equal(sl_sched_run(L, 2, 3), LUA_OK);
  assert_int_equal(lua_gettop(L), 3);
  assert_int_equal(lua_tointeger(L, 1), 2);
  assert_int_equal(lua_tointeger(L, 2), 1);
  assert_true(lua_isnil(L, 3));
  lua_close(L);
}

/* }====================================================== */

/* {======================================================
** The hooks: every new thread, every switch, checks
** ======================================================= */

static struct {
  int threads, enters, leaves, checks, errors, depth, unbalanced;
  lua_State *running;
  lua_State *prev[16];
} HK;

static void hk_thread(lua_State *co) {
  (void)co;
  HK.threads++;
}

static lua_State *hk_enter(lua_State *co) {
  lua_State *prev = HK.running;
  if (HK.depth < 16) HK.prev[HK.depth] = prev;
  HK.depth++;
  HK.enters++;
  HK.running = co;
  return prev;
}

static void hk_leave(lua_State *prev) {
  HK.depth--;
  if (HK.depth < 0 || (HK.depth < 16 && HK.prev[HK.depth] != prev))
    HK.unbalanced++;
  HK.leaves++;
  HK.running = prev;
}

static void hk_check(lua_State *L) {
  (void)L;
  HK.checks++;
}

static int hk_status(int status) {
  if (status != LUA_OK && status != LUA_YIELD) HK.errors++;
  return status;
}

/* is_running(): whether the hooks name the calling thread as running. */
static int l_is_running(lua_State *L) {
  lua_pushboolean(L, HK.running == L);
  return 1;
}

static void test_hooks_see_threads_and_switches(void **state) {
  (void)state;
  static const sl_sched_hooks h = {hk_thread, hk_enter, hk_leave, hk_check,
                                   hk_status};
  memset(&HK, 0, sizeof HK);
  sl_sched_set_hooks(&h);
  lua_State *L = newstate();
  lua_register(L, "is_running", l_is_running);
  int st = run(L,
      "assert(is_running(), 'main task')\n"
      "local co = coroutine.create(function()\n"
      "  assert(is_running(), 'created') coroutine.yield()\n"
      "  assert(is_running(), 'resumed again') end)\n"
      "assert(coroutine.resume(co)) assert(coroutine.resume(co))\n"
      "assert(is_running(), 'back in the task')\n"
      "local w = coroutine.wrap(function()\n"
      "  assert(is_running(), 'wrapped') time.sleep(0)\n"
      "  assert(is_running(), 'wrapped, after a blocking call') return 7\n"
      "end)\n"
      "assert(w() == 7)\n"
      "coroutine.spawn(function() assert(is_running(), 'spawned') end)\n"
      "time.sleep(0)\n"
      "assert(not coroutine.resume(coroutine.create(error)))\n"
      "assert(coroutine.close(coroutine.create(print)))\n"
      "return true");
  sl_sched_set_hooks(NULL);
  if (st != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
  assert_int_equal(HK.threads, 6);  /* main, 3 created, 1 wrapped, spawned */
  assert_int_equal(HK.enters, HK.leaves);
  assert_int_equal(HK.depth, 0);
  assert_int_equal(HK.unbalanced, 0);
  assert_int_equal(HK.errors, 1);
  assert_true(HK.checks >= 8);  /* 4 new coroutines, 4 come-backs */
  assert_null(HK.running);
  lua_close(L);
}

/* }====================================================== */

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_timers_order_and_stop),
    cmocka_unit_test(test_timers_in_loop),
    cmocka_unit_test(test_wake_from_fd_callback),
    cmocka_unit_test(test_unwatch_inside_batch),
    cmocka_unit_test(test_tcp_connection_events),
    cmocka_unit_test(test_deadlock_message),
    cmocka_unit_test(test_block_outside_task),
    cmocka_unit_test(test_block_in_coroutine_resumed_from_c),
    cmocka_unit_test(test_error_in_spawned_task),
    cmocka_unit_test(test_results_and_arguments),
    cmocka_unit_test(test_hooks_see_threads_and_switches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
