/*
** ip.h - IP addresses and CIDR blocks for the policy engine.
**
** Provides to security/ (URL canonicalisation, the `cidr` operator, the
** special-purpose address rule) and to the WebSocket client (through
** stdlib/security.c): strict parsing of IPv4 and IPv6 literals, parsing of
** every numeric IPv4 form the C resolver accepts ("127.1", "0x7f.1",
** "2130706433", ...), CIDR blocks and membership, and the classification of
** special-purpose addresses (loopback, private, link-local, ...).
** Plain C: no Lua, no I/O.
*/
#ifndef SL_SECURITY_IP_H
#define SL_SECURITY_IP_H

#include <stddef.h>
#include <stdint.h>

/* An address: family 4 (bytes 0..3 used) or 6 (bytes 0..15). */
typedef struct policy_ip {
  int family;
  uint8_t b[16];
} policy_ip;

/* A block: the network address (host bits cleared) and its prefix length. */
typedef struct policy_cidr {
  policy_ip net;
  int bits;
} policy_cidr;

/* Longest text form of an address, with its terminating NUL. */
#define POLICY_IP_STRLEN 46

/*
** Parse a literal in its canonical-looking forms only: an IPv4 dotted quad
** of four decimal numbers (no leading zeros), or an IPv6 address
** (inet_pton syntax, no zone id, no brackets).  Returns 0 or -EINVAL.
*/
int policy_ip_parse(const char *s, policy_ip *ip);

/*
** Parse a host name the way inet_aton (and so getaddrinfo) reads numeric
** IPv4 hosts: one to four parts separated by dots, each decimal, octal
** (leading 0) or hexadecimal (0x); the last part fills the remaining bytes.
** Returns 0 with the address in host byte order in *addr, or -EINVAL when
** the text is not such a number (including on overflow).
*/
int policy_ipv4_parse_numeric(const char *s, size_t len, uint32_t *addr);

/* Write the canonical text form (dotted quad, RFC 5952 IPv6). */
void policy_ip_format(const policy_ip *ip, char *buf, size_t len);

/*
** Parse "addr/bits" or a bare address (a block of one).  The address must
** have no bits set beyond the prefix.  Returns 0 or -EINVAL with a message
** in err.
*/
int policy_cidr_parse(const char *s, policy_cidr *c, char *err, size_t errlen);

/*
** Whether ip is inside c.  An IPv4 block also contains the IPv4-mapped
** (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms of its addresses,
** since a connection to those reaches the same host.
*/
int policy_cidr_contains(const policy_cidr *c, const policy_ip *ip);

/*
** The special-purpose range ip belongs to ("loopback", "private",
** "link-local", "carrier-grade NAT", "unique-local", "multicast",
** "unspecified", ...), or NULL for an ordinary global address.  IPv4
** addresses embedded in IPv6 (IPv4-mapped, IPv4-compatible, NAT64, 6to4)
** are classified by the IPv4 address they carry.
*/
const char *policy_ip_special(const policy_ip *ip);

#endif
