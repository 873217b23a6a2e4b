/*
** ip.c - IP literals, the resolver's numeric IPv4 forms, CIDR blocks and
** the special-purpose address table.
*/
#include "ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int policy_ip_parse(const char *s, policy_ip *ip) {
  memset(ip, 0, sizeof *ip);
  if (strchr(s, ':') != NULL) {
    if (strchr(s, '%') != NULL) return -EINVAL;  /* zone ids */
    if (inet_pton(AF_INET6, s, ip->b) != 1) return -EINVAL;
    ip->family = 6;
    return 0;
  }
  /* Dotted quad, decimal, no leading zeros (inet_pton's rules). */
  if (inet_pton(AF_INET, s, ip->b) != 1) return -EINVAL;
  ip->family = 4;
  return 0;
}

/* One part of a numeric host: decimal, 0-octal or 0x-hex. */
static int parse_part(const char *s, size_t len, uint64_t *v) {
  uint64_t x = 0;
  unsigned base = 10;
  size_t i = 0;
  if (len == 0) return -EINVAL;
  if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    i = 2;
    if (len == 2) return -EINVAL;  /* "0x" alone: refuse, glibc reads 0 */
  } else if (len >= 2 && s[0] == '0') {
    base = 8;
    i = 1;
  }
  for (; i < len; i++) {
    unsigned d;
    char c = s[i];
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else return -EINVAL;
    if (d >= base) return -EINVAL;
    x = x * base + d;
    if (x > UINT32_MAX) return -EINVAL;
  }
  *v = x;
  return 0;
}

int policy_ipv4_parse_numeric(const char *s, size_t len, uint32_t *addr) {
  uint64_t part[4];
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      if (n == 4) return -EINVAL;
      if (parse_part(s + start, i - start, &part[n]) != 0) return -EINVAL;
      n++;
      start = i + 1;
    }
  }
  /* The last part fills what the earlier ones leave (a, a.b, a.b.c). */
  uint64_t v;
  switch (n) {
    case 1:
      v = part[0];
      break;
    case 2:
      if (part[0] > 0xff || part[1] > 0xffffff) return -EINVAL;
      v = part[0] << 24 | part[1];
      break;
    case 3:
      if (part[0] > 0xff || part[1] > 0xff || part[2] > 0xffff)
        return -EINVAL;
      v = part[0] << 24 | part[1] << 16 | part[2];
      break;
    default:
      if (part[0] > 0xff || part[1] > 0xff || part[2] > 0xff || part[3] > 0xff)
        return -EINVAL;
      v = part[0] << 24 | part[1] << 16 | part[2] << 8 | part[3];
      break;
  }
  *addr = (uint32_t)v;
  return 0;
}

void policy_ip_format(const policy_ip *ip, char *buf, size_t len) {
  if (len == 0) return;
  buf[0] = '\0';
  if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, buf,
                (socklen_t)len) == NULL)
    buf[0] = '\0';
}

int policy_cidr_parse(const char *s, policy_cidr *c, char *err,
                      size_t errlen) {
  char addr[POLICY_IP_STRLEN + 1];
  const char *slash = strchr(s, '/');
  size_t alen = slash ? (size_t)(slash - s) : strlen(s);
  memset(c, 0, sizeof *c);
  if (alen == 0 || alen >= sizeof addr) {
    snprintf(err, errlen, "invalid CIDR '%s': bad address", s);
    return -EINVAL;
  }
  memcpy(addr, s, alen);
  addr[alen] = '\0';
  if (policy_ip_parse(addr, &c->net) != 0) {
    snprintf(err, errlen, "invalid CIDR '%s': bad address", s);
    return -EINVAL;
  }
  int max = c->net.family == 4 ? 32 : 128;
  if (slash == NULL) {
    c->bits = max;
    return 0;
  }
  const char *p = slash + 1;
  int bits = 0;
  if (*p == '\0' || (p[0] == '0' && p[1] != '\0')) goto badlen;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') goto badlen;
    bits = bits * 10 + (*p - '0');
    if (bits > max) goto badlen;
  }
  c->bits = bits;
  for (int i = bits; i < max; i++) {
    if (c->net.b[i / 8] & (0x80 >> (i % 8))) {
      snprintf(err, errlen, "invalid CIDR '%s': host bits set after /%d", s,
               bits);
      return -EINVAL;
    }
  }
  return 0;
