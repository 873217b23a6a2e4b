/*
** transport.c - one WebSocket connection over its own non-blocking TCP
** socket on the scheduler's loop (see ws.h): its phase, with asserted
** transitions; TLS over memory BIOs; the protocol engine; reading with flow
** control; writing with non-blocking send(); its timers; the shutdown at
** exit.
** What it delivers goes to the owner (ws_owner); it calls no Lua.
**
** Receiving: every complete message goes to the owner.  When the owner
** cannot take it (the channel is full), it keeps it, reading stops
** (the socket is no longer watched for input, nor SSL_read called), the rest of the input
** already read is kept in c->rx, and ws_on_space resumes.  Nothing is
** dropped while the script may still read; memory stays bounded by one
** message plus one read buffer.
**
** Writing: what the socket does not take stays in the engine's buffer
** (plain) or in c->tx (TLS ciphertext), and the socket's writability
** resumes.  Nothing else buffers our data.
*/
#include "ws.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../sandbox/libmem.h"

/* {======================================================
** Helpers
** ======================================================= */

static void conn_transport_gone(ws_conn *c);
static void conn_try_finish(ws_conn *c);
static void read_cb(sl_timer *t);
static void write_cb(sl_timer *t);
static void close_cb(sl_timer *t);
static void dial_cb(sl_timer *t);
static void resume_cb(sl_timer *t);
static void conn_io(sl_evio *io, unsigned events);
static void sock_close(ws_conn *c);
static void sock_interest(ws_conn *c);
static void sock_want_write(ws_conn *c, int on);

/*
** The one place the phase changes.  Legal: forward through the dial
** (DNS -> TCP -> [TLS] -> HS -> OPEN), TCP -> TCP (the next address),
** and from anywhere to DONE.
*/
static const unsigned char legal[WS_PHASES][WS_PHASES] = {
  [PH_DNS] = {[PH_TCP] = 1, [PH_DONE] = 1},
  [PH_TCP] = {[PH_TCP] = 1, [PH_TLS] = 1, [PH_HS] = 1, [PH_DONE] = 1},
  [PH_TLS] = {[PH_HS] = 1, [PH_DONE] = 1},
  [PH_HS] = {[PH_OPEN] = 1, [PH_DONE] = 1},
  [PH_OPEN] = {[PH_DONE] = 1},
  [PH_DONE] = {[PH_DONE] = 1},
};

static void set_phase(ws_conn *c, ws_phase to) {
  assert(c->phase >= PH_DNS && c->phase <= PH_DONE && legal[c->phase][to]);
  c->phase = to;
}

void ws_conn_init(ws_conn *c, ws_global *G) {
  memset(c, 0, sizeof *c);
  c->io.fd = -1;
  c->io.cb = conn_io;
  c->G = G;
  sl_timer_init(&c->dial_t);
  sl_timer_init(&c->read_t);
  sl_timer_init(&c->write_t);
  sl_timer_init(&c->close_t);
  sl_timer_init(&c->resume_t);
  c->phase = PH_DNS;  /* the first phase */
}

void ws_arm_dial_timer(ws_conn *c) {
  if (c->dial_ns > 0) sl_timer_start(c->G->S, &c->dial_t, c->dial_ns, dial_cb);
}

void ws_arm_write_timer(ws_conn *c) {
  if (c->write_ns > 0 && c->write_t.idx < 0)
    sl_timer_start(c->G->S, &c->write_t, c->write_ns, write_cb);
}

void ws_arm_close_timer(ws_conn *c) {
  sl_timer_start(c->G->S, &c->close_t, WS_CLOSE_WAIT_NS, close_cb);
}

/*
** A connection's own memory (the connection, its URL and names, its read
** and write buffers) is the script's: counted against the memory limit
** like the engine's buffers and zlib's state (sandbox/libmem.h).  A
** refused block fails that connection or operation; the limit is hit.
*/
void *ws_alloc(size_t n) {
  return sandbox_libmem_realloc(NULL, n);
}

void ws_free(void *p) {
  sandbox_libmem_free(p);
}

char *ws_strdup(void *(*alloc)(void *, size_t), const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = alloc(NULL, n);
  if (d) memcpy(d, s, n);
  return d;
}

