/*
** websocket.c - the `websocket` module: the reference WebSocket client API
** (the Lua binding; the client's other parts and how they fit: ws.h).
**
**   websocket.connect (Lua) -> policy(url) -> c-ares -> policy(url, ip)
**     -> TCP connect(ip) on the loop -> [OpenSSL memory BIOs] -> handshake engine
**     -> frames <-> channel (scheduler)
**
** This file holds every Lua reference of a connection: the client
** userdata (anchored while the transport lives), its channel, a message
** that did not fit, the policy's refusal.  Methods block their task and
** the transport wakes it; a client whose __gc ran refuses every method.
*/
#include "websocket/ws.h"
#include "channel.h"
#include "sl_security.h"

#include "../sandbox/libmem.h"
#include "../sandbox/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <lauxlib.h>

#define WS_MT "sandlua.WebSocket"
#define WS_GLOBAL_MT "sandlua.WebSocketContext"

typedef struct ws_ud {
  ws_conn *c;
} ws_ud;

static int gkey;

/* The sandbox's --max-connections (0: none may be opened). */
static int64_t max_connections(void) { return sandbox_max_connections(); }

/* Push the error object of c (its refusal, or one made from emsg). */
/* Push the error object of c (its refusal, or one made from emsg). */
static void push_conn_error(lua_State *L, ws_conn *c) {
  if (c->errref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->errref);
    return;
  }
  if (c->failed)
    sl_pusherror(L, c->ekind, c->eretry, "%s", c->emsg);
  else
    sl_pusherror(L, SL_INTERNAL, SL_RETRY_NO, "websocket %s: connection %s",
                 c->canonical ? c->canonical : "",
                 c->local_close ? "closed by close()" : "closed");
  int e = lua_gettop(L);
  lua_createtable(L, 0, 3);
  if (c->canonical) {
    lua_pushstring(L, c->canonical);
    lua_setfield(L, -2, "url");
  }
  if (c->estatus) {
    lua_pushinteger(L, c->estatus);
    lua_setfield(L, -2, "status");
  }
  if (c->ended) {
    lua_pushinteger(L, c->code);
    lua_setfield(L, -2, "code");
  }
  if (c->ip[0] != '\0') {  /* the address connected (or tried) last */
    lua_pushstring(L, c->ip);
    lua_setfield(L, -2, "address");
  }
  if (c->why_errno != 0) {
    lua_pushstring(L, sl_errno_name(c->why_errno));
    lua_setfield(L, -2, "errno");
  }
  if (c->dns_status != NULL) {
    lua_pushstring(L, c->dns_status);
    lua_setfield(L, -2, "dns");
  }
  sl_seterrdetails(L, e);
}

/* {======================================================
** The transport's owner (ws_owner): messages, the end, the policy
** ======================================================= */

/* A message on the channel, {type=, data=}; kept (pendref) when full. */
static int own_message(ws_conn *c, int binary, const uint8_t *data,
                       size_t len) {
  if (c->chref == LUA_NOREF) return 0;
  lua_State *L = c->G->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->chref);
  int ch = lua_gettop(L);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, binary ? "binary" : "text");
  lua_setfield(L, -2, "type");
  lua_pushlstring(L, (const char *)data, len);
  lua_setfield(L, -2, "data");
  if (sl_chan_trysend(L, ch, -1) || sl_chan_isclosed(L, ch) ||
      c->local_close) {
    lua_pop(L, 2);  /* sent, or nobody will read it */
    return 0;
  }
  c->pendref = luaL_ref(L, LUA_REGISTRYINDEX);
  sl_chan_notify_space(L, ch, ws_on_space, c);
  lua_pop(L, 1);
  return 1;
}

