/*
** dns.c - asynchronous resolution with c-ares (see dns.h).
*/
#include "dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ares.h>

#include "../common/grow.h"

/* One name -> address line of the hosts file. */
typedef struct hosts_entry {
  char *name; /* lower case, no trailing dot */
  sl_dns_addr addr;
} hosts_entry;

struct sl_dns_query {
  sl_dns *r;
  sl_dns_cb cb;
  void *ud;
  char *name;
  int outstanding; /* c-ares lookups not yet called back (0-2) */
  int cancelled;
  int status4, status6; /* ARES_* results of the A and AAAA lookups */
  sl_dns_addr v4[SL_DNS_MAX_ADDRS], v6[SL_DNS_MAX_ADDRS];
  size_t n4, n6;
  char cname[SL_DNS_CNAME_MAX]; /* the chain followed, or "" */
  sl_dns_query *next; /* in r's ready list */
};

struct sl_dns {
  ares_channel channel;
  sl_dns_watch_fn watch;
  void *watch_ud;
  int (*close_fd)(void *ud, int fd);
  void *(*alloc)(void *ptr, size_t size); /* of the lookups; NULL: libc */
  hosts_entry *hosts;
  size_t nhosts;
  sl_dns_query *ready, *ready_tail; /* finished, not yet delivered */
  size_t pending;                   /* started, not delivered/cancelled */
  int destroying;
};

/* ---- memory ---- */

/* A lookup's memory, through r's allocator. */
static void *dns_alloc(sl_dns *r, size_t n) {
  return r->alloc ? r->alloc(NULL, n) : malloc(n);
}

static void dns_release(sl_dns *r, void *p) {
  if (p == NULL) return;
  if (r->alloc) {
    r->alloc(p, 0);
  } else {
    free(p);
  }
}

/* c-ares' allocator is process-wide and takes no context: the one of the
   resolvers alive (lib_users of them), installed by the first. */
static void *(*lib_alloc)(void *ptr, size_t size);
static int lib_users;

static void *lib_malloc(size_t n) {
  return lib_alloc(NULL, n ? n : 1);
}

static void *lib_realloc(void *p, size_t n) {
  return lib_alloc(p, n ? n : 1); /* never a free */
}

static void lib_free(void *p) {
  if (p != NULL) lib_alloc(p, 0);
}

static int lib_init(void *(*alloc)(void *, size_t), char *err,
                    size_t errlen) {
  int rc;
  if (lib_users > 0 && alloc != lib_alloc) {
    snprintf(err, errlen, "DNS: a resolver with another allocator exists");
    return -1;
  }
  lib_alloc = alloc;
  if (alloc != NULL)
    rc = ares_library_init_mem(ARES_LIB_INIT_ALL, lib_malloc, lib_free,
                               lib_realloc);
  else
    rc = ares_library_init(ARES_LIB_INIT_ALL);
  if (rc != ARES_SUCCESS) {
    snprintf(err, errlen, "DNS: %s", ares_strerror(rc));
    return -1;
  }
  lib_users++;
  return 0;
}

/* The last user's cleanup puts back libc's functions (c-ares does). */
static void lib_cleanup(void) {
  ares_library_cleanup();
  lib_users--;
}

/* ---- pure helpers ---- */

int sl_dns_ip_literal(const char *s, sl_dns_addr *out) {
  sl_dns_addr a;
  char buf[64];
  size_t n;
  struct in_addr in4;
  memset(&a, 0, sizeof a);
  if (s == NULL) return 0;
  n = strlen(s);
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof buf) {
    memcpy(buf, s + 1, n - 2);
    buf[n - 2] = '\0';
    if (inet_pton(AF_INET6, buf, a.ip) != 1) return 0;
    a.family = AF_INET6;
  } else if (inet_pton(AF_INET6, s, a.ip) == 1) {
    a.family = AF_INET6;
  } else if (s[strspn(s, "0123456789abcdefABCDEFxX.")] == '\0' &&
             inet_aton(s, &in4) != 0) {
    /* Also "127.1", "0x7f.1", "2130706433".  The character check comes
       first: glibc's inet_aton stops at a space ("1.2.3.4 junk"). */
    a.family = AF_INET;
    memcpy(a.ip, &in4, 4);
  } else {
    return 0;
  }
  if (out != NULL) *out = a;
  return 1;
}

