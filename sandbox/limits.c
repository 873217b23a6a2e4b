/*
** limits.c - resource limits: byte-capped allocator, timer signals for CPU
** time and wall clock, instruction budget, output size (see limits.h).
**
** No count hook runs unless an instruction budget is set: in Lua 5.4 any
** count hook makes the VM call luaG_traceexec before every instruction
** (about 2x slower on CPU-bound code, measured), whatever the interval.  CPU
** time and the wall clock are watched by kernel timers instead (ITIMER_PROF,
** ITIMER_REAL): the handler records the limit and installs a hook on the
** running and the main thread, as lua.c does for SIGINT.  The timer fires
** again SANDBOX_GRACE_NS later; if the process is still there, a C call
** never came back to the VM and the handler ends the process itself.
*/
#include "limits.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "../common/units.h"
#include "sigsafe.h"

/* Allocations still allowed above the cap once the memory limit was hit, so
** that the error can unwind and the state be closed. */
#define MEMORY_RESERVE ((size_t)1 << 20)

/* {======================================================
** Configuration
** ======================================================= */

void sandbox_limits_init(sandbox_limits *lim) {
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    lim->value[i] = sl_limits[i].dflt;
    lim->source[i] = SANDBOX_SOURCE_DEFAULT;
  }
}

int sandbox_limits_set(sandbox_limits *lim, sl_limit which,
                       int64_t value, int source, char *err, size_t errlen) {
  int rc = sl_limit_check(which, value, err, errlen);
  if (rc != 0) return rc;
  if (source < lim->source[which]) return 0;  /* the command line wins */
  lim->value[which] = value;
  lim->source[which] = source;
  return 0;
}

int sandbox_limits_parse(sandbox_limits *lim, sl_limit which,
                         const char *text, int source, char *err,
                         size_t errlen) {
  int64_t v = 0;
  int rc = sl_limit_parse(which, text, &v, err, errlen);
  if (rc != 0) return rc;
  return sandbox_limits_set(lim, which, v, source, err, errlen);
}

/* }====================================================== */

/* {======================================================
** Run time
** ======================================================= */

static struct {
  lua_State *L;                 /* the main thread */
  lua_State *volatile running;  /* the thread sandbox_enter named */
  sandbox_limits lim;
  size_t used;                  /* bytes the allocators handed out */
  size_t cap;                   /* 0: no cap */
  int libs;                     /* library memory is counted (started) */
  int uncounted;                /* depth of sandbox_memory_uncounted_begin */
  /* The last refused request: a second refusal of the same request (after
  ** Lua's emergency collection), or any other request after it, means the
  ** memory error reached the script. */
  int refused;
  void *ref_ptr;
  size_t ref_osize, ref_nsize;
  int hit;                      /* a sl_limit, or -1 */
  volatile sig_atomic_t closing;  /* lua_close has started */
  volatile sig_atomic_t grace;    /* the wall clock does not count now */
  int reported;
  int count;                    /* count hook interval; 0: no count hook */
  int64_t executed;             /* instructions charged so far */
  size_t output;                /* bytes written by print/io.write */
  int msgref[SL_LIMIT_COUNT];
  char line[SL_LIMIT_COUNT][96];  /* "sandlua: limit: ... exceeded\n" */
  size_t linelen[SL_LIMIT_COUNT];
} S = {.hit = -1};

/* Set from the signal handlers: the limit + 1 of the first timer that
** fired, and how many times each timer fired. */
static volatile sig_atomic_t sig_hit;
static volatile sig_atomic_t sig_ticks[SL_LIMIT_COUNT];

static void limit_hook(lua_State *L, lua_Debug *ar);

#define STOP_MASK (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)

/* Make the running and main threads raise at their next instruction.  Safe
** in a signal handler (lua_sethook is, as lua.c relies on). */
static void arm_stop(lua_State *L) {
  lua_State *running = S.running;
  if (S.closing) {
    /* lua_close is freeing the threads (and at last the state): touch only
    ** the thread whose code is running now, if any. */
    if (L != NULL) lua_sethook(L, limit_hook, STOP_MASK, 1);
    return;
  }
  if (L != NULL) lua_sethook(L, limit_hook, STOP_MASK, 1);
  if (running != NULL && running != L)
    lua_sethook(running, limit_hook, STOP_MASK, 1);
  if (S.L != NULL && S.L != L && S.L != running)
    lua_sethook(S.L, limit_hook, STOP_MASK, 1);
}

static void set_hit(int which) {
  if (S.hit < 0) S.hit = which;
}

static void raise_hit(lua_State *L) {
  arm_stop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, S.msgref[S.hit]);
  lua_error(L);
}

static void sync_signals(void) {
  if (S.hit < 0 && sig_hit != 0) S.hit = sig_hit - 1;
}

