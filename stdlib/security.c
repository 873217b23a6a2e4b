/*
** security.c - the `security` Lua module and the policy checks of the
** WebSocket client (sl_security.h).
**
** security.can(action, resource [, meta]) -> boolean
** security.actor() -> {id = ..., meta = {...}} (a copy)
** Scripts can ask; they cannot change the policy: the set lives in C,
** reached through a light userdata in the registry.
*/
#define LUA_LIB

#include "sl_security.h"

#include <limits.h>
#include <string.h>

#include <lauxlib.h>

#include "sl.h"

#define SECURITY_KEY "sandlua.security"
#define MAX_META 256  /* keys in a meta table given to security.can */

typedef struct sec_ctx {
  const policy_set *set;
  policy_audit *audit;
} sec_ctx;

void sl_security_install(lua_State *L, const policy_set *set,
                         policy_audit *audit) {
  sec_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->set = set;
  c->audit = audit;
  lua_setfield(L, LUA_REGISTRYINDEX, SECURITY_KEY);
}

/* The installed context, or a deny-all one. */
static sec_ctx get_ctx(lua_State *L) {
  static const policy_set EMPTY;  /* no policies: strict, deny-all */
  sec_ctx c = {&EMPTY, NULL};
  lua_getfield(L, LUA_REGISTRYINDEX, SECURITY_KEY);
  const sec_ctx *p = lua_touserdata(L, -1);
  if (p != NULL) c = *p;
  lua_pop(L, 1);
  return c;
}

/*
** What would allow a refused URL: the --allow-url pattern of its origin
** ("scheme://host:port/" and a star, from the canonical URL) in buf, or "" for a
** resource that is not a URL.
*/
static void allow_url_hint(const char *resource, char *buf, size_t len) {
  const char *p = strstr(resource, "://");
  buf[0] = '\0';
  if (p == NULL) return;
  const char *slash = strchr(p + 3, '/');
  size_t n = slash ? (size_t)(slash - resource) : strlen(resource);
  if (n + 3 >= len || memchr(resource, '\'', n)) return;
  memcpy(buf, resource, n);
  memcpy(buf + n, "/*", 3);
}

/*
** Push the refusal for a decision: INVALID for a malformed URL, else
** PERMISSION_DENIED, naming action, resource and policy, and what would
** allow it (an --allow-url pattern, the policy to change).  Stack: +1.
*/
static void push_refusal(lua_State *L, const char *action,
                         const char *resource, const policy_ip *ip,
                         const policy_decision *d) {
  const char *by = policy_decision_policy(d);
  char pat[POLICY_URL_MAX + 8];
  allow_url_hint(resource, pat, sizeof pat);
  if (d->why == POLICY_WHY_INVALID) {
    sl_pusherror(L, SL_INVALID, SL_RETRY_NO, "%s: invalid URL '%s': %s",
                 action, resource, d->detail);
  } else if (d->why == POLICY_WHY_UNDEFINED) {
    if (pat[0])
      sl_pusherror(L, SL_PERMISSION_DENIED, SL_RETRY_NO,
                   "%s %s: permission denied: no policy allows it %s; to "
                   "allow it: --allow-url '%s', or an allow policy for %s "
                   "in a --policy file", action, resource, by, pat, action);
    else
      sl_pusherror(L, SL_PERMISSION_DENIED, SL_RETRY_NO,
                   "%s %s: permission denied: no policy allows it %s; to "
                   "allow it: an allow policy for %s in a --policy file",
                   action, resource, by, action);
  } else if (d->why == POLICY_WHY_SPECIAL) {
    sl_pusherror(L, SL_PERMISSION_DENIED, SL_RETRY_NO,
                 "%s %s: permission denied: %s; to allow it: an allow that "
                 "names the address (--allow-url '%s' with the address as "
                 "host, or a meta.ip cidr condition)", action, resource,
                 d->detail, pat[0] ? pat : "scheme://ADDRESS:PORT/*");
  } else {
    const policy *p = d->policy;
    char where[PATH_MAX + 32] = "";
    if (p != NULL && p->file != NULL && strcmp(p->file, "--allow-url") != 0)
      snprintf(where, sizeof where, " (%s:%d)", p->file, p->line);
    const policy_set *set = get_ctx(L).set;
    int site = p != NULL && p >= set->items && p < set->items + set->n_site;
    sl_pusherror(L, SL_PERMISSION_DENIED, SL_RETRY_NO,
                 "%s %s: permission denied by policy %s%s%s%s; a deny wins "
                 "over every allow: %s", action, resource, by, where,
                 d->detail[0] ? ": " : "", d->detail,
                 site ? "it is the site policy (the operator's)"
                      : "change that policy to allow it");
  }
  lua_createtable(L, 0, 4);
  lua_pushstring(L, action);
  lua_setfield(L, -2, "action");
  lua_pushstring(L, resource);
  lua_setfield(L, -2, "resource");
  lua_pushstring(L, by);
  lua_setfield(L, -2, "policy");
  if (ip != NULL) {
    char buf[POLICY_IP_STRLEN];
    policy_ip_format(ip, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "ip");
  }
  sl_seterrdetails(L, -2);
}

