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
#include <inttypes.h>
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

enum { KIND_SIZE, KIND_DURATION, KIND_COUNT };

typedef struct limit_info {
  const char *name;
  int kind;
  int exit_code;
  int64_t dflt;
} limit_info;

static const limit_info infos[SANDBOX_LIMIT_COUNT] = {
#define SANDBOX_LIMIT_INFO(e, n, k, c, d) {n, KIND_##k, c, d},
  SANDBOX_LIMIT_MAP(SANDBOX_LIMIT_INFO)
#undef SANDBOX_LIMIT_INFO
};

/* {======================================================
** Configuration
** ======================================================= */

void sandbox_limits_init(sandbox_limits *lim) {
  for (int i = 0; i < SANDBOX_LIMIT_COUNT; i++) {
    lim->value[i] = infos[i].dflt;
    lim->source[i] = SANDBOX_SOURCE_DEFAULT;
  }
}

const char *sandbox_limit_name(sandbox_limit which) {
  return (unsigned)which < SANDBOX_LIMIT_COUNT ? infos[which].name : "?";
}

int sandbox_limit_exit_code(sandbox_limit which) {
  return (unsigned)which < SANDBOX_LIMIT_COUNT ? infos[which].exit_code : 0;
}

int sandbox_limits_set(sandbox_limits *lim, sandbox_limit which,
                       int64_t value, int source, char *err, size_t errlen) {
  if ((unsigned)which >= SANDBOX_LIMIT_COUNT) {
    snprintf(err, errlen, "no such limit");
    return -EINVAL;
  }
  if (value < 0) {
    snprintf(err, errlen, "must not be negative");
    return -ERANGE;
  }
  if (which == SANDBOX_LIMIT_MEMORY && value != 0 &&
      value < SANDBOX_MEMORY_MIN) {
    snprintf(err, errlen, "must be 0 (no limit) or at least 1M");
    return -ERANGE;
  }
  if (which == SANDBOX_LIMIT_CONNECTIONS && value > SANDBOX_CONNECTIONS_MAX) {
    snprintf(err, errlen, "must be at most %d", SANDBOX_CONNECTIONS_MAX);
    return -ERANGE;
  }
  if (infos[which].kind == KIND_DURATION && value != 0 &&
      value < UNITS_MILLISECOND) {
    snprintf(err, errlen, "must be 0 (no limit) or at least 1ms");
    return -ERANGE;
  }
  if (source < lim->source[which]) return 0;  /* the command line wins */
  lim->value[which] = value;
  lim->source[which] = source;
  return 0;
}

int sandbox_limits_parse(sandbox_limits *lim, sandbox_limit which,
                         const char *text, int source, char *err,
                         size_t errlen) {
  int64_t v = 0;
  int rc = 0;
  if ((unsigned)which >= SANDBOX_LIMIT_COUNT) {
    snprintf(err, errlen, "no such limit");
    return -EINVAL;
  }
  switch (infos[which].kind) {
    case KIND_SIZE:
      rc = units_parse_size(text, &v, err, errlen);
      break;
    case KIND_DURATION:
      rc = units_parse_duration(text, &v, err, errlen);
      break;
    default: {
      const char *p = text;
      if (*p == '\0') rc = -EINVAL;
      for (; *p && rc == 0; p++) {
        if (*p < '0' || *p > '9') {
          rc = -EINVAL;
        } else if (v > (INT64_MAX - (*p - '0')) / 10) {
          rc = -ERANGE;
        } else {
          v = v * 10 + (*p - '0');
        }
      }
      if (rc == -EINVAL)
        snprintf(err, errlen, "not a whole number: \"%s\"", text);
      else if (rc == -ERANGE)
        snprintf(err, errlen, "number too large: \"%s\"", text);
      break;
    }
  }
  if (rc != 0) return rc;
  return sandbox_limits_set(lim, which, v, source, err, errlen);
}

