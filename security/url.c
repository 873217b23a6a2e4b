/*
** url.c - parsing, canonicalisation and matching of WebSocket URLs and URL
** patterns.  One parser serves both; the pattern mode adds the wildcards.
*/
#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/errbuf.h"

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int unreserved(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

/* The parts of a URL or pattern before canonicalisation. */
typedef struct parsed {
  char scheme[4];
  int host_kind;
  char host[POLICY_HOST_MAX + 2];
  int host_ip;
  policy_ip ip;
  int port;  /* >0, 0 any ("*"), -1 none given */
  char path[POLICY_URL_MAX + 1];
  int has_path;
  char query[POLICY_URL_MAX + 1];
  int has_query;
} parsed;

/*
** Copy s[0..len) into out with percent escapes checked and normalised
** (unreserved characters decoded, other escapes upper-case).
*/
static int norm_escapes(const char *s, size_t len, char *out, size_t outlen,
                        const char *what, char *err, size_t errlen) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (strchr("\"<>`{}|^", c) != NULL)
      return sl_errf(err, errlen, -EINVAL, "invalid character '%c' in %s", c,
                     what);
    if (o + 4 > outlen)
      return sl_errf(err, errlen, -EINVAL, "%s too long", what);
    if (c != '%') {
      out[o++] = (char)c;
      continue;
    }
    int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return sl_errf(err, errlen, -EINVAL, "invalid percent escape in %s",
                     what);
    int v = hi * 16 + lo;
    /* Escapes a server may decode into something the match did not see: a
    ** NUL (which ends strings), and in a path a separator ("/public/..%2F
    ** admin" would pass "/public/ *" and reach /admin). */
    if (v == 0)
      return sl_errf(err, errlen, -EINVAL, "encoded NUL (%%00) in %s", what);
    if (strcmp(what, "path") == 0 && (v == '/' || v == '\\'))
      return sl_errf(err, errlen, -EINVAL, "encoded '%c' (%%%c%c) in path: "
                     "a server may decode it into a separator", v,
                     "0123456789ABCDEF"[hi], "0123456789ABCDEF"[lo]);
    if (unreserved(v)) {
      out[o++] = (char)v;
    } else {
      out[o++] = '%';
      out[o++] = "0123456789ABCDEF"[hi];
      out[o++] = "0123456789ABCDEF"[lo];
    }
    i += 2;
  }
  out[o] = '\0';
  return 0;
}

/* Remove "." and ".." segments (RFC 3986 5.2.4) from a path starting
** with '/', in place. */
static void remove_dots(char *path) {
  char out[POLICY_URL_MAX + 1];
  size_t o = 0;
  int trailing = 0;
  const char *p = path + 1;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    int last = slash == NULL;
    if (n == 1 && p[0] == '.') {
      if (last) trailing = 1;
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;  /* the '/' before the removed segment */
      if (last) trailing = 1;
    } else {
      out[o++] = '/';
      memcpy(out + o, p, n);
      o += n;
      if (last) trailing = 0;
    }
    if (last) break;
    p = slash + 1;
  }
  if (o == 0 || (trailing && out[o - 1] != '/')) out[o++] = '/';
  out[o] = '\0';
  memcpy(path, out, o + 1);
}