const char *sl_dns_format(const sl_dns_addr *a, int port, char *buf,
                          size_t len) {
  char ip[INET6_ADDRSTRLEN];
  int n;
  if (len == 0) return buf;
  buf[0] = '\0';
  if ((a->family != AF_INET && a->family != AF_INET6) ||
      inet_ntop(a->family, a->ip, ip, sizeof ip) == NULL)
    return buf;
  if (port < 0)
    n = snprintf(buf, len, "%s", ip);
  else if (a->family == AF_INET6)
    n = snprintf(buf, len, "[%s]:%d", ip, port);
  else
    n = snprintf(buf, len, "%s:%d", ip, port);
  if (n < 0 || (size_t)n >= len) buf[0] = '\0';
  return buf;
}

/* A decimal port 1-65535 in s[0..n); -1 if not. */
static int parse_port(const char *s, size_t n) {
  long v = 0;
  if (n == 0 || n > 5) return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v >= 1 && v <= 65535 ? (int)v : -1;
}

int sl_dns_parse_server(const char *s, sl_dns_addr *addr, int *port, char *err,
                        size_t errlen) {
  char host[64];
  const char *colon, *why;
  size_t hlen;
  int p = 53;
  sl_dns_addr a;
  memset(&a, 0, sizeof a);
  if (s == NULL || *s == '\0') {
    why = "empty";
    goto bad;
  }
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (end == NULL) {
      why = "missing ']'";
      goto bad;
    }
    hlen = (size_t)(end - s - 1);
    if (hlen >= sizeof host) {
      why = "not an IPv6 address in brackets";
      goto bad;
    }
    memcpy(host, s + 1, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET6, host, a.ip) != 1) {
      why = "not an IPv6 address in brackets";
      goto bad;
    }
    a.family = AF_INET6;
    if (end[1] == ':') {
      p = parse_port(end + 2, strlen(end + 2));
      if (p < 0) {
        why = "the port must be a number from 1 to 65535";
        goto bad;
      }
    } else if (end[1] != '\0') {
      why = "unexpected text after ']'";
      goto bad;
    }
  } else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':')) {
    /* "::1:53" is both an address and an address with a port: brackets. */
    why = "write an IPv6 address in brackets: [ADDR] or [ADDR]:PORT";
    goto bad;
  } else {
    hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    if (hlen >= sizeof host) {
      why = "not an IP address";
      goto bad;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, a.ip) != 1) {
      why = "not an IP address";
      goto bad;
    }
    a.family = AF_INET;
    if (colon != NULL) {
      p = parse_port(colon + 1, strlen(colon + 1));
      if (p < 0) {
        why = "the port must be a number from 1 to 65535";
        goto bad;
      }
    }
  }
  if (addr != NULL) *addr = a;
  if (port != NULL) *port = p;
  return 0;
bad:
  snprintf(err, errlen, "invalid DNS server \"%s\": %s", s ? s : "", why);
  return -1;
}

/*
** Check a host name to look up: 1-253 characters (plus an optional final
** dot), labels of 1-63 letters, digits, '-' or '_'.  NULL if fine, else why.
*/
static const char *check_name(const char *name) {
  size_t n = strlen(name), label = 0;
  if (n > 0 && name[n - 1] == '.') n--;
  if (n == 0) return "empty host name";
  if (n > 253) return "host name longer than 253 characters";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (ch == '.') {
      if (label == 0) return "empty label in host name";
      label = 0;
    } else if (isalnum(ch) || ch == '-' || ch == '_') {
      if (++label > 63) return "label longer than 63 characters in host name";
    } else {
      return "invalid character in host name";
    }
  }
  if (label == 0) return "empty label in host name";
  return NULL;
}