void ws_set_error(ws_conn *c, sl_errkind kind, int retry, const char *fmt,
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
** Connection lifecycle
** ======================================================= */

void ws_conn_link(ws_conn *c) {
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

void ws_conn_maybe_free(ws_conn *c) {
  if (c->ud_alive || c->phase != PH_DONE || ws_sock_open(c) || c->linked)
    return;
  ws_conn_free(c);
}

void ws_conn_free(ws_conn *c) {
  timer_stop_all(c);
  if (c->dq || c->dns_queued) ws_dns_abort(c);
  wsp_free(c->wsp);
  sl_tls_free(c->tls);
  ws_free(c->url);
  ws_free(c->canonical);
  ws_free(c->host);
  ws_free(c->cname);
  ws_free(c->ca_file);
  ws_free(c->subprotocol);
  ws_free(c->tx);
  ws_free(c->rx);
  ws_free(c);
}

/* Wake every sender with failure. */
void ws_fail_senders(ws_conn *c) {
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
** delivered, wake everyone and tell the owner (which closes the channel
** and drops its anchors).
*/
static void conn_try_finish(ws_conn *c) {
  if (c->phase != PH_DONE || ws_sock_open(c)) return;
  if (!c->G->exiting && (c->paused || c->kept)) return;
  timer_stop_all(c);
  if (c->connector) {
    sl_task *t = c->connector;
    c->connector = NULL;
    wake(c, t);
  }
  ws_fail_senders(c);
  wake_closers(c);
  if (!c->ended) {
    if (c->hs_done && !c->failed)
      ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
                "websocket %s: connection lost (no close frame)",
                c->canonical);
    c->ended = 1;
    c->code = WSP_CLOSE_ABNORMAL;
  }
  c->G->own->finished(c);
  conn_unlink(c);
  ws_conn_maybe_free(c);
}

/* The transport ended (its socket closed, or it never opened). */
static void conn_transport_gone(ws_conn *c) {
  int was = c->phase;
  set_phase(c, PH_DONE);
  if (was < PH_OPEN && !c->failed)
    ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
              "websocket %s: connection closed during the handshake",
              c->canonical);
  /* nothing more can be sent: senders and closers need not wait for the
  ** script to drain the channel (it may be one of them) */
  ws_fail_senders(c);
  wake_closers(c);
  /* plaintext may still wait in c->rx / the TLS buffers: when paused,
  ** resume_cb delivers it, then finishes */
  conn_try_finish(c);
}

void ws_conn_kill(ws_conn *c) {
  if (!ws_sock_open(c) || c->killing) return;
  if (c->in_io) {
    c->kill_pending = 1;  /* conn_io closes it: c must outlive the call */
    return;
  }
  c->killing = 1;
  sock_close(c);
}

void ws_connect_failed(ws_conn *c) {
  set_phase(c, PH_DONE);
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
    ws_free(c->tx);
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
int ws_conn_flush(ws_conn *c) {
  if (!ws_sock_open(c) || c->killing || c->phase == PH_TCP) return 0;
  int fd = c->io.fd;
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
        sock_want_write(c, 1);
        return 0;
      }
      c->why_errno = errno;
      snprintf(c->why, sizeof c->why, "send: %s (%s)", strerror(errno),
               sl_errno_name(errno));
      return -1;
    }
    if (from_engine) wsp_output_consumed(c->wsp, (size_t)s);
    else c->txoff += (size_t)s;
    if ((size_t)s < n) {
      sock_want_write(c, 1);
      return 0;
    }
    continue;
  drained:
    sock_want_write(c, 0);
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
    if (c->hs_done && wsp_get_state(c->wsp) == WSP_CLOSED) {
      if (!c->linger) return 1;
      /*
      ** We failed the connection: closing now, with the rest of the bad
      ** frame unread, would make the kernel send RST, and a peer that
      ** gets it may drop our close frame unread (RFC 6455 7.1.1: close
      ** cleanly).  Send FIN instead and drop what still comes until the
      ** peer's EOF, for at most the close wait.
      */
      if (!c->wr_shut) {
        c->wr_shut = 1;
        sl_timer_stop(&c->read_t);
        shutdown(fd, SHUT_WR);
        ws_arm_close_timer(c);
      }
    }
    return 0;
  }
}

void ws_flush_outside(ws_conn *c) {
  int r = ws_conn_flush(c);
  if (r != 0) ws_conn_kill(c);
}

/* }====================================================== */

/* {======================================================
** Input
** ======================================================= */