/* Whether a host label looks like a number (WHATWG "ends in a number"). */
static int numeric_label(const char *s, size_t n) {
  if (n == 0) return 0;
  size_t i = 0;
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (i = 2; i < n; i++)
      if (hexval((unsigned char)s[i]) < 0) return 0;
    return 1;
  }
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* Canonicalise a host name (not bracketed) into out; sets the IP if it is
** a numeric IPv4 form. */
static int parse_name(const char *s, size_t n, parsed *r, char *err,
                      size_t errlen) {
  char h[POLICY_HOST_MAX + 2];
  if (n == 0) return sl_errf(err, errlen, -EINVAL, "empty host");
  if (n > POLICY_HOST_MAX + 1)
    return sl_errf(err, errlen, -EINVAL, "host too long");
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%')
      return sl_errf(err, errlen, -EINVAL,
                     "percent-encoded host is not allowed");
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return sl_errf(err, errlen, -EINVAL, "invalid character '%c' in host", c);
    h[i] = (char)lower(c);
  }
  h[n] = '\0';
  if (n > 1 && h[n - 1] == '.') h[--n] = '\0';  /* one trailing dot */
  if (n > POLICY_HOST_MAX)
    return sl_errf(err, errlen, -EINVAL, "host too long");
  /* Labels: non-empty, at most 63 characters. */
  const char *label = h, *last = h;
  for (const char *p = h;; p++) {
    if (*p == '.' || *p == '\0') {
      size_t len = (size_t)(p - label);
      if (len == 0)
        return sl_errf(err, errlen, -EINVAL, "empty label in host '%s'", h);
      if (len > 63)
        return sl_errf(err, errlen, -EINVAL, "host label longer than 63");
      last = label;
      if (*p == '\0') break;
      label = p + 1;
    }
  }
  uint32_t v4;
  if (policy_ipv4_parse_numeric(h, n, &v4) == 0) {
    r->host_ip = 4;
    r->ip.family = 4;
    r->ip.b[0] = (uint8_t)(v4 >> 24);
    r->ip.b[1] = (uint8_t)(v4 >> 16);
    r->ip.b[2] = (uint8_t)(v4 >> 8);
    r->ip.b[3] = (uint8_t)v4;
    policy_ip_format(&r->ip, r->host, sizeof r->host);
    return 0;
  }
  if (numeric_label(last, strlen(last)))
    return sl_errf(err, errlen, -EINVAL, "ambiguous numeric host '%s'", h);
  memcpy(r->host, h, n + 1);
  return 0;
}

static int parse_bracketed(const char *s, size_t n, parsed *r, char *err,
                           size_t errlen) {
  char h[POLICY_IP_STRLEN + 1];
  if (memchr(s, '%', n) != NULL)
    return sl_errf(err, errlen, -EINVAL, "IPv6 zone id is not allowed");
  if (n == 0 || n >= sizeof h)
    return sl_errf(err, errlen, -EINVAL, "invalid IPv6 address");
  memcpy(h, s, n);
  h[n] = '\0';
  if (memchr(h, ':', n) == NULL || policy_ip_parse(h, &r->ip) != 0)
    return sl_errf(err, errlen, -EINVAL, "invalid IPv6 address '%s'", h);
  static const uint8_t MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(r->ip.b, MAPPED, 12) == 0) { /* the IPv4 host it reaches */
    r->ip.family = 4;
    memmove(r->ip.b, r->ip.b + 12, 4);
    memset(r->ip.b + 4, 0, 12);
  }
  r->host_ip = r->ip.family;
  policy_ip_format(&r->ip, r->host, sizeof r->host);
  return 0;
}