static int own_retry(ws_conn *c) {
  lua_State *L = c->G->L;
  if (c->pendref == LUA_NOREF) return 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->chref);
  int ch = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->pendref);
  if (!sl_chan_trysend(L, ch, -1) && !sl_chan_isclosed(L, ch) &&
      !c->local_close) {
    sl_chan_notify_space(L, ch, ws_on_space, c);
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 2);
  luaL_unref(L, LUA_REGISTRYINDEX, c->pendref);
  c->pendref = LUA_NOREF;
  return 1;
}

/* Over: close the channel, drop the anchors (not while the state closes:
** then Lua must not be called). */
static void own_finished(ws_conn *c) {
  lua_State *L = c->G->L;
  if (!c->G->exiting) {
    if (c->chref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, c->chref);
      sl_chan_notify_space(L, -1, NULL, NULL);
      sl_chan_close(L, -1);
      lua_pop(L, 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, c->chref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->pendref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->selfref);
  }
  c->chref = c->pendref = c->selfref = LUA_NOREF;
}

static int own_allow_addr(ws_conn *c, const sl_dns_addr *a) {
  lua_State *L = c->G->L;
  policy_ip ip;
  memset(&ip, 0, sizeof ip);
  ip.family = a->family == AF_INET ? 4 : 6;
  memcpy(ip.b, a->ip, ip.family == 4 ? 4 : 16);
  if (sl_security_check_ip(L, c->url, &ip, c->cname) == 0) return 0;
  if (c->errref == LUA_NOREF) c->errref = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 1);
  return -1;
}

static void own_drop_refusal(ws_conn *c) {
  luaL_unref(c->G->L, LUA_REGISTRYINDEX, c->errref);
  c->errref = LUA_NOREF;
}

static const ws_owner owner = {
  own_message, own_retry, own_finished, own_allow_addr, own_drop_refusal,
};

/* }====================================================== */

/* {======================================================
** The process's client state
** ======================================================= */

static int global_gc(lua_State *L) {
  ws_global *G = luaL_checkudata(L, 1, WS_GLOBAL_MT);
  ws_shutdown(G);
  free(G->dns_server);
  G->dns_server = NULL;
  return 0;
}

static ws_global *get_global(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gkey) == LUA_TUSERDATA) {
    ws_global *G = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return G;
  }
  lua_pop(L, 1);
  sl_sched *S = sl_sched_get(L);
  ws_global *G = lua_newuserdatauv(L, sizeof *G, 0);
  memset(G, 0, sizeof *G);
  G->own = &owner;
  G->resolved = ws_resolved;
  G->S = S;
  G->L = sl_sched_state(S);
  sl_timer_init(&G->dns_timer);
  sl_timer_init(&G->dnsq_timer);
  if (luaL_newmetatable(L, WS_GLOBAL_MT)) {
    lua_pushcfunction(L, global_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, WS_GLOBAL_MT);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &gkey);
  return G;
}

static int ensure_tls(ws_global *G, char *err, size_t errlen) {
  if (G->tls_ready) return 0;
  if (sl_tls_init(err, errlen) != 0) return -1;
  G->tls_ready = 1;
  return 0;
}

void sl_websocket_shutdown(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gkey) == LUA_TUSERDATA)
    ws_shutdown(lua_touserdata(L, -1));
  lua_pop(L, 1);
}

int sl_websocket_prepare(lua_State *L, const char *dns_server,
                         const char *const *ca_files, int n_ca_files,
                         char *err, size_t errlen) {
  ws_global *G = get_global(L);
  if (dns_server) {
    free(G->dns_server);
    G->dns_server = ws_strdup(realloc, dns_server);
  }
  G->ev = sl_sched_loop(L);
  /*
  ** TLS is set up by the first wss:// connection (OpenSSL's configuration
  ** and the trust store stay readable in the sandbox; some 2 ms and 25 ms
  ** a run otherwise), except for --ca-file: those files are read now.
  */
  if (n_ca_files > 0 && ensure_tls(G, err, errlen) != 0) return -1;
  for (int i = 0; i < n_ca_files; i++) {  /* every wss://, like curl's */
    char e[256];
    if (sl_tls_trust_ca(ca_files[i], e, sizeof e) != 0 ||
        sl_tls_preload_ca(ca_files[i], e, sizeof e) != 0) {
      snprintf(err, errlen, "--ca-file %s: %s", ca_files[i], e);
      return -2;
    }
  }
  if (ws_dns_ensure(G) != 0) {
    snprintf(err, errlen, "%s", G->dns_err);
    return -1;
  }
  return 0;
}