void ws_on_space(void *ud) {
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
    /* the rest of c->rx itself (a resume paused again): keep it in place;
    ** moving it to the front at every message would cost O(rest) each */
    c->rxoff = (size_t)(p - c->rx);
    c->rxlen = c->rxoff + n;
    return 0;
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
  sock_interest(c);
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
    c->linger = 1;
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
          ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
                    "websocket %s: handshake refused: HTTP %d redirect to %s "
                    "(redirects are not followed)", c->canonical, hi->status,
                    hi->location ? hi->location : "(no Location)");
        else if (hi->status != 0 && hi->status != 101)
          ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
                    "websocket %s: handshake refused: HTTP %d", c->canonical,
                    hi->status);
        else
          ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
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
        if (!c->G->exiting && c->G->own->message(
                c, ev.type == WSP_EV_BINARY, ev.data, ev.len)) {
          c->kept = 1;
          pause_reading(c);
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
      /* a certificate that does not verify will not verify next time */
      ws_set_error(c, SL_INTERNAL,
                   sl_tls_verify_failed(c->tls) ? SL_RETRY_NO : SL_RETRY_YES,
                   "websocket %s: %s", c->canonical, sl_tls_error(c->tls));
      return -1;
    }
    /* TLS is up: send the HTTP upgrade request through it */
    size_t rl;
    const uint8_t *req = wsp_request(c->wsp, &rl);
    if (sl_tls_write(c->tls, req, rl) != SL_TLS_OK) {
      ws_set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, sl_tls_error(c->tls));
      return -1;
    }
    set_phase(c, PH_HS);
  }
  while (!c->paused) {
    ssize_t m = sl_tls_read(c->tls, buf, sizeof buf);
    if (m == SL_TLS_AGAIN) return 0;
    if (m == SL_TLS_CLOSED) return -1;
    if (m < 0) {
      ws_set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
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
    ws_conn_flush(c);
    return -1;
  }
  int f = ws_conn_flush(c);
  return f != 0 ? -1 : 0;
}

/* Resume reading after the channel made room (timer, next loop turn). */
static void resume_cb(sl_timer *t) {
  ws_conn *c = sl_container_of(t, ws_conn, resume_t);
  c->resume_armed = 0;
  if (c->G->exiting) return;
  if (c->kept) {
    if (!c->G->own->retry(c)) return;  /* still no room: notified again */
    c->kept = 0;
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
    ws_conn_flush(c);
    ws_conn_kill(c);
    return;
  }
  if (ws_sock_open(c)) {
    sock_interest(c);
    c->last_rx = sl_now_ns();
    if (c->read_ns > 0 && c->phase == PH_OPEN && c->read_t.idx < 0)
      sl_timer_start(c->G->S, &c->read_t, c->read_ns, read_cb);
  }
  ws_flush_outside(c);
}

/* }====================================================== */

/* {======================================================
** Timers
** ======================================================= */

static void read_cb(sl_timer *t) {
  ws_conn *c = sl_container_of(t, ws_conn, read_t);
  if (c->phase != PH_OPEN || c->paused) return;
  int64_t left = c->last_rx + c->read_ns - sl_now_ns();
  if (left > 0) {
    sl_timer_start(c->G->S, &c->read_t, left, read_cb);
    return;
  }
  ws_set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: read timeout: nothing received for %.3gs",
            c->canonical, (double)c->read_ns / 1e9);
  c->ended = 1;
  c->code = WSP_CLOSE_GOING_AWAY;
  snprintf(c->reason, sizeof c->reason, "read timeout");
  c->by = 2;
  if (wsp_get_state(c->wsp) == WSP_OPEN)
    wsp_close(c->wsp, WSP_CLOSE_GOING_AWAY, "read timeout", 12);
  ws_conn_flush(c);
  ws_conn_kill(c);
}

static void write_cb(sl_timer *t) {
  ws_conn *c = sl_container_of(t, ws_conn, write_t);
  ws_set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: write timeout: the server did not take the data "
            "within %.3gs", c->canonical, (double)c->write_ns / 1e9);
  if (!c->ended) {
    c->ended = 1;
    c->code = WSP_CLOSE_ABNORMAL;
  }
  ws_conn_kill(c);
}

static void close_cb(sl_timer *t) {
  ws_conn *c = sl_container_of(t, ws_conn, close_t);
  ws_conn_kill(c);  /* the peer did not answer our close in time */
}

static void dial_cb(sl_timer *t) {
  ws_conn *c = sl_container_of(t, ws_conn, dial_t);
  if (c->phase >= PH_OPEN) return;
  ws_set_error(c, SL_TIMEOUT, SL_RETRY_YES,
            "websocket %s: dial timeout after %.3gs (%s)", c->canonical,
            (double)c->dial_ns / 1e9,
            c->phase == PH_DNS ? "resolving the host name"
            : c->phase == PH_TCP ? "TCP connect"
            : c->phase == PH_TLS ? "TLS handshake" : "waiting for the "
                                                      "handshake response");
  if (c->phase == PH_DNS) {
    ws_dns_abort(c);
    ws_connect_failed(c);
    return;
  }
  c->naddrs = 0;  /* no other address either */
  ws_conn_kill(c);
}

