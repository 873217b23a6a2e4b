/*
** Unit tests of net/dns.c: the c-ares resolver driven by a
** plain poll() loop against a fake DNS server running in the same loop
** (UDP on 127.0.0.1, answers from a small zone table).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../net/dns.h"
#include "counting_alloc.h"

/* ---- the fake DNS server ---- */

enum { T_A = 1, T_CNAME = 5, T_AAAA = 28 };

static const struct {
  const char *name;
  int type;
  const char *ip;
} zone[] = {
    {"v4.test", T_A, "192.0.2.1"},
    {"v4.test", T_A, "192.0.2.2"},
    {"v6.test", T_AAAA, "2001:db8::1"},
    {"both.test", T_A, "192.0.2.10"},
    {"both.test", T_AAAA, "2001:db8::10"},
    {"both.test", T_AAAA, "2001:db8::11"},
    {"empty.test", 0, NULL}, /* exists, no address: NOERROR, no answer */
    {"half.test", T_A, "192.0.2.7"}, /* and AAAA queries go unanswered */
    {"api.corp.internal", T_A, "192.0.2.99"}, /* where a search list leads */
    {"alias.test", T_CNAME, "mid.test"},       /* ip: the target name */
    {"mid.test", T_CNAME, "v4.test"},
};

/* The names the fake was asked, in order (the first ASKED_MAX). */
#define ASKED_MAX 16
static char asked[ASKED_MAX][256];
static int nasked;

typedef struct {
  int fd;
  int port;
  int family;
  int queries; /* packets received */
} fake;

static int fake_open_port(fake *f, int family, int port);

static int fake_open(fake *f, int family) {
  return fake_open_port(f, family, 0);
}

static int fake_open_port(fake *f, int family, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(f, 0, sizeof *f);
  memset(&ss, 0, sizeof ss);
  f->family = family;
  f->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (f->fd < 0) return -1;
  {
    /* Room for a burst of queries (the kernel caps it at rmem_max * 2). */
    int size = 1 << 20;
    setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons((uint16_t)port);
    len = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof *in6;
  }
  if (bind(f->fd, (struct sockaddr *)&ss, len) != 0 ||
      getsockname(f->fd, (struct sockaddr *)&ss, &len) != 0) {
    close(f->fd);
    f->fd = -1;
    return -1;
  }
  f->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

static void fake_close(fake *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
}

/* A name in DNS wire form at out; returns its length. */
static size_t put_name(unsigned char *out, const char *name) {
  size_t o = 0;
  while (*name) {
    size_t l = strcspn(name, ".");
    out[o++] = (unsigned char)l;
    memcpy(out + o, name, l);
    o += l;
    name += l;
    if (*name == '.') name++;
  }
  out[o++] = 0;
  return o;
}

/* Answer one query in q[0..n) into out; returns the length, 0: no answer. */
static size_t fake_answer(fake *f, const unsigned char *q, size_t n,
                          unsigned char *out) {
  char name[256];
  size_t pos = 12, nl = 0, len;
  int type, rcode = 3, exists = 0, count = 0;
  f->queries++;
  if (n < 12 + 5) return 0;
  while (pos < n && q[pos] != 0) {
    size_t l = q[pos++];
    if (l > 63 || pos + l > n || nl + l + 1 >= sizeof name) return 0;
    if (nl > 0) name[nl++] = '.';
    memcpy(name + nl, q + pos, l);
    nl += l;
    pos += l;
  }
  name[nl] = '\0';
  if (nasked < ASKED_MAX) memcpy(asked[nasked++], name, nl + 1);
  if (pos + 5 > n) return 0;
  type = q[pos + 1] << 8 | q[pos + 2];
  pos += 5; /* root label, type, class */
  if (strcasecmp(name, "silent.test") == 0) return 0;
  if (strcasecmp(name, "half.test") == 0 && type == T_AAAA) return 0;
  memcpy(out, q, pos);
  len = pos;
  /* CNAMEs first: the chain, then the target's records (owner names
  ** written out in full) */
  char owner[256];
  snprintf(owner, sizeof owner, "%s", name);
  for (int hops = 0; hops < 8; hops++) {
    size_t i = 0;
    while (i < sizeof zone / sizeof zone[0] &&
           !(zone[i].type == T_CNAME && strcasecmp(zone[i].name, owner) == 0))
      i++;
    if (i == sizeof zone / sizeof zone[0]) break;
    len += put_name(out + len, owner);
    memcpy(out + len, "\x00\x05\x00\x01\x00\x00\x00\x3c", 8);
    size_t rd = put_name(out + len + 10, zone[i].ip);
    out[len + 8] = 0;
    out[len + 9] = (unsigned char)rd;
    len += 10 + rd;
    count++;
    exists = 1;
    snprintf(owner, sizeof owner, "%s", zone[i].ip);
  }
  for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++) {
    unsigned char ip[16];
    size_t iplen = zone[i].type == T_A ? 4 : 16;
    if (strcasecmp(zone[i].name, owner) != 0) continue;
    exists = 1;
    if (zone[i].type != type) continue;
    inet_pton(type == T_A ? AF_INET : AF_INET6, zone[i].ip, ip);
    len += put_name(out + len, owner);
    len -= 2;  /* the code below writes type etc. at out + len + 2 */
    out[len + 2] = 0;
    out[len + 3] = (unsigned char)type;
    memcpy(out + len + 4, "\x00\x01\x00\x00\x00\x3c", 6); /* IN, TTL 60 */
    out[len + 10] = 0;
    out[len + 11] = (unsigned char)iplen;
    memcpy(out + len + 12, ip, iplen);
    len += 12 + iplen;
    count++;
  }
  if (exists) rcode = 0;
  if (strcasecmp(name, "refused.test") == 0) rcode = 5;
  if (strcasecmp(name, "servfail.test") == 0) rcode = 2;
  if (strcasecmp(name, "formerr.test") == 0) rcode = 1;
  out[2] = (unsigned char)(0x80 | (q[2] & 0x01)); /* QR, RD copied */
  out[3] = (unsigned char)(0x80 | rcode);         /* RA, rcode */
  out[4] = 0;
  out[5] = 1;
  out[6] = 0;
  out[7] = (unsigned char)count;
  memset(out + 8, 0, 4);
  return len;
}