/* ---- hosts file ---- */

static void free_hosts(sl_dns *r) {
  for (size_t i = 0; i < r->nhosts; i++) free(r->hosts[i].name);
  free(r->hosts);
  r->hosts = NULL;
  r->nhosts = 0;
}

static int add_host(sl_dns *r, size_t *cap, const char *name,
                    const sl_dns_addr *a) {
  hosts_entry *e;
  size_t n = strlen(name);
  if (n > 0 && name[n - 1] == '.') n--;
  if (n == 0 || check_name(name) != NULL) return 0; /* skip odd names */
  if (sl_grow(&r->hosts, cap, r->nhosts, sizeof *r->hosts, 16) != 0)
    return -1;
  e = &r->hosts[r->nhosts];
  e->name = malloc(n + 1);
  if (e->name == NULL) return -1;
  for (size_t i = 0; i < n; i++)
    e->name[i] = (char)tolower((unsigned char)name[i]);
  e->name[n] = '\0';
  e->addr = *a;
  r->nhosts++;
  return 0;
}

/* Read the hosts file at path; 0, or -1 with err set. */
static int load_hosts(sl_dns *r, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "re");
  char line[1024];
  size_t cap = 0;
  if (f == NULL) {
    snprintf(err, errlen, "cannot read hosts file \"%s\": %s", path,
             strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof line, f) != NULL) {
    char *save = NULL, *tok, *hash = strchr(line, '#');
    sl_dns_addr a;
    memset(&a, 0, sizeof a);
    if (hash != NULL) *hash = '\0';
    tok = strtok_r(line, " \t\r\n", &save);
    if (tok == NULL) continue;
    if (inet_pton(AF_INET, tok, a.ip) == 1)
      a.family = AF_INET;
    else if (inet_pton(AF_INET6, tok, a.ip) == 1)
      a.family = AF_INET6;
    else
      continue; /* not an address (e.g. fe80::1%lo0): skip the line */
    while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
      if (add_host(r, &cap, tok, &a) != 0) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading \"%s\"", path);
        return -1;
      }
    }
  }
  fclose(f);
  return 0;
}

/* Fill q from the hosts table; 1 if the name is there. */
static int lookup_hosts(sl_dns *r, sl_dns_query *q) {
  size_t n = strlen(q->name);
  int found = 0;
  if (n > 0 && q->name[n - 1] == '.') n--;
  for (size_t i = 0; i < r->nhosts; i++) {
    const hosts_entry *e = &r->hosts[i];
    if (strlen(e->name) != n || strncasecmp(e->name, q->name, n) != 0) continue;
    found = 1;
    if (e->addr.family == AF_INET && q->n4 < SL_DNS_MAX_ADDRS)
      q->v4[q->n4++] = e->addr;
    else if (e->addr.family == AF_INET6 && q->n6 < SL_DNS_MAX_ADDRS)
      q->v6[q->n6++] = e->addr;
  }
  return found;
}

/* ---- lookups ---- */

static void free_query(sl_dns_query *q) {
  dns_release(q->r, q->name);
  dns_release(q->r, q);
}

/* q has all its answers: queue it for delivery (or drop it). */
static void finish(sl_dns_query *q) {
  sl_dns *r = q->r;
  if (q->cancelled || r->destroying) {
    free_query(q);
    return;
  }
  q->next = NULL;
  if (r->ready_tail != NULL)
    r->ready_tail->next = q;
  else
    r->ready = q;
  r->ready_tail = q;
}

