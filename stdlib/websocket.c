/*
** websocket.c - the `websocket` module: the reference WebSocket client API
** on our protocol engine (wsproto.h), carried by libwebsockets RAW
** connections on the scheduler's one event loop.
**
**   websocket.connect (Lua) -> policy(url) -> c-ares -> policy(url, ip)
**     -> lws RAW connect(ip) -> [OpenSSL memory BIOs] -> handshake engine
**     -> frames <-> channel (scheduler)
**
** Ownership.  A connection is a C struct (ws_conn) pointed to by the Lua
** client userdata.  While its transport lives (from connect until the
** channel is closed) the connection anchors the userdata in the registry,
** so a client the script dropped is not collected while it is open: it is
** closed by the script, by the peer, by an error, or at exit (1001).  The
** struct is freed when both the transport is done and the userdata is
** collected.
**
** Wake-ups never push values on a blocked task: the continuation reads the
** outcome from the connection (or the task's scratch record).
**
** Receiving: every complete message becomes {type=, data=} on the
** channel.  When the channel is full, the message is kept (one, anchored),
** reading stops (lws_rx_flow_control, and the SSL_read loop), the rest of
** the input already read is kept in c->rx, and the channel's space
** notification arms a timer that resumes.  Nothing is dropped while the
** script may still read; memory stays bounded by one message plus one
** read buffer.
**
** Writing: our own non-blocking send() on the socket; what the socket does
** not take stays in the engine's buffer (plain) or in c->tx (TLS
** ciphertext), and RAW_WRITEABLE resumes.  lws never buffers our data.
*/
#include "sl.h"
#include "channel.h"
#include "sched.h"
#include "sl_security.h"
#include "../net/dns.h"
#include "../net/tls.h"
#include "../net/wsproto.h"

#include "../sandbox/libmem.h"
#include "../sandbox/limits.h"
#include "../common/units.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_MT "sandlua.WebSocket"
#define WS_DEFAULT_CAPACITY 32
#define WS_MAX_CAPACITY 10000
#define WS_MAX_THRESHOLD ((size_t)100 << 20)
#define WS_MAX_READ_LIMIT ((size_t)128 << 20)
#define WS_CLOSE_WAIT_NS (5 * (int64_t)1000000000)  /* peer's close reply */
#define WS_EXIT_WAIT_US (2 * LWS_US_PER_SEC)        /* all, at exit */
#define WS_TX_CHUNK ((size_t)64 << 10)
#define WS_RX_CHUNK ((size_t)64 << 10)
#define WS_TLS_BACKLOG ((size_t)256 << 10)
/* Lookups in flight at once; more wait their turn.  A burst of answers
** beyond what the resolver socket's receive buffer holds (about 400
** datagrams with the kernel's default cap) would be dropped and only
** retried after the resolver timeout. */
#define WS_DNS_INFLIGHT 64
#define WS_MAX_DURATION_NS ((int64_t)100 * 365 * 24 * 3600 * 1000000000LL)

static const char *const NO_REASON = "";

typedef struct ws_global ws_global;
typedef struct ws_conn ws_conn;
typedef struct ws_dnsio ws_dnsio;

enum {
  PH_DNS = 1,  /* resolving */
  PH_TCP,      /* TCP connect in progress */
  PH_TLS,      /* TLS handshake */
  PH_HS,       /* WebSocket handshake */
  PH_OPEN,     /* messages flow */
  PH_DONE      /* transport gone */
};

/* An adopted c-ares socket (a dup of it, polled by lws). */
struct ws_dnsio {
  sl_io io;
  ws_global *G;
  ws_dnsio *next;
  struct lws *wsi;
  int fd;       /* c-ares' descriptor; -1 once c-ares let go of it */
  int want_w;
  int held;
};

struct ws_global {
  sl_sched *S;
  lua_State *L;              /* main thread, for callbacks */
  struct lws_context *ctx;
  sl_dns *dns;
  char *dns_server;          /* --dns-server, or NULL */
  char dns_err[256];         /* why the resolver could not be made */
  int dns_failed;
  sl_timer dns_timer;
  ws_dnsio *dnsios;
  int dns_inflight;          /* lookups started */
  ws_conn *dnsq, *dnsq_tail; /* lookups waiting for their turn */
  sl_timer dnsq_timer;
  ws_conn *conns;            /* live connections */
  int64_t nconns;
  int tls_ready;
  int exiting;               /* lua_close: no Lua, no wake-ups */
  int shut;
  lws_sorted_usec_list_t exit_sul;
  int exit_due;
};

/* A task waiting to send: lives in the task's scratch area. */
typedef struct ws_sendw {
  struct ws_sendw *next;
  sl_task *task;
  const char *data;  /* on the blocked task's stack */
  size_t len;
  int type;
  int started;
  int blocked;       /* in sl_sched_block (else: still running) */
  int done;          /* 1 sent, -1 failed (the connection's error),
                        -2 refused by the engine (rc) */
  int rc;
} ws_sendw;

/* A task waiting in close() or for the end of the connection. */
typedef struct ws_closew {
  struct ws_closew *next;
  sl_task *task;
} ws_closew;

struct ws_conn {
  sl_io io;
  ws_global *G;
  ws_conn *prev, *next;
  int phase;
  int linked;
  int ud_alive;      /* the Lua userdata has not been collected */
  int selfref;       /* the userdata, anchored while live */
  int chref;         /* the channel */
  int pendref;       /* a message that did not fit in the channel */
  int errref;        /* an error object (policy refusal), or LUA_NOREF */
  struct lws *wsi;
  int held;
  int in_connect;    /* inside lws_client_connect_via_info */
  int destroyed_in_connect;
  /* target */
  policy_url *url;   /* during connect only */
  char *canonical;
  char *host;
  int port;
  int tls_on;
  sl_dns_query *dq;
  ws_conn *dnsq_next;
  int dns_queued;
  sl_dns_addr addrs[2 * SL_DNS_MAX_ADDRS];
  int naddrs, iaddr;
  char ip[SL_DNS_ADDRSTRLEN];
  char why[160];     /* last transport failure (CONNECTION_ERROR) */
  /* options */
  int64_t dial_ns, read_ns, write_ns;
  int capacity;
  char *ca_file;
  /* engines */
  wsp_conn *wsp;
  sl_tls_conn *tls;
  char *subprotocol;
  uint8_t *tx;       /* bytes to write before anything else */
  size_t txoff, txlen, txcap;
  uint8_t *rx;       /* input read but not fed (paused) */
  size_t rxoff, rxlen, rxcap;
  int hs_done;       /* the handshake succeeded: input is frames */
  int paused;        /* channel full: not reading */
  int resume_armed;
  /* tasks */
  sl_task *connector;
  int connect_ok;
  ws_sendw *sendq, *sendq_tail;  /* head is the message being sent */
  ws_closew *closers;
  int local_close;   /* close() was called (or exit) */
  int killing;
  /* timers */
  sl_timer dial_t, read_t, write_t, close_t, resume_t;
  int64_t last_rx;
  /* how it ended */
  int ended;         /* status recorded */
  int code;          /* close code (1006 when none) */
  char reason[WSP_MAX_CLOSE_REASON + 1];
  int clean;         /* closing handshake completed */
  int by;           /* who sent the first close frame: 0 none, 1 server,
                        2 client */
  int failed;        /* ended by an error: ekind/emsg */
  sl_errkind ekind;
  int eretry;
  int estatus;       /* HTTP status of a refused handshake */
  char emsg[512];
};