static void fake_serve(fake *f) {
  unsigned char in[512], out[1024];
  struct sockaddr_storage from;
  socklen_t flen = sizeof from;
  ssize_t n;
  while ((n = recvfrom(f->fd, in, sizeof in, 0, (struct sockaddr *)&from,
                       &flen)) > 0) {
    size_t len = fake_answer(f, in, (size_t)n, out);
    if (len > 0) sendto(f->fd, out, len, 0, (struct sockaddr *)&from, flen);
    flen = sizeof from;
  }
}

/* ---- the event loop ---- */

typedef struct {
  int fd, r, w;
} watch_t;

static watch_t watches[32];
static int nwatch;

static void on_watch(void *ud, int fd, int r, int w) {
  int i;
  (void)ud;
  for (i = 0; i < nwatch && watches[i].fd != fd; i++) {
  }
  if (r == 0 && w == 0) {
    if (i < nwatch) watches[i] = watches[--nwatch];
    return;
  }
  assert_true(i < 32);
  if (i == nwatch) nwatch++;
  watches[i].fd = fd;
  watches[i].r = r;
  watches[i].w = w;
}

typedef struct {
  int calls;
  sl_dns_status status;
  char error[400];
  char addrs[1024]; /* "a,b,c" */
  size_t naddrs;
  char cname[SL_DNS_CNAME_MAX];
} outcome;

