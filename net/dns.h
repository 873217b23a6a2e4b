/*
** dns.h - asynchronous host name resolution with c-ares, served by the
** caller's event loop.
**
** The resolver never blocks: it tells the caller which sockets to watch
** through a callback (c-ares' socket state callback), the caller reports
** readiness with sl_dns_process(), and asks sl_dns_timeout_ms() when to call
** sl_dns_process(r, -1, 0, 0) for timeouts.  A thin adapter serves this from
** the scheduler's event loop (watched descriptors + one timer); the unit
** tests serve it from poll().
**
** Configuration is read once, in sl_dns_new(), before the sandbox: the
** resolv.conf (servers, timeout, attempts) unless a server is forced
** (`--dns-server ADDR[:PORT]`: then resolv.conf is ignored), and the hosts
** file, which is consulted first (a name found there is not sent to DNS).
** Names are absolute: they are queried exactly as given, never completed
** with resolv.conf's `search` list or `ndots`, and the environment
** (LOCALDOMAIN, RES_OPTIONS) is ignored, so the name a policy checked is
** the name asked.
** After that, lookups open UDP (and TCP, for truncated answers) sockets
** only: no file access.
**
** A lookup asks for A and AAAA at once and gives every address: IPv4 ones
** first, then IPv6, each in the server's order.  The result comes when
** both have answered or failed: a server that ignores AAAA queries delays
** it by the resolver timeout (the addresses of the other family are kept).
** IP literals are never resolved: recognise them with sl_dns_ip_literal()
** and skip DNS.
**
** Results and the caller's callbacks are delivered from sl_dns_process()
** only, never from inside sl_dns_resolve() (a hosts-file hit is queued and
** sl_dns_timeout_ms() then returns 0).  After each sl_dns_resolve() and
** sl_dns_process(), ask sl_dns_timeout_ms() again and re-arm the timer.
** Single-threaded, like the rest of the event loop.
*/
#ifndef SL_WEBSOCKET_DNS_H
#define SL_WEBSOCKET_DNS_H

#include <stddef.h>

/* An IPv4 or IPv6 address: family AF_INET (4 bytes used) or AF_INET6. */
typedef struct sl_dns_addr {
  int family;
  unsigned char ip[16];
} sl_dns_addr;

/* Longest formatted address with port: "[v6]:65535" plus NUL. */
#define SL_DNS_ADDRSTRLEN 56
/* Longest CNAME chain told, "a -> b -> c" with its NUL; longer: "". */
#define SL_DNS_CNAME_MAX 512
/* At most this many addresses per family are kept from one answer. */
#define SL_DNS_MAX_ADDRS 32

/* Status of a lookup (sl_dns_result.status). */
typedef enum sl_dns_status {
  SL_DNS_OK = 0,
  SL_DNS_NOTFOUND,    /* NXDOMAIN: "no such host" */
  SL_DNS_NODATA,      /* the name exists but has no A/AAAA record */
  SL_DNS_TIMEOUT,     /* no answer from any server in time */
  SL_DNS_REFUSED,     /* the server refused the query (forced server) */
  SL_DNS_SERVFAIL,    /* the server failed, SERVFAIL (forced server) */
  SL_DNS_UNREACHABLE, /* no server answered usefully: port closed (ICMP),
                         or, with resolv.conf servers, every one refused or
                         failed (c-ares 1.18 merges these cases) */
  SL_DNS_BADRESP,     /* malformed or unexpected answer, FORMERR */
  SL_DNS_NOMEM,
  SL_DNS_FAILED /* anything else (message says what) */
} sl_dns_status;

typedef struct sl_dns_result {
  sl_dns_status status;
  const char *name;         /* the name asked for */
  const char *error;        /* "" or "lookup NAME: no such host", ... */
  const sl_dns_addr *addrs; /* status OK: naddrs >= 1 addresses */
  size_t naddrs;
  const char *cname;        /* the CNAME chain followed, "a -> b -> c",
                               or "" (no alias; or a hosts-file hit) */
} sl_dns_result;

/* Result callback; the result and its arrays live only during the call. */
typedef void (*sl_dns_cb)(void *ud, const sl_dns_result *res);

/*
** Socket interest: watch fd for readability / writability; both 0 means
** stop watching (c-ares closes fd right after).  Called from inside
** sl_dns_resolve(), sl_dns_process() and sl_dns_free().
*/
typedef void (*sl_dns_watch_fn)(void *ud, int fd, int readable, int writable);