/* }====================================================== */

/* {======================================================
** Lua functions
** ======================================================= */

/* The client at 1; a finalized one (its __gc ran: at exit, or reached
** some other way) is an error, never a dangling pointer. */
static ws_conn *check_client(lua_State *L) {
  ws_ud *u = luaL_checkudata(L, 1, WS_MT);
  if (u->c == NULL)
    luaL_error(L, "websocket client: the client was finalized (closed and "
               "collected)");
  return u->c;
}

static int connect_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  int udidx = (int)ctx;
  ws_ud *u = lua_touserdata(L, udidx);
  ws_conn *c = u->c;
  if (c->connect_ok) {
    lua_pushvalue(L, udidx);
    return 1;
  }
  lua_pushnil(L);
  push_conn_error(L, c);
  return 2;
}

/*
** zlib's allocator for the protocol engine: permessage-deflate's state
** (some 260 KiB to compress, 40 KiB to decompress with 15 window bits) is
** the script's, counted like OpenSSL's (sandbox/libmem.h).
*/
static void *z_alloc(void *opaque, unsigned items, unsigned size) {
  (void)opaque;
  if (size != 0 && items > SIZE_MAX / size) return NULL;
  return sandbox_libmem_realloc(NULL, (size_t)items * size);
}

static void z_free(void *opaque, void *p) {
  (void)opaque;
  sandbox_libmem_free(p);
}