badlen:
  snprintf(err, errlen, "invalid CIDR '%s': prefix length must be 0..%d", s,
           max);
  return -EINVAL;
}

/* Whether the first `bits` bits of a and b agree. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits) {
  int full = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)full) != 0) return 0;
  if (rest == 0) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

static const uint8_t MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t NAT64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/* If ip is IPv6 carrying IPv4 in its last 32 bits (mapped or NAT64). */
static int embedded_v4(const policy_ip *ip, uint8_t v4[4]) {
  if (ip->family != 6) return 0;
  if (memcmp(ip->b, MAPPED, 12) != 0 && memcmp(ip->b, NAT64, 12) != 0)
    return 0;
  memcpy(v4, ip->b + 12, 4);
  return 1;
}

int policy_cidr_contains(const policy_cidr *c, const policy_ip *ip) {
  if (c->net.family == ip->family)
    return prefix_eq(c->net.b, ip->b, c->bits);
  uint8_t v4[4];
  if (c->net.family == 4 && embedded_v4(ip, v4))
    return prefix_eq(c->net.b, v4, c->bits);
  return 0;
}

typedef struct range {
  uint8_t b[16];
  int bits;
  const char *name;
} range;

/* IANA IPv4 special-purpose registry, the parts not globally reachable. */
static const range V4[] = {
  {{0, 0, 0, 0}, 8, "unspecified (this network)"},
  {{10, 0, 0, 0}, 8, "private"},
  {{100, 64, 0, 0}, 10, "carrier-grade NAT"},
  {{127, 0, 0, 0}, 8, "loopback"},
  {{169, 254, 0, 0}, 16, "link-local"},
  {{172, 16, 0, 0}, 12, "private"},
  {{192, 0, 0, 0}, 24, "IETF protocol assignments"},
  {{192, 0, 2, 0}, 24, "documentation"},
  {{192, 88, 99, 0}, 24, "6to4 relay anycast"},
  {{192, 168, 0, 0}, 16, "private"},
  {{198, 18, 0, 0}, 15, "benchmarking"},
  {{198, 51, 100, 0}, 24, "documentation"},
  {{203, 0, 113, 0}, 24, "documentation"},
  {{224, 0, 0, 0}, 4, "multicast"},
  {{255, 255, 255, 255}, 32, "broadcast"},
  {{240, 0, 0, 0}, 4, "reserved"},
};

static const range V6[] = {
  {{0}, 128, "unspecified"},
  {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
  {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, "NAT64 local-use"},
  {{0x01, 0x00}, 64, "discard-only"},
  {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
  {{0x20, 0x01, 0x00, 0x00}, 23, "IETF protocol assignments"},
  {{0xfc}, 7, "unique-local"},
  {{0xfe, 0x80}, 10, "link-local"},
  {{0xfe, 0xc0}, 10, "site-local"},
  {{0xff}, 8, "multicast"},
};

static const char *lookup(const range *t, size_t n, const uint8_t *b) {
  for (size_t i = 0; i < n; i++)
    if (prefix_eq(t[i].b, b, t[i].bits)) return t[i].name;
  return NULL;
}

const char *policy_ip_special(const policy_ip *ip) {
  if (ip->family == 4) return lookup(V4, sizeof V4 / sizeof V4[0], ip->b);
  const char *name = lookup(V6, sizeof V6 / sizeof V6[0], ip->b);
  if (name) return name;
  uint8_t v4[4];
  static const uint8_t ZERO[12] = {0};
  if (embedded_v4(ip, v4) || memcmp(ip->b, ZERO, 12) == 0) {
    /* IPv4-mapped, NAT64 or IPv4-compatible (::a.b.c.d, deprecated). */
    if (memcmp(ip->b, ZERO, 12) == 0) return "IPv4-compatible (deprecated)";
    return lookup(V4, sizeof V4 / sizeof V4[0], ip->b + 12);
  }
  if (ip->b[0] == 0x20 && ip->b[1] == 0x02)  /* 6to4: 2002:a.b.c.d::/48 */
    return lookup(V4, sizeof V4 / sizeof V4[0], ip->b + 2);
  return NULL;
}