/*
** The CNAME chain of an answer, from the name asked: "a.example ->
** b.example -> c.example" into out, or "" when the name is no alias.  The
** resolver follows the chain; the policy decides on the final addresses,
** and the audit log records the names on the way.
*/
static void cname_chain(const char *asked, const unsigned char *abuf,
                        int alen, char *out, size_t outlen) {
  enum { PAIRS = 8 };
  char *from[PAIRS], *to[PAIRS];
  int n = 0;
  long len;
  out[0] = '\0';
  if (alen < 12) return;
  int qd = abuf[4] << 8 | abuf[5], an = abuf[6] << 8 | abuf[7];
  const unsigned char *p = abuf + 12;
  for (int i = 0; i < qd; i++) {
    char *name;
    if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return;
    ares_free_string(name);
    p += len + 4;
    if (p > abuf + alen) return;
  }
  for (int i = 0; i < an && n < PAIRS; i++) {
    char *owner, *target;
    if (ares_expand_name(p, abuf, alen, &owner, &len) != ARES_SUCCESS) break;
    p += len;
    if (p + 10 > abuf + alen) {
      ares_free_string(owner);
      break;
    }
    int type = p[0] << 8 | p[1], rdlen = p[8] << 8 | p[9];
    p += 10;
    if (type == 5 && p + rdlen <= abuf + alen &&
        ares_expand_name(p, abuf, alen, &target, &len) == ARES_SUCCESS) {
      from[n] = owner;
      to[n++] = target;
    } else {
      ares_free_string(owner);
    }
    p += rdlen;
    if (p > abuf + alen) break;
  }
  const char *at = asked;
  size_t o = 0;
  for (int hops = 0; hops < n; hops++) {
    int k = 0;
    while (k < n && strcasecmp(from[k], at) != 0) k++;
    if (k == n) break;
    if (o == 0) o = (size_t)snprintf(out, outlen, "%s", asked);
    if (o < outlen) o += (size_t)snprintf(out + o, outlen - o, " -> %s", to[k]);
    at = to[k];
  }
  if (o >= outlen) out[0] = '\0';  /* too long to be told whole */
  for (int k = 0; k < n; k++) {
    ares_free_string(from[k]);
    ares_free_string(to[k]);
  }
}

static void on_answer(sl_dns_query *q, int family, int status,
                      unsigned char *abuf, int alen) {
  struct hostent *h = NULL;
  if (status == ARES_SUCCESS && q->cname[0] == '\0')
    cname_chain(q->name, abuf, alen, q->cname, sizeof q->cname);
  if (status == ARES_SUCCESS) {
    if (family == AF_INET)
      status = ares_parse_a_reply(abuf, alen, &h, NULL, NULL);
    else
      status = ares_parse_aaaa_reply(abuf, alen, &h, NULL, NULL);
  }
  if (status == ARES_SUCCESS && h != NULL && h->h_addrtype == family) {
    size_t size = family == AF_INET ? 4 : 16;
    for (char **p = h->h_addr_list; p != NULL && *p != NULL; p++) {
      sl_dns_addr *a;
      if (family == AF_INET) {
        if (q->n4 == SL_DNS_MAX_ADDRS) break;
        a = &q->v4[q->n4++];
      } else {
        if (q->n6 == SL_DNS_MAX_ADDRS) break;
        a = &q->v6[q->n6++];
      }
      memset(a, 0, sizeof *a);
      a->family = family;
      memcpy(a->ip, *p, size);
    }
  }
  if (h != NULL) ares_free_hostent(h);
  if (family == AF_INET)
    q->status4 = status;
  else
    q->status6 = status;
  if (--q->outstanding == 0) finish(q);
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf,
                 int alen) {
  (void)timeouts;
  on_answer(arg, AF_INET, status, abuf, alen);
}

static void on_aaaa(void *arg, int status, int timeouts, unsigned char *abuf,
                    int alen) {
  (void)timeouts;
  on_answer(arg, AF_INET6, status, abuf, alen);
}