static void on_result(void *ud, const sl_dns_result *res) {
  outcome *o = ud;
  size_t used = 0;
  o->calls++;
  if (getenv("TEST_DNS_VERBOSE"))
    fprintf(stderr, "  %s: %d %s\n", res->name, res->status, res->error);
  o->status = res->status;
  snprintf(o->error, sizeof o->error, "%s", res->error);
  snprintf(o->cname, sizeof o->cname, "%s", res->cname);
  o->addrs[0] = '\0';
  o->naddrs = res->naddrs;
  for (size_t i = 0; i < res->naddrs; i++) {
    char one[SL_DNS_ADDRSTRLEN];
    used += (size_t)snprintf(
        o->addrs + used, sizeof o->addrs - used, "%s%s", i ? "," : "",
        sl_dns_format(&res->addrs[i], -1, one, sizeof one));
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serve r and f until sl_dns_pending(r) is 0 (or 5 s, a failure). */
static void run(sl_dns *r, fake *f) {
  long long deadline = now_ms() + 5000;
  while (sl_dns_pending(r) > 0) {
    struct pollfd p[33];
    int n = 0, t = sl_dns_timeout_ms(r), rc;
    if (now_ms() > deadline) fail_msg("lookups still pending after 5 s");
    if (f != NULL && f->fd >= 0) {
      p[n].fd = f->fd;
      p[n++].events = POLLIN;
    }
    for (int i = 0; i < nwatch; i++) {
      p[n].fd = watches[i].fd;
      p[n++].events =
          (short)((watches[i].r ? POLLIN : 0) | (watches[i].w ? POLLOUT : 0));
    }
    if (t < 0 || t > 100) t = 100;
    rc = poll(p, (nfds_t)n, t);
    assert_true(rc >= 0);
    if (rc == 0) {
      sl_dns_process(r, -1, 0, 0);
      continue;
    }
    for (int i = 0; i < n; i++) {
      if (p[i].revents == 0) continue;
      if (f != NULL && p[i].fd == f->fd) {
        fake_serve(f);
        continue;
      }
      sl_dns_process(r, p[i].fd,
                     (p[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0,
                     (p[i].revents & POLLOUT) != 0);
    }
  }
}

static sl_dns *resolver(fake *f, int timeout_ms, int tries, const char *hosts) {
  char server[64], err[256];
  sl_dns_config cfg;
  sl_dns *r;
  memset(&cfg, 0, sizeof cfg);
  if (f->family == AF_INET6)
    snprintf(server, sizeof server, "[::1]:%d", f->port);
  else
    snprintf(server, sizeof server, "127.0.0.1:%d", f->port);
  cfg.server = server;
  cfg.hosts = hosts != NULL ? hosts : "";
  cfg.timeout_ms = timeout_ms;
  cfg.tries = tries;
  cfg.watch = on_watch;
  r = sl_dns_new(&cfg, err, sizeof err);
  if (r == NULL) fail_msg("sl_dns_new: %s", err);
  return r;
}

/* Look name up and serve until done. */
static outcome lookup(sl_dns *r, fake *f, const char *name) {
  outcome o;
  char err[256];
  memset(&o, 0, sizeof o);
  if (sl_dns_resolve(r, name, on_result, &o, err, sizeof err) == NULL)
    fail_msg("resolve %s: %s", name, err);
  assert_int_equal(o.calls, 0); /* never from inside resolve */
  run(r, f);
  assert_int_equal(o.calls, 1);
  return o;
}

typedef struct {
  fake f;
  sl_dns *r;
} fixture;

static int setup(void **state) {
  fixture *x = calloc(1, sizeof *x);
  if (x == NULL || fake_open(&x->f, AF_INET) != 0) return -1;
  nwatch = 0;
  x->r = resolver(&x->f, 300, 1, NULL);
  *state = x;
  return 0;
}

static int teardown(void **state) {
  fixture *x = *state;
  sl_dns_free(x->r);
  assert_int_equal(nwatch, 0); /* every socket unwatched before close */
  fake_close(&x->f);
  free(x);
  return 0;
}

/* ---- tests ---- */

static void test_a(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "v4.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.error, "");
  assert_string_equal(o.addrs, "192.0.2.1,192.0.2.2");
  assert_int_equal(x->f.queries, 2); /* A and AAAA */
}

static void test_aaaa(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "v6.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "2001:db8::1");
}

static void test_both(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "both.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "192.0.2.10,2001:db8::10,2001:db8::11");
  o = lookup(x->r, &x->f, "BOTH.Test."); /* case, absolute name */
  assert_int_equal(o.status, SL_DNS_OK);
  assert_int_equal(o.naddrs, 3);
}

/* A CNAME chain is followed to the final addresses, and told. */
static void test_cname_chain(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "alias.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "192.0.2.1,192.0.2.2");
  assert_string_equal(o.cname, "alias.test -> mid.test -> v4.test");
  o = lookup(x->r, &x->f, "v4.test");
  assert_string_equal(o.cname, "");
}

static void test_nxdomain(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "nope.test");
  assert_int_equal(o.status, SL_DNS_NOTFOUND);
  assert_int_equal(o.naddrs, 0);
  assert_string_equal(o.error, "lookup nope.test: no such host");
}

static void test_nodata(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "empty.test");
  assert_int_equal(o.status, SL_DNS_NODATA);
  assert_string_equal(o.error, "lookup empty.test: no address for host");
}

static void test_timeout(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "silent.test");
  assert_int_equal(o.status, SL_DNS_TIMEOUT);
  assert_string_equal(
      o.error, "lookup silent.test: DNS timeout (no answer from the server)");
  assert_int_equal(x->f.queries, 2);             /* one try each */
  assert_int_equal(sl_dns_timeout_ms(x->r), -1); /* nothing outstanding */
}

static void test_one_family_unanswered(void **state) {
  fixture *x = *state;
  /* The A answer is kept while the AAAA query times out. */
  outcome o = lookup(x->r, &x->f, "half.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "192.0.2.7");
}

static void test_server_errors(void **state) {
  fixture *x = *state;
  outcome o = lookup(x->r, &x->f, "refused.test");
  assert_int_equal(o.status, SL_DNS_REFUSED);
  assert_string_equal(o.error,
                      "lookup refused.test: the DNS server refused the query");
  o = lookup(x->r, &x->f, "servfail.test");
  assert_int_equal(o.status, SL_DNS_SERVFAIL);
  assert_string_equal(o.error, "lookup servfail.test: DNS server failure");
  o = lookup(x->r, &x->f, "formerr.test");
  assert_int_equal(o.status, SL_DNS_BADRESP);
  assert_string_equal(o.error, "lookup formerr.test: bad DNS response");
}

static void test_unreachable(void **state) {
  fake closed;
  sl_dns *r;
  outcome o;
  (void)state;
  assert_int_equal(fake_open(&closed, AF_INET), 0);
  fake_close(&closed); /* nothing listens on that port now */
  r = resolver(&closed, 1000, 1, NULL);
  o = lookup(r, NULL, "v4.test");
  assert_int_equal(o.status, SL_DNS_UNREACHABLE);
  assert_string_equal(
      o.error,
      "lookup v4.test: no usable DNS server (unreachable, refused or failed)");
  sl_dns_free(r);
  assert_int_equal(nwatch, 0);
}

static void test_ipv6_server(void **state) {
  fake f6;
  sl_dns *r;
  outcome o;
  char buf[128];
  (void)state;
  if (fake_open(&f6, AF_INET6) != 0) skip(); /* no IPv6 loopback here */
  r = resolver(&f6, 300, 1, NULL);
  snprintf(buf, sizeof buf, "[::1]:%d", f6.port);
  {
    char servers[128];
    assert_string_equal(sl_dns_servers(r, servers, sizeof servers), buf);
  }
  o = lookup(r, &f6, "both.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_int_equal(o.naddrs, 3);
  sl_dns_free(r);
  fake_close(&f6);
}

static void test_concurrent_and_cancel(void **state) {
  fixture *x = *state;
  outcome a, b, c, d;
  char err[256];
  sl_dns_query *qc;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&c, 0, sizeof c);
  memset(&d, 0, sizeof d);
  assert_non_null(
      sl_dns_resolve(x->r, "v4.test", on_result, &a, err, sizeof err));
  assert_non_null(
      sl_dns_resolve(x->r, "nope.test", on_result, &b, err, sizeof err));
  qc = sl_dns_resolve(x->r, "v6.test", on_result, &c, err, sizeof err);
  assert_non_null(qc);
  assert_non_null(
      sl_dns_resolve(x->r, "silent.test", on_result, &d, err, sizeof err));
  assert_int_equal(sl_dns_pending(x->r), 4);
  assert_true(sl_dns_timeout_ms(x->r) > 0);
  sl_dns_cancel(qc);
  assert_int_equal(sl_dns_pending(x->r), 3);
  run(x->r, &x->f);
  assert_int_equal(a.calls, 1);
  assert_string_equal(a.addrs, "192.0.2.1,192.0.2.2");
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.status, SL_DNS_NOTFOUND);
  assert_int_equal(c.calls, 0); /* cancelled */
  assert_int_equal(d.calls, 1);
  assert_int_equal(d.status, SL_DNS_TIMEOUT);
}

static void test_many_lookups(void **state) {
  enum { N = 150 }; /* 300 queries at once: default buffers lose some */
  fixture *x = *state;
  static outcome o[N];
  static sl_dns_query *q[N];
  char err[256];
  static const char *const names[] = {"v4.test", "v6.test", "both.test",
                                      "nope.test", "empty.test"};
  memset(o, 0, sizeof o);
  for (int i = 0; i < N; i++) {
    q[i] =
        sl_dns_resolve(x->r, names[i % 5], on_result, &o[i], err, sizeof err);
    assert_non_null(q[i]);
  }
  for (int i = 0; i < N; i += 7) sl_dns_cancel(q[i]);
  run(x->r, &x->f);
  for (int i = 0; i < N; i++) {
    static const sl_dns_status want[] = {SL_DNS_OK, SL_DNS_OK, SL_DNS_OK,
                                         SL_DNS_NOTFOUND, SL_DNS_NODATA};
    if (i % 7 == 0) {
      assert_int_equal(o[i].calls, 0);
      continue;
    }
    assert_int_equal(o[i].calls, 1);
    assert_int_equal(o[i].status, want[i % 5]);
  }
}

static void test_cancel_then_free(void **state) {
  fixture *x = *state;
  outcome o;
  char err[256];
  memset(&o, 0, sizeof o);
  /* A lookup in flight when the resolver goes: no callback, no leak. */
  assert_non_null(
      sl_dns_resolve(x->r, "silent.test", on_result, &o, err, sizeof err));
  assert_non_null(
      sl_dns_resolve(x->r, "v4.test", on_result, &o, err, sizeof err));
  assert_true(nwatch > 0);
  sl_dns_free(x->r);
  x->r = resolver(&x->f, 300, 1, NULL);
  assert_int_equal(o.calls, 0);
}

static void test_hosts_file(void **state) {
  fixture *x = *state;
  char path[] = "/tmp/sl_dns_hosts_XXXXXX", err[256];
  int fd = mkstemp(path);
  static const char text[] =
      "# comment line\n"
      "192.0.2.99\tmyhost.test alias.test  # trailing comment\n"
      "::1 myhost.test\n"
      "fe80::1%lo0 scoped.test\n"
      "not-an-address broken.test\n"
      "\n"
      "192.0.2.98 Other.Test\n";
  sl_dns *r;
  sl_dns_config cfg;
  outcome o;
  sl_dns_query *q;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, sizeof text - 1),
                   (ssize_t)(sizeof text - 1));
  close(fd);
  r = resolver(&x->f, 300, 1, path);
  unlink(path); /* read at creation only */
  /* Found in hosts: no packet, but still delivered from process only. */
  memset(&o, 0, sizeof o);
  assert_non_null(
      sl_dns_resolve(r, "MyHost.test.", on_result, &o, err, sizeof err));
  assert_int_equal(o.calls, 0);
  assert_int_equal(sl_dns_timeout_ms(r), 0);
  sl_dns_process(r, -1, 0, 0);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "192.0.2.99,::1");
  o = lookup(r, &x->f, "alias.test");
  assert_string_equal(o.addrs, "192.0.2.99");
  o = lookup(r, &x->f, "other.test");
  assert_string_equal(o.addrs, "192.0.2.98");
  assert_int_equal(x->f.queries, 0);
  /* Lines that are not addresses are skipped: those go to DNS. */
  o = lookup(r, &x->f, "broken.test");
  assert_int_equal(o.status, SL_DNS_NOTFOUND);
  assert_int_equal(x->f.queries, 2);
  /* A hosts hit cancelled before delivery. */
  memset(&o, 0, sizeof o);
  q = sl_dns_resolve(r, "myhost.test", on_result, &o, err, sizeof err);
  assert_non_null(q);
  sl_dns_cancel(q);
  assert_int_equal(sl_dns_pending(r), 0);
  assert_int_equal(sl_dns_timeout_ms(r), -1);
  sl_dns_process(r, -1, 0, 0);
  assert_int_equal(o.calls, 0);
  sl_dns_free(r);
  /* A hosts file that cannot be read is an error. */
  memset(&cfg, 0, sizeof cfg);
  cfg.server = "127.0.0.1";
  cfg.hosts = path;
  cfg.watch = on_watch;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "cannot read hosts file"));
  assert_non_null(strstr(err, path));
}

