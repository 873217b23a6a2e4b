/*
** time.c - the `time` module: sleep, after, timers and tickers on the
** scheduler's monotonic timers, Time and Duration values.
**
** Durations are int64 nanoseconds, given as numbers, Go strings ("1h30m",
** "250ms") or Duration values.  A timer or ticker is a userdata holding an
** sl_timer and, as user value, its channel (buffer 1); see timers_key for
** how long it lives.
*/
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "../common/units.h"
#include "channel.h"
#include "sched.h"
#include "sl.h"

#define DURATION_MT SL_DURATION_MT
#define TIME_MT "sandlua.Time"
#define TIMER_MT "sandlua.Timer"
#define TICKER_MT "sandlua.Ticker"

/* {======================================================
** Durations
** ======================================================= */

/*
** Read the duration at idx into *ns.  Returns 0, or -1 with a message
** (naming the offending text) in err.
*/
static int getduration(lua_State *L, int idx, int64_t *ns, char *err,
                       size_t errlen) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER: {
      if (lua_isinteger(L, idx)) {
        *ns = (int64_t)lua_tointeger(L, idx);
        return 0;
      }
      lua_Number n = lua_tonumber(L, idx);
      if (!isfinite(n) || n >= 9223372036854775808.0 ||
          n < -9223372036854775808.0) {
        snprintf(err, errlen, "invalid duration %.14g (nanoseconds out of "
                 "range)", (double)n);
        return -1;
      }
      *ns = (int64_t)n;  /* toward zero, as Go's Duration(n) */
      return 0;
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (strlen(s) != len) {
        snprintf(err, errlen, "invalid duration (string contains a zero "
                 "byte)");
        return -1;
      }
      return units_parse_duration(s, ns, err, errlen) == 0 ? 0 : -1;
    }
    case LUA_TUSERDATA: {
      int64_t *d = luaL_testudata(L, idx, DURATION_MT);
      if (d != NULL) {
        *ns = *d;
        return 0;
      }
    }
    /* FALLTHROUGH */
    default:
      snprintf(err, errlen, "invalid duration: expected nanoseconds, a "
               "string such as \"1.5s\" or a Duration, got %s",
               luaL_typename(L, idx));
      return -1;
  }
}

static void pushdurstring(lua_State *L, int64_t d);

/*
** The duration argument of `fn`: on success returns 0 and sets *ns; on
** failure pushes nil and an INVALID error and returns 2.  `positive`: 1 if
** it must be > 0, 0 if >= 0, -1 if anything goes.
*/
static int argduration(lua_State *L, int idx, const char *fn, int positive,
                       int64_t *ns) {
  char err[160];
  if (getduration(L, idx, ns, err, sizeof err) != 0)
    return sl_fail(L, SL_INVALID, "%s: %s", fn, err);
  if ((positive > 0 && *ns <= 0) || (positive == 0 && *ns < 0)) {
    pushdurstring(L, *ns);
    return sl_fail(L, SL_INVALID, "%s: duration must %s, got %s", fn,
                   positive > 0 ? "be positive" : "not be negative",
                   lua_tostring(L, -1));
  }
  return 0;
}

static void pushduration(lua_State *L, int64_t ns) {
  int64_t *d = lua_newuserdatauv(L, sizeof *d, 0);
  *d = ns;
  luaL_setmetatable(L, DURATION_MT);
}

static int64_t checkdur(lua_State *L, int idx) {
  return *(int64_t *)luaL_checkudata(L, idx, DURATION_MT);
}

/* Go's fmtFrac: the fraction of v with prec digits, zeros trimmed. */
static int fmt_frac(char *buf, int w, uint64_t *v, int prec) {
  int print = 0;
  for (int i = 0; i < prec; i++) {
    int digit = (int)(*v % 10);
    print = print || digit != 0;
    if (print) buf[--w] = (char)('0' + digit);
    *v /= 10;
  }
  if (print) buf[--w] = '.';
  return w;
}

static int fmt_int(char *buf, int w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
    return w;
  }
  while (v > 0) {
    buf[--w] = (char)('0' + v % 10);
    v /= 10;
  }
  return w;
}