/* }====================================================== */

/* {======================================================
** Transport events
** ======================================================= */

static void established(ws_conn *c) {
  const wsp_handshake_info *hi = wsp_handshake_result(c->wsp);
  if (hi->subprotocol) c->subprotocol = ws_strdup(sandbox_libmem_realloc, hi->subprotocol);
  set_phase(c, PH_OPEN);
  c->hs_done = 1;
  sl_timer_stop(&c->dial_t);
  ws_free(c->url);
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

/* The socket is connected: start TLS, or send the upgrade request. */
static int on_connected(ws_conn *c) {
  if (c->G->exiting) return -1;
  if (c->tls_on) {
    char err[256];
    c->tls = sl_tls_new(c->host, c->ca_file, err, sizeof err);
    if (c->tls == NULL) {
      ws_set_error(c, SL_INTERNAL, SL_RETRY_NO, "websocket %s: %s",
                   c->canonical, err);
      return -1;
    }
    set_phase(c, PH_TLS);
    if (tls_pump(c) < 0) {
      ws_conn_flush(c);
      return -1;
    }
  } else {
    size_t rl;
    const uint8_t *req = wsp_request(c->wsp, &rl);
    if (tx_reserve(c, rl) != 0) return -1;
    memcpy(c->tx, req, rl);
    c->txoff = 0;
    c->txlen = rl;
    set_phase(c, PH_HS);
  }
  sock_interest(c);
  return ws_conn_flush(c) < 0 ? -1 : 0;
}

/* Read what the socket has (one read per event: level-triggered). */
static int sock_read(ws_conn *c) {
  static uint8_t buf[WS_RX_CHUNK];
  ssize_t n = recv(c->io.fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) {
    if (c->G->exiting && c->phase < PH_OPEN) return -1;
    return on_rx(c, buf, (size_t)n) != 0 ? -1 : 0;
  }
  if (n == 0) {
    snprintf(c->why, sizeof c->why, "the server closed the connection");
    return -1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  c->why_errno = errno;
  snprintf(c->why, sizeof c->why, "recv: %s (%s)", strerror(errno),
           sl_errno_name(errno));
  return -1;
}

/* The connect finished: 0 connected, or an errno. */
static int connect_result(ws_conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  return err;
}

static void conn_io(sl_evio *io, unsigned events) {
  ws_conn *c = (ws_conn *)io;
  int r = 0;
  c->in_io = 1;
  if (c->phase == PH_TCP) {
    int err = connect_result(c);
    if (err != 0) {
      c->why_errno = err;
      snprintf(c->why, sizeof c->why, "%s (%s)", strerror(err),
               sl_errno_name(err));
      r = -1;
    } else {
      r = on_connected(c);
    }
  } else {
    if (events & SL_EV_WRITE) r = ws_conn_flush(c) != 0 ? -1 : 0;
    if (r == 0 && (events & SL_EV_READ) && !c->paused && ws_sock_open(c))
      r = sock_read(c);
  }
  c->in_io = 0;
  if (r != 0 || c->kill_pending) {
    c->kill_pending = 0;
    c->killing = 1;
    sock_close(c);  /* may free c */
  }
}

/* Watch the socket for what the connection waits for. */
static void sock_interest(ws_conn *c) {
  if (!ws_sock_open(c)) return;
  unsigned want;
  if (c->phase == PH_TCP) want = SL_EV_WRITE;  /* the connect's end */
  else want = (c->paused ? 0u : SL_EV_READ) |
              (c->want_write ? SL_EV_WRITE : 0u);
  if (sl_ev_watch(c->G->ev, &c->io, want) != 0 && want != 0) {
    snprintf(c->why, sizeof c->why, "cannot watch the socket: %s",
             strerror(errno));
    ws_conn_kill(c);
  }
}

static void sock_want_write(ws_conn *c, int on) {
  if (c->want_write == on) return;
  c->want_write = on;
  sock_interest(c);
}

/*
** Close the socket; then try the next address (a connect that failed), or
** end the transport.  c may be freed on return.
*/
static void sock_close(ws_conn *c) {
  if (!ws_sock_open(c)) return;
  ws_global *G = c->G;
  sl_ev_watch(G->ev, &c->io, 0);
  close(c->io.fd);
  c->io.fd = -1;
  c->io.want = 0;
  c->want_write = 0;
  c->killing = 0;
  if (c->held) {
    c->held = 0;
    sl_sched_release(G->S);
  }
  if (c->phase == PH_TCP && !c->failed && !G->exiting &&
      c->iaddr + 1 < c->naddrs) {
    c->iaddr++;  /* refused: try the next address that passed the policy */
    ws_start_tcp(c);
    return;
  }
  if (c->phase == PH_TCP && !c->failed)
    ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
                 "websocket %s: connect to %s: %s", c->canonical, c->ip,
                 c->why[0] ? c->why : "failed");
  conn_transport_gone(c);
}

/* A non-blocking connect to c->addrs[c->iaddr]: 0, or an errno. */
static int tcp_open(ws_conn *c) {
  const sl_dns_addr *a = &c->addrs[c->iaddr];
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (a->family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)c->port);
    memcpy(&s6->sin6_addr, a->ip, 16);
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)c->port);
    memcpy(&s4->sin_addr, a->ip, 4);
    sl = sizeof *s4;
  }
  int fd = socket(a->family == AF_INET6 ? AF_INET6 : AF_INET,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int one = 1;  /* messages go out as they are sent */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return e;
  }
  c->io.fd = fd;
  c->io.want = 0;
  c->want_write = 0;
  sock_interest(c);  /* writable: the connect finished */
  if (!ws_sock_open(c)) return ENOSPC;  /* could not be watched */
  c->held = 1;
  sl_sched_hold(c->G->S);
  return 0;
}