static int ws_connect(lua_State *L) {
  const char *url = sl_checkcstring(L, 1, NULL);
  ws_global *G = get_global(L);
  lua_settop(L, 2);
  ws_opts o;
  char buf[256];
  const char *why = ws_parse_options(L, 2, &o, buf, sizeof buf);
  if (why) return sl_fail(L, SL_INVALID, "websocket.connect: %s", why);
  char err[512];
  if (G->ev == NULL) G->ev = sl_sched_loop(L);
  if (o.ca_file && ensure_tls(G, err, sizeof err) != 0)
    return sl_fail(L, SL_INTERNAL, "websocket.connect: %s", err);
  if (o.ca_file && sl_tls_preload_ca(o.ca_file, err, sizeof err) != 0)
    return sl_fail(L, SL_INVALID, "websocket.connect: ca_file: %s (in the "
                   "sandbox, CA files must be named on the command line "
                   "with --ca-file)", err);
  if (G->shut)
    return sl_fail(L, SL_INTERNAL, "websocket.connect: no context");
  if (o.nheaders > 0 || o.nprotocols > 0) {
    /* headers and protocols: the engine's checks, before the policy */
    wsp_options vo;
    memset(&vo, 0, sizeof vo);
    vo.host = "localhost";
    vo.subprotocols = o.protocols;
    vo.nsubprotocols = o.nprotocols;
    vo.headers = o.headers;
    vo.nheaders = o.nheaders;
    wsp_conn *tmp = NULL;
    int vrc = wsp_new(&vo, &tmp, err, sizeof err);
    wsp_free(tmp);
    if (vrc == -ENOMEM) return luaL_error(L, "not enough memory");
    if (vrc != 0) return sl_fail(L, SL_INVALID, "websocket.connect: %s", err);
  }
  int64_t maxc = max_connections();
  if (maxc >= 0 && G->nconns >= maxc)
    return sl_fail_r(L, SL_UNAVAILABLE, SL_RETRY_YES,
                     "websocket.connect %s: too many open connections (the "
                     "limit is %d, --max-connections)", url, (int)maxc);
  sl_task *task = sl_sched_self(L, "websocket.connect");
  /* the policy, before anything touches the network */
  policy_url *pu = ws_alloc(sizeof *pu);
  if (pu == NULL) return luaL_error(L, "not enough memory");
  if (sl_security_check_url(L, url, pu) != 0) {
    ws_free(pu);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (pu->tls && ensure_tls(G, err, sizeof err) != 0) {
    ws_free(pu);
    return sl_fail(L, SL_INTERNAL, "websocket.connect: %s", err);
  }
  /* the engine: request, options checked once more */
  char target[2 * POLICY_URL_MAX + 2];
  snprintf(target, sizeof target, "%s%s%s", pu->path,
           pu->has_query ? "?" : "", pu->has_query ? pu->query : "");
  wsp_options wo;
  memset(&wo, 0, sizeof wo);
  wo.host = pu->host;
  wo.path = target;
  wo.port = pu->port;
  wo.is_tls = pu->tls;
  wo.subprotocols = o.protocols;
  wo.nsubprotocols = o.nprotocols;
  wo.headers = o.headers;
  wo.nheaders = o.nheaders;
  wo.read_limit = o.read_limit;
  wo.compression = o.compression;
  wo.compression_threshold = o.threshold;
  wo.zalloc = z_alloc;  /* zlib's state counts against the memory limit */
  wo.zfree = z_free;
  wo.alloc = sandbox_libmem_realloc;  /* and so do its buffers */
  wsp_conn *wsp = NULL;
  int rc = wsp_new(&wo, &wsp, err, sizeof err);
  if (rc != 0) {
    ws_free(pu);
    if (rc == -ENOMEM) return luaL_error(L, "not enough memory");
    return sl_fail(L, SL_INVALID, "websocket.connect: %s", err);
  }
  ws_conn *c = ws_alloc(sizeof *c);
  if (c == NULL) {
    ws_free(pu);
    wsp_free(wsp);
    return luaL_error(L, "not enough memory");
  }
  ws_conn_init(c, G);
  c->selfref = c->chref = c->pendref = c->errref = LUA_NOREF;
  c->wsp = wsp;
  c->url = pu;
  c->canonical = ws_strdup(sandbox_libmem_realloc, pu->canonical);
  c->host = ws_strdup(sandbox_libmem_realloc, pu->host);
  c->port = pu->port;
  c->tls_on = pu->tls;
  c->ca_file = ws_strdup(sandbox_libmem_realloc, o.ca_file);
  c->dial_ns = o.dial_ns;
  c->read_ns = o.read_ns;
  c->write_ns = o.write_ns;
  c->capacity = o.capacity;
  if (!c->canonical || !c->host || (o.ca_file && !c->ca_file)) {
    ws_conn_free(c);
    return luaL_error(L, "not enough memory");
  }
  /* the client object and its channel */
  ws_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->c = c;
  c->ud_alive = 1;
  luaL_setmetatable(L, WS_MT);
  int udidx = lua_gettop(L);
  sl_chan_new(L, o.capacity);
  lua_pushvalue(L, -1);
  c->chref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setiuservalue(L, udidx, 1);
  lua_pushvalue(L, udidx);
  c->selfref = luaL_ref(L, LUA_REGISTRYINDEX);
  ws_conn_link(c);
  ws_arm_dial_timer(c);
  ws_dial(c, pu);
  if (c->phase == PH_DONE)  /* failed already */
    return connect_k(L, LUA_OK, udidx);
  c->connector = task;
  return sl_sched_block(L, "websocket.connect", connect_k, udidx);
}

static int send_done_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  ws_sendw *w = (ws_sendw *)ctx;
  ws_ud *u = lua_touserdata(L, 1);
  if (w->done == 1) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  if (w->done == -2)
    sl_pusherror(L, SL_INTERNAL, SL_RETRY_NO, "websocket send: %s",
                 w->rc == -EPIPE ? "connection closing" : strerror(-w->rc));
  else push_conn_error(L, u->c);
  return 2;
}