/*
** The hook.  With an instruction budget it runs every S.count instructions
** on every thread.  It also runs at the next instruction after a timer
** fired or an allocation was refused (a "probe": count 1): a refusal still
** pending then was final, since Lua retries a refused allocation (after an
** emergency collection) before any instruction runs.  A probe that finds
** nothing puts the normal hook back.
*/
static void limit_hook(lua_State *L, lua_Debug *ar) {
  int probe = lua_gethookcount(L) != S.count;
  sync_signals();
  if (S.hit < 0 && S.refused) {
    set_hit(SL_LIMIT_MEMORY);
  }
  if (S.hit < 0 && ar->event == LUA_HOOKCOUNT && S.count > 0 && !probe) {
    S.executed += S.count;
    if (S.executed > S.lim.value[SL_LIMIT_INSTRUCTIONS])
      set_hit(SL_LIMIT_INSTRUCTIONS);
  }
  if (S.hit >= 0) raise_hit(L);
  if (probe) {
    if (S.count > 0)
      lua_sethook(L, limit_hook, LUA_MASKCOUNT, S.count);
    else
      lua_sethook(L, NULL, 0, 0);
  }
}

void sandbox_check(lua_State *L) {
  sync_signals();
  if (S.hit >= 0 && S.L != NULL) raise_hit(L);
}

int sandbox_limits_hit(void) {
  sync_signals();
  return S.hit;
}

void sandbox_limits_report(void) {
  sync_signals();
  if (S.hit < 0 || S.reported) return;
  S.reported = 1;
  fflush(stdout);
  fputs(S.line[S.hit], stderr);
  fflush(stderr);
}

int sandbox_note_status(int status) {
  if (status == LUA_ERRMEM && S.refused && S.hit < 0) {
    set_hit(SL_LIMIT_MEMORY);
    arm_stop(NULL);
  }
  return status;
}

size_t sandbox_output(size_t n) {
  int64_t max = S.lim.value[SL_LIMIT_OUTPUT];
  if (max == 0 || S.L == NULL) return n;
  size_t left = S.output < (size_t)max ? (size_t)max - S.output : 0;
  if (n <= left) {
    S.output += n;
    return n;
  }
  S.output = (size_t)max;
  set_hit(SL_LIMIT_OUTPUT);
  arm_stop(NULL);
  return left;
}

size_t sandbox_memory_used(void) {
  return S.used;
}

int sandbox_memory_counting(void) {
  return S.libs && S.uncounted == 0;
}

/* Would n more bytes pass the cap?  After a hit, a reserve on top lets
** closing and finalizers run. */
static int over_cap(size_t n) {
  if (S.cap == 0) return 0;
  size_t cap = S.hit >= 0 ? S.cap + MEMORY_RESERVE : S.cap;
  return S.used > cap || n > cap - S.used;
}

int sandbox_memory_charge(size_t n) {
  if (over_cap(n)) {
    /* No retry to wait for (unlike the state's allocator): the library
    ** sees a failed allocation now and the script stops at its next
    ** instruction (or when the event loop returns). */
    set_hit(SL_LIMIT_MEMORY);
    arm_stop(NULL);
    return -1;
  }
  S.used += n;
  return 0;
}

void sandbox_memory_uncharge(size_t n) {
  S.used -= n;
}

void sandbox_memory_uncounted_begin(void) {
  S.uncounted++;
}

void sandbox_memory_uncounted_end(void) {
  if (S.uncounted > 0) S.uncounted--;
}

void sandbox_hook_thread(lua_State *co) {
  if (S.hit >= 0) {
    lua_sethook(co, limit_hook, STOP_MASK, 1);
  } else if (S.count > 0) {
    /* The coroutine's first S.count instructions run before its first
    ** count event: pay for them now. */
    lua_sethook(co, limit_hook, LUA_MASKCOUNT, S.count);
    S.executed += S.count;
    if (S.executed > S.lim.value[SL_LIMIT_INSTRUCTIONS]) {
      set_hit(SL_LIMIT_INSTRUCTIONS);
      arm_stop(co);
    }
  }
}

lua_State *sandbox_enter(lua_State *co) {
  lua_State *prev = S.running;
  S.running = co;
  return prev;
}

void sandbox_limits_closing(void) {
  S.closing = 1;
  S.running = NULL;
}

void sandbox_limits_grace(int on) {
  S.grace = on;
}

void sandbox_leave(lua_State *prev) {
  S.running = prev;
}

int64_t sandbox_max_connections(void) {
  return S.L != NULL ? S.lim.value[SL_LIMIT_CONNECTIONS]
                     : sl_limits[SL_LIMIT_CONNECTIONS].dflt;
}