void ws_start_tcp(ws_conn *c) {
  for (;;) {
    sl_dns_format(&c->addrs[c->iaddr], -1, c->ip, sizeof c->ip);
    set_phase(c, PH_TCP);
    c->why[0] = '\0';
    c->why_errno = 0;
    int err = tcp_open(c);
    if (err == 0) return;
    if (c->failed) break;  /* could not watch it: the reason is kept */
    c->why_errno = err;
    snprintf(c->why, sizeof c->why, "%s (%s)%s", strerror(err),
             sl_errno_name(err),
             err == EMFILE || err == ENFILE ? ": the process's descriptor "
             "limit (see --max-connections)" : "");
    if (c->iaddr + 1 < c->naddrs && !c->G->exiting) {
      c->iaddr++;
      continue;
    }
    ws_set_error(c, SL_INTERNAL, SL_RETRY_YES,
                 "websocket %s: connect to %s: %s", c->canonical, c->ip,
                 c->why);
    break;
  }
  ws_connect_failed(c);
}

/* {======================================================
** Shutdown (lua_close)
** ======================================================= */

static int any_open(ws_global *G) {
  for (ws_conn *c = G->conns; c; c = c->next)
    if (ws_sock_open(c)) return 1;
  return 0;
}

void ws_shutdown(ws_global *G) {
  if (G->shut) return;
  G->shut = 1;
  G->exiting = 1;
  ws_conn *c, *nx;
  for (c = G->conns; c; c = nx) {
    nx = c->next;
    c->local_close = 1;
    timer_stop_all(c);
    ws_dns_abort(c);
    if (c->paused && ws_sock_open(c)) {
      c->paused = 0;
      sock_interest(c);
    }
    if (!ws_sock_open(c)) continue;
    if (c->phase == PH_OPEN && wsp_get_state(c->wsp) == WSP_OPEN) {
      wsp_close(c->wsp, WSP_CLOSE_GOING_AWAY, "going away", 10);
      if (ws_conn_flush(c) != 0) ws_conn_kill(c);
    } else if (c->phase < PH_OPEN) {
      ws_conn_kill(c);
    }
  }
  if (G->ev && any_open(G)) {
    /* the close replies, for WS_EXIT_WAIT_NS at most */
    int64_t end = sl_now_ns() + WS_EXIT_WAIT_NS;
    while (any_open(G)) {
      int64_t left = end - sl_now_ns();
      if (left <= 0 || sl_ev_wait(G->ev, left) < 0) break;
    }
    for (c = G->conns; c; c = nx) {
      nx = c->next;
      c->killing = 0;
      ws_conn_kill(c);
    }
  }
  /* every transport is gone now: free what no userdata holds */
  for (c = G->conns; c; c = nx) {
    nx = c->next;
    set_phase(c, PH_DONE);
    conn_try_finish(c);
  }
  ws_dns_shutdown(G);
}

/* }====================================================== */