_Static_assert(sizeof(ws_sendw) <= SL_TASK_SCRATCH, "ws_sendw: scratch");
_Static_assert(sizeof(struct ws_closew) <= SL_TASK_SCRATCH, "scratch");

typedef struct ws_ud {
  ws_conn *c;
} ws_ud;

static int gkey;

/* The sandbox's --max-connections (0: none may be opened). */
static int64_t max_connections(void) { return sandbox_max_connections(); }

/* {======================================================
** Helpers
** ======================================================= */

static void conn_free(ws_conn *c);
static int conn_flush(ws_conn *c);
static void conn_kill(ws_conn *c);
static void conn_transport_gone(ws_conn *c);
static void conn_try_finish(ws_conn *c);
static void start_tcp(ws_conn *c);

static char *xstrdup(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/*
** A connection's own memory (the connection, its URL and names, its read
** and write buffers) is the script's: counted against the memory limit
** like the engine's buffers and zlib's state (sandbox/libmem.h).  A
** refused block fails that connection or operation; the limit is hit.
*/
static void *cmalloc(size_t n) {
  return sandbox_libmem_realloc(NULL, n);
}

static void cfree(void *p) {
  sandbox_libmem_free(p);
}

static char *cstrdup(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = cmalloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static lua_State *GL(ws_conn *c) { return c->G->L; }

/* Record why the connection failed (the first reason wins). */
static void set_error(ws_conn *c, sl_errkind kind, int retry, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void set_error(ws_conn *c, sl_errkind kind, int retry, const char *fmt,
                      ...) {
  if (c->failed || (c->ended && !c->failed)) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->emsg, sizeof c->emsg, fmt, ap);
  va_end(ap);
  c->failed = 1;
  c->ekind = kind;
  c->eretry = retry;
}

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
  sl_seterrdetails(L, e);
}

static void timer_stop_all(ws_conn *c) {
  sl_timer_stop(&c->dial_t);
  sl_timer_stop(&c->read_t);
  sl_timer_stop(&c->write_t);
  sl_timer_stop(&c->close_t);
  sl_timer_stop(&c->resume_t);
}

static void wake(ws_conn *c, sl_task *t) {
  if (!c->G->exiting) sl_sched_wake(t);
}

/* }====================================================== */

/* {======================================================
** DNS on the lws loop
** ======================================================= */

static void dns_rearm(ws_global *G);

static int dnsio_event(sl_io *io, struct lws *wsi, int reason, void *in,
                       size_t len) {
  ws_dnsio *d = (ws_dnsio *)io;
  ws_global *G = d->G;
  (void)in;
  (void)len;
  switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
      if (d->fd >= 0 && G->dns) {
        sl_dns_process(G->dns, d->fd, 1, 0);
        dns_rearm(G);
      }
      break;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
      if (d->fd >= 0 && G->dns) {
        sl_dns_process(G->dns, d->fd, 0, 1);
        if (d->fd >= 0 && d->want_w && d->wsi) lws_callback_on_writable(wsi);
        dns_rearm(G);
      }
      break;
    case LWS_CALLBACK_WSI_DESTROY: {
      ws_dnsio **pp = &G->dnsios;
      while (*pp && *pp != d) pp = &(*pp)->next;
      if (*pp) *pp = d->next;
      if (d->held) sl_sched_release(G->S);
      free(d);
      break;
    }
    default:
      break;
  }
  return 0;
}

/*
** c-ares' socket interest.  Its descriptors are adopted as they are into
** the lws loop (RAW file descriptors); lws closes each one when its wsi
** goes (dns_close), c-ares never does (no dup: the sandbox's filter
** refuses F_DUPFD).
*/
static void dns_watch(void *ud, int fd, int readable, int writable) {
  ws_global *G = ud;
  ws_dnsio *d;
  for (d = G->dnsios; d; d = d->next)
    if (d->fd == fd) break;
  if (!readable && !writable) {
    if (d == NULL) return;
    d->want_w = 0;
    if (d->wsi) lws_rx_flow_control(d->wsi, 0);
    return;  /* dns_close follows */
  }
  if (d == NULL) {
    d = calloc(1, sizeof *d);
    if (d == NULL) return;  /* the lookup times out */
    d->io.on_event = dnsio_event;
    d->G = G;
    d->fd = fd;
    lws_sock_file_fd_type u;
    memset(&u, 0, sizeof u);
    u.filefd = fd;
    struct lws_vhost *vh = lws_get_vhost_by_name(G->ctx, "default");
    struct lws *w = NULL;
    if (vh)
      w = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u,
                                     SL_SCHED_PROTOCOL, NULL);
    if (w == NULL) {
      free(d);
      return;
    }
    d->wsi = w;
    lws_set_opaque_user_data(w, &d->io);
    d->held = 1;
    sl_sched_hold(G->S);
    d->next = G->dnsios;
    G->dnsios = d;
  }
  d->want_w = writable;
  if (writable && d->wsi) lws_callback_on_writable(d->wsi);
}

/* c-ares lets go of fd: lws closes it with its wsi (or we do). */
static int dns_close(void *ud, int fd) {
  ws_global *G = ud;
  ws_dnsio *d;
  for (d = G->dnsios; d; d = d->next)
    if (d->fd == fd) break;
  if (d == NULL || d->wsi == NULL) return close(fd);
  struct lws *w = d->wsi;
  d->fd = -1;  /* the number may be reused once lws has closed it */
  d->wsi = NULL;
  lws_set_timeout(w, PENDING_TIMEOUT_USER_OK,
                  G->exiting ? LWS_TO_KILL_SYNC : LWS_TO_KILL_ASYNC);
  return 0;
}

static void dns_timer_cb(sl_timer *t) {
  ws_global *G = lws_container_of(t, ws_global, dns_timer);
  if (G->dns == NULL) return;
  sl_dns_process(G->dns, -1, 0, 0);
  dns_rearm(G);
}