static int parse_any(const char *s, parsed *r, int pattern, char *err,
                     size_t errlen) {
  /* Field by field: the path and query buffers are large. */
  r->scheme[0] = r->host[0] = r->path[0] = r->query[0] = '\0';
  r->host_kind = r->host_ip = r->has_path = r->has_query = 0;
  memset(&r->ip, 0, sizeof r->ip);
  size_t len = strlen(s);
  if (len > POLICY_URL_MAX)
    return sl_errf(err, errlen, -EINVAL, "URL longer than %d bytes",
                   POLICY_URL_MAX);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
        c == '\v')
      return sl_errf(err, errlen, -EINVAL, "whitespace at offset %zu", i);
    if (c < 0x20 || c == 0x7f)
      return sl_errf(err, errlen, -EINVAL, "control character at offset %zu",
                     i);
    if (c >= 0x80)
      return sl_errf(err, errlen, -EINVAL,
                     "non-ASCII character at offset %zu (write host names "
                     "in their xn-- form)",
                     i);
    if (c == '\\')
      return sl_errf(err, errlen, -EINVAL, "backslash at offset %zu", i);
    if (c == '#')
      return sl_errf(err, errlen, -EINVAL, "fragment (#) is not allowed");
  }
  /* Scheme. */
  const char *sep = strstr(s, "://");
  size_t sl = sep ? (size_t)(sep - s) : 0;
  if (sep == NULL || sl == 0)
    return sl_errf(err, errlen, -EINVAL, "not an absolute ws:// or wss:// URL");
  char scheme[8];
  if (sl >= sizeof scheme) goto badscheme;
  for (size_t i = 0; i < sl; i++) scheme[i] = (char)lower((unsigned char)s[i]);
  scheme[sl] = '\0';
  if (strcmp(scheme, "ws") != 0 && strcmp(scheme, "wss") != 0 &&
      !(pattern && strcmp(scheme, "*") == 0))
    goto badscheme;
  memcpy(r->scheme, scheme, sl + 1);
  /* Authority: up to the path or the query. */
  const char *a = sep + 3;
  size_t al = strcspn(a, "/?");
  if (memchr(a, '@', al) != NULL)
    return sl_errf(err, errlen, -EINVAL, "userinfo (user@host) is not allowed");
  const char *portp = NULL;
  size_t hl;
  if (al > 0 && a[0] == '[') {
    const char *close = memchr(a, ']', al);
    if (close == NULL)
      return sl_errf(err, errlen, -EINVAL, "unclosed '[' in host");
    int rc = parse_bracketed(a + 1, (size_t)(close - a - 1), r, err, errlen);
    if (rc != 0) return rc;
    const char *after = close + 1;
    if (after < a + al) {
      if (*after != ':')
        return sl_errf(err, errlen, -EINVAL, "junk after IPv6 address");
      portp = after + 1;
    }
    r->host_kind = POLICY_HOST_EXACT;
  } else {
    const char *colon = memchr(a, ':', al);
    hl = colon ? (size_t)(colon - a) : al;
    if (colon) {
      if (memchr(colon + 1, ':', al - hl - 1) != NULL)
        return sl_errf(err, errlen, -EINVAL,
                       "invalid host (IPv6 needs brackets)");
      portp = colon + 1;
    }
    if (pattern && hl == 1 && a[0] == '*') {
      r->host_kind = POLICY_HOST_ANY;
    } else if (pattern && hl > 2 && a[0] == '*' && a[1] == '.') {
      int rc = parse_name(a + 2, hl - 2, r, err, errlen);
      if (rc != 0) return rc;
      if (r->host_ip)
        return sl_errf(err, errlen, -EINVAL,
                       "'*.' cannot precede an IP address");
      size_t n = strlen(r->host);
      memmove(r->host + 1, r->host, n + 1);
      r->host[0] = '.';
      r->host_kind = POLICY_HOST_SUFFIX;
    } else {
      if (memchr(a, '*', hl) != NULL)
        return sl_errf(err, errlen, -EINVAL, "%s",
                       pattern ? "'*' in a host must be the whole host or a "
                                 "leading '*.' label"
                               : "invalid character '*' in host");
      int rc = parse_name(a, hl, r, err, errlen);
      if (rc != 0) return rc;
      r->host_kind = POLICY_HOST_EXACT;
    }
  }
  /* Port. */
  r->port = -1;
  if (portp != NULL) {
    const char *end = a + al;
    size_t pl = (size_t)(end - portp);
    if (pl == 0) return sl_errf(err, errlen, -EINVAL, "empty port");
    if (pattern && pl == 1 && portp[0] == '*') {
      r->port = 0;
    } else {
      long v = 0;
      for (size_t i = 0; i < pl; i++) {
        if (portp[i] < '0' || portp[i] > '9' || i >= 5)
          return sl_errf(err, errlen, -EINVAL, "invalid port '%.*s'", (int)pl,
                         portp);
        v = v * 10 + (portp[i] - '0');
      }
      if (v < 1 || v > 65535)
        return sl_errf(err, errlen, -EINVAL, "port %ld out of range 1..65535",
                       v);
      r->port = (int)v;
    }
  }
  /* Path and query. */
  const char *p = a + al;
  size_t pl = strcspn(p, "?");
  if (pl > 0) {
    int rc = norm_escapes(p, pl, r->path, sizeof r->path, "path", err, errlen);
    if (rc != 0) return rc;
    remove_dots(r->path);
    r->has_path = 1;
  } else {
    strcpy(r->path, "/");
  }
  if (p[pl] == '?') {
    if (pattern)
      return sl_errf(err, errlen, -EINVAL, "a URL pattern cannot have a query");
    const char *q = p + pl + 1;
    int rc = norm_escapes(q, strlen(q), r->query, sizeof r->query, "query", err,
                          errlen);
    if (rc != 0) return rc;
    r->has_query = 1;
  }
  return 0;
badscheme:
  return sl_errf(err, errlen, -EINVAL, "unsupported scheme '%.*s' (ws or wss)",
                 (int)(sl > 16 ? 16 : sl), s);
}

/* Append n bytes of s at *o in buf (size len); -1 when it does not fit. */
static int put(char *buf, size_t len, size_t *o, const char *s, size_t n) {
  if (*o + n >= len) return -1;
  memcpy(buf + *o, s, n);
  *o += n;
  return 0;
}

