/*
** Unit tests of stdlib/sched.c's C API, used the way a socket module uses
** it: block a task from a C function, wake it from a timer callback or from
** an lws callback inside lws_service, results pushed on the task's thread.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
  int hold;  /* keep a "socket" open: wait in lws_service */
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

/* A socket is open: the loop waits in lws_service, timers on one sul. */
static void test_timers_in_lws_loop(void **state) {
  (void)state;
  timers_order_and_stop(1);
}

/* }====================================================== */

/* {======================================================
** A wake-up from an lws callback inside lws_service
** ======================================================= */

typedef struct lwswake {
  lws_sorted_usec_list_t sul;
  sl_task *task;
  sl_sched *S;
} lwswake;

static lwswake LW;

/* As a socket callback would: runs inside lws_service, wakes the task. */
static void lws_cb(lws_sorted_usec_list_t *sul) {
  lwswake *w = lws_container_of(sul, lwswake, sul);
  lua_pushliteral(sl_task_thread(w->task), "woken by lws");
  sl_sched_release(w->S);
  sl_sched_wake(w->task);
}

static int l_wait_lws(lua_State *L) {
  struct lws_context *ctx = sl_sched_lws(L);
  assert_ptr_equal(ctx, sl_sched_lws(L));  /* one context */
  LW.task = sl_sched_self(L, "wait_lws");
  LW.S = sl_task_sched(LW.task);
  sl_sched_hold(LW.S);  /* an open "socket": not a deadlock */
  lws_sul_schedule(ctx, 0, &LW.sul, lws_cb, 2000);
  return sl_sched_block(L, "wait_lws", wait_k, 0);
}

static void test_wake_from_lws_callback(void **state) {
  (void)state;
  lua_State *L = newstate();
  memset(&LW, 0, sizeof LW);
  lua_register(L, "wait_lws", l_wait_lws);
  /* without lws_cancel_service the loop would stay in poll() forever */
  assert_int_equal(run(L, "return wait_lws()"), LUA_OK);
  assert_string_equal(lua_tostring(L, -1), "woken by lws");
  lua_close(L);
}

/* }====================================================== */

/* {======================================================
** A RAW connection on the shared loop, events through sl_io
** ======================================================= */

typedef struct conn {
  sl_io io;
  sl_task *reader;
  sl_sched *S;
  int listener, peer;
  int held, connected, destroyed;
} conn;

static conn C;

static int conn_event(sl_io *io, struct lws *wsi, int reason, void *in,
                      size_t len) {
  conn *c = (conn *)io;
  (void)wsi;
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
      c->connected = 1;
      c->peer = accept(c->listener, NULL, NULL);
      assert_true(c->peer >= 0);
      assert_int_equal(write(c->peer, "hello", 5), 5);
      break;
    case LWS_CALLBACK_RAW_RX:
      if (c->reader != NULL) {
        lua_pushlstring(sl_task_thread(c->reader), in, len);
        sl_sched_wake(c->reader);
        c->reader = NULL;
      }
      break;
    case LWS_CALLBACK_WSI_DESTROY:
      c->destroyed = 1;
      if (c->held) {
        c->held = 0;
        sl_sched_release(c->S);
      }
      break;
    default:
      break;
  }
  return 0;
}

static int l_raw_read(lua_State *L) {
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
  C.io.on_event = conn_event;
  C.reader = sl_sched_self(L, "raw_read");
  C.S = sl_task_sched(C.reader);
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = sl_sched_lws(L);
  i.method = "RAW";
  i.local_protocol_name = SL_SCHED_PROTOCOL;
  i.address = "127.0.0.1";
  i.host = "127.0.0.1";
  i.port = ntohs(sa.sin_port);
  i.opaque_user_data = &C.io;
  C.held = 1;
  sl_sched_hold(C.S);
  assert_non_null(lws_client_connect_via_info(&i));
  return sl_sched_block(L, "raw_read", wait_k, 0);
}

static void test_raw_connection_events(void **state) {
  (void)state;
  memset(&C, 0, sizeof C);
  C.peer = -1;
  lua_State *L = newstate();
  lua_register(L, "raw_read", l_raw_read);
  assert_int_equal(run(L, "return raw_read()"), LUA_OK);
  assert_string_equal(lua_tostring(L, -1), "hello");
  assert_true(C.connected);
  lua_close(L);  /* destroys the context: the wsi goes with it */
  assert_true(C.destroyed);
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
    cmocka_unit_test(test_timers_in_lws_loop),
    cmocka_unit_test(test_wake_from_lws_callback),
    cmocka_unit_test(test_raw_connection_events),
    cmocka_unit_test(test_deadlock_message),
    cmocka_unit_test(test_block_outside_task),
    cmocka_unit_test(test_block_in_coroutine_resumed_from_c),
    cmocka_unit_test(test_error_in_spawned_task),
    cmocka_unit_test(test_results_and_arguments),
    cmocka_unit_test(test_hooks_see_threads_and_switches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