sl_dns_query *sl_dns_resolve(sl_dns *r, const char *name, sl_dns_cb cb,
                             void *ud, char *err, size_t errlen) {
  const char *why;
  sl_dns_query *q;
  if (name == NULL) name = "";
  if (sl_dns_ip_literal(name, NULL)) {
    snprintf(err, errlen, "lookup %s: an IP address is not looked up", name);
    return NULL;
  }
  if ((why = check_name(name)) != NULL) {
    int shown = (int)strnlen(name, 64);
    snprintf(err, errlen, "lookup \"%.*s%s\": %s", shown, name,
             name[shown] != '\0' ? "..." : "", why);
    return NULL;
  }
  size_t n = strlen(name) + 1;
  q = dns_alloc(r, sizeof *q);
  if (q != NULL) {
    memset(q, 0, sizeof *q);
    q->r = r;
    if ((q->name = dns_alloc(r, n)) != NULL) memcpy(q->name, name, n);
  }
  if (q == NULL || q->name == NULL) {
    dns_release(r, q);
    snprintf(err, errlen, "lookup %s: out of memory", name);
    return NULL;
  }
  q->cb = cb;
  q->ud = ud;
  q->status4 = q->status6 = ARES_ENODATA;
  r->pending++;
  if (lookup_hosts(r, q)) {
    q->status4 = q->status6 = ARES_SUCCESS;
    finish(q);
    return q;
  }
  /* Both lookups may call back at once (e.g. no socket): count first.
     ares_query, not ares_search: the name is absolute, never completed
     with a search domain after the policy checked it. */
  q->outstanding = 2;
  ares_query(r->channel, name, ns_c_in, ns_t_a, on_a, q);
  ares_query(r->channel, name, ns_c_in, ns_t_aaaa, on_aaaa, q);
  return q;
}

void sl_dns_cancel(sl_dns_query *q) {
  sl_dns *r;
  sl_dns_query **pp;
  if (q == NULL || q->cancelled) return;
  r = q->r;
  r->pending--;
  if (q->outstanding > 0) { /* c-ares still holds it: free when it's done */
    q->cancelled = 1;
    return;
  }
  for (pp = &r->ready; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      break;
    }
  }
  r->ready_tail = NULL;
  for (sl_dns_query *p = r->ready; p != NULL; p = p->next) r->ready_tail = p;
  free_query(q);
}

/* ---- results ---- */

static sl_dns_status map_status(int st) {
  switch (st) {
    case ARES_SUCCESS: return SL_DNS_OK;
    case ARES_ENOTFOUND: return SL_DNS_NOTFOUND;
    case ARES_ENODATA: return SL_DNS_NODATA;
    case ARES_ETIMEOUT: return SL_DNS_TIMEOUT;
    case ARES_EREFUSED: return SL_DNS_REFUSED;
    case ARES_ESERVFAIL: return SL_DNS_SERVFAIL;
    case ARES_ECONNREFUSED: return SL_DNS_UNREACHABLE;
    case ARES_EFORMERR:
    case ARES_EBADRESP: return SL_DNS_BADRESP;
    case ARES_ENOMEM: return SL_DNS_NOMEM;
    default: return SL_DNS_FAILED;
  }
}

static const char *status_text(sl_dns_status s, int ares_status) {
  switch (s) {
    case SL_DNS_OK: return "";
    case SL_DNS_NOTFOUND: return "no such host";
    case SL_DNS_NODATA: return "no address for host";
    case SL_DNS_TIMEOUT: return "DNS timeout (no answer from the server)";
    case SL_DNS_REFUSED: return "the DNS server refused the query";
    case SL_DNS_SERVFAIL: return "DNS server failure";
    case SL_DNS_UNREACHABLE:
      return "no usable DNS server (unreachable, refused or failed)";
    case SL_DNS_BADRESP: return "bad DNS response";
    case SL_DNS_NOMEM: return "out of memory";
    case SL_DNS_FAILED: break;
  }
  return ares_strerror(ares_status);
}

