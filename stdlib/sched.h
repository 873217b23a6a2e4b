/*
** sched.h - the cooperative scheduler: tasks, blocking calls, timers and
** the process's one event loop (net/evloop.h, epoll).
**
** Every Lua task is a coroutine (a Lua thread) run by the scheduler; the
** main chunk is task 1 (sl_sched_run), `coroutine.spawn` adds more.  A
** blocking call made from C yields its task to the scheduler; whatever makes
** it ready (a channel peer, a timer, a socket callback) wakes it.  When no
** task is runnable the scheduler waits in the loop (epoll_pwait2, with the
** time to the earliest timer), so sockets and timers share one wait; while
** no socket is held (sl_sched_hold) it sleeps to the next timer with
** clock_nanosleep instead.  Switching between runnable tasks costs no
** system call.
**
** Blocking from a C function (a Lua-facing function of any module):
**
**   static int recv_k(lua_State *L, int status, lua_KContext ctx) {
**     // the waker pushed its results on top of L's stack
**     return 2;
**   }
**   static int my_receive(lua_State *L) {
**     if (ready) return push_results(L);
**     sl_task *t = sl_sched_self(L, "mod.receive");  // raises if L cannot
**                                                    // block here
**     remember t in the object waited on;
**     return sl_sched_block(L, "mod.receive", recv_k, 0);
**   }
**
** and from the callback that makes it ready (a socket callback, a timer):
**
**   lua_State *wl = sl_task_thread(t);    // the blocked thread
**   lua_checkstack(wl, 2); push results on wl;
**   sl_sched_wake(t);
**
** Values pushed on sl_task_thread(t) are on top of the stack when the
** continuation runs.  A task is blocked on at most one thing at a time; the
** module that blocked it owns the wake-up and must make sure it happens
** at most once (or the task stays blocked forever: the deadlock report names
** it).  Blocking works from inside a script's own coroutines
** (coroutine.wrap/resume): the yield passes through them to the scheduler.
**
** Timers (sl_timer) are a heap; the loop waits until the earliest
** deadline, on CLOCK_MONOTONIC.  The memory of a timer belongs to its owner;
** stop it (sl_timer_stop) before freeing it.
**
** Sockets: the scheduler owns the process's loop (sl_sched_loop); modules
** watch their descriptors on it (sl_evio).  A module that keeps a socket
** open calls sl_sched_hold() (and sl_sched_release() when it closes it):
** while anything is held the loop waits for descriptors too, and the
** deadlock check knows something can still happen.
**
** All of this is single-threaded: call it only from the loop's thread.
*/
#ifndef SL_STDLIB_SCHED_H
#define SL_STDLIB_SCHED_H

#include <stdint.h>
#include <stddef.h>

#include <lua.h>
#include "../net/evloop.h"

typedef struct sl_sched sl_sched;
typedef struct sl_task sl_task;

/* {======================================================
** Running
** ======================================================= */

/*
** The scheduler of L's state, created on first use (it also installs
** coroutine.spawn and the coroutine wrappers).  Never NULL (raises on
** memory errors).
*/
sl_sched *sl_sched_get(lua_State *L);

/* Install coroutine.spawn and the yield-aware coroutine functions. */
void sl_sched_openlib(lua_State *L);

/* Make io.read and io.lines() on standard input block only their task
** (stdin.c): wraps the io library's functions in the state.  After
** luaL_openlibs. */
void sl_stdin_openlib(lua_State *L);

/*
** Hooks around the threads the scheduler runs; it is the only code that
** resumes coroutines (tasks, and coroutine.resume/wrap/close), so these
** see every switch.  The limits (sandbox/limits.h) register theirs from
** the interpreter; without hooks nothing is called.
**   new_thread(co)   every thread made: a task, coroutine.create/wrap
**   enter(co)        before co runs; returns what ran before
**   leave(prev)      after, with enter's result
**   check(L)         after a wait or a resume: may raise (a limit hit)
**   status(st)       an error status a resume ended with; returns it
*/
typedef struct sl_sched_hooks {
  void (*new_thread)(lua_State *co);
  lua_State *(*enter)(lua_State *co);
  void (*leave)(lua_State *prev);
  void (*check)(lua_State *L);
  int (*status)(int st);
} sl_sched_hooks;

/* Process-wide; h must outlive the states (NULL: none). */
void sl_sched_set_hooks(const sl_sched_hooks *h);

/*
** Run the function below its narg arguments as the main task and drive
** every task until the main task returns; lua_pcall's contract: on
** LUA_OK its nres results (or all with LUA_MULTRET) replace the function and
** arguments; otherwise one message string is left (an uncaught error in
** any task, with its traceback, or the deadlock report).  Other tasks still
** alive when the main task returns are left as they are (they may run
** again in a later sl_sched_run of the same state).  Call it from the
** state's main thread, not from inside a task.
*/
int sl_sched_run(lua_State *L, int narg, int nres);