static void test_resolv_conf(void **state) {
  char path[] = "/tmp/sl_dns_resolv_XXXXXX", err[256], servers[256];
  int fd = mkstemp(path);
  static const char text[] =
      "search example.org\n"
      "nameserver 192.0.2.53\n"
      "nameserver 2001:db8::53\n"
      "options timeout:1 attempts:1\n";
  sl_dns_config cfg;
  sl_dns *r;
  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, sizeof text - 1),
                   (ssize_t)(sizeof text - 1));
  close(fd);
  memset(&cfg, 0, sizeof cfg);
  cfg.resolv_conf = path;
  cfg.hosts = "";
  cfg.watch = on_watch;
  r = sl_dns_new(&cfg, err, sizeof err);
  if (r == NULL) fail_msg("%s", err);
  assert_string_equal(sl_dns_servers(r, servers, sizeof servers),
                      "192.0.2.53:53,[2001:db8::53]:53");
  sl_dns_free(r);
  /* A forced server ignores resolv.conf. */
  cfg.server = "192.0.2.1:5353";
  r = sl_dns_new(&cfg, err, sizeof err);
  if (r == NULL) fail_msg("%s", err);
  assert_string_equal(sl_dns_servers(r, servers, sizeof servers),
                      "192.0.2.1:5353");
  sl_dns_free(r);
  unlink(path);
}