void sandbox_limit_format(sandbox_limit which, int64_t v, char *buf,
                          size_t len) {
  int kind = (unsigned)which < SANDBOX_LIMIT_COUNT ? infos[which].kind
                                                   : KIND_COUNT;
  if (kind == KIND_SIZE) {
    static const char suffix[] = "TGMK";
    for (int i = 0; i < 4; i++) {
      int shift = 10 * (4 - i);
      if (v != 0 && v % (INT64_C(1) << shift) == 0) {
        snprintf(buf, len, "%" PRId64 "%c", v >> shift, suffix[i]);
        return;
      }
    }
    snprintf(buf, len, "%" PRId64 "B", v);
  } else if (kind == KIND_DURATION) {
    /* Go's time.Duration.String for the common cases: 1h2m3s, 1.5s, 250ms. */
    if (v < UNITS_SECOND) {
      if (v % UNITS_MILLISECOND == 0)
        snprintf(buf, len, "%" PRId64 "ms", v / UNITS_MILLISECOND);
      else
        snprintf(buf, len, "%" PRId64 "ns", v);
      return;
    }
    int64_t h = v / UNITS_HOUR, m = v / UNITS_MINUTE % 60;
    int64_t s = v / UNITS_SECOND % 60, frac = v % UNITS_SECOND;
    char fr[16] = "";
    if (frac != 0) {
      snprintf(fr, sizeof fr, ".%09" PRId64, frac);
      for (size_t n = strlen(fr); n > 0 && fr[n - 1] == '0'; n--)
        fr[n - 1] = '\0';
    }
    if (h > 0)
      snprintf(buf, len, "%" PRId64 "h%" PRId64 "m%" PRId64 "%ss", h, m, s,
               fr);
    else if (m > 0)
      snprintf(buf, len, "%" PRId64 "m%" PRId64 "%ss", m, s, fr);
    else
      snprintf(buf, len, "%" PRId64 "%ss", s, fr);
  } else {
    snprintf(buf, len, "%" PRId64, v);
  }
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
  int hit;                      /* a sandbox_limit, or -1 */
  volatile sig_atomic_t closing;  /* lua_close has started */
  int reported;
  int count;                    /* count hook interval; 0: no count hook */
  int64_t executed;             /* instructions charged so far */
  size_t output;                /* bytes written by print/io.write */
  int msgref[SANDBOX_LIMIT_COUNT];
  char line[SANDBOX_LIMIT_COUNT][96];  /* "sandlua: limit: ... exceeded\n" */
  size_t linelen[SANDBOX_LIMIT_COUNT];
} S = {.hit = -1};

/* Set from the signal handlers: the limit + 1 of the first timer that
** fired, and how many times each timer fired. */
static volatile sig_atomic_t sig_hit;
static volatile sig_atomic_t sig_ticks[SANDBOX_LIMIT_COUNT];

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
    set_hit(SANDBOX_LIMIT_MEMORY);
  }
  if (S.hit < 0 && ar->event == LUA_HOOKCOUNT && S.count > 0 && !probe) {
    S.executed += S.count;
    if (S.executed > S.lim.value[SANDBOX_LIMIT_INSTRUCTIONS])
      set_hit(SANDBOX_LIMIT_INSTRUCTIONS);
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
    set_hit(SANDBOX_LIMIT_MEMORY);
    arm_stop(NULL);
  }
  return status;
}

size_t sandbox_output(size_t n) {
  int64_t max = S.lim.value[SANDBOX_LIMIT_OUTPUT];
  if (max == 0 || S.L == NULL) return n;
  size_t left = S.output < (size_t)max ? (size_t)max - S.output : 0;
  if (n <= left) {
    S.output += n;
    return n;
  }
  S.output = (size_t)max;
  set_hit(SANDBOX_LIMIT_OUTPUT);
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
    set_hit(SANDBOX_LIMIT_MEMORY);
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
    if (S.executed > S.lim.value[SANDBOX_LIMIT_INSTRUCTIONS]) {
      set_hit(SANDBOX_LIMIT_INSTRUCTIONS);
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

void sandbox_leave(lua_State *prev) {
  S.running = prev;
}

int64_t sandbox_max_connections(void) {
  return S.L != NULL ? S.lim.value[SANDBOX_LIMIT_CONNECTIONS]
                     : infos[SANDBOX_LIMIT_CONNECTIONS].dflt;
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
      set_hit(SANDBOX_LIMIT_MEMORY);
      arm_stop(NULL);
    }
  }
  if (nsize > osize && over_cap(nsize - osize)) {
    if (S.refused && S.ref_ptr == ptr && S.ref_osize == osize &&
        S.ref_nsize == nsize && S.hit < 0) {
      set_hit(SANDBOX_LIMIT_MEMORY);  /* refused again after a full GC */
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
  _exit(infos[which].exit_code);
}

static void on_timer(int sig) {
  int saved = errno;
  int which = sig == SIGALRM ? SANDBOX_LIMIT_TIMEOUT : SANDBOX_LIMIT_CPU;
  if (sig == SIGXCPU) die_now(SANDBOX_LIMIT_CPU);  /* RLIMIT_CPU backstop */
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
  S.cap = (size_t)lim->value[SANDBOX_LIMIT_MEMORY];
  S.used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 +
           (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
  if (lua_getallocf(L, &ud) != NULL) lua_setallocf(L, limit_alloc, NULL);
  for (int i = 0; i < SANDBOX_LIMIT_COUNT; i++) {
    char v[48];
    sandbox_limit_format((sandbox_limit)i, lim->value[i], v, sizeof v);
    snprintf(S.line[i], sizeof S.line[i], "sandlua: limit: %s %s exceeded\n",
             infos[i].name, v);
    S.linelen[i] = strlen(S.line[i]);
    /* The error value, made now while memory is available. */
    lua_pushlstring(L, S.line[i] + 9, S.linelen[i] - 10);
    S.msgref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int64_t budget = lim->value[SANDBOX_LIMIT_INSTRUCTIONS];
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
  int64_t timeout = S.lim.value[SANDBOX_LIMIT_TIMEOUT];
  int64_t cpu = S.lim.value[SANDBOX_LIMIT_CPU];
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