static void dns_rearm(ws_global *G) {
  if (G->dns == NULL) return;
  int ms = sl_dns_timeout_ms(G->dns);
  if (ms < 0) sl_timer_stop(&G->dns_timer);
  else sl_timer_start(G->S, &G->dns_timer, (int64_t)ms * 1000000, dns_timer_cb);
}

static int ensure_dns(ws_global *G) {
  if (G->dns) return 0;
  if (G->dns_failed) return -1;
  sl_dns_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.server = G->dns_server;
  cfg.watch = dns_watch;
  cfg.watch_ud = G;
  cfg.close_fd = dns_close;
  cfg.alloc = sandbox_libmem_realloc; /* c-ares' state is the script's */
  G->dns = sl_dns_new(&cfg, G->dns_err, sizeof G->dns_err);
  if (G->dns == NULL) G->dns_failed = 1;
  return G->dns ? 0 : -1;
}

static void on_dns(void *ud, const sl_dns_result *res);
static void connect_failed_now(ws_conn *c);

/* Look c->host up now, or queue it while WS_DNS_INFLIGHT are in flight. */
static void dns_start(ws_conn *c) {
  ws_global *G = c->G;
  if (G->dns_inflight >= WS_DNS_INFLIGHT) {
    c->dns_queued = 1;
    c->dnsq_next = NULL;
    if (G->dnsq_tail) G->dnsq_tail->dnsq_next = c;
    else G->dnsq = c;
    G->dnsq_tail = c;
    return;
  }
  char e[256];
  c->dq = sl_dns_resolve(G->dns, c->host, on_dns, c, e, sizeof e);
  if (c->dq == NULL) {
    set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: DNS: %s",
              c->canonical, e);
    connect_failed_now(c);
    return;
  }
  G->dns_inflight++;
  dns_rearm(G);
}

static void dnsq_cb(sl_timer *t) {
  ws_global *G = lws_container_of(t, ws_global, dnsq_timer);
  while (G->dnsq && G->dns_inflight < WS_DNS_INFLIGHT && !G->exiting) {
    ws_conn *c = G->dnsq;
    G->dnsq = c->dnsq_next;
    if (!G->dnsq) G->dnsq_tail = NULL;
    c->dns_queued = 0;
    dns_start(c);
  }
}

/* A lookup ended: let a waiting one start (on the next loop turn). */
static void dns_done(ws_global *G) {
  G->dns_inflight--;
  if (G->dnsq && !G->exiting) sl_timer_start(G->S, &G->dnsq_timer, 0, dnsq_cb);
}

/* Stop c's lookup, running or waiting. */
static void dns_abort(ws_conn *c) {
  ws_global *G = c->G;
  if (c->dq) {
    sl_dns_cancel(c->dq);
    c->dq = NULL;
    dns_done(G);
    dns_rearm(G);
  }
  if (c->dns_queued) {
    ws_conn **pp = &G->dnsq, *prev = NULL;
    while (*pp && *pp != c) {
      prev = *pp;
      pp = &(*pp)->dnsq_next;
    }
    if (*pp) *pp = c->dnsq_next;
    if (G->dnsq_tail == c) G->dnsq_tail = prev;
    c->dns_queued = 0;
  }
}

/* }====================================================== */

/* {======================================================
** Connection lifecycle
** ======================================================= */

static void conn_link(ws_conn *c) {
  ws_global *G = c->G;
  c->next = G->conns;
  c->prev = NULL;
  if (G->conns) G->conns->prev = c;
  G->conns = c;
  c->linked = 1;
  G->nconns++;
}

static void conn_unlink(ws_conn *c) {
  if (!c->linked) return;
  if (c->prev) c->prev->next = c->next;
  else c->G->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->linked = 0;
  c->G->nconns--;
}

/* Free when both the transport and the userdata are gone. */
static void conn_maybe_free(ws_conn *c) {
  if (c->ud_alive || c->phase != PH_DONE || c->wsi || c->linked) return;
  conn_free(c);
}

static void conn_free(ws_conn *c) {
  timer_stop_all(c);
  if (c->dq || c->dns_queued) dns_abort(c);
  wsp_free(c->wsp);
  sl_tls_free(c->tls);
  cfree(c->url);
  cfree(c->canonical);
  cfree(c->host);
  cfree(c->ca_file);
  cfree(c->subprotocol);
  cfree(c->tx);
  cfree(c->rx);
  cfree(c);
}

/* Wake every sender with failure. */
static void fail_senders(ws_conn *c) {
  ws_sendw *w;
  while ((w = c->sendq) != NULL) {
    c->sendq = w->next;
    w->done = -1;
    if (w->blocked) wake(c, w->task);
  }
  c->sendq_tail = NULL;
}

static void wake_closers(ws_conn *c) {
  ws_closew *w;
  while ((w = c->closers) != NULL) {
    c->closers = w->next;
    wake(c, w->task);
  }
}

/*
** The transport is gone (or never came): when everything read has been
** delivered, close the channel, drop the anchors and wake everyone.
*/
static void conn_try_finish(ws_conn *c) {
  if (c->phase != PH_DONE || c->wsi) return;
  if (!c->G->exiting && (c->paused || c->pendref != LUA_NOREF)) return;
  timer_stop_all(c);
  if (c->connector) {
    sl_task *t = c->connector;
    c->connector = NULL;
    wake(c, t);
  }
  fail_senders(c);
  wake_closers(c);
  if (!c->ended) {
    if (c->hs_done && !c->failed)
      set_error(c, SL_INTERNAL, SL_RETRY_YES,
                "websocket %s: connection lost (no close frame)",
                c->canonical);
    c->ended = 1;
    c->code = WSP_CLOSE_ABNORMAL;
  }
  lua_State *L = GL(c);
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
  conn_unlink(c);
  conn_maybe_free(c);
}

/* The transport ended (WSI_DESTROY, or it never opened). */
static void conn_transport_gone(ws_conn *c) {
  c->wsi = NULL;
  if (c->held) {
    c->held = 0;
    sl_sched_release(c->G->S);
  }
  int was = c->phase;
  c->phase = PH_DONE;
  if (was < PH_OPEN && !c->failed)
    set_error(c, SL_INTERNAL, SL_RETRY_YES,
              "websocket %s: connection closed during the handshake",
              c->canonical);
  /* nothing more can be sent: senders and closers need not wait for the
  ** script to drain the channel (it may be one of them) */
  fail_senders(c);
  wake_closers(c);
  /* plaintext may still wait in c->rx / the TLS buffers: when paused,
  ** resume_cb delivers it, then finishes */
  conn_try_finish(c);
}