/* Go's Duration.String: "1h2m3.5s", "1.5ms", "0s". */
static void pushdurstring(lua_State *L, int64_t d) {
  char buf[40];
  int w = sizeof buf;
  uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
  if (u < UINT64_C(1000000000)) {
    int prec;
    buf[--w] = 's';
    if (u == 0) {
      lua_pushliteral(L, "0s");
      return;
    } else if (u < 1000) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000000) {
      prec = 3;
      buf[--w] = (char)0xb5;  /* U+00B5 MICRO SIGN, as Go */
      buf[--w] = (char)0xc2;
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    w = fmt_frac(buf, w, &u, prec);
    w = fmt_int(buf, w, u);
  } else {
    buf[--w] = 's';
    w = fmt_frac(buf, w, &u, 9);
    w = fmt_int(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      w = fmt_int(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        w = fmt_int(buf, w, u);
      }
    }
  }
  if (d < 0) buf[--w] = '-';
  lua_pushlstring(L, buf + w, sizeof buf - (size_t)w);
}

static int dur_tostring(lua_State *L) {
  pushdurstring(L, checkdur(L, 1));
  return 1;
}

/* Push the duration at 1 in units of unit (a float).  Returns 1. */
static int pushdurin(lua_State *L, int64_t unit) {
  int64_t d = checkdur(L, 1);
  lua_pushnumber(L, (lua_Number)(d / unit) +
                        (lua_Number)(d % unit) / (lua_Number)unit);
  return 1;
}

static int dur_hours(lua_State *L) { return pushdurin(L, UNITS_HOUR); }

static int dur_minutes(lua_State *L) { return pushdurin(L, UNITS_MINUTE); }

static int dur_seconds(lua_State *L) { return pushdurin(L, UNITS_SECOND); }

static int dur_milliseconds(lua_State *L) {
  lua_pushinteger(L, checkdur(L, 1) / UNITS_MILLISECOND);
  return 1;
}

static int dur_microseconds(lua_State *L) {
  lua_pushinteger(L, checkdur(L, 1) / UNITS_MICROSECOND);
  return 1;
}

static int dur_nanoseconds(lua_State *L) {
  lua_pushinteger(L, checkdur(L, 1));
  return 1;
}

static int dur_eq(lua_State *L) {
  lua_pushboolean(L, checkdur(L, 1) == checkdur(L, 2));
  return 1;
}

static int dur_lt(lua_State *L) {
  lua_pushboolean(L, checkdur(L, 1) < checkdur(L, 2));
  return 1;
}

static int dur_le(lua_State *L) {
  lua_pushboolean(L, checkdur(L, 1) <= checkdur(L, 2));
  return 1;
}

/*
** Arithmetic, as Go's: Duration +/- Duration (or nanoseconds) and
** Duration * or // an integer are Durations; Duration / Duration is a
** number (their ratio).  Overflow is an error, never a wrap.
*/
static int64_t arg_ns(lua_State *L, int idx, const char *op) {
  int64_t *d = luaL_testudata(L, idx, DURATION_MT);
  if (d != NULL) return *d;
  int isint = 0;
  lua_Integer n = lua_tointegerx(L, idx, &isint);
  if (!isint)
    luaL_error(L, "Duration %s: %s, expected a Duration or an integer",
               op, lua_type(L, idx) == LUA_TNUMBER ? "a fraction"
                                                   : luaL_typename(L, idx));
  return (int64_t)n;
}

static int dur_result(lua_State *L, int overflow, int64_t v, const char *op) {
  if (overflow) return luaL_error(L, "Duration %s: overflow", op);
  pushduration(L, v);
  return 1;
}

static int dur_add(lua_State *L) {
  int64_t r;
  int o = __builtin_add_overflow(arg_ns(L, 1, "+"), arg_ns(L, 2, "+"), &r);
  return dur_result(L, o, r, "+");
}

static int dur_sub(lua_State *L) {
  int64_t r;
  int o = __builtin_sub_overflow(arg_ns(L, 1, "-"), arg_ns(L, 2, "-"), &r);
  return dur_result(L, o, r, "-");
}

static int dur_mul(lua_State *L) {
  int64_t r;
  if (luaL_testudata(L, 1, DURATION_MT) && luaL_testudata(L, 2, DURATION_MT))
    return luaL_error(L, "Duration *: a Duration times a Duration is not a "
                         "Duration");
  int o = __builtin_mul_overflow(arg_ns(L, 1, "*"), arg_ns(L, 2, "*"), &r);
  return dur_result(L, o, r, "*");
}

