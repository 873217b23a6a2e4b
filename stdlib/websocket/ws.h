/*
** ws.h - the WebSocket client's parts, shared by its files (internal).
**
**   websocket.c          the Lua binding: module, client methods, tasks,
**                        channels, every Lua reference (ws_owner below)
**   websocket/transport.c  the connection: one state (ws_phase) with
**                        asserted transitions, its socket on the loop, TLS,
**                        the protocol engine, reading, writing, timers,
**                        shutdown; no Lua
**   websocket/connect.c  the literal or a lookup, the post-DNS policy on
**                        each address (through the owner), the allowed
**                        addresses in turn; no Lua
**   websocket/dial.c     DNS on the loop (c-ares' sockets watched there),
**                        at most WS_DNS_INFLIGHT lookups; no Lua, and no
**                        call into the transport (G->resolved)
**   websocket/options.c  websocket.connect's options table
**
** A connection (ws_conn) is a C struct the Lua client userdata points to.
** While its transport lives the binding anchors the userdata, so a client
** the script dropped is not collected while it is open; the struct is
** freed when both the transport is done and the userdata is collected.
**
** The transport reports to its owner, the binding, through ws_owner:
** messages, the end of the connection, the policy on each address.
** Wake-ups never push values on a blocked task: the continuation reads the
** outcome from the connection (or the task's scratch record).
*/
#ifndef SL_STDLIB_WS_H
#define SL_STDLIB_WS_H

#include <stdint.h>
#include <stddef.h>

#include "../sched.h"
#include "../sl.h"
#include "../../net/dns.h"
#include "../../net/tls.h"
#include "../../net/wsproto.h"
#include "../../security/url.h"
#include "../../common/errbuf.h"

#define WS_MT "sandlua.WebSocket"
#define WS_DEFAULT_CAPACITY 32
/* dial_timeout when none is given: DNS, TCP, TLS and the handshake. */
#define WS_DEFAULT_DIAL_NS ((int64_t)30 * 1000000000)
#define WS_MAX_CAPACITY 10000
#define WS_MAX_THRESHOLD ((size_t)100 << 20)
#define WS_MAX_READ_LIMIT ((size_t)128 << 20)
#define WS_CLOSE_WAIT_NS (5 * (int64_t)1000000000)  /* peer's close reply */
#define WS_EXIT_WAIT_NS (2 * (int64_t)1000000000)  /* all, at exit */
#define WS_TX_CHUNK ((size_t)64 << 10)
#define WS_RX_CHUNK ((size_t)64 << 10)
#define WS_TLS_BACKLOG ((size_t)256 << 10)
/* Lookups in flight at once; more wait their turn.  A burst of answers
** beyond what the resolver socket's receive buffer holds (about 400
** datagrams with the kernel's default cap) would be dropped and only
** retried after the resolver timeout. */
#define WS_DNS_INFLIGHT 64
/* The longest timeout an option takes: a year (more is a mistake). */
#define WS_MAX_DURATION_NS ((int64_t)365 * 24 * 3600 * 1000000000LL)

typedef struct ws_owner ws_owner;
typedef struct ws_global ws_global;
typedef struct ws_conn ws_conn;
typedef struct ws_dnsio ws_dnsio;

typedef enum ws_phase {
  PH_DNS = 1,  /* resolving */
  PH_TCP,      /* TCP connect in progress */
  PH_TLS,      /* TLS handshake */
  PH_HS,       /* WebSocket handshake */
  PH_OPEN,     /* messages flow */
  PH_DONE      /* transport gone */
} ws_phase;
#define WS_PHASES (PH_DONE + 1)

/* A c-ares socket watched on the loop. */
struct ws_dnsio {
  sl_evio io;   /* io.fd: c-ares' descriptor */
  ws_global *G;
  ws_dnsio *next;
  int in_cb;    /* inside its callback: free it on the way out */
  int gone;     /* c-ares let go of it (closed) */
};