/* End the transport from outside its callbacks. */
static void conn_kill(ws_conn *c) {
  if (c->wsi && !c->killing) {
    c->killing = 1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
  }
}

/* Connect failed before the transport opened (no wsi). */
static void connect_failed_now(ws_conn *c) {
  c->phase = PH_DONE;
  conn_try_finish(c);
}

/* }====================================================== */

/* {======================================================
** Output
** ======================================================= */

static int tx_reserve(ws_conn *c, size_t n) {
  if (c->txcap >= n) return 0;
  uint8_t *p = sandbox_libmem_realloc(c->tx, n);
  if (p == NULL) return -1;
  c->tx = p;
  c->txcap = n;
  return 0;
}

/* Called when everything queued has been written. */
static void on_drained(ws_conn *c) {
  sl_timer_stop(&c->write_t);
  if (c->tx) {  /* idle connections keep no write buffer */
    cfree(c->tx);
    c->tx = NULL;
    c->txcap = 0;
  }
}

/* Start the next queued message; returns 1 if one was started. */
static int start_next_send(ws_conn *c) {
  ws_sendw *w = c->sendq;
  if (w == NULL || w->started) return 0;
  int rc = wsp_send(c->wsp, w->type, w->data, w->len);
  if (rc != 0) {
    c->sendq = w->next;
    if (!c->sendq) c->sendq_tail = NULL;
    w->done = -2;
    w->rc = rc;
    if (w->blocked) wake(c, w->task);
    return 1;
  }
  w->started = 1;
  return 1;
}

/*
** Write what can be written now.  Returns 0, or -1 when the socket failed
** (the caller closes the transport).  Completes senders whose message went
** out entirely.
*/
static int conn_flush(ws_conn *c) {
  if (c->wsi == NULL || c->killing) return 0;
  int fd = lws_get_socket_fd(c->wsi);
  if (fd < 0) return 0;
  for (;;) {
    const uint8_t *p = NULL;
    size_t n = 0;
    int from_engine = 0;
    if (c->txlen > c->txoff) {
      p = c->tx + c->txoff;
      n = c->txlen - c->txoff;
    } else if (c->tls) {
      c->txoff = c->txlen = 0;
      if (c->hs_done) {
        const uint8_t *q;
        size_t m;
        while (sl_tls_pending(c->tls) < WS_TLS_BACKLOG &&
               (m = wsp_output(c->wsp, &q)) > 0) {
          if (sl_tls_write(c->tls, q, m) != SL_TLS_OK) return -1;
          wsp_output_consumed(c->wsp, m);
        }
      }
      size_t pend = sl_tls_pending(c->tls);
      if (pend == 0) goto drained;
      if (tx_reserve(c, WS_TX_CHUNK) != 0) return -1;
      c->txlen = sl_tls_take(c->tls, c->tx, WS_TX_CHUNK);
      continue;
    } else {
      c->txoff = c->txlen = 0;
      if (!c->hs_done) goto drained;
      n = wsp_output(c->wsp, &p);
      if (n == 0) goto drained;
      from_engine = 1;
    }
    ssize_t s = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (s < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        lws_callback_on_writable(c->wsi);
        return 0;
      }
      snprintf(c->why, sizeof c->why, "send: %s", strerror(errno));
      return -1;
    }
    if (from_engine) wsp_output_consumed(c->wsp, (size_t)s);
    else c->txoff += (size_t)s;
    if ((size_t)s < n) {
      lws_callback_on_writable(c->wsi);
      return 0;
    }
    continue;
  drained:
    on_drained(c);
    /* complete the message being sent, start the next */
    if (c->sendq && c->sendq->started && !wsp_sending(c->wsp)) {
      ws_sendw *w = c->sendq;
      c->sendq = w->next;
      if (!c->sendq) c->sendq_tail = NULL;
      w->done = 1;
      if (w->blocked) wake(c, w->task);
      if (start_next_send(c)) continue;
    } else if (c->sendq && !c->sendq->started) {
      if (start_next_send(c)) continue;
    }
    /* close handshake over and all written: end the transport */
    if (c->hs_done && wsp_get_state(c->wsp) == WSP_CLOSED) return 1;
    return 0;
  }
}

/* Flush from outside the wsi's callbacks (Lua functions, timers). */
static void flush_outside(ws_conn *c) {
  int r = conn_flush(c);
  if (r != 0) conn_kill(c);
}

/* }====================================================== */

/* {======================================================
** Input
** ======================================================= */

static void resume_cb(sl_timer *t);
static void read_cb(sl_timer *t);

static void on_space(void *ud) {
  ws_conn *c = ud;
  c->resume_armed = 1;
  sl_timer_start(c->G->S, &c->resume_t, 0, resume_cb);
}

static int rx_keep(ws_conn *c, const uint8_t *p, size_t n) {
  if (n == 0) {
    c->rxoff = c->rxlen = 0;
    return 0;
  }
  if (c->rx && p >= c->rx && p < c->rx + c->rxcap) {
    memmove(c->rx, p, n);
  } else {
    if (c->rxcap < n) {
      uint8_t *q = sandbox_libmem_realloc(c->rx, n);
      if (q == NULL) return -1;
      c->rx = q;
      c->rxcap = n;
    }
    memcpy(c->rx, p, n);
  }
  c->rxoff = 0;
  c->rxlen = n;
  return 0;
}

static void pause_reading(ws_conn *c) {
  if (c->paused) return;
  c->paused = 1;
  sl_timer_stop(&c->read_t);
  if (c->wsi) lws_rx_flow_control(c->wsi, 0);
}

/*
** Put a message on the channel.  Returns 1 when it had to be kept
** (channel full: reading pauses), 0 otherwise.
*/
static int deliver(ws_conn *c, int binary, const uint8_t *data, size_t len) {
  if (c->G->exiting || c->chref == LUA_NOREF) return 0;
  lua_State *L = GL(c);
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
  sl_chan_notify_space(L, ch, on_space, c);
  lua_pop(L, 1);
  pause_reading(c);
  return 1;
}

static void established(ws_conn *c);