int sl_security_check_url(lua_State *L, const char *url, policy_url *u) {
  static const char *const ACTIONS[] = {POLICY_ACTION_CONNECT,
                                        POLICY_ACTION_CONNECT_URL};
  sec_ctx c = get_ctx(L);
  policy_decision d;
  /* The argument is a URL whatever it looks like: one that does not parse
  ** is INVALID for both actions, never a plain resource that no policy
  ** names. */
  if (policy_url_parse(url, u, d.detail, sizeof d.detail) != 0) {
    d.why = POLICY_WHY_INVALID;
    d.allow = 0;
    d.policy = NULL;
    policy_audit_decision(c.audit, &c.set->actor, ACTIONS[1], url, &d);
    push_refusal(L, ACTIONS[1], url, NULL, &d);
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    int rc = policy_check(c.set, &c.set->actor, ACTIONS[i], url, NULL, 0,
                          NULL, u, &d);
    const char *resource = rc == 0 ? u->canonical : url;
    policy_audit_decision(c.audit, &c.set->actor, ACTIONS[i], resource, &d);
    if (!d.allow) {
      push_refusal(L, ACTIONS[i], resource, NULL, &d);
      return -1;
    }
  }
  return 0;
}

int sl_security_check_ip(lua_State *L, const policy_url *u,
                         const policy_ip *ip, const char *cname) {
  sec_ctx c = get_ctx(L);
  policy_request r;
  policy_decision d;
  memset(&r, 0, sizeof r);
  r.actor = &c.set->actor;
  r.action = POLICY_ACTION_CONNECT_URL;
  r.resource = u->canonical;
  r.url = u;
  r.ip = ip;
  policy_decide(c.set, &r, &d);
  if (c.audit && (!d.allow || c.audit->all)) {
    char addr[POLICY_IP_STRLEN];
    policy_ip_format(ip, addr, sizeof addr);
    const char *kv[9 * 2] = {
      "actor", c.set->actor.id, "action", r.action, "resource", r.resource,
      "ip", addr, "decision", d.allow ? "allow" : "deny",
      "policy", policy_decision_policy(&d),
    };
    size_t n = 6;
    if (cname != NULL && cname[0] != '\0') {
      kv[2 * n] = "cname";
      kv[2 * n++ + 1] = cname;
    }
    if (d.detail[0]) {
      kv[2 * n] = "detail";
      kv[2 * n++ + 1] = d.detail;
    }
    policy_audit_record(c.audit, "policy", kv, n);
  }
  if (d.allow) return 0;
  push_refusal(L, r.action, r.resource, ip, &d);
  return -1;
}

/* {======================================================
** Lua functions
** ======================================================= */

/* Fill v from the scalar at idx (no raise); -1 if not a scalar. */
static int to_scalar(lua_State *L, int idx, policy_value *v) {
  memset(v, 0, sizeof *v);
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      v->type = POLICY_V_STR;
      v->s = (char *)sl_tocstring(L, idx, NULL);  /* kept by the table */
      return v->s != NULL ? 0 : -2;
    case LUA_TNUMBER:
      v->type = POLICY_V_NUM;
      v->n = lua_tonumber(L, idx);
      return 0;
    case LUA_TBOOLEAN:
      v->type = POLICY_V_BOOL;
      v->b = lua_toboolean(L, idx);
      return 0;
    default:
      return -1;
  }
}

