/*
** dial.c - host names resolved on the event loop (see ws.h): c-ares' sockets
** watched on the scheduler's loop, one timer, at most
** WS_DNS_INFLIGHT lookups at once (more wait their turn).  A lookup ends in
** G->resolved (the transport's).  No Lua, and no call into the transport.
*/
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../sandbox/libmem.h"

/* {======================================================
** DNS on the loop
** ======================================================= */


static void dns_rearm(ws_global *G);

static void dnsio_free(ws_dnsio *d) {
  ws_global *G = d->G;
  ws_dnsio **pp = &G->dnsios;
  while (*pp && *pp != d) pp = &(*pp)->next;
  if (*pp) *pp = d->next;
  free(d);
}

static void dnsio_cb(sl_evio *io, unsigned events) {
  ws_dnsio *d = (ws_dnsio *)io;
  ws_global *G = d->G;
  if (G->dns == NULL) return;
  d->in_cb = 1;
  sl_dns_process(G->dns, io->fd, (events & SL_EV_READ) != 0,
                 (events & SL_EV_WRITE) != 0);
  d->in_cb = 0;
  if (d->gone) dnsio_free(d);  /* c-ares closed it meanwhile */
  dns_rearm(G);
}

/* c-ares' socket interest: watched on the loop as it is. */
static void dns_watch(void *ud, int fd, int readable, int writable) {
  ws_global *G = ud;
  ws_dnsio *d;
  for (d = G->dnsios; d; d = d->next)
    if (!d->gone && d->io.fd == fd) break;
  unsigned want = (readable ? SL_EV_READ : 0u) | (writable ? SL_EV_WRITE : 0u);
  if (d == NULL) {
    if (want == 0) return;
    d = calloc(1, sizeof *d);
    if (d == NULL) return;  /* the lookup times out */
    d->io.fd = fd;
    d->io.cb = dnsio_cb;
    d->G = G;
    if (sl_ev_watch(G->ev, &d->io, want) != 0) {
      free(d);
      return;  /* the lookup times out */
    }
    sl_sched_hold(G->S);
    d->next = G->dnsios;
    G->dnsios = d;
    return;
  }
  (void)sl_ev_watch(G->ev, &d->io, want);  /* 0: dns_close follows */
}

/* c-ares lets go of fd: stop watching it, close it. */
static int dns_close(void *ud, int fd) {
  ws_global *G = ud;
  ws_dnsio *d;
  for (d = G->dnsios; d; d = d->next)
    if (!d->gone && d->io.fd == fd) break;
  if (d != NULL) {
    sl_ev_watch(G->ev, &d->io, 0);
    sl_sched_release(G->S);
    d->gone = 1;
    if (!d->in_cb) dnsio_free(d);
  }
  return close(fd);
}

static void dns_timer_cb(sl_timer *t) {
  ws_global *G = sl_container_of(t, ws_global, dns_timer);
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

int ws_dns_ensure(ws_global *G) {
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

/* Look c->host up now, or queue it while WS_DNS_INFLIGHT are in flight. */
void ws_dns_lookup(ws_conn *c) {
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
    c->G->resolved(c, &(sl_dns_result){.status = SL_DNS_FAILED,
                                        .name = c->host, .error = e,
                                        .cname = ""});
    return;
  }
  G->dns_inflight++;
  dns_rearm(G);
}

static void dnsq_cb(sl_timer *t) {
  ws_global *G = sl_container_of(t, ws_global, dnsq_timer);
  while (G->dnsq && G->dns_inflight < WS_DNS_INFLIGHT && !G->exiting) {
    ws_conn *c = G->dnsq;
    G->dnsq = c->dnsq_next;
    if (!G->dnsq) G->dnsq_tail = NULL;
    c->dns_queued = 0;
    ws_dns_lookup(c);
  }
}

/* A lookup ended: let a waiting one start (on the next loop turn). */
static void dns_done(ws_global *G) {
  G->dns_inflight--;
  if (G->dnsq && !G->exiting) sl_timer_start(G->S, &G->dnsq_timer, 0, dnsq_cb);
}

void ws_dns_abort(ws_conn *c) {
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

void ws_dns_shutdown(ws_global *G) {
  sl_timer_stop(&G->dns_timer);
  sl_timer_stop(&G->dnsq_timer);
  if (G->dns) {
    sl_dns_free(G->dns);
    G->dns = NULL;
  }
}

/* }====================================================== */

static void on_dns(void *ud, const sl_dns_result *res) {
  ws_conn *c = ud;
  c->dq = NULL;
  dns_done(c->G);
  if (c->G->exiting) return;
  c->G->resolved(c, res);
}

/* }====================================================== */