typedef struct sl_dns_config {
  const char *server;      /* "ADDR[:PORT]" (IPv4 or [IPv6]) or
                              NULL: the servers of resolv.conf */
  const char *resolv_conf; /* NULL: /etc/resolv.conf; unused with server */
  const char *hosts;       /* NULL: /etc/hosts; "": no hosts file */
  int timeout_ms;          /* first try's timeout, 0: resolv.conf / 5 s;
                              at most 600000 */
  int tries;               /* attempts per server, 0: resolv.conf / 4;
                              at most 20 */
  sl_dns_watch_fn watch;   /* required */
  void *watch_ud;
  /* Optional: close the resolver's sockets with close_fd(watch_ud, fd)
     (called right after watch(fd, 0, 0)) instead of close(2), for an
     event loop that polls the descriptor itself and must close it when it
     lets go of it (so the number is not reused while it is watched).
     Returns 0 or -1. */
  int (*close_fd)(void *ud, int fd);
  /* Optional: the allocator of c-ares and of the lookups (realloc-style:
     ptr NULL allocates, size 0 frees and returns NULL, NULL on failure).
     c-ares has one allocator per process: resolvers alive at the same
     time must all pass the same one (sl_dns_new fails otherwise).
     NULL: libc's. */
  void *(*alloc)(void *ptr, size_t size);
} sl_dns_config;

typedef struct sl_dns sl_dns;
typedef struct sl_dns_query sl_dns_query;

/*
** A resolver configured from cfg (copied; read resolv.conf and hosts now).
** Returns NULL with a message in err on failure (bad server string, bad
** numbers, hosts file unreadable, c-ares failure).  Free with sl_dns_free().
*/
sl_dns *sl_dns_new(const sl_dns_config *cfg, char *err, size_t errlen);

/*
** Free r: ends every lookup (their callbacks are NOT called; outstanding
** query handles become invalid), closes its sockets (watch callbacks with
** 0, 0 first).  NULL is fine.  Not from inside a result callback.
*/
void sl_dns_free(sl_dns *r);

/*
** Start looking up name (a host name; a trailing dot is allowed).  cb runs
** once, later, from sl_dns_process(), unless the lookup is cancelled.
** Returns a handle valid until cb has been called or sl_dns_cancel(); NULL
** with a message in err for a name that is not a valid host name or is an
** IP literal, or when out of memory (then cb is never called).
*/
sl_dns_query *sl_dns_resolve(sl_dns *r, const char *name, sl_dns_cb cb,
                             void *ud, char *err, size_t errlen);

/* Cancel q: its callback will not be called.  q is invalid afterwards. */
void sl_dns_cancel(sl_dns_query *q);

/*
** Serve the resolver: fd became readable and/or writable (fd -1: nothing
** but timers).  Handles expired timeouts too and delivers finished results.
*/
void sl_dns_process(sl_dns *r, int fd, int readable, int writable);

/*
** Milliseconds until sl_dns_process(r, -1, 0, 0) must be called: -1 when
** no lookup is outstanding, 0 when results are ready now.
*/
int sl_dns_timeout_ms(sl_dns *r);

/* Lookups started and not yet delivered or cancelled. */
size_t sl_dns_pending(const sl_dns *r);

/*
** The servers in use, "ADDR:PORT" joined by ',' ("[v6]:PORT" for IPv6),
** into buf; returns buf ("" on error).
*/
const char *sl_dns_servers(sl_dns *r, char *buf, size_t len);

/*
** Parse a --dns-server value "ADDR[:PORT]": IPv4 ("192.0.2.1",
** "192.0.2.1:5353") or IPv6 in brackets with optional port ("[::1]",
** "[::1]:5353"); a bare IPv6 address is refused ("::1:53" would be
** ambiguous).  No host names.  Port 1-65535, default 53.  Returns 0, or -1
** with "invalid DNS server \"...\": why" in err.
*/
int sl_dns_parse_server(const char *s, sl_dns_addr *addr, int *port, char *err,
                        size_t errlen);

/*
** 1 if s is an IP literal, storing the address in *out (if not NULL): the
** standard forms (dotted quad, IPv6, [IPv6]) and the legacy IPv4 forms the
** C library accepts ("127.1", "0x7f.0.0.1", "2130706433").  0 otherwise.
*/
int sl_dns_ip_literal(const char *s, sl_dns_addr *out);

/*
** Format a as text: "192.0.2.1" / "2001:db8::1" when port < 0, else
** "192.0.2.1:443" / "[2001:db8::1]:443".  Returns buf ("" if it is too
** small or the family is unknown); len >= SL_DNS_ADDRSTRLEN always fits.
*/
const char *sl_dns_format(const sl_dns_addr *a, int port, char *buf,
                          size_t len);

#endif
