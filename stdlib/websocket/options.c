/*
** options.c - websocket.connect's options table (see ws.h): durations in
** milliseconds or Go syntax, integers within their ranges, strings with no
** zero byte; anything else is a message naming the option.
*/
#include "ws.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "../../common/units.h"



/* Each returns NULL or an error message (in buf). */

/* A timeout past WS_MAX_DURATION_NS (a year) is a mistake, not a wish. */
static const char *dur_range(const char *name, int64_t v, char *buf,
                             size_t len) {
  if (v < 0) {
    snprintf(buf, len, "%s: must not be negative", name);
    return buf;
  }
  if (v > WS_MAX_DURATION_NS) {
    snprintf(buf, len, "%s: %.6gh is over a year, too long to be meant "
             "(at most 8760h; 0 means none)", name, (double)v / 3.6e12);
    return buf;
  }
  return NULL;
}

static const char *opt_duration(lua_State *L, const char *name, int64_t *ns,
                                char *buf, size_t len) {
  int64_t v;
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number ms = lua_tonumber(L, -1);
    if (!(ms >= 0) || ms == (lua_Number)HUGE_VAL) {
      snprintf(buf, len, "%s: must be a number of milliseconds >= 0 (or a "
               "duration string such as \"5s\", or a Duration)", name);
      return buf;
    }
    if (ms * 1e6 > (lua_Number)WS_MAX_DURATION_NS) {
      snprintf(buf, len, "%s: %.6gh is over a year, too long to be meant "
               "(numbers are milliseconds here, not time.SECOND's "
               "nanoseconds: give \"5s\" or a Duration)", name,
               (double)ms / 3.6e6);
      return buf;
    }
    v = (int64_t)(ms * 1e6);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    char e[128];
    const char *s = sl_tocstring(L, -1, NULL);
    if (s == NULL) {
      snprintf(buf, len, "%s: the duration contains a zero byte", name);
      return buf;
    }
    if (units_parse_duration(s, &v, e, sizeof e) != 0) {
      snprintf(buf, len, "%s: %s", name, e);
      return buf;
    }
  } else if (luaL_testudata(L, -1, SL_DURATION_MT) != NULL) {
    v = *(int64_t *)lua_touserdata(L, -1);  /* time.SECOND * 2 */
  } else {
    snprintf(buf, len, "%s: number (milliseconds), duration string or "
             "Duration expected, got %s", name, luaL_typename(L, -1));
    return buf;
  }
  const char *why = dur_range(name, v, buf, len);
  if (why == NULL) *ns = v;
  return why;
}

static const char *opt_int(lua_State *L, const char *name, lua_Integer lo,
                           lua_Integer hi, lua_Integer *out, char *buf,
                           size_t len) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (lua_type(L, -1) != LUA_TNUMBER || !isint) {
    snprintf(buf, len, "%s: integer expected, got %s", name,
             lua_type(L, -1) == LUA_TNUMBER ? "a fraction"
                                            : luaL_typename(L, -1));
    return buf;
  }
  if (v < lo || v > hi) {
    snprintf(buf, len, "%s: %lld is out of range (%lld-%lld)", name,
             (long long)v, (long long)lo, (long long)hi);
    return buf;
  }
  *out = v;
  return NULL;
}