/*
** Names are absolute.  resolv.conf has a search list and ndots:5, the
** environment LOCALDOMAIN and RES_OPTIONS: "api" is asked as "api" only
** (NXDOMAIN), never as api.corp.internal, and "v4.test" as itself.  The
** resolver reads resolv.conf's servers on port 53, so the fake listens on
** 127.0.0.1:53 in a network namespace of a child process's own (needs
** CAP_SYS_ADMIN: skipped without it).  The child reports by exit status:
** 0 ok, 77 no namespace, else the failed step.
*/
static int absolute_names_child(void) {
  char path[] = "/tmp/sl_dns_search_XXXXXX", err[256];
  static const char text[] = "search corp.internal\n"
                             "options ndots:5 timeout:1 attempts:1\n"
                             "nameserver 127.0.0.1\n";
  struct ifreq ifr;
  sl_dns_config cfg;
  sl_dns *r;
  fake f;
  outcome o;
  int fd, sock;
  if (unshare(CLONE_NEWNET) != 0) return 77;
  sock = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) return 2;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) return 3;
  close(sock);
  if (fake_open_port(&f, AF_INET, 53) != 0) return 4;
  fd = mkstemp(path);
  if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
    return 5;
  close(fd);
  setenv("LOCALDOMAIN", "corp.internal", 1);
  setenv("RES_OPTIONS", "ndots:9 attempts:5", 1);
  memset(&cfg, 0, sizeof cfg);
  cfg.resolv_conf = path;
  cfg.hosts = "";
  cfg.watch = on_watch;
  nwatch = 0;
  r = sl_dns_new(&cfg, err, sizeof err);
  unlink(path);
  if (r == NULL) return 6;
  /* The environment is as it was. */
  if (getenv("LOCALDOMAIN") == NULL ||
      strcmp(getenv("RES_OPTIONS"), "ndots:9 attempts:5") != 0)
    return 7;
  nasked = 0;
  memset(&o, 0, sizeof o);
  if (sl_dns_resolve(r, "api", on_result, &o, err, sizeof err) == NULL)
    return 8;
  run(r, &f);
  if (o.calls != 1 || o.naddrs != 0) return 9;
  for (int i = 0; i < nasked; i++)
    if (strcmp(asked[i], "api") != 0) return 10;
  if (nasked != 2) return 11; /* A and AAAA */
  nasked = 0;
  memset(&o, 0, sizeof o);
  if (sl_dns_resolve(r, "v4.test", on_result, &o, err, sizeof err) == NULL)
    return 12;
  run(r, &f);
  if (o.calls != 1 || o.naddrs != 2 || nasked != 2) return 13;
  sl_dns_free(r);
  fake_close(&f);
  return 0;
}