/* The thread of the running task, or NULL (readable from a signal handler,
** to set a hook on what runs). */
lua_State *sl_sched_running_thread(void);

/*
** For a SIGINT handler when no task runs (sl_sched_running_thread() is
** NULL): the loop stops waiting and sl_sched_run returns "interrupted!".
** Async-signal-safe.
*/
void sl_sched_interrupt(void);

/* }====================================================== */

/* {======================================================
** Blocking and waking
** ======================================================= */

/*
** The task that would block if the running C function (called in thread L)
** blocked now.  Raises "what: cannot block here (...)" when L cannot yield
** to the scheduler: outside any task, inside a metamethod called from C, a
** table.sort comparator, a string.gsub callback, a __gc, a coroutine that
** C code resumed with lua_resume (only coroutine.resume/wrap pass a
** blocking yield on)...  Call it before linking the task into any wait
** queue.
*/
sl_task *sl_sched_self(lua_State *L, const char *what);

/* Would sl_sched_self succeed (1), or raise (0)? */
int sl_sched_can_block(lua_State *L);

/*
** Yield the running task to the scheduler until sl_sched_wake(); then
** k(L, LUA_YIELD, ctx) runs with what the waker pushed on top of the stack,
** and its return value is the number of results (as lua_yieldk).  `what`
** (a static string) names the call in the deadlock report.  Use it as
** `return sl_sched_block(L, "x", k, ctx);` after sl_sched_self.
*/
int sl_sched_block(lua_State *L, const char *what, lua_KFunction k,
                   lua_KContext ctx);

/*
** Make a blocked task runnable (no-op if it already is).  Callable from
** descriptor and timer callbacks (the loop runs the task once the wait that
** called them returns).
*/
void sl_sched_wake(sl_task *t);

/* The thread where t is blocked (push the results of its call there). */
lua_State *sl_task_thread(sl_task *t);

/*
** A scratch area of SL_TASK_SCRATCH bytes (8-byte aligned) inside
** the task, for the module that blocks it: wait-queue links, a timer...
** It belongs to that module from sl_sched_self until the task runs again.
*/
#define SL_TASK_SCRATCH 96
void *sl_task_scratch(sl_task *t);

/* The scheduler of a task. */
sl_sched *sl_task_sched(sl_task *t);

/* Count an open source of wake-ups (socket); release it when it closes. */
void sl_sched_hold(sl_sched *S);
void sl_sched_release(sl_sched *S);

/*
** A Lua state for C callbacks that need one to build values (the main
** thread, idle while callbacks run).  Leave its stack balanced.
*/
lua_State *sl_sched_state(sl_sched *S);

/* }====================================================== */

/* {======================================================
** Timers
** ======================================================= */

/* Monotonic clock, nanoseconds (vDSO: no system call). */
int64_t sl_now_ns(void);

/* The struct of type T whose member m is at p. */
#define sl_container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

typedef struct sl_timer sl_timer;
typedef void (*sl_timer_cb)(sl_timer *t);

/* Caller-owned; zero it (or sl_timer_init) before first use. */
struct sl_timer {
  int64_t due;     /* monotonic ns */
  sl_timer_cb cb;
  sl_sched *S;
  int idx;         /* place in the scheduler's heap; -1 when not armed */
};

void sl_timer_init(sl_timer *t);

/*
** Arm (or re-arm) t to call cb(t) `ns` nanoseconds from now (0 or less:
** on the next loop turn).  The callback runs on the loop, outside any task;
** it may wake tasks and re-arm or stop timers, including t.
*/
void sl_timer_start(sl_sched *S, sl_timer *t, int64_t ns, sl_timer_cb cb);

/* Disarm t; returns 1 if it was armed.  Safe on a disarmed timer. */
int sl_timer_stop(sl_timer *t);

/* }====================================================== */

/* {======================================================
** Sockets
** ======================================================= */

/*
** A descriptor, the way a transport module watches one on the shared loop
** (net/evloop.h):
**
**   struct conn { sl_evio io; sl_task *reader; ... };  // io first
**   static void on_fd(sl_evio *io, unsigned events) {
**     struct conn *c = (struct conn *)io;
**     if (events & SL_EV_READ) {
**       n = recv(io->fd, ...);
**       if (c->reader) { push on sl_task_thread(c->reader);
**                        sl_sched_wake(c->reader); c->reader = NULL; }
**     }
**   }
**   c->io.fd = fd; c->io.cb = on_fd;
**   sl_ev_watch(sl_sched_loop(L), &c->io, SL_EV_READ);
**   sl_sched_hold(S);             // a task may be woken by it
**   ...
**   sl_ev_watch(loop, &c->io, 0); close(fd); sl_sched_release(S);
**
** The loop is made with the scheduler (epoll_create1 and an eventfd, before
** a sandbox locks the process down).  Raises when it could not be made.
*/
sl_ev *sl_sched_loop(lua_State *L);

/* }====================================================== */

#endif