static int dur_unm(lua_State *L) {
  int64_t d = checkdur(L, 1);
  return dur_result(L, d == INT64_MIN, d == INT64_MIN ? 0 : -d, "-");
}

static int dur_div(lua_State *L) {  /* d / d2: a ratio; d / n: a Duration */
  int64_t a = checkdur(L, 1);
  if (luaL_testudata(L, 2, DURATION_MT)) {
    lua_pushnumber(L, (lua_Number)a / (lua_Number)checkdur(L, 2));
    return 1;
  }
  int64_t b = arg_ns(L, 2, "/");
  if (b == 0) return luaL_error(L, "Duration /: division by zero");
  int o = a == INT64_MIN && b == -1;
  return dur_result(L, o, o ? 0 : a / b, "/");
}

static int t_parse_duration(lua_State *L) {
  int64_t ns;
  luaL_checkany(L, 1);
  if (argduration(L, 1, "time.parse_duration", -1, &ns)) return 2;
  pushduration(L, ns);
  return 1;
}

/* }====================================================== */

/* {======================================================
** Time values
** ======================================================= */

typedef struct tval {
  int64_t wall;  /* Unix nanoseconds */
  int64_t mono;  /* monotonic nanoseconds, when has_mono */
  int has_mono;
} tval;

static tval *pushtime(lua_State *L) {
  tval *t = lua_newuserdatauv(L, sizeof *t, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  t->wall = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  t->mono = sl_now_ns();
  t->has_mono = 1;
  luaL_setmetatable(L, TIME_MT);
  return t;
}

static tval *checktime(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, TIME_MT);
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

static int t_now(lua_State *L) {
  pushtime(L);
  return 1;
}

static int tm_unix(lua_State *L) {
  lua_pushinteger(L, floordiv(checktime(L, 1)->wall, UNITS_SECOND));
  return 1;
}

static int tm_unix_nano(lua_State *L) {
  lua_pushinteger(L, checktime(L, 1)->wall);
  return 1;
}

static int tm_sub(lua_State *L) {
  tval *a = checktime(L, 1), *b = checktime(L, 2);
  if (a->has_mono && b->has_mono) pushduration(L, a->mono - b->mono);
  else pushduration(L, a->wall - b->wall);
  return 1;
}

static int tm_add(lua_State *L) {
  tval *a = checktime(L, 1);
  int64_t ns;
  if (argduration(L, 2, "Time:add", -1, &ns)) return 2;
  tval *t = lua_newuserdatauv(L, sizeof *t, 0);
  *t = *a;
  t->wall += ns;
  t->mono += ns;
  luaL_setmetatable(L, TIME_MT);
  return 1;
}

/* RFC 3339 in UTC; with `nanos`, the fraction as Go's RFC3339Nano. */
static void pushrfc3339(lua_State *L, const tval *t, int nanos) {
  time_t secs = (time_t)floordiv(t->wall, UNITS_SECOND);
  int64_t frac = t->wall - (int64_t)secs * UNITS_SECOND;
  struct tm tm;
  char buf[64];
  gmtime_r(&secs, &tm);
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (nanos && frac > 0) {
    char f[24];
    snprintf(f, sizeof f, ".%09" PRId64, frac);
    size_t fl = strlen(f);
    while (fl > 1 && f[fl - 1] == '0') fl--;
    f[fl] = '\0';
    snprintf(buf + n, sizeof buf - n, "%sZ", f);
  } else {
    snprintf(buf + n, sizeof buf - n, "Z");
  }
  lua_pushstring(L, buf);
}

static int tm_format_rfc3339(lua_State *L) {
  pushrfc3339(L, checktime(L, 1), 0);
  return 1;
}

static int tm_tostring(lua_State *L) {
  pushrfc3339(L, checktime(L, 1), 1);
  return 1;
}

static int tm_cmp(lua_State *L) {
  tval *a = checktime(L, 1), *b = checktime(L, 2);
  if (a->has_mono && b->has_mono)
    return a->mono < b->mono ? -1 : a->mono > b->mono;
  return a->wall < b->wall ? -1 : a->wall > b->wall;
}

static int tm_eq(lua_State *L) {
  lua_pushboolean(L, tm_cmp(L) == 0);
  return 1;
}

static int tm_lt(lua_State *L) {
  lua_pushboolean(L, tm_cmp(L) < 0);
  return 1;
}

static int tm_le(lua_State *L) {
  lua_pushboolean(L, tm_cmp(L) <= 0);
  return 1;
}

/* }====================================================== */

/* {======================================================
** sleep
** ======================================================= */

typedef struct sleeper {
  sl_timer tm;
  sl_task *task;
} sleeper;

static void sleep_cb(sl_timer *tm) {
  sleeper *s = (sleeper *)((char *)tm - offsetof(sleeper, tm));
  sl_sched_wake(s->task);
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lua_pushboolean(L, 1);
  return 1;
}

static int t_sleep(lua_State *L) {
  int64_t ns;
  luaL_checkany(L, 1);
  if (argduration(L, 1, "time.sleep", 0, &ns)) return 2;
  sl_task *t = sl_sched_self(L, "time.sleep");
  sleeper *s = sl_task_scratch(t);
  sl_timer_init(&s->tm);
  s->task = t;
  sl_timer_start(sl_task_sched(t), &s->tm, ns, sleep_cb);
  return sl_sched_block(L, "time.sleep", sleep_k, 0);
}

/* }====================================================== */

/* {======================================================
** Timers and tickers
** ======================================================= */

typedef struct ltimer {
  sl_timer tm;
  sl_sched *S;
  int64_t period;  /* tickers */
  int finalized;   /* __gc ran: never arm it again (resurrection) */
} ltimer;

/*
** Timers are not anchored: a timer and its channel reference each other
** (the timer's user value, the channel's owner), so an armed timer lives as
** long as either is reachable (a task waiting on the channel holds it) and
** is collected with them otherwise, its __gc disarming it (Go 1.23).  A
** weak table maps each ltimer to its userdata for the callback.
*/
static char timers_key;

static ltimer *totimer(sl_timer *tm) {
  return (ltimer *)((char *)tm - offsetof(ltimer, tm));
}

static void timer_fire(sl_timer *tm) {
  ltimer *t = totimer(tm);
  lua_State *L = sl_sched_state(t->S);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &timers_key);
  if (lua_rawgetp(L, -1, t) != LUA_TUSERDATA) {  /* being collected */
    lua_pop(L, 2);
    return;
  }
  if (t->period > 0) {  /* re-arm first, dropping ticks we are late for */
    int64_t now = sl_now_ns();
    int64_t next = tm->due + t->period;
    if (next <= now) next = now + t->period - (now - tm->due) % t->period;
    sl_timer_start(t->S, tm, next - now, timer_fire);
  }
  lua_getiuservalue(L, -1, 1);  /* its channel */
  pushtime(L);
  sl_chan_trysend(L, -2, -1);   /* full: the reader is late, drop it */
  lua_pop(L, 4);
}