static void test_names_are_absolute(void **state) {
  int status;
  pid_t pid;
  (void)state;
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(absolute_names_child());
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    print_message("skipped: no network namespace (needs CAP_SYS_ADMIN)\n");
    skip();
  }
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_names(void **state) {
  fixture *x = *state;
  static const struct {
    const char *name, *why;
  } bad[] = {
      {"", "empty host name"},
      {".", "empty host name"},
      {"a..b", "empty label"},
      {".a", "empty label"},
      {"a.b..", "empty label"},
      {"x y.test", "invalid character"},
      {"x\n.test", "invalid character"},
      {"caf\xc3\xa9.test", "invalid character"},
      {"a/b", "invalid character"},
      {"1.2.3.4", "an IP address is not looked up"},
      {"127.1", "an IP address is not looked up"},
      {"::1", "an IP address is not looked up"},
      {"[::1]", "an IP address is not looked up"},
  };
  char err[256], label[80], longname[300];
  outcome o;
  memset(&o, 0, sizeof o);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_null(
        sl_dns_resolve(x->r, bad[i].name, on_result, &o, err, sizeof err));
    if (strstr(err, bad[i].why) == NULL)
      fail_msg("\"%s\": \"%s\"", bad[i].name, err);
  }
  memset(label, 'a', 64);
  label[64] = '\0';
  assert_null(sl_dns_resolve(x->r, label, on_result, &o, err, sizeof err));
  assert_non_null(strstr(err, "longer than 63"));
  label[63] = '\0'; /* 63 is fine */
  assert_non_null(sl_dns_resolve(x->r, label, on_result, &o, err, sizeof err));
  for (int i = 0; i < 127; i++) memcpy(longname + 2 * i, "a.", 2);
  longname[254] = '\0'; /* 254 characters with the final dot: fine */
  assert_non_null(
      sl_dns_resolve(x->r, longname, on_result, &o, err, sizeof err));
  longname[253] = 'b'; /* 254 without a final dot: too long */
  assert_null(sl_dns_resolve(x->r, longname, on_result, &o, err, sizeof err));
  if (strstr(err, "longer than 253") == NULL) fail_msg("%s", err);
  assert_null(sl_dns_resolve(x->r, NULL, on_result, &o, err, sizeof err));
  run(x->r, &x->f);
  assert_int_equal(o.calls, 2);
  assert_int_equal(o.status, SL_DNS_NOTFOUND);
}

