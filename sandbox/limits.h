/*
** limits.h - the resource limits of a sandboxed script: memory (a byte-capped
** allocator for the state, one budget with what OpenSSL, zlib and c-ares
** allocate for the script: sandbox/libmem.h), CPU time and wall clock
** (timer signals plus a hook), an instruction budget shared by every
** coroutine, the number of open connections, and the bytes written to
** stdout/stderr.
**
** Provides to interp/main.c (options, start, report), to sandbox/env.c (the
** sticky checks in pcall/xpcall/coroutine wrappers, output counting) and to
** stdlib/ (the scheduler and the websocket client):
**
**   - sandbox_limits: the configured values.  Each value has a source
**     (default < policy < command line); a setter with a lower-ranked source
**     than the one already recorded is ignored, so the policy's `sandbox:`
**     section can be fed after the options are parsed and the command line
**     still wins.
**   - the run-time side, one per process: sandbox_limits_attach() puts the
**     allocator and the stop messages on a state, sandbox_limits_start() arms
**     the timers right before the script runs.
**
** A limit hit is sticky: from then on every protected call (pcall, xpcall,
** coroutine.resume/close) re-raises it, a hook raises it again at every
** instruction of the running and main threads, and it stays in force while
** finalizers run at exit.  A C call that never comes back to the VM (a
** pathological pattern match) is ended by the second tick of the timer: the
** signal handler writes the limit's message with write(2) and calls _exit.
**
** For the scheduler (stdlib/sched.h), which runs every thread: the
** interpreter registers these as its hooks (sl_sched_set_hooks), so the
** sandbox never calls the scheduler nor wraps coroutine functions:
**   - sandbox_hook_thread(co) on every thread it makes (charges the
**     instruction budget, so a new coroutine does not start with a free
**     count);
**   - sandbox_enter(co) / sandbox_leave(prev) around each resume, so a
**     timer signal stops the thread that is actually running;
**   - sandbox_check(L) after every wait and every resume it does not
**     propagate: it raises the limit error when one was hit (SIGALRM/SIGPROF
**     interrupt poll with EINTR); sandbox_note_status(st) on an error
**     status.
** For the websocket client: sandbox_max_connections().
**
** Headers of sandbox/ do not include lua.h: the state is `struct lua_State`.
*/
#ifndef SL_SANDBOX_LIMITS_H
#define SL_SANDBOX_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits_table.h"

struct lua_State;

/* The limits (sl_limit), their defaults, bounds and exit statuses are the
** rows of SL_LIMITS (common/limits_table.h). */

/* Where a value came from; a higher source is never overridden by a lower. */
#define SANDBOX_SOURCE_DEFAULT 0
#define SANDBOX_SOURCE_POLICY 1
#define SANDBOX_SOURCE_CLI 2

typedef struct sandbox_limits {
  int64_t value[SL_LIMIT_COUNT];  /* bytes, ns or a count; 0: none */
  int source[SL_LIMIT_COUNT];     /* SANDBOX_SOURCE_* */
} sandbox_limits;

/* Every limit at its default (SL_LIMITS). */
void sandbox_limits_init(sandbox_limits *lim);

/*
** Set one limit from `source`.  Returns 0 (also when ignored because a
** higher source already set it), or -ERANGE with a message in err when the
** value is out of the table's bounds (sl_limit_check).
*/
int sandbox_limits_set(sandbox_limits *lim, sl_limit which,
                       int64_t value, int source, char *err, size_t errlen);

/*
** Parse an option's text ("64M", "10s", "1000000") with sl_limit_parse
** and set it.  Returns 0, -EINVAL or -ERANGE with a message in err.
*/
int sandbox_limits_parse(sandbox_limits *lim, sl_limit which,
                         const char *text, int source, char *err,
                         size_t errlen);

/* A limit's name, exit status and value as the user writes it:
** sl_limits[which] and sl_limit_format() (common/limits_table.h). */

/* {======================================================
** Run time (one interpreter per process)
** ======================================================= */

/*
** Take the limits into force on the main state L (created with
** luaL_newstate): the byte-capped allocator (counting what L has already
** allocated), the stop messages and, with an instruction budget, the count
** hook.  Installs the SIGALRM/SIGPROF/SIGXCPU handlers.  Returns 0 or
** -ENOMEM / -errno.
*/
int sandbox_limits_attach(struct lua_State *L, const sandbox_limits *lim);

/* Arm the wall-clock and CPU timers and the RLIMIT_CPU backstop.  Call right
** before the script runs.  Returns 0 or -errno. */
int sandbox_limits_start(void);

/*
** Call right before lua_close: the signal handlers stop touching threads
** (they are being freed); a limit already hit still stops the finalizers at
** once, one hit while they run ends the process at the timer's second tick.
*/
void sandbox_limits_closing(void);

/*
** While on, the wall-clock limit does not count: for what the interpreter
** does after the script is over and before its finalizers (the open
** connections' close handshakes, bounded at 2 s): a finished script is not
** reported as a timeout.  Other limits, and a limit already hit, hold.
*/
void sandbox_limits_grace(int on);

/* The limit hit so far, or -1. */
int sandbox_limits_hit(void);

/* Print "sandlua: limit: <name> <value> exceeded" on stderr (once). */
void sandbox_limits_report(void);

/* Raise the limit error in L if a limit was hit (or a timer fired). */
void sandbox_check(struct lua_State *L);

/*
** Turn a status returned by lua_pcall/lua_resume into a limit hit when it is
** a memory error caused by the cap.  Returns status.
*/
int sandbox_note_status(int status);

/* Charge n bytes of output (print, io.write); returns how many of them may
** still be written: n, or fewer when the output limit is reached (then the
** limit is hit and the caller raises with sandbox_check after writing). */
size_t sandbox_output(size_t n);

/* Bytes counted against the memory limit now: what the script's state
** holds plus what libraries hold for the script (sandbox/libmem.h). */
size_t sandbox_memory_used(void);

/*
** The budget of the library allocators (sandbox/libmem.c), one with the
** state's: library memory is the script's from sandbox_limits_start() on,
** except between sandbox_memory_uncounted_begin() and _end() (nestable;
** process-wide set-up that any script would cause alike).
**   sandbox_memory_counting(): 1 when a new library block is the script's.
**   sandbox_memory_charge(n): count n more bytes; returns 0, or -1 when
**     they would pass the limit: nothing is counted and the memory limit
**     is hit (sticky, as a refusal of the state's allocator).  After a hit
**     1 MiB more is allowed, so that connections can be closed.
**   sandbox_memory_uncharge(n): give back n bytes charged before.
*/
int sandbox_memory_counting(void);
int sandbox_memory_charge(size_t n);
void sandbox_memory_uncharge(size_t n);
void sandbox_memory_uncounted_begin(void);
void sandbox_memory_uncounted_end(void);

/* Set the limit hook on a new coroutine and charge the budget for it. */
void sandbox_hook_thread(struct lua_State *co);

/* The running thread for the timer signals; returns the previous one. */
struct lua_State *sandbox_enter(struct lua_State *co);
void sandbox_leave(struct lua_State *prev);

/* --max-connections (the default when not given). */
int64_t sandbox_max_connections(void);

/* The count interval of the instruction hook. */
#define SANDBOX_HOOK_INTERVAL 1000

/* Time the VM has to stop after a timer fired before the process is ended
** from the signal handler. */
#define SANDBOX_GRACE_NS (INT64_C(250) * 1000000)

/* }====================================================== */

#endif