static ltimer *newtimer(lua_State *L, int64_t ns, int64_t period,
                        const char *mt) {
  ltimer *t = lua_newuserdatauv(L, sizeof *t, 1);
  sl_timer_init(&t->tm);
  t->S = sl_sched_get(L);
  t->period = period;
  t->finalized = 0;
  luaL_setmetatable(L, mt);
  sl_chan_new(L, 1);
  lua_pushvalue(L, -2);
  sl_chan_setowner(L, -2);      /* channel -> timer */
  lua_setiuservalue(L, -2, 1);  /* timer -> channel */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &timers_key);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, t);
  lua_pop(L, 1);
  sl_timer_start(t->S, &t->tm, ns, timer_fire);
  return t;
}

static ltimer *checkanytimer(lua_State *L) {
  ltimer *t = luaL_testudata(L, 1, TIMER_MT);
  if (t == NULL) t = luaL_checkudata(L, 1, TICKER_MT);
  return t;
}

static int t_timer(lua_State *L) {
  int64_t ns;
  luaL_checkany(L, 1);
  if (argduration(L, 1, "time.timer", 1, &ns)) return 2;
  newtimer(L, ns, 0, TIMER_MT);
  return 1;
}

static int t_ticker(lua_State *L) {
  int64_t ns;
  luaL_checkany(L, 1);
  if (argduration(L, 1, "time.ticker", 1, &ns)) return 2;
  newtimer(L, ns, ns, TICKER_MT);
  return 1;
}

static int t_after(lua_State *L) {
  int64_t ns;
  luaL_checkany(L, 1);
  if (argduration(L, 1, "time.after", 1, &ns)) return 2;
  newtimer(L, ns, 0, TIMER_MT);
  lua_getiuservalue(L, -1, 1);
  return 1;
}