/* Record the peer's (or the engine's) close. */
static void on_close_event(ws_conn *c, const wsp_event *ev) {
  if (ev->type == WSP_EV_ERROR) {
    c->ended = 1;
    c->code = ev->code;
    c->reason[0] = '\0';
    c->clean = 0;
    c->failed = 0;  /* the protocol error is the reason, not an earlier one */
    if (ev->code == WSP_CLOSE_MESSAGE_TOO_BIG)
      snprintf(c->emsg, sizeof c->emsg,
               "websocket %s: message too big (%s); closed with 1009",
               c->canonical, ev->error ? ev->error : "");
    else
      snprintf(c->emsg, sizeof c->emsg,
               "websocket %s: protocol violation by the server: %s; closed "
               "with %d", c->canonical, ev->error ? ev->error : "", ev->code);
    c->failed = 1;
    c->ekind = SL_INTERNAL;
    c->eretry = SL_RETRY_NO;
    c->by = 2;
    return;
  }
  if (c->ended) {  /* the reply to our close, or after a read timeout */
    if (c->local_close && !c->failed) c->clean = 1;
    return;
  }
  c->ended = 1;
  c->code = ev->code;
  size_t n = ev->len < WSP_MAX_CLOSE_REASON ? ev->len : WSP_MAX_CLOSE_REASON;
  memcpy(c->reason, ev->data, n);
  c->reason[n] = '\0';
  c->clean = 1;
  c->by = c->local_close ? 2 : 1;
}

/*
** Feed plaintext to the engine.  Returns 0 when all was consumed, 1 when
** reading paused (the rest is in c->rx), -1 when the connection must end.
*/
static int feed(ws_conn *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (!c->hs_done) {
      size_t used = 0;
      wsp_hs_status st = wsp_handshake_feed(c->wsp, p, n, &used);
      if (st == WSP_HS_MORE) return 0;
      if (st == WSP_HS_FAIL) {
        const wsp_handshake_info *hi = wsp_handshake_result(c->wsp);
        c->estatus = hi->status;
        if (hi->status >= 300 && hi->status < 400)
          set_error(c, SL_INTERNAL, SL_RETRY_YES,
                    "websocket %s: handshake refused: HTTP %d redirect to %s "
                    "(redirects are not followed)", c->canonical, hi->status,
                    hi->location ? hi->location : "(no Location)");
        else if (hi->status != 0 && hi->status != 101)
          set_error(c, SL_INTERNAL, SL_RETRY_YES,
                    "websocket %s: handshake refused: HTTP %d", c->canonical,
                    hi->status);
        else
          set_error(c, SL_INTERNAL, SL_RETRY_YES,
                    "websocket %s: handshake failed: %s", c->canonical,
                    hi->error ? hi->error : "bad response");
        return -1;
      }
      p += used;
      n -= used;
      established(c);
      continue;
    }
    wsp_event ev;
    size_t used = wsp_feed(c->wsp, p, n, &ev);
    p += used;
    n -= used;
    switch (ev.type) {
      case WSP_EV_TEXT:
      case WSP_EV_BINARY:
        if (deliver(c, ev.type == WSP_EV_BINARY, ev.data, ev.len)) {
          if (rx_keep(c, p, n) != 0) return -1;
          return 1;
        }
        break;
      case WSP_EV_CLOSE:
      case WSP_EV_ERROR:
        on_close_event(c, &ev);
        return 0;  /* the rest is ignored; flush then end */
      default:
        break;
    }
    if (used == 0 && ev.type == WSP_EV_NONE) break;
  }
  return 0;
}

/* Drain the TLS input; same results as feed(). */
static int tls_pump(ws_conn *c) {
  static uint8_t buf[WS_RX_CHUNK];
  if (!sl_tls_established(c->tls)) {
    int r = sl_tls_handshake(c->tls);
    if (r == SL_TLS_AGAIN) return 0;
    if (r != SL_TLS_OK) {
      set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, sl_tls_error(c->tls));
      return -1;
    }
    /* TLS is up: send the HTTP upgrade request through it */
    size_t rl;
    const uint8_t *req = wsp_request(c->wsp, &rl);
    if (sl_tls_write(c->tls, req, rl) != SL_TLS_OK) {
      set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, sl_tls_error(c->tls));
      return -1;
    }
    c->phase = PH_HS;
  }
  while (!c->paused) {
    ssize_t m = sl_tls_read(c->tls, buf, sizeof buf);
    if (m == SL_TLS_AGAIN) return 0;
    if (m == SL_TLS_CLOSED) return -1;
    if (m < 0) {
      set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, sl_tls_error(c->tls));
      return -1;
    }
    int r = feed(c, buf, (size_t)m);
    if (r != 0) return r;
    if (wsp_get_state(c->wsp) == WSP_CLOSED) return 0;
  }
  return 1;
}

/* New bytes from the socket.  Returns what a callback returns. */
static int on_rx(ws_conn *c, const uint8_t *in, size_t len) {
  c->last_rx = sl_now_ns();
  int r;
  if (c->tls) {
    if (sl_tls_feed(c->tls, in, len) != 0) return -1;
    r = tls_pump(c);
  } else {
    r = feed(c, in, len);
  }
  if (r < 0) {
    conn_flush(c);
    return -1;
  }
  int f = conn_flush(c);
  return f != 0 ? -1 : 0;
}

/* Resume reading after the channel made room (timer, next loop turn). */
static void resume_cb(sl_timer *t) {
  ws_conn *c = lws_container_of(t, ws_conn, resume_t);
  c->resume_armed = 0;
  if (c->G->exiting) return;
  lua_State *L = GL(c);
  if (c->pendref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->chref);
    int ch = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->pendref);
    if (!sl_chan_trysend(L, ch, -1) && !sl_chan_isclosed(L, ch) &&
        !c->local_close) {
      sl_chan_notify_space(L, ch, on_space, c);
      lua_pop(L, 2);
      return;
    }
    lua_pop(L, 2);
    luaL_unref(L, LUA_REGISTRYINDEX, c->pendref);
    c->pendref = LUA_NOREF;
  }
  c->paused = 0;
  int r = 0;
  if (c->rxlen > c->rxoff) {
    size_t n = c->rxlen - c->rxoff;
    const uint8_t *p = c->rx + c->rxoff;
    c->rxoff = c->rxlen = 0;
    r = feed(c, p, n);
  }
  if (r == 0 && c->tls) r = tls_pump(c);
  if (r == 1 || c->paused) return;  /* paused again */
  if (c->phase == PH_DONE) {
    conn_try_finish(c);
    return;
  }
  if (r < 0) {
    conn_flush(c);
    conn_kill(c);
    return;
  }
  if (c->wsi) {
    lws_rx_flow_control(c->wsi, 1);
    c->last_rx = sl_now_ns();
    if (c->read_ns > 0 && c->phase == PH_OPEN && c->read_t.idx < 0)
      sl_timer_start(c->G->S, &c->read_t, c->read_ns, read_cb);
  }
  flush_outside(c);
}

/* }====================================================== */

/* {======================================================
** Timers
** ======================================================= */