/* How telling a failure is, to pick one of the two lookups' (higher wins). */
static int rank(int st) {
  switch (st) {
    case ARES_ENOTFOUND: return 9;
    case ARES_EREFUSED: return 8;
    case ARES_ESERVFAIL: return 7;
    case ARES_ECONNREFUSED: return 6;
    case ARES_EFORMERR:
    case ARES_EBADRESP: return 5;
    case ARES_ETIMEOUT: return 2;
    case ARES_ENODATA:
    case ARES_SUCCESS: return 0;
    default: return 4;
  }
}

/*
** The status of a lookup from its two parts: any address wins; else the
** more telling failure (NXDOMAIN first, a timeout or "no data" last).
*/
static int combine(const sl_dns_query *q) {
  if (q->n4 + q->n6 > 0) return ARES_SUCCESS;
  if (rank(q->status4) == 0 && rank(q->status6) == 0) return ARES_ENODATA;
  return rank(q->status6) > rank(q->status4) ? q->status6 : q->status4;
}

/* Hand every finished lookup to its callback, oldest first. */
static void deliver(sl_dns *r) {
  sl_dns_query *q;
  while ((q = r->ready) != NULL) {
    sl_dns_addr addrs[2 * SL_DNS_MAX_ADDRS];
    char msg[400];
    sl_dns_result res;
    int st = combine(q);
    r->ready = q->next;
    if (r->ready == NULL) r->ready_tail = NULL;
    r->pending--;
    memcpy(addrs, q->v4, q->n4 * sizeof addrs[0]);
    memcpy(addrs + q->n4, q->v6, q->n6 * sizeof addrs[0]);
    res.status = map_status(st);
    res.name = q->name;
    res.addrs = addrs;
    res.naddrs = q->n4 + q->n6;
    res.cname = q->cname;
    msg[0] = '\0';
    if (res.status != SL_DNS_OK)
      snprintf(msg, sizeof msg, "lookup %s: %s", q->name,
               status_text(res.status, st));
    res.error = msg;
    q->cancelled = 1; /* a cancel from inside cb is a no-op */
    if (q->cb != NULL) q->cb(q->ud, &res);
    free_query(q);
  }
}

void sl_dns_process(sl_dns *r, int fd, int readable, int writable) {
  ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
  if (fd >= 0 && readable) rfd = fd;
  if (fd >= 0 && writable) wfd = fd;
  ares_process_fd(r->channel, rfd, wfd);
  deliver(r);
}

int sl_dns_timeout_ms(sl_dns *r) {
  struct timeval tv, *t;
  long long ms;
  if (r->ready != NULL) return 0;
  t = ares_timeout(r->channel, NULL, &tv);
  if (t == NULL) return -1;
  ms = (long long)t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

size_t sl_dns_pending(const sl_dns *r) {
  return r->pending;
}

const char *sl_dns_servers(sl_dns *r, char *buf, size_t len) {
  struct ares_addr_port_node *list = NULL, *n;
  size_t used = 0;
  if (len == 0) return buf;
  buf[0] = '\0';
  if (ares_get_servers_ports(r->channel, &list) != ARES_SUCCESS) return buf;
  for (n = list; n != NULL; n = n->next) {
    sl_dns_addr a;
    char one[SL_DNS_ADDRSTRLEN];
    int w;
    memset(&a, 0, sizeof a);
    a.family = n->family;
    memcpy(a.ip, &n->addr, n->family == AF_INET ? 4 : 16);
    sl_dns_format(&a, n->udp_port ? n->udp_port : 53, one, sizeof one);
    w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", one);
    if (w < 0 || (size_t)w >= len - used) {
      buf[used] = '\0';
      break;
    }
    used += (size_t)w;
  }
  ares_free_data(list);
  return buf;
}

/* ---- set-up ---- */

/*
** c-ares' socket functions when the caller closes the sockets itself
** (sl_dns_config.close_fd): the plain system calls, but close.  c-ares
** leaves such sockets as they are made (no O_NONBLOCK of its own): they
** are made non-blocking and close-on-exec here, or a read of a TCP answer
** that has not all arrived would block the whole loop.
*/
static ares_socket_t sf_socket(int af, int type, int proto, void *ud) {
  (void)ud;
  return socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}

static int sf_close(ares_socket_t fd, void *ud) {
  sl_dns *r = ud;
  return r->close_fd(r->watch_ud, (int)fd);
}

static int sf_connect(ares_socket_t fd, const struct sockaddr *sa,
                      ares_socklen_t len, void *ud) {
  (void)ud;
  return connect(fd, sa, len);
}

static ares_ssize_t sf_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                int flags, struct sockaddr *from,
                                ares_socklen_t *fromlen, void *ud) {
  (void)ud;
  return recvfrom(fd, buf, len, flags, from, fromlen);
}