static int tr_channel(lua_State *L) {
  checkanytimer(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* Stop; true if it was armed.  A value not yet received is dropped. */
static int tr_stop(lua_State *L) {
  ltimer *t = checkanytimer(L);
  int was = sl_timer_stop(&t->tm);
  lua_getiuservalue(L, 1, 1);
  sl_chan_drain(L, -1);
  lua_pushboolean(L, was);
  return 1;
}

static int tr_reset(lua_State *L) {
  ltimer *t = checkanytimer(L);
  int64_t ns;
  luaL_checkany(L, 2);
  if (argduration(L, 2, "timer:reset", 1, &ns)) return 2;
  if (t->finalized)  /* its memory goes once this reference is gone */
    return luaL_error(L, "timer:reset: the timer was finalized");
  int was = sl_timer_stop(&t->tm);
  lua_getiuservalue(L, 1, 1);
  sl_chan_drain(L, -1);
  lua_pop(L, 1);
  if (t->period > 0) t->period = ns;
  sl_timer_start(t->S, &t->tm, ns, timer_fire);
  lua_pushboolean(L, was);
  return 1;
}

static int tr_gc(lua_State *L) {
  ltimer *t = checkanytimer(L);
  sl_timer_stop(&t->tm);  /* no-op once the scheduler is closed */
  t->finalized = 1;
  return 0;
}

/* }====================================================== */

static const luaL_Reg dur_methods[] = {
  {"hours", dur_hours},
  {"minutes", dur_minutes},
  {"seconds", dur_seconds},
  {"milliseconds", dur_milliseconds},
  {"microseconds", dur_microseconds},
  {"nanoseconds", dur_nanoseconds},
  {NULL, NULL}
};

static const luaL_Reg dur_meta[] = {
  {"__tostring", dur_tostring},
  {"__add", dur_add},
  {"__sub", dur_sub},
  {"__mul", dur_mul},
  {"__div", dur_div},
  {"__idiv", dur_div},
  {"__unm", dur_unm},
  {"__eq", dur_eq},
  {"__lt", dur_lt},
  {"__le", dur_le},
  {NULL, NULL}
};

static const luaL_Reg tm_methods[] = {
  {"unix", tm_unix},
  {"unix_nano", tm_unix_nano},
  {"sub", tm_sub},
  {"add", tm_add},
  {"format_rfc3339", tm_format_rfc3339},
  {NULL, NULL}
};

static const luaL_Reg tm_meta[] = {
  {"__tostring", tm_tostring},
  {"__eq", tm_eq},
  {"__lt", tm_lt},
  {"__le", tm_le},
  {NULL, NULL}
};

static const luaL_Reg tr_methods[] = {
  {"channel", tr_channel},
  {"response", tr_channel},
  {"stop", tr_stop},
  {"reset", tr_reset},
  {NULL, NULL}
};

static const luaL_Reg t_funcs[] = {
  {"sleep", t_sleep},
  {"after", t_after},
  {"timer", t_timer},
  {"ticker", t_ticker},
  {"now", t_now},
  {"parse_duration", t_parse_duration},
  {NULL, NULL}
};

static void newclass(lua_State *L, const char *name, const luaL_Reg *meta,
                     const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);  /* getmetatable gives the name, not the table */
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

int luaopen_time(lua_State *L) {
  static const luaL_Reg tr_meta[] = {{"__gc", tr_gc}, {NULL, NULL}};
  newclass(L, DURATION_MT, dur_meta, dur_methods);
  newclass(L, TIME_MT, tm_meta, tm_methods);
  newclass(L, TIMER_MT, tr_meta, tr_methods);
  newclass(L, TICKER_MT, tr_meta, tr_methods);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &timers_key) != LUA_TTABLE) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &timers_key);
  }
  lua_pop(L, 1);
  luaL_newlib(L, t_funcs);
  static const struct { const char *name; int64_t ns; } units[] = {
    {"NANOSECOND", UNITS_NANOSECOND}, {"MICROSECOND", UNITS_MICROSECOND},
    {"MILLISECOND", UNITS_MILLISECOND}, {"SECOND", UNITS_SECOND},
    {"MINUTE", UNITS_MINUTE}, {"HOUR", UNITS_HOUR}
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    lua_pushinteger(L, units[i].ns);
    lua_setfield(L, -2, units[i].name);
  }
  return 1;
}