static void test_parse_server(void **state) {
  static const struct {
    const char *s, *ip;
    int port;
  } good[] = {
      {"192.0.2.1", "192.0.2.1", 53},
      {"192.0.2.1:5353", "192.0.2.1", 5353},
      {"127.0.0.1:1", "127.0.0.1", 1},
      {"127.0.0.1:65535", "127.0.0.1", 65535},
      {"[::1]", "::1", 53},
      {"[::1]:5353", "::1", 5353},
      {"[2001:db8::1]:53", "2001:db8::1", 53},
  };
  static const struct {
    const char *s, *why;
  } bad[] = {
      {"", "empty"},
      {"localhost", "not an IP address"},
      {"dns.example:53", "not an IP address"},
      {"127.1", "not an IP address"},
      {"1.2.3.4:", "the port must be"},
      {"1.2.3.4:0", "the port must be"},
      {"1.2.3.4:65536", "the port must be"},
      {"1.2.3.4:053x", "the port must be"},
      {"1.2.3.4:+53", "the port must be"},
      {"1.2.3.4: 53", "the port must be"},
      {"1.2.3.4:999999", "the port must be"},
      {" 1.2.3.4", "not an IP address"},
      {"::1", "in brackets"},
      {"::1:53", "in brackets"},
      {"[::1", "missing ']'"},
      {"[::1]x", "unexpected text"},
      {"[::1]:", "the port must be"},
      {"[::1]:0", "the port must be"},
      {"[1.2.3.4]:53", "not an IPv6 address in brackets"},
      {"[]:53", "not an IPv6 address in brackets"},
  };
  char err[256], ip[64];
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    sl_dns_addr a;
    int port = 0;
    if (sl_dns_parse_server(good[i].s, &a, &port, err, sizeof err) != 0)
      fail_msg("\"%s\": %s", good[i].s, err);
    assert_string_equal(sl_dns_format(&a, -1, ip, sizeof ip), good[i].ip);
    assert_int_equal(port, good[i].port);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[128];
    sl_dns_addr a;
    int port = -7;
    err[0] = '\0';
    assert_int_equal(sl_dns_parse_server(bad[i].s, &a, &port, err, sizeof err),
                     -1);
    assert_int_equal(port, -7);
    snprintf(want, sizeof want, "invalid DNS server \"%s\": ", bad[i].s);
    if (strncmp(err, want, strlen(want)) != 0 ||
        strstr(err, bad[i].why) == NULL)
      fail_msg("\"%s\": \"%s\"", bad[i].s, err);
  }
  assert_int_equal(sl_dns_parse_server(NULL, NULL, NULL, err, sizeof err), -1);
}

static void test_new_errors(void **state) {
  sl_dns_config cfg;
  char err[256];
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.hosts = "";
  assert_null(sl_dns_new(&cfg, err, sizeof err)); /* no watch callback */
  assert_non_null(strstr(err, "watch"));
  assert_null(sl_dns_new(NULL, err, sizeof err));
  cfg.watch = on_watch;
  cfg.server = "dns.example";
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  assert_string_equal(err,
                      "invalid DNS server \"dns.example\": not an IP address");
  cfg.server = "127.0.0.1";
  cfg.timeout_ms = -1;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "timeout -1 ms out of range"));
  cfg.timeout_ms = 600001;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  cfg.timeout_ms = 0;
  cfg.tries = -1;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "tries -1 out of range"));
  cfg.tries = 21;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  sl_dns_free(NULL);
}

/* The allocator of the options: tests/unit/counting_alloc.h. */

