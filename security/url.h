/*
** url.h - WebSocket URLs and URL patterns, for `websocket.connect.url`.
**
** Provides to the policy engine and the WebSocket client: a strict parser
** that turns a requested URL into its canonical parts (the ones the client
** really connects to), a parser for URL patterns in policies, and a
** component-by-component matcher.  A URL is never compared as a raw string.
**
** Canonical form: scheme "ws" or "wss" (lower case); host lower case, one
** trailing dot removed, every numeric IPv4 form the resolver accepts
** ("127.1", "0x7f.0.0.1", "2130706433", "017700000001") rewritten as a dotted
** quad, IPv6 literals in RFC 5952 form (IPv4-mapped ones as their IPv4
** address); port explicit (80/443 by default); path with percent escapes
** normalised (unreserved characters decoded, hex digits upper case) and
** dot segments removed.  Refused (-EINVAL with a message): other schemes,
** userinfo, fragments, whitespace, control and non-ASCII characters,
** backslashes, percent escapes or other odd characters in the host,
** numeric-looking hosts that are not a valid address, empty labels, bad or
** zero ports, overlong URLs.  Plain C: no Lua, no I/O.
*/
#ifndef SL_SECURITY_URL_H
#define SL_SECURITY_URL_H

#include <stddef.h>

#include "ip.h"

#define POLICY_URL_MAX 2048   /* longest URL accepted, in bytes */
#define POLICY_HOST_MAX 253   /* longest host name */

/* A canonical URL.  All strings are NUL-terminated. */
typedef struct policy_url {
  char scheme[4];                      /* "ws" or "wss" */
  char host[POLICY_HOST_MAX + 1];      /* name, dotted quad or bare IPv6 */
  int host_ip;                         /* 0: name, 4 or 6: IP literal */
  policy_ip ip;                        /* the literal when host_ip != 0 */
  int port;                            /* 1..65535, always explicit */
  int tls;                             /* 1 for wss */
  char path[POLICY_URL_MAX + 1];       /* starts with '/' */
  char query[POLICY_URL_MAX + 1];      /* without '?'; "" when none */
  int has_query;
  char canonical[2 * POLICY_URL_MAX];  /* scheme://host:port/path?query */
} policy_url;

/*
** Parse and canonicalise the URL s.  Returns 0, or -EINVAL with a
** message in err saying what is wrong.
*/
int policy_url_parse(const char *s, policy_url *u, char *err, size_t errlen);

/* How a pattern names hosts. */
enum {
  POLICY_HOST_ANY,     /* "*" */
  POLICY_HOST_EXACT,   /* "chat.example.com", "10.0.0.1", "[::1]" */
  POLICY_HOST_SUFFIX   /* "*.example.com": subdomains only */
};

/*
** A URL pattern: scheme "ws", "wss" or "*"; host any, exact or
** "*.domain"; port number, any ("*"), or the scheme's default when
** omitted; path a glob ('*' matches any run of characters, '/' included),
** any path when omitted.  No userinfo, query or fragment.
*/
typedef struct policy_url_pattern {
  char scheme[4];                  /* "ws", "wss" or "*" */
  int host_kind;
  char host[POLICY_HOST_MAX + 2];  /* exact host, or ".domain" for SUFFIX */
  int host_ip;                     /* the exact host is an IP literal */
  policy_ip ip;                    /* that literal */
  int port;                        /* >0 exact, 0 any, -1 scheme's default */
  char *path;                      /* canonical glob; NULL matches any */
} policy_url_pattern;

/*
** Parse a pattern.  Returns 0, -EINVAL with a message, or -ENOMEM.  Free
** with policy_url_pattern_free.
*/
int policy_url_pattern_parse(const char *s, policy_url_pattern *p, char *err,
                             size_t errlen);
void policy_url_pattern_free(policy_url_pattern *p);

/* Whether the canonical URL u matches p, component by component. */
int policy_url_pattern_match(const policy_url_pattern *p, const policy_url *u);

/*
** Whether the pattern names this address (or loopback, for "localhost")
** explicitly: its host is that IP literal, or "localhost" and ip is a
** loopback address.  Used by the special-purpose address rule.
*/
int policy_url_pattern_names_ip(const policy_url_pattern *p,
                                const policy_ip *ip);

/* Glob match: '*' matches any run of characters (possibly empty). */
int policy_glob_match(const char *pattern, const char *s);

#endif