/* sendmsg with MSG_NOSIGNAL, not writev: a DNS server that resets its TCP
** connection is a failed query, not a SIGPIPE (which ends the process). */
static ares_ssize_t sf_sendv(ares_socket_t fd, const struct iovec *iov,
                             int n, void *ud) {
  (void)ud;
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = (struct iovec *)(uintptr_t)iov;
  m.msg_iovlen = (size_t)n;
  return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions sock_funcs = {
  sf_socket, sf_close, sf_connect, sf_recvfrom, sf_sendv
};

static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable) {
  sl_dns *r = data;
  r->watch(r->watch_ud, (int)fd, readable, writable);
}

/*
** ares_init_options without the environment: c-ares reads LOCALDOMAIN (a
** search list) and RES_OPTIONS (ndots, timeout, attempts, rotate) from it,
** and a script's environment must not steer where names go or how long a
** lookup takes.  Both are hidden for the call and put back after it
** (start-up is single-threaded).
*/
static int init_channel(ares_channel *ch, struct ares_options *o, int mask) {
  static const char *const vars[] = {"LOCALDOMAIN", "RES_OPTIONS"};
  char *saved[2] = {NULL, NULL};
  int rc = ARES_ENOMEM;
  size_t i;
  for (i = 0; i < 2; i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && (saved[i] = strdup(v)) == NULL) goto restore;
  }
  for (i = 0; i < 2; i++) unsetenv(vars[i]);
  rc = ares_init_options(ch, o, mask);
restore:
  for (i = 0; i < 2; i++) {
    if (saved[i] != NULL) setenv(vars[i], saved[i], 1);
    free(saved[i]);
  }
  return rc;
}