static int closed_error(lua_State *L, ws_conn *c, const char *what) {
  lua_pushboolean(L, 0);
  if (c->failed || c->errref != LUA_NOREF) {
    push_conn_error(L, c);
    return 2;
  }
  sl_pusherror(L, SL_INTERNAL, SL_RETRY_NO, "websocket %s: %s: connection "
               "closed%s%s", c->canonical, what,
               c->ended && c->by == 1 ? " by the server" : "",
               c->ended && c->local_close ? " (by close())" : "");
  return 2;
}

static int client_send(lua_State *L) {
  ws_conn *c = check_client(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer type = luaL_optinteger(L, 3, WSP_TEXT);
  lua_settop(L, 3);
  if (type != WSP_TEXT && type != WSP_BINARY) {
    lua_pushboolean(L, 0);
    sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                 "websocket send: type must be websocket.TEXT (1) or "
                 "websocket.BINARY (2), got %d", (int)type);
    return 2;
  }
  if (c->phase != PH_OPEN || c->local_close || c->killing ||
      wsp_get_state(c->wsp) != WSP_OPEN)
    return closed_error(L, c, "send");
  sl_task *t = sl_sched_self(L, "websocket.send");
  ws_sendw *w = sl_task_scratch(t);
  memset(w, 0, sizeof *w);
  w->task = t;
  w->data = data;
  w->len = len;
  w->type = (int)type;
  if (c->sendq == NULL) {
    int rc = wsp_send(c->wsp, w->type, data, len);
    if (rc != 0) {
      lua_pushboolean(L, 0);
      if (rc == -EILSEQ)
        sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                     "websocket send: text message is not valid UTF-8 (send "
                     "it as websocket.BINARY)");
      else
        sl_pusherror(L, SL_INTERNAL, SL_RETRY_NO, "websocket send: %s",
                     strerror(-rc));
      return 2;
    }
    w->started = 1;
    c->sendq = c->sendq_tail = w;
    if (ws_conn_flush(c) != 0) ws_conn_kill(c);
    if (w->done) return send_done_k(L, LUA_OK, (lua_KContext)w);
  } else {
    c->sendq_tail->next = w;
    c->sendq_tail = w;
  }
  ws_arm_write_timer(c);
  w->blocked = 1;
  return sl_sched_block(L, "websocket.send", send_done_k, (lua_KContext)w);
}

static int client_ping(lua_State *L) {
  ws_conn *c = check_client(L);
  size_t len = 0;
  const char *data = luaL_optlstring(L, 2, "", &len);
  if (c->phase != PH_OPEN || c->local_close || c->killing ||
      wsp_get_state(c->wsp) != WSP_OPEN)
    return closed_error(L, c, "ping");
  int rc = wsp_ping(c->wsp, data, len);
  if (rc != 0) {
    lua_pushboolean(L, 0);
    sl_pusherror(L, rc == -EMSGSIZE ? SL_INVALID : SL_INTERNAL, SL_RETRY_NO,
                 "websocket ping: %s", rc == -EMSGSIZE
                 ? "payload longer than 125 bytes" : strerror(-rc));
    return 2;
  }
  ws_flush_outside(c);
  lua_pushboolean(L, 1);
  return 1;
}