int policy_url_parse(const char *s, policy_url *u, char *err, size_t errlen) {
  parsed r;
  u->canonical[0] = '\0';
  int rc = parse_any(s, &r, 0, err, errlen);
  if (rc != 0) return rc;
  memcpy(u->scheme, r.scheme, sizeof u->scheme);
  size_t hl = strlen(r.host), pl = strlen(r.path), ql = strlen(r.query);
  memcpy(u->host, r.host, hl + 1);
  u->host_ip = r.host_ip;
  u->ip = r.ip;
  u->tls = strcmp(r.scheme, "wss") == 0;
  u->port = r.port > 0 ? r.port : (u->tls ? 443 : 80);
  memcpy(u->path, r.path, pl + 1);
  memcpy(u->query, r.query, ql + 1);
  u->has_query = r.has_query;
  char port[8];
  int portlen = snprintf(port, sizeof port, ":%d", u->port);
  size_t o = 0, cl = sizeof u->canonical;
  char *c = u->canonical;
  if (put(c, cl, &o, u->scheme, strlen(u->scheme)) ||
      put(c, cl, &o, "://[", u->host_ip == 6 ? 4 : 3) ||
      put(c, cl, &o, u->host, hl) ||
      put(c, cl, &o, "]", u->host_ip == 6) ||
      put(c, cl, &o, port, (size_t)portlen) || put(c, cl, &o, u->path, pl) ||
      put(c, cl, &o, "?", (size_t)u->has_query) ||
      put(c, cl, &o, u->query, ql))
    return sl_errf(err, errlen, -EINVAL, "URL too long");
  c[o] = '\0';
  return 0;
}

int policy_url_pattern_parse(const char *s, policy_url_pattern *p, char *err,
                             size_t errlen) {
  parsed *r = malloc(sizeof *r);
  memset(p, 0, sizeof *p);
  if (r == NULL) return -ENOMEM;
  int rc = parse_any(s, r, 1, err, errlen);
  if (rc == 0) {
    memcpy(p->scheme, r->scheme, sizeof p->scheme);
    p->host_kind = r->host_kind;
    memcpy(p->host, r->host, sizeof p->host);
    p->host_ip = r->host_ip;
    p->ip = r->ip;
    p->port = r->port;
    /* No path, or the path "/" followed by "*", matches every path. */
    if (r->has_path && strcmp(r->path, "/*") != 0) {
      p->path = strdup(r->path);
      if (p->path == NULL) rc = -ENOMEM;
    }
  }
  free(r);
  return rc;
}

void policy_url_pattern_free(policy_url_pattern *p) {
  free(p->path);
  p->path = NULL;
}

int policy_glob_match(const char *pat, const char *s) {
  const char *star = NULL, *resume = NULL;
  while (*s) {
    if (*pat == '*') {
      star = ++pat;
      resume = s;
    } else if (*pat == *s) {
      pat++;
      s++;
    } else if (star) {
      pat = star;
      s = ++resume;
    } else {
      return 0;
    }
  }
  while (*pat == '*') pat++;
  return *pat == '\0';
}

int policy_url_pattern_match(const policy_url_pattern *p, const policy_url *u) {
  if (p->scheme[0] != '*' && strcmp(p->scheme, u->scheme) != 0) return 0;
  switch (p->host_kind) {
    case POLICY_HOST_EXACT:
      if (strcmp(p->host, u->host) != 0) return 0;
      break;
    case POLICY_HOST_SUFFIX: {
      size_t hl = strlen(u->host), sl = strlen(p->host);
      if (u->host_ip || hl <= sl || strcmp(u->host + hl - sl, p->host) != 0)
        return 0;
      break;
    }
    default:
      break;
  }
  if (p->port > 0) {
    if (p->port != u->port) return 0;
  } else if (p->port < 0) {
    if (u->port != (u->tls ? 443 : 80)) return 0;
  }
  return p->path == NULL || policy_glob_match(p->path, u->path);
}

int policy_url_pattern_names_ip(const policy_url_pattern *p,
                                const policy_ip *ip) {
  if (p->host_kind != POLICY_HOST_EXACT) return 0;
  if (p->host_ip) {
    policy_cidr one;
    one.net = p->ip;
    one.bits = p->ip.family == 4 ? 32 : 128;
    return policy_cidr_contains(&one, ip);
  }
  if (strcmp(p->host, "localhost") == 0) {
    const char *kind = policy_ip_special(ip);
    return kind != NULL && strcmp(kind, "loopback") == 0;
  }
  return 0;
}