/* c-ares and the lookups allocate through the allocator of the config
** (a block of another origin would crash its free), and give it all back;
** c-ares has one allocator per process, so resolvers alive together
** share it. */
static void test_allocator(void **state) {
  fake f;
  sl_dns_config cfg;
  char err[256], server[64];
  (void)state;
  assert_int_equal(fake_open(&f, AF_INET), 0);
  nwatch = 0;
  sl_dns *plain = resolver(&f, 300, 1, NULL);
  memset(&cfg, 0, sizeof cfg);
  snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
  cfg.server = server;
  cfg.hosts = "";
  cfg.timeout_ms = 300;
  cfg.tries = 1;
  cfg.watch = on_watch;
  cfg.alloc = count_alloc;
  assert_null(sl_dns_new(&cfg, err, sizeof err));
  assert_string_equal(err, "DNS: a resolver with another allocator exists");
  sl_dns_free(plain);
  m_live = 0;
  sl_dns *r = sl_dns_new(&cfg, err, sizeof err);
  if (r == NULL) fail_msg("sl_dns_new: %s", err);
  size_t idle = m_live;
  assert_true(idle > 0); /* c-ares' channel */
  outcome o = lookup(r, &f, "v4.test");
  assert_int_equal(o.status, SL_DNS_OK);
  assert_string_equal(o.addrs, "192.0.2.1,192.0.2.2");
  memset(&o, 0, sizeof o);
  assert_non_null(sl_dns_resolve(r, "silent.test", on_result, &o, err,
                                 sizeof err));
  assert_true(m_live > idle); /* the lookup and c-ares' queries */
  run(r, &f);
  assert_int_equal(o.status, SL_DNS_TIMEOUT);
  sl_dns *r2 = sl_dns_new(&cfg, err, sizeof err); /* same allocator: fine */
  if (r2 == NULL) fail_msg("sl_dns_new: %s", err);
  sl_dns_free(r2);
  sl_dns_free(r);
  assert_int_equal(m_live, 0);
  assert_int_equal(nwatch, 0);
  /* the last one gone, libc's allocator is back */
  plain = resolver(&f, 300, 1, NULL);
  o = lookup(plain, &f, "v4.test");
  assert_int_equal(o.status, SL_DNS_OK);
  sl_dns_free(plain);
  assert_int_equal(m_live, 0);
  fake_close(&f);
}

static void test_ip_literal_and_format(void **state) {
  static const struct {
    const char *s, *ip;
  } lit[] = {
      {"127.0.0.1", "127.0.0.1"},
      {"127.1", "127.0.0.1"},
      {"0x7f.1", "127.0.0.1"},
      {"2130706433", "127.0.0.1"},
      {"017700000001", "127.0.0.1"},
      {"::1", "::1"},
      {"[::1]", "::1"},
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
      {"[2001:DB8::1]", "2001:db8::1"},
  };
  static const char *const names[] = {
      "example.com", "1.2.3.4.5", "",         "[example]", "[1.2.3.4]",
      "[::1",        "::1]",      "1.2.3.4 ", "0x",        "256.1.1.1.1",
  };
  char buf[SL_DNS_ADDRSTRLEN], tiny[8];
  sl_dns_addr a;
  (void)state;
  for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
    memset(&a, 0, sizeof a);
    if (!sl_dns_ip_literal(lit[i].s, &a))
      fail_msg("\"%s\" not a literal", lit[i].s);
    assert_string_equal(sl_dns_format(&a, -1, buf, sizeof buf), lit[i].ip);
  }
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (sl_dns_ip_literal(names[i], &a))
      fail_msg("\"%s\" taken as IP", names[i]);
  assert_false(sl_dns_ip_literal(NULL, NULL));
  assert_true(sl_dns_ip_literal("10.0.0.1", NULL));
  sl_dns_ip_literal("192.0.2.1", &a);
  assert_string_equal(sl_dns_format(&a, 443, buf, sizeof buf), "192.0.2.1:443");
  assert_string_equal(sl_dns_format(&a, 0, buf, sizeof buf), "192.0.2.1:0");
  assert_string_equal(sl_dns_format(&a, -1, tiny, sizeof tiny), "");
  sl_dns_ip_literal("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &a);
  assert_string_equal(sl_dns_format(&a, 65535, buf, sizeof buf),
                      "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  sl_dns_ip_literal("::ffff:255.255.255.255", &a);
  assert_string_equal(sl_dns_format(&a, 65535, buf, sizeof buf),
                      "[::ffff:255.255.255.255]:65535");
  sl_dns_ip_literal("2001:db8::1", &a);
  assert_string_equal(sl_dns_format(&a, 8443, buf, sizeof buf),
                      "[2001:db8::1]:8443");
  a.family = 12345;
  assert_string_equal(sl_dns_format(&a, -1, buf, sizeof buf), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a, setup, teardown),
      cmocka_unit_test(test_allocator),
      cmocka_unit_test_setup_teardown(test_aaaa, setup, teardown),
      cmocka_unit_test_setup_teardown(test_both, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cname_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_family_unanswered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_server_errors, setup, teardown),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_ipv6_server),
      cmocka_unit_test_setup_teardown(test_concurrent_and_cancel, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_many_lookups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_then_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hosts_file, setup, teardown),
      cmocka_unit_test(test_resolv_conf),
      cmocka_unit_test(test_names_are_absolute),
      cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
      cmocka_unit_test(test_parse_server),
      cmocka_unit_test(test_new_errors),
      cmocka_unit_test(test_ip_literal_and_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