static void read_cb(sl_timer *t) {
  ws_conn *c = lws_container_of(t, ws_conn, read_t);
  if (c->phase != PH_OPEN || c->paused) return;
  int64_t left = c->last_rx + c->read_ns - sl_now_ns();
  if (left > 0) {
    sl_timer_start(c->G->S, &c->read_t, left, read_cb);
    return;
  }
  set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: read timeout: nothing received for %.3gs",
            c->canonical, (double)c->read_ns / 1e9);
  c->ended = 1;
  c->code = WSP_CLOSE_GOING_AWAY;
  snprintf(c->reason, sizeof c->reason, "read timeout");
  c->by = 2;
  if (wsp_get_state(c->wsp) == WSP_OPEN)
    wsp_close(c->wsp, WSP_CLOSE_GOING_AWAY, "read timeout", 12);
  conn_flush(c);
  conn_kill(c);
}

static void write_cb(sl_timer *t) {
  ws_conn *c = lws_container_of(t, ws_conn, write_t);
  set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: write timeout: the server did not take the data "
            "within %.3gs", c->canonical, (double)c->write_ns / 1e9);
  if (!c->ended) {
    c->ended = 1;
    c->code = WSP_CLOSE_ABNORMAL;
  }
  conn_kill(c);
}

static void close_cb(sl_timer *t) {
  ws_conn *c = lws_container_of(t, ws_conn, close_t);
  conn_kill(c);  /* the peer did not answer our close in time */
}

static void dial_cb(sl_timer *t) {
  ws_conn *c = lws_container_of(t, ws_conn, dial_t);
  if (c->phase >= PH_OPEN) return;
  set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: dial timeout after %.3gs (%s)", c->canonical,
            (double)c->dial_ns / 1e9,
            c->phase == PH_DNS ? "resolving the host name"
            : c->phase == PH_TCP ? "TCP connect"
            : c->phase == PH_TLS ? "TLS handshake" : "waiting for the "
                                                      "handshake response");
  if (c->phase == PH_DNS) {
    dns_abort(c);
    connect_failed_now(c);
    return;
  }
  c->naddrs = 0;  /* no other address either */
  conn_kill(c);
}

/* }====================================================== */

/* {======================================================
** Transport events
** ======================================================= */

static void established(ws_conn *c) {
  const wsp_handshake_info *hi = wsp_handshake_result(c->wsp);
  if (hi->subprotocol) c->subprotocol = cstrdup(hi->subprotocol);
  c->phase = PH_OPEN;
  c->hs_done = 1;
  sl_timer_stop(&c->dial_t);
  cfree(c->url);
  c->url = NULL;
  c->connect_ok = 1;
  if (c->connector) {
    sl_task *t = c->connector;
    c->connector = NULL;
    wake(c, t);
  }
  c->last_rx = sl_now_ns();
  if (c->read_ns > 0) sl_timer_start(c->G->S, &c->read_t, c->read_ns, read_cb);
}

static int conn_event(sl_io *io, struct lws *wsi, int reason, void *in,
                      size_t len) {
  ws_conn *c = (ws_conn *)io;
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED: {
      if (c->G->exiting) return -1;
      c->wsi = wsi;
      if (c->tls_on) {
        char err[256];
        c->tls = sl_tls_new(c->host, c->ca_file, err, sizeof err);
        if (c->tls == NULL) {
          set_error(c, SL_INTERNAL, SL_RETRY_NO, "websocket %s: %s",
                    c->canonical, err);
          return -1;
        }
        c->phase = PH_TLS;
        if (tls_pump(c) < 0) {
          conn_flush(c);
          return -1;
        }
      } else {
        size_t rl;
        const uint8_t *req = wsp_request(c->wsp, &rl);
        if (tx_reserve(c, rl) != 0) return -1;
        memcpy(c->tx, req, rl);
        c->txoff = 0;
        c->txlen = rl;
        c->phase = PH_HS;
      }
      return conn_flush(c) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RAW_RX:
      if (c->G->exiting && c->phase < PH_OPEN) return -1;
      return on_rx(c, in, len) != 0 ? -1 : 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
      return conn_flush(c) != 0 ? -1 : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      snprintf(c->why, sizeof c->why, "%s",
               in ? (const char *)in : "connect failed");
      return 0;
    case LWS_CALLBACK_RAW_CLOSE:
      return 0;
    case LWS_CALLBACK_WSI_DESTROY: {
      if (c->in_connect) {
        c->destroyed_in_connect = 1;
        return 0;
      }
      int was = c->phase;
      c->wsi = NULL;
      c->killing = 0;
      if (was == PH_TCP && !c->failed && !c->G->exiting &&
          c->iaddr + 1 < c->naddrs) {
        /* refused: try the next address that passed the policy */
        if (c->held) {
          c->held = 0;
          sl_sched_release(c->G->S);
        }
        c->iaddr++;
        start_tcp(c);
        return 0;
      }
      if (was == PH_TCP && !c->failed)
        set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: connect to %s: %s",
                  c->canonical, c->ip, c->why[0] ? c->why : "failed");
      conn_transport_gone(c);
      return 0;
    }
    default:
      return 0;
  }
}

/* Open the RAW connection to c->addrs[c->iaddr]. */
static void start_tcp(ws_conn *c) {
  sl_dns_format(&c->addrs[c->iaddr], -1, c->ip, sizeof c->ip);
  c->phase = PH_TCP;
  c->why[0] = '\0';
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = c->G->ctx;
  i.method = "RAW";
  i.local_protocol_name = SL_SCHED_PROTOCOL;
  i.address = c->ip;
  i.port = c->port;
  i.host = c->ip;
  i.path = "/";
  i.opaque_user_data = &c->io;
  c->held = 1;
  sl_sched_hold(c->G->S);
  c->in_connect = 1;
  c->destroyed_in_connect = 0;
  struct lws *w = lws_client_connect_via_info(&i);
  c->in_connect = 0;
  if (w == NULL || c->destroyed_in_connect) {
    if (c->held) {
      c->held = 0;
      sl_sched_release(c->G->S);
    }
    c->wsi = NULL;
    set_error(c, SL_INTERNAL, SL_RETRY_YES,
              "websocket %s: connect to %s: cannot open a connection (too "
              "many open connections?)", c->canonical, c->ip);
    connect_failed_now(c);
    return;
  }
  c->wsi = w;
}