/* The allocator: realloc/free with a byte count and a cap. */
static void *limit_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (ptr == NULL) osize = 0;  /* osize is a type tag then */
  if (nsize == 0) {
    free(ptr);
    S.used -= osize;
    return NULL;
  }
  if (S.refused && (ptr != S.ref_ptr || osize != S.ref_osize ||
                    nsize != S.ref_nsize)) {
    /* Another request after a refusal: the refused one was not retried
    ** (no emergency collection possible, e.g. in a finalizer), so Lua
    ** raised a memory error: the limit is hit. */
    S.refused = 0;
    if (S.hit < 0) {
      set_hit(SL_LIMIT_MEMORY);
      arm_stop(NULL);
    }
  }
  if (nsize > osize && over_cap(nsize - osize)) {
    if (S.refused && S.ref_ptr == ptr && S.ref_osize == osize &&
        S.ref_nsize == nsize && S.hit < 0) {
      set_hit(SL_LIMIT_MEMORY);  /* refused again after a full GC */
      arm_stop(NULL);
    }
    S.refused = 1;
    S.ref_ptr = ptr;
    S.ref_osize = osize;
    S.ref_nsize = nsize;
    arm_stop(NULL);  /* a probe at the next instruction */
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p == NULL) return nsize <= osize ? ptr : NULL;
  S.used = S.used - osize + nsize;
  S.refused = 0;
  return p;
}

/* {------------------------------------------------------
** Signals
** ------------------------------------------------------- */

/* End the process from a signal handler (async-signal-safe calls only). */
static void die_now(int which) {
  if (!S.reported) sandbox_write_all(2, S.line[which], S.linelen[which]);
  _exit(sl_limits[which].exit_code);
}

static void on_timer(int sig) {
  int saved = errno;
  if (sig == SIGALRM && S.grace) {  /* the script is over (grace below) */
    errno = saved;
    return;
  }
  int which = sig == SIGALRM ? SL_LIMIT_TIMEOUT : SL_LIMIT_CPU;
  if (sig == SIGXCPU) die_now(SL_LIMIT_CPU);  /* RLIMIT_CPU backstop */
  if (sig_ticks[which]++ == 0) {
    if (sig_hit == 0) sig_hit = which + 1;
    arm_stop(NULL);
  } else {
    die_now(sig_hit != 0 ? sig_hit - 1 : which);
  }
  errno = saved;
}

/* }------------------------------------------------------ */

int sandbox_limits_attach(lua_State *L, const sandbox_limits *lim) {
  void *ud;
  S.lim = *lim;
  S.L = L;
  S.hit = -1;
  S.cap = (size_t)lim->value[SL_LIMIT_MEMORY];
  S.used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 +
           (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
  if (lua_getallocf(L, &ud) != NULL) lua_setallocf(L, limit_alloc, NULL);
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    char v[48];
    sl_limit_format((sl_limit)i, lim->value[i], v, sizeof v);
    snprintf(S.line[i], sizeof S.line[i], "sandlua: limit: %s %s exceeded\n",
             sl_limits[i].name, v);
    S.linelen[i] = strlen(S.line[i]);
    /* The error value, made now while memory is available. */
    lua_pushlstring(L, S.line[i] + 9, S.linelen[i] - 10);
    S.msgref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int64_t budget = lim->value[SL_LIMIT_INSTRUCTIONS];
  if (budget > 0) {
    S.count = budget < SANDBOX_HOOK_INTERVAL ? (int)budget
                                             : SANDBOX_HOOK_INTERVAL;
    lua_sethook(L, limit_hook, LUA_MASKCOUNT, S.count);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_timer;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  /* no SA_RESTART: a blocked poll/read returns EINTR */
  if (sigaction(SIGALRM, &sa, NULL) != 0 || sigaction(SIGPROF, &sa, NULL) != 0 ||
      sigaction(SIGXCPU, &sa, NULL) != 0)
    return -errno;
  return 0;
}

static struct timeval to_timeval(int64_t ns) {
  struct timeval tv;
  tv.tv_sec = (time_t)(ns / UNITS_SECOND);
  tv.tv_usec = (suseconds_t)(ns % UNITS_SECOND / 1000);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;
  return tv;
}

int sandbox_limits_start(void) {
  S.libs = S.L != NULL;  /* from now on library memory is the script's */
  int64_t timeout = S.lim.value[SL_LIMIT_TIMEOUT];
  int64_t cpu = S.lim.value[SL_LIMIT_CPU];
  if (timeout > 0) {
    struct itimerval it = {to_timeval(SANDBOX_GRACE_NS), to_timeval(timeout)};
    if (setitimer(ITIMER_REAL, &it, NULL) != 0) return -errno;
  }
  if (cpu > 0) {
    /* ITIMER_PROF counts the CPU time from now; RLIMIT_CPU from the start
    ** of the process, a few seconds later: the backstop. */
    struct itimerval it = {to_timeval(SANDBOX_GRACE_NS), to_timeval(cpu)};
    if (setitimer(ITIMER_PROF, &it, NULL) != 0) return -errno;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    rlim_t soft = (rlim_t)(cpu / UNITS_SECOND) + 3 +
                  (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec);
    struct rlimit rl;
    if (getrlimit(RLIMIT_CPU, &rl) == 0 &&
        (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > soft + 1)) {
      rl.rlim_cur = soft;
      rl.rlim_max = soft + 1;
      if (setrlimit(RLIMIT_CPU, &rl) != 0) return -errno;
    }
  }
  return 0;
}

/* }====================================================== */