static int client_channel(lua_State *L) {
  check_client(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int client_protocol(lua_State *L) {
  ws_conn *c = check_client(L);
  if (c->subprotocol) lua_pushstring(L, c->subprotocol);
  else lua_pushnil(L);
  return 1;
}

static int close_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lua_pushboolean(L, 1);
  return 1;
}

static int client_close(lua_State *L) {
  ws_conn *c = check_client(L);
  lua_Integer code = WSP_CLOSE_NORMAL;
  size_t rlen = 0;
  const char *reason = "";
  if (!lua_isnoneornil(L, 2)) {
    int isint = 0;
    code = lua_tointegerx(L, 2, &isint);
    if (lua_type(L, 2) != LUA_TNUMBER || !isint) {
      lua_pushboolean(L, 0);
      sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                   "websocket close: code must be an integer (1000-4999), "
                   "got %s", luaL_typename(L, 2));
      return 2;
    }
  }
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TSTRING) {
      lua_pushboolean(L, 0);
      sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                   "websocket close: reason must be a string, got %s",
                   luaL_typename(L, 3));
      return 2;
    }
    reason = lua_tolstring(L, 3, &rlen);
  }
  if (code < 1000 || code > 4999 || code == 1005 || code == 1006 ||
      code == 1015 || !wsp_close_code_valid((int)code)) {
    lua_pushboolean(L, 0);
    sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                 "websocket close: code %d cannot be sent (1000-4999, not "
                 "1004-1006, 1015 or 1016-2999)", (int)code);
    return 2;
  }
  if (rlen > WSP_MAX_CLOSE_REASON) {
    lua_pushboolean(L, 0);
    sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                 "websocket close: reason is %d bytes (at most 123)", (int)rlen);
    return 2;
  }
  if (c->phase == PH_DONE && !ws_sock_open(c) && !c->paused) {
    lua_pushboolean(L, 1);
    return 1;
  }
  sl_task *t = sl_sched_self(L, "websocket.close");
  if (!c->local_close) {
    c->local_close = 1;
    if (c->phase == PH_OPEN && wsp_get_state(c->wsp) == WSP_OPEN) {
      int rc = wsp_close(c->wsp, (int)code, reason, rlen);
      if (rc == -EINVAL) {
        c->local_close = 0;
        lua_pushboolean(L, 0);
        sl_pusherror(L, SL_INVALID, SL_RETRY_NO,
                     "websocket close: the reason is not valid UTF-8");
        return 2;
      }
      /* a message still being sent was abandoned by the engine: its
      ** sender (and the queued ones) fail */
      ws_fail_senders(c);
      if (!c->ended) {
        c->ended = 1;
        c->code = (int)code;
        memcpy(c->reason, reason, rlen);
        c->reason[rlen] = '\0';
        c->by = 2;
      }
      ws_arm_close_timer(c);
      /* messages that do not fit any more are dropped: resume reading */
      if (c->paused) ws_on_space(c);
      ws_flush_outside(c);
    } else if (c->phase < PH_OPEN) {
      ws_set_error(c, SL_CANCELED, SL_RETRY_NO, "websocket %s: closed while "
                "connecting", c->canonical);
      if (c->phase == PH_DNS) {
        ws_dns_abort(c);
        ws_connect_failed(c);
      } else {
        ws_conn_kill(c);
      }
    } else if (c->paused) {
      ws_on_space(c);
    }
  }
  if (c->phase == PH_DONE && !ws_sock_open(c)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  ws_closew *w = sl_task_scratch(t);
  w->task = t;
  w->next = c->closers;
  c->closers = w;
  return sl_sched_block(L, "websocket.close", close_k, 0);
}

/* client:close_status() -> nil while open; then {code=, reason=, clean=,
** by=}, plus the error object when it ended by a failure. */
static int client_close_status(lua_State *L) {
  ws_conn *c = check_client(L);
  if (!(c->phase == PH_DONE && c->chref == LUA_NOREF)) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, c->ended ? c->code : WSP_CLOSE_ABNORMAL);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, c->reason);
  lua_setfield(L, -2, "reason");
  lua_pushboolean(L, c->clean && !c->failed);
  lua_setfield(L, -2, "clean");
  if (c->by) {
    lua_pushstring(L, c->by == 1 ? "server" : "client");
    lua_setfield(L, -2, "by");
  }
  if (c->failed || c->errref != LUA_NOREF) {
    push_conn_error(L, c);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "error");
    return 2;
  }
  return 1;
}

