/*
** connect.c - from a URL to a TCP connection (see ws.h): the literal
** address or a lookup (dial.c), the policy on every address (through the
** owner), then the allowed addresses in turn (transport.c).  No Lua.
*/
#include "ws.h"

#include <string.h>
#include <sys/socket.h>

#include "../../sandbox/libmem.h"

/* {======================================================
** Dialing: the addresses, the policy on each
** ======================================================= */

/* Keep only the addresses the policy allows (the owner asks it); then
** connect to the first. */
static void dial_addrs(ws_conn *c, const sl_dns_addr *addrs, size_t n) {
  const ws_owner *own = c->G->own;
  int kept = 0, refused = 0;
  for (size_t k = 0; k < n && kept < (int)(sizeof c->addrs / sizeof c->addrs[0]);
       k++) {
    if (own->allow_addr(c, &addrs[k]) == 0)
      c->addrs[kept++] = addrs[k];
    else
      refused++;
  }
  c->naddrs = kept;
  c->iaddr = 0;
  if (kept == 0) {
    if (refused == 0)
      ws_set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: no address",
                   c->canonical);
    c->failed = 1;
    ws_connect_failed(c);
    return;
  }
  /* an allowed address: a refusal of another one is not the outcome */
  if (refused > 0) own->drop_refusal(c);
  ws_start_tcp(c);
}

/* The name of a failed lookup's status, for the error's details. */
static const char *dns_status_name(sl_dns_status st) {
  switch (st) {
    case SL_DNS_NOTFOUND: return "NXDOMAIN";
    case SL_DNS_NODATA: return "NODATA";
    case SL_DNS_TIMEOUT: return "TIMEOUT";
    case SL_DNS_REFUSED: return "REFUSED";
    case SL_DNS_SERVFAIL: return "SERVFAIL";
    case SL_DNS_UNREACHABLE: return "UNREACHABLE";
    case SL_DNS_BADRESP: return "BADRESP";
    case SL_DNS_NOMEM: return "NOMEM";
    default: return "FAILED";
  }
}

void ws_resolved(ws_conn *c, const sl_dns_result *res) {
  if (res->status != SL_DNS_OK) {
    c->dns_status = dns_status_name(res->status);
    if (res->status == SL_DNS_TIMEOUT)
      ws_set_error(c, SL_TIMEOUT, SL_RETRY_YES, "websocket %s: %s", c->canonical,
                res->error);
    else
      ws_set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: %s",
                c->canonical, res->error);
    ws_connect_failed(c);
    return;
  }
  if (res->cname != NULL && res->cname[0] != '\0' &&
      (c->cname = ws_strdup(sandbox_libmem_realloc, res->cname)) == NULL) {
    ws_set_error(c, SL_INTERNAL, SL_RETRY_YES, "websocket %s: out of memory",
                 c->canonical);
    ws_connect_failed(c);
    return;
  }
  dial_addrs(c, res->addrs, res->naddrs);
}

/* }====================================================== */

void ws_dial(ws_conn *c, const policy_url *pu) {
  ws_global *G = c->G;
  if (pu->host_ip) {
    sl_dns_addr a;
    memset(&a, 0, sizeof a);
    a.family = pu->ip.family == 4 ? AF_INET : AF_INET6;
    memcpy(a.ip, pu->ip.b, pu->ip.family == 4 ? 4 : 16);
    dial_addrs(c, &a, 1);
  } else if (ws_dns_ensure(G) != 0) {
    ws_set_error(c, SL_INTERNAL, SL_RETRY_NO, "websocket %s: DNS: %s",
                 c->canonical, G->dns_err);
    ws_connect_failed(c);
  } else {
    ws_dns_lookup(c);
  }
}

/* }====================================================== */