sl_dns *sl_dns_new(const sl_dns_config *cfg, char *err, size_t errlen) {
  struct ares_options o;
  int mask, rc;
  sl_dns_addr server;
  int port = 53;
  char *lookups = (char *)"b"; /* DNS only: we read the hosts file */
  sl_dns *r;

  if (cfg == NULL || cfg->watch == NULL) {
    snprintf(err, errlen, "DNS: no socket watch callback");
    return NULL;
  }
  if (cfg->timeout_ms < 0 || cfg->timeout_ms > 600000) {
    snprintf(err, errlen, "DNS: timeout %d ms out of range (0-600000)",
             cfg->timeout_ms);
    return NULL;
  }
  if (cfg->tries < 0 || cfg->tries > 20) {
    snprintf(err, errlen, "DNS: tries %d out of range (0-20)", cfg->tries);
    return NULL;
  }
  if (cfg->server != NULL &&
      sl_dns_parse_server(cfg->server, &server, &port, err, errlen) != 0)
    return NULL;
  r = calloc(1, sizeof *r);
  if (r == NULL) {
    snprintf(err, errlen, "DNS: out of memory");
    return NULL;
  }
  r->watch = cfg->watch;
  r->watch_ud = cfg->watch_ud;
  r->close_fd = cfg->close_fd;
  r->alloc = cfg->alloc;
  if (cfg->hosts == NULL || *cfg->hosts != '\0') {
    if (load_hosts(r, cfg->hosts ? cfg->hosts : "/etc/hosts", err, errlen))
      goto fail;
  }
  if (lib_init(cfg->alloc, err, errlen) != 0) goto fail;
  memset(&o, 0, sizeof o);
  mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS |
         ARES_OPT_SOCK_SNDBUF | ARES_OPT_SOCK_RCVBUF;
  /* Room for bursts: with the default socket buffers, ~130 lookups started
     at once lose answers (and c-ares 1.18 drops a query whose send finds
     the buffer full).  The kernel caps 1 MiB at 2 * net.core.[rw]mem_max
     (425,984 bytes by default: ~400 answers in flight). */
  o.socket_send_buffer_size = 1 << 20;
  o.socket_receive_buffer_size = 1 << 20;
  o.flags = ARES_FLAG_NOALIASES; /* never read $HOSTALIASES */
  o.sock_state_cb = sock_state;
  o.sock_state_cb_data = r;
  o.lookups = lookups;
  if (cfg->timeout_ms > 0) {
    mask |= ARES_OPT_TIMEOUTMS;
    o.timeout = cfg->timeout_ms;
  }
  if (cfg->tries > 0) {
    mask |= ARES_OPT_TRIES;
    o.tries = cfg->tries;
  }
  if (cfg->server != NULL) {
    /* Everything set: c-ares reads neither resolv.conf nor the
       environment.  No search domains: names are asked as given. */
    mask |= ARES_OPT_SERVERS | ARES_OPT_DOMAINS | ARES_OPT_NDOTS |
            ARES_OPT_SORTLIST | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    /* One server, nothing to fail over to: take its REFUSED or SERVFAIL as
       the answer (c-ares 1.18 would otherwise report them as
       ECONNREFUSED after trying "the next server"). */
    o.flags |= ARES_FLAG_NOCHECKRESP;
    o.nservers = 0;
    o.ndomains = 0;
    o.ndots = 1;
    o.nsort = 0;
    if (cfg->timeout_ms == 0) o.timeout = 5000;
    if (cfg->tries == 0) o.tries = 4;
  } else if (cfg->resolv_conf != NULL) {
    mask |= ARES_OPT_RESOLVCONF;
    o.resolvconf_path = (char *)cfg->resolv_conf;
  }
  rc = init_channel(&r->channel, &o, mask);
  if (rc != ARES_SUCCESS) {
    snprintf(err, errlen, "DNS: cannot set up the resolver: %s",
             ares_strerror(rc));
    r->channel = NULL;
    lib_cleanup();
    goto fail;
  }
  if (r->close_fd != NULL) ares_set_socket_functions(r->channel, &sock_funcs, r);
  if (cfg->server != NULL) {
    struct ares_addr_port_node node;
    memset(&node, 0, sizeof node);
    node.family = server.family;
    memcpy(&node.addr, server.ip, server.family == AF_INET ? 4 : 16);
    node.udp_port = node.tcp_port = port;
    rc = ares_set_servers_ports(r->channel, &node);
    if (rc != ARES_SUCCESS) {
      snprintf(err, errlen, "DNS: cannot set the server: %s",
               ares_strerror(rc));
      ares_destroy(r->channel);
      lib_cleanup();
      goto fail;
    }
  }
  return r;
fail:
  free_hosts(r);
  free(r);
  return NULL;
}

void sl_dns_free(sl_dns *r) {
  sl_dns_query *q;
  if (r == NULL) return;
  r->destroying = 1;
  ares_destroy(r->channel); /* calls back every lookup: finish() frees */
  lib_cleanup();
  while ((q = r->ready) != NULL) {
    r->ready = q->next;
    free_query(q);
  }
  free_hosts(r);
  free(r);
}