const char *ws_parse_options(lua_State *L, int idx, ws_opts *o, char *buf,
                                 size_t len) {
  memset(o, 0, sizeof *o);
  o->capacity = WS_DEFAULT_CAPACITY;
  o->dial_ns = WS_DEFAULT_DIAL_NS;  /* a black-holed server or resolver
                                       must not hold connect for minutes */
  if (lua_isnoneornil(L, idx)) return NULL;
  if (!lua_istable(L, idx)) {
    snprintf(buf, len, "options: table expected, got %s",
             luaL_typename(L, idx));
    return buf;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      snprintf(buf, len, "options: option names must be strings");
      return buf;
    }
    const char *k = lua_tostring(L, -2);
    const char *why = NULL;
    lua_Integer v;
    if (strcmp(k, "dial_timeout") == 0) {
      why = opt_duration(L, k, &o->dial_ns, buf, len);
    } else if (strcmp(k, "read_timeout") == 0) {
      why = opt_duration(L, k, &o->read_ns, buf, len);
    } else if (strcmp(k, "write_timeout") == 0) {
      why = opt_duration(L, k, &o->write_ns, buf, len);
    } else if (strcmp(k, "compression") == 0) {
      if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "disabled") == 0) o->compression = 0;
        else if (strcmp(s, "context_takeover") == 0) o->compression = 1;
        else if (strcmp(s, "no_context_takeover") == 0) o->compression = 2;
        else {
          snprintf(buf, len, "compression: unknown mode \"%.40s\" (disabled, "
                   "context_takeover, no_context_takeover)", s);
          why = buf;
        }
      } else {
        why = opt_int(L, k, 0, 2, &v, buf, len);
        if (!why) o->compression = (int)v;
      }
    } else if (strcmp(k, "compression_threshold") == 0) {
      why = opt_int(L, k, 0, (lua_Integer)WS_MAX_THRESHOLD, &v, buf, len);
      if (!why) o->threshold = (size_t)v;
    } else if (strcmp(k, "read_limit") == 0) {
      why = opt_int(L, k, 0, (lua_Integer)WS_MAX_READ_LIMIT, &v, buf, len);
      if (!why) o->read_limit = (size_t)v;
    } else if (strcmp(k, "channel_capacity") == 0) {
      why = opt_int(L, k, 1, WS_MAX_CAPACITY, &v, buf, len);
      if (!why) o->capacity = (int)v;
    } else if (strcmp(k, "ca_file") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
        snprintf(buf, len, "ca_file: file name expected, got %s",
                 lua_type(L, -1) == LUA_TSTRING ? "an empty string"
                                                : luaL_typename(L, -1));
        why = buf;
      } else if ((o->ca_file = sl_tocstring(L, -1, NULL)) == NULL) {
        snprintf(buf, len, "ca_file: the file name contains a zero byte");
        why = buf;
      }
    } else if (strcmp(k, "headers") == 0) {
      if (!lua_istable(L, -1)) {
        snprintf(buf, len, "headers: table expected, got %s",
                 luaL_typename(L, -1));
        why = buf;
      } else {
        int t = lua_gettop(L);
        lua_pushnil(L);
        while (!why && lua_next(L, t)) {
          if (lua_type(L, -2) != LUA_TSTRING ||
              lua_type(L, -1) != LUA_TSTRING) {
            snprintf(buf, len, "headers: names and values must be strings");
            why = buf;
          } else if (o->nheaders >= sizeof o->headers / sizeof o->headers[0]) {
            snprintf(buf, len, "headers: too many (at most 64)");
            why = buf;
          } else if ((o->headers[o->nheaders].name =
                          sl_tocstring(L, -2, NULL)) == NULL ||
                     (o->headers[o->nheaders].value =
                          sl_tocstring(L, -1, NULL)) == NULL) {
            snprintf(buf, len, "headers: a name or value contains a zero "
                     "byte");
            why = buf;
          } else {
            o->nheaders++;
          }
          lua_pop(L, 1);
        }
        if (why) lua_pop(L, 1);  /* the key lua_next left */
      }
    } else if (strcmp(k, "protocols") == 0) {
      if (!lua_istable(L, -1)) {
        snprintf(buf, len, "protocols: table (list of strings) expected, got "
                 "%s", luaL_typename(L, -1));
        why = buf;
      } else {
        lua_Integer n = luaL_len(L, -1);
        if (n > 32) {
          snprintf(buf, len, "protocols: too many (at most 32)");
          why = buf;
        }
        for (lua_Integer i = 1; !why && i <= n; i++) {
          if (lua_rawgeti(L, -1, i) != LUA_TSTRING) {
            snprintf(buf, len, "protocols: entry %lld is not a string",
                     (long long)i);
            why = buf;
          } else if ((o->protocols[o->nprotocols] =
                          sl_tocstring(L, -1, NULL)) == NULL) {
            snprintf(buf, len, "protocols: entry %lld contains a zero byte",
                     (long long)i);
            why = buf;
          } else {
            o->nprotocols++;
          }
          lua_pop(L, 1);
        }
      }
    } else {
      snprintf(buf, len, "unknown option \"%.40s\"", k);
      why = buf;
    }
    if (why) {
      lua_pop(L, 2);
      return why;
    }
    lua_pop(L, 1);
  }
  return NULL;
}