/* __gc: idempotent; afterwards every method refuses (check_client). */
static int client_gc(lua_State *L) {
  ws_ud *u = luaL_checkudata(L, 1, WS_MT);
  ws_conn *c = u->c;
  if (c == NULL) return 0;
  u->c = NULL;
  if (ws_sock_open(c) || c->linked) ws_shutdown(c->G);  /* lua_close */
  c->ud_alive = 0;
  if (c->errref != LUA_NOREF && !c->G->exiting)
    luaL_unref(L, LUA_REGISTRYINDEX, c->errref);
  c->errref = LUA_NOREF;
  ws_conn_maybe_free(c);
  return 0;
}

static int client_tostring(lua_State *L) {
  ws_ud *u = luaL_checkudata(L, 1, WS_MT);
  ws_conn *c = u->c;
  if (c == NULL) {
    lua_pushliteral(L, "websocket.Client (finalized)");
    return 1;
  }
  static const char *const names[] = {"?", "connecting", "connecting",
                                      "connecting", "connecting", "open",
                                      "closed"};
  lua_pushfstring(L, "websocket.Client (%s, %s)",
                  c->canonical ? c->canonical : "?",
                  c->phase == PH_OPEN && c->local_close ? "closing"
                                                        : names[c->phase]);
  return 1;
}

static const luaL_Reg client_methods[] = {
  {"send", client_send},
  {"ping", client_ping},
  {"channel", client_channel},
  {"receive", client_channel},
  {"close", client_close},
  {"protocol", client_protocol},
  {"close_status", client_close_status},
  {NULL, NULL}
};

static const luaL_Reg ws_funcs[] = {
  {"connect", ws_connect},
  {NULL, NULL}
};

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

int luaopen_websocket(lua_State *L) {
  get_global(L);
  if (luaL_newmetatable(L, WS_MT)) {
    luaL_newlib(L, client_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "websocket.Client");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "websocket.Client");  /* not the table itself */
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  luaL_newlib(L, ws_funcs);
  set_int(L, "TEXT", WSP_TEXT);
  set_int(L, "BINARY", WSP_BINARY);
  set_str(L, "TYPE_TEXT", "text");
  set_str(L, "TYPE_BINARY", "binary");
  set_str(L, "TYPE_PING", "ping");
  set_str(L, "TYPE_PONG", "pong");
  set_str(L, "TYPE_CLOSE", "close");
  lua_createtable(L, 0, 3);
  set_int(L, "DISABLED", 0);
  set_int(L, "CONTEXT_TAKEOVER", 1);
  set_int(L, "NO_CONTEXT", 2);
  lua_setfield(L, -2, "COMPRESSION");
  lua_createtable(L, 0, 16);
  set_int(L, "NORMAL", 1000);
  set_int(L, "GOING_AWAY", 1001);
  set_int(L, "PROTOCOL_ERROR", 1002);
  set_int(L, "UNSUPPORTED_DATA", 1003);
  set_int(L, "RESERVED", 1004);
  set_int(L, "NO_STATUS", 1005);
  set_int(L, "ABNORMAL_CLOSURE", 1006);
  set_int(L, "INVALID_PAYLOAD", 1007);
  set_int(L, "POLICY_VIOLATION", 1008);
  set_int(L, "MESSAGE_TOO_BIG", 1009);
  set_int(L, "MANDATORY_EXTENSION", 1010);
  set_int(L, "INTERNAL_ERROR", 1011);
  set_int(L, "SERVICE_RESTART", 1012);
  set_int(L, "TRY_AGAIN_LATER", 1013);
  set_int(L, "BAD_GATEWAY", 1014);
  set_int(L, "TLS_HANDSHAKE", 1015);
  lua_setfield(L, -2, "CLOSE_CODES");
  return 1;
}

/* }====================================================== */