/* Keep only the addresses the policy allows; then connect. */
static void check_addrs_and_connect(ws_conn *c, const sl_dns_addr *addrs,
                                    size_t n) {
  lua_State *L = GL(c);
  int kept = 0;
  for (size_t k = 0; k < n && kept < (int)(sizeof c->addrs / sizeof c->addrs[0]);
       k++) {
    policy_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = addrs[k].family == AF_INET ? 4 : 6;
    memcpy(ip.b, addrs[k].ip, ip.family == 4 ? 4 : 16);
    if (sl_security_check_ip(L, c->url, &ip) == 0) {
      c->addrs[kept++] = addrs[k];
    } else {
      if (c->errref == LUA_NOREF) c->errref = luaL_ref(L, LUA_REGISTRYINDEX);
      else lua_pop(L, 1);
    }
  }
  c->naddrs = kept;
  c->iaddr = 0;
  if (kept == 0) {
    if (c->errref == LUA_NOREF)
      set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: no address",
                c->canonical);
    c->failed = 1;
    connect_failed_now(c);
    return;
  }
  /* an allowed address: a refusal of another one is not the outcome */
  if (c->errref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, c->errref);
    c->errref = LUA_NOREF;
  }
  start_tcp(c);
}

static void on_dns(void *ud, const sl_dns_result *res) {
  ws_conn *c = ud;
  c->dq = NULL;
  dns_done(c->G);
  if (c->G->exiting) return;
  if (res->status != SL_DNS_OK) {
    if (res->status == SL_DNS_TIMEOUT)
      set_error(c, SL_TIMEOUT, SL_RETRY_YES, "websocket %s: %s", c->canonical,
                res->error);
    else
      set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, res->error);
    connect_failed_now(c);
    return;
  }
  check_addrs_and_connect(c, res->addrs, res->naddrs);
}

/* }====================================================== */

/* {======================================================
** Shutdown (lua_close)
** ======================================================= */

static void exit_sul_cb(lws_sorted_usec_list_t *sul) {
  ws_global *G = lws_container_of(sul, ws_global, exit_sul);
  G->exit_due = 1;
}

static int any_wsi(ws_global *G) {
  for (ws_conn *c = G->conns; c; c = c->next)
    if (c->wsi) return 1;
  return 0;
}

/*
** Close every open connection with 1001, wait (bounded) for the peers'
** replies, then end what is left.  Runs once, from the first finalizer.
*/
static void ws_shutdown(ws_global *G) {
  if (G->shut) return;
  G->shut = 1;
  G->exiting = 1;
  ws_conn *c, *nx;
  for (c = G->conns; c; c = nx) {
    nx = c->next;
    c->local_close = 1;
    timer_stop_all(c);
    dns_abort(c);
    if (c->paused && c->wsi) {
      c->paused = 0;
      lws_rx_flow_control(c->wsi, 1);
    }
    if (c->wsi == NULL) continue;
    if (c->phase == PH_OPEN && wsp_get_state(c->wsp) == WSP_OPEN) {
      wsp_close(c->wsp, WSP_CLOSE_GOING_AWAY, "going away", 10);
      if (conn_flush(c) != 0) conn_kill(c);
    } else if (c->phase < PH_OPEN) {
      conn_kill(c);
    }
  }
  if (G->ctx && any_wsi(G)) {
    memset(&G->exit_sul, 0, sizeof G->exit_sul);
    G->exit_due = 0;
    lws_sul_schedule(G->ctx, 0, &G->exit_sul, exit_sul_cb, WS_EXIT_WAIT_US);
    while (any_wsi(G) && !G->exit_due) lws_service(G->ctx, 0);
    lws_sul_cancel(&G->exit_sul);
    for (c = G->conns; c; c = nx) {
      nx = c->next;
      c->killing = 0;
      conn_kill(c);
    }
  }
  /* every transport is gone now: free what no userdata holds */
  for (c = G->conns; c; c = nx) {
    nx = c->next;
    c->phase = PH_DONE;
    c->wsi = NULL;
    conn_try_finish(c);
  }
  sl_timer_stop(&G->dns_timer);
  sl_timer_stop(&G->dnsq_timer);
  if (G->dns) {
    sl_dns_free(G->dns);
    G->dns = NULL;
  }
}

static int global_gc(lua_State *L) {
  ws_global *G = lua_touserdata(L, 1);
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
  G->S = S;
  G->L = sl_sched_state(S);
  sl_timer_init(&G->dns_timer);
  sl_timer_init(&G->dnsq_timer);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, global_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &gkey);
  return G;
}

/*
** The shared lws context, made (if it does not exist yet) without the
** http_proxy environment variable: lws would send every RAW connection to
** that proxy, bypassing the address the policy checked.
*/
static struct lws_context *get_ctx(lua_State *L) {
  const char *p = getenv("http_proxy");
  if (p == NULL) return sl_sched_lws(L);
  const char *saved = lua_pushstring(L, p);  /* kept on the stack */
  unsetenv("http_proxy");
  struct lws_context *ctx = sl_sched_lws(L);
  setenv("http_proxy", saved, 1);
  lua_pop(L, 1);
  return ctx;
}

static int ensure_tls(ws_global *G, char *err, size_t errlen) {
  if (G->tls_ready) return 0;
  if (sl_tls_init(err, errlen) != 0) return -1;
  G->tls_ready = 1;
  return 0;
}

int sl_websocket_prepare(lua_State *L, const char *dns_server,
                         const char *const *ca_files, int n_ca_files,
                         char *err, size_t errlen) {
  ws_global *G = get_global(L);
  if (dns_server) {
    free(G->dns_server);
    G->dns_server = xstrdup(dns_server);
  }
  G->ctx = get_ctx(L);
  /*
  ** TLS is set up by the first wss:// connection (OpenSSL's configuration
  ** and the trust store stay readable in the sandbox; some 2 ms and 25 ms
  ** a run otherwise), except for --ca-file: those files are read now.
  */
  if (n_ca_files > 0 && ensure_tls(G, err, errlen) != 0) return -1;
  for (int i = 0; i < n_ca_files; i++) {
    char e[256];
    if (sl_tls_preload_ca(ca_files[i], e, sizeof e) != 0) {
      snprintf(err, errlen, "--ca-file %s: %s", ca_files[i], e);
      return -1;
    }
  }
  if (ensure_dns(G) != 0) {
    snprintf(err, errlen, "%s", G->dns_err);
    return -1;
  }
  return 0;
}

/* }====================================================== */

/* {======================================================
** Options
** ======================================================= */

typedef struct ws_opts {
  int64_t dial_ns, read_ns, write_ns;
  int compression;
  size_t threshold;
  size_t read_limit;
  int capacity;
  const char *ca_file;
  wsp_header headers[64];
  size_t nheaders;
  const char *protocols[32];
  size_t nprotocols;
} ws_opts;