/*
** Convert the meta table at idx into kv pairs, in userdata anchored in a
** table pushed on the stack (freed by the GC; strings borrowed from the
** meta table, which the caller keeps on the stack).  Stack: +1.  Raises
** for keys that are not strings and values that are neither scalars nor
** lists of scalars.
*/
static policy_kv *check_meta(lua_State *L, int idx, size_t *n) {
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);  /* value */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 3, "meta keys must be strings");
    if (++count > MAX_META) luaL_argerror(L, 3, "too many meta keys");
  }
  lua_newtable(L);  /* anchor */
  int anchor = lua_gettop(L);
  policy_kv *kv = lua_newuserdatauv(L, count * sizeof *kv + 1, 0);
  lua_rawseti(L, anchor, 1);
  size_t i = 0;
  lua_pushnil(L);
  while (i < count && lua_next(L, idx) != 0) {
    kv[i].key = (char *)sl_tocstring(L, -2, NULL);
    if (kv[i].key == NULL)
      luaL_argerror(L, 3, "a meta key contains a zero byte");
    int sc = to_scalar(L, -1, &kv[i].value);
    if (sc == -2)
      luaL_argerror(L, 3, lua_pushfstring(L, "meta.%s contains a zero byte",
                                          kv[i].key));
    if (sc != 0) {
      if (!lua_istable(L, -1))
        luaL_argerror(L, 3, lua_pushfstring(L, "meta.%s: unsupported %s",
                                            kv[i].key, luaL_typename(L, -1)));
      lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
      if (len > MAX_META) luaL_argerror(L, 3, "meta list too long");
      policy_value *items =
          lua_newuserdatauv(L, (size_t)len * sizeof *items + 1, 0);
      lua_rawseti(L, anchor, (lua_Integer)i + 2);
      for (lua_Integer j = 0; j < len; j++) {
        lua_rawgeti(L, -1, j + 1);
        if (to_scalar(L, -1, &items[j]) != 0)
          luaL_argerror(L, 3, lua_pushfstring(L, "meta.%s: list items must "
                                              "be scalars without zero "
                                              "bytes", kv[i].key));
        lua_pop(L, 1);
      }
      memset(&kv[i].value, 0, sizeof kv[i].value);
      kv[i].value.type = POLICY_V_LIST;
      kv[i].value.items = items;
      kv[i].value.n_items = (size_t)len;
    }
    lua_pop(L, 1);  /* value */
    i++;
  }
  *n = i;
  return kv;
}

/*
** security.can(action, resource [, meta]) -> boolean.  A URL action's
** resource is canonicalised as websocket.connect does (an invalid URL is
** false); meta.ip, when given, is the post-DNS evaluation.  The decision
** goes to the audit log like any other.
*/
static int security_can(lua_State *L) {
  const char *action = sl_checkcstring(L, 1, NULL);
  const char *resource = sl_checkcstring(L, 2, NULL);
  policy_kv *meta = NULL;
  size_t n_meta = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    meta = check_meta(L, 3, &n_meta);
  }
  policy_ip ipbuf, *ip = NULL;
  for (size_t i = 0; i < n_meta; i++)
    if (strcmp(meta[i].key, "ip") == 0 && meta[i].value.type == POLICY_V_STR &&
        policy_ip_parse(meta[i].value.s, &ipbuf) == 0)
      ip = &ipbuf;
  policy_url *u = lua_newuserdatauv(L, sizeof *u, 0);
  sec_ctx c = get_ctx(L);
  policy_decision d;
  int rc = policy_check(c.set, &c.set->actor, action, resource, meta, n_meta,
                        ip, u, &d);
  policy_audit_decision(c.audit, &c.set->actor, action,
                        rc == 0 && policy_action_is_url(action, resource)
                            ? u->canonical : resource, &d);
  lua_pushboolean(L, d.allow);
  return 1;
}

static void push_value(lua_State *L, const policy_value *v) {
  switch (v->type) {
    case POLICY_V_BOOL: lua_pushboolean(L, v->b); break;
    case POLICY_V_NUM: lua_pushnumber(L, v->n); break;
    case POLICY_V_STR: lua_pushstring(L, v->s); break;
    case POLICY_V_LIST:
      lua_createtable(L, (int)v->n_items, 0);
      for (size_t i = 0; i < v->n_items; i++) {
        push_value(L, &v->items[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    default: lua_pushnil(L); break;
  }
}

/* security.actor() -> {id = string|nil, meta = {...}}, a fresh copy. */
static int security_actor(lua_State *L) {
  sec_ctx c = get_ctx(L);
  const policy_actor *a = &c.set->actor;
  lua_createtable(L, 0, 2);
  if (a->id) {
    lua_pushstring(L, a->id);
    lua_setfield(L, -2, "id");
  }
  lua_createtable(L, 0, (int)a->n_meta);
  for (size_t i = 0; i < a->n_meta; i++) {
    push_value(L, &a->meta[i].value);
    lua_setfield(L, -2, a->meta[i].key);
  }
  lua_setfield(L, -2, "meta");
  return 1;
}

static const luaL_Reg security_funcs[] = {
  {"can", security_can},
  {"actor", security_actor},
  {NULL, NULL}
};

int luaopen_security(lua_State *L) {
  luaL_newlib(L, security_funcs);
  return 1;
}

/* }====================================================== */