struct ws_global {
  const ws_owner *own;       /* the binding's callbacks */
  /* where lookups end (ws_resolved): dial.c does not call the transport */
  void (*resolved)(ws_conn *c, const sl_dns_result *res);
  sl_sched *S;
  lua_State *L;              /* main thread, for callbacks */
  sl_ev *ev;                 /* the scheduler's loop */
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
  sl_evio io;        /* the socket: io.fd, -1 when there is none */
  ws_global *G;
  ws_conn *prev, *next;
  ws_phase phase;    /* changed by set_phase (transport.c) only */
  int linked;
  int ud_alive;      /* the Lua userdata has not been collected */
  int kept;          /* the owner kept a message that did not fit */
  /* The binding's (websocket.c) Lua references: never touched here. */
  int selfref;       /* the userdata, anchored while live */
  int chref;         /* the channel */
  int pendref;       /* a message that did not fit in the channel */
  int errref;        /* an error object (policy refusal), or LUA_NOREF */
  int held;          /* the socket holds the scheduler (sl_sched_hold) */
  int in_io;         /* inside the socket's callback */
  int kill_pending;  /* ws_conn_kill inside it: close on the way out */
  int want_write;    /* output waits for the socket */
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
  char *cname;       /* the CNAME chain DNS followed, or NULL */
  char why[160];     /* last transport failure (connect, recv, send) */
  int why_errno;     /* its errno, or 0 */
  const char *dns_status;  /* a failed lookup: "NXDOMAIN", "TIMEOUT"... */
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
  int linger;        /* we failed the connection: after our close frame,
                        shut down writing and read until the peer's EOF */
  int wr_shut;       /* shutdown(SHUT_WR) done */
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

/* {======================================================
** What the binding provides (websocket.c)
** ======================================================= */

struct ws_owner {
  /* A complete message: 0 when taken (or nobody will read it), 1 when kept
  ** for lack of room (reading pauses; ws_on_space resumes). */
  int (*message)(ws_conn *c, int binary, const uint8_t *data, size_t len);
  /* Try the kept message again: 1 delivered (or dropped), 0 no room yet. */
  int (*retry)(ws_conn *c);
  /* The connection is over and delivered: close the channel, drop every
  ** Lua reference (not while the state closes: G->exiting). */
  void (*finished)(ws_conn *c);
  /* The policy on one resolved address: 0 allowed, -1 refused (the owner
  ** keeps the first refusal as the connection's error). */
  int (*allow_addr)(ws_conn *c, const sl_dns_addr *a);
  /* An address was allowed: a refusal kept for another one is moot. */
  void (*drop_refusal)(ws_conn *c);
};

/* }====================================================== */

/* {======================================================
** transport.c
** ======================================================= */

/* A connection's own memory is the script's (sandbox/libmem.h). */
void *ws_alloc(size_t n);
void ws_free(void *p);
/* strdup through an allocator (realloc's contract); NULL stays NULL. */
char *ws_strdup(void *(*alloc)(void *, size_t), const char *s);

/* Fill a new connection: its events, timers, references, phase DNS. */
void ws_conn_init(ws_conn *c, ws_global *G);
void ws_conn_link(ws_conn *c);
void ws_conn_free(ws_conn *c);
/* Free when both the transport and the userdata are gone. */
void ws_conn_maybe_free(ws_conn *c);

/* Record why the connection failed (the first reason wins). */
void ws_set_error(ws_conn *c, sl_errkind kind, int retry, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
/* Failed before the transport opened: done, everyone woken. */
void ws_connect_failed(ws_conn *c);
/* Open the TCP connection to c->addrs[c->iaddr]. */
void ws_start_tcp(ws_conn *c);
/* End the transport (closes the socket; deferred to the end of the
** socket's callback when called from inside it). */
void ws_conn_kill(ws_conn *c);
/* The socket is open. */
static inline int ws_sock_open(const ws_conn *c) { return c->io.fd >= 0; }
void ws_fail_senders(ws_conn *c);
/* Write what can be written: 0, 1 when the close handshake is over, -1
** when the socket failed. */
int ws_conn_flush(ws_conn *c);
/* The same from outside the wsi's callbacks: a failure kills. */
void ws_flush_outside(ws_conn *c);
/* The channel has room again (a sl_chan_notify_space callback). */
void ws_on_space(void *ud);
void ws_arm_dial_timer(ws_conn *c);
void ws_arm_write_timer(ws_conn *c);
void ws_arm_close_timer(ws_conn *c);

/* Close every connection with 1001, wait (bounded) for the replies, end
** what is left.  Once, from the first finalizer at lua_close. */
void ws_shutdown(ws_global *G);

/* }====================================================== */

/* {======================================================
** dial.c
** ======================================================= */

/* The resolver, made on first use: 0, or -1 with G->dns_err. */
int ws_dns_ensure(ws_global *G);
/* Resolve c->host; the outcome goes to G->resolved, never from inside. */
void ws_dns_lookup(ws_conn *c);
/* Stop c's lookup, running or waiting. */
void ws_dns_abort(ws_conn *c);
/* The resolver's timers and state, at shutdown. */
void ws_dns_shutdown(ws_global *G);

/* }====================================================== */

/* {======================================================
** connect.c
** ======================================================= */

/* Resolve (or take the literal of) the URL's host, check each address
** with the owner, connect to the first allowed. */
void ws_dial(ws_conn *c, const policy_url *pu);
/* A lookup's outcome (G->resolved). */
void ws_resolved(ws_conn *c, const sl_dns_result *res);

/* }====================================================== */

/* {======================================================
** options.c
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

/* Parse the options table at idx (absolute; nil: defaults).  NULL, or a
** message in buf.  Strings stay owned by the table. */
const char *ws_parse_options(lua_State *L, int idx, ws_opts *o, char *buf,
                             size_t len);

/* }====================================================== */

#endif