/* Each returns NULL or an error message (in buf). */
static const char *opt_duration(lua_State *L, const char *name, int64_t *ns,
                                char *buf, size_t len) {
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number ms = lua_tonumber(L, -1);
    if (!(ms >= 0) || ms * 1e6 > (lua_Number)WS_MAX_DURATION_NS) {
      snprintf(buf, len, "%s: must be a number of milliseconds >= 0 (or a "
               "duration string such as \"5s\")", name);
      return buf;
    }
    *ns = (int64_t)(ms * 1e6);
    return NULL;
  }
  if (lua_type(L, -1) == LUA_TSTRING) {
    char e[128];
    int64_t v;
    if (units_parse_duration(lua_tostring(L, -1), &v, e, sizeof e) != 0) {
      snprintf(buf, len, "%s: %s", name, e);
      return buf;
    }
    if (v < 0 || v > WS_MAX_DURATION_NS) {
      snprintf(buf, len, "%s: must not be negative", name);
      return buf;
    }
    *ns = v;
    return NULL;
  }
  snprintf(buf, len, "%s: number (milliseconds) or duration string expected, "
           "got %s", name, luaL_typename(L, -1));
  return buf;
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

/* Parse the options table at idx (absolute).  NULL or a message. */
static const char *parse_options(lua_State *L, int idx, ws_opts *o, char *buf,
                                 size_t len) {
  memset(o, 0, sizeof *o);
  o->capacity = WS_DEFAULT_CAPACITY;
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
      } else {
        o->ca_file = lua_tostring(L, -1);
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
          } else {
            o->headers[o->nheaders].name = lua_tostring(L, -2);
            o->headers[o->nheaders].value = lua_tostring(L, -1);
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
          } else {
            o->protocols[o->nprotocols++] = lua_tostring(L, -1);
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

/* }====================================================== */

/* {======================================================
** Lua functions
** ======================================================= */

static ws_conn *check_client(lua_State *L) {
  ws_ud *u = luaL_checkudata(L, 1, WS_MT);
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
  const char *url = luaL_checkstring(L, 1);
  ws_global *G = get_global(L);
  lua_settop(L, 2);
  ws_opts o;
  char buf[256];
  const char *why = parse_options(L, 2, &o, buf, sizeof buf);
  if (why) return sl_fail(L, SL_INVALID, "websocket.connect: %s", why);
  char err[512];
  if (G->ctx == NULL) G->ctx = get_ctx(L);
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
  policy_url *pu = cmalloc(sizeof *pu);
  if (pu == NULL) return luaL_error(L, "not enough memory");
  if (sl_security_check_url(L, url, pu) != 0) {
    cfree(pu);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (pu->tls && ensure_tls(G, err, sizeof err) != 0) {
    cfree(pu);
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
    cfree(pu);
    if (rc == -ENOMEM) return luaL_error(L, "not enough memory");
    return sl_fail(L, SL_INVALID, "websocket.connect: %s", err);
  }
  ws_conn *c = cmalloc(sizeof *c);
  if (c == NULL) {
    cfree(pu);
    wsp_free(wsp);
    return luaL_error(L, "not enough memory");
  }
  memset(c, 0, sizeof *c);
  c->io.on_event = conn_event;
  c->G = G;
  c->wsp = wsp;
  c->url = pu;
  c->canonical = cstrdup(pu->canonical);
  c->host = cstrdup(pu->host);
  c->port = pu->port;
  c->tls_on = pu->tls;
  c->ca_file = cstrdup(o.ca_file);
  c->dial_ns = o.dial_ns;
  c->read_ns = o.read_ns;
  c->write_ns = o.write_ns;
  c->capacity = o.capacity;
  c->selfref = c->chref = c->pendref = c->errref = LUA_NOREF;
  sl_timer_init(&c->dial_t);
  sl_timer_init(&c->read_t);
  sl_timer_init(&c->write_t);
  sl_timer_init(&c->close_t);
  sl_timer_init(&c->resume_t);
  c->phase = PH_DNS;
  if (!c->canonical || !c->host || (o.ca_file && !c->ca_file)) {
    conn_free(c);
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
  conn_link(c);
  if (c->dial_ns > 0) sl_timer_start(G->S, &c->dial_t, c->dial_ns, dial_cb);
  if (pu->host_ip) {
    sl_dns_addr a;
    memset(&a, 0, sizeof a);
    a.family = pu->ip.family == 4 ? AF_INET : AF_INET6;
    memcpy(a.ip, pu->ip.b, pu->ip.family == 4 ? 4 : 16);
    check_addrs_and_connect(c, &a, 1);
  } else if (ensure_dns(G) != 0) {
    set_error(c, SL_INTERNAL, SL_RETRY_NO, "websocket %s: DNS: %s",
              c->canonical, G->dns_err);
    connect_failed_now(c);
  } else {
    dns_start(c);
  }
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
    if (conn_flush(c) != 0) conn_kill(c);
    if (w->done) return send_done_k(L, LUA_OK, (lua_KContext)w);
  } else {
    c->sendq_tail->next = w;
    c->sendq_tail = w;
  }
  if (c->write_ns > 0 && c->write_t.idx < 0)
    sl_timer_start(c->G->S, &c->write_t, c->write_ns, write_cb);
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
  flush_outside(c);
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
  if (c->phase == PH_DONE && c->wsi == NULL && !c->paused) {
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
      fail_senders(c);
      if (!c->ended) {
        c->ended = 1;
        c->code = (int)code;
        memcpy(c->reason, reason, rlen);
        c->reason[rlen] = '\0';
        c->by = 2;
      }
      sl_timer_start(c->G->S, &c->close_t, WS_CLOSE_WAIT_NS, close_cb);
      /* messages that do not fit any more are dropped: resume reading */
      if (c->paused) on_space(c);
      flush_outside(c);
    } else if (c->phase < PH_OPEN) {
      set_error(c, SL_CANCELED, SL_RETRY_NO, "websocket %s: closed while "
                "connecting", c->canonical);
      if (c->phase == PH_DNS) {
        dns_abort(c);
        connect_failed_now(c);
      } else {
        conn_kill(c);
      }
    } else if (c->paused) {
      on_space(c);
    }
  }
  if (c->phase == PH_DONE && c->wsi == NULL) {
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

static int client_gc(lua_State *L) {
  ws_ud *u = lua_touserdata(L, 1);
  ws_conn *c = u->c;
  if (c == NULL) return 0;
  u->c = NULL;
  if (c->wsi || c->linked) ws_shutdown(c->G);  /* lua_close */
  c->ud_alive = 0;
  if (c->errref != LUA_NOREF && !c->G->exiting)
    luaL_unref(L, LUA_REGISTRYINDEX, c->errref);
  c->errref = LUA_NOREF;
  conn_maybe_free(c);
  return 0;
}

static int client_tostring(lua_State *L) {
  ws_conn *c = check_client(L);
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
  (void)NO_REASON;
  return 1;
}

/* }====================================================== */
