/*
** wsp_handshake.c - the opening handshake (RFC 6455 §4.1, §4.2.2): build
** the client's request from validated options, then check the server's
** response (status 101, Upgrade, Connection, Sec-WebSocket-Accept,
** subprotocol and extensions as offered, bounded header block).
*/
#include "wsp_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static void wsp__key_base64(const uint8_t key[16], char out[25]) {
  EVP_EncodeBlock((unsigned char *)out, key, 16);
}

/*
** SHA-1 fetched once: SHA1() and EVP_Q_digest() look the algorithm up in
** OpenSSL's provider store on every call, which cost more than the hash
** itself (a third of the handshake's CPU time).
*/
static EVP_MD *sha1_md;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void sha1_fetch(void) {
  sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

int wsp__accept_for_key(const char *key, char out[29]) {
  unsigned char md[SHA_DIGEST_LENGTH];
  char buf[64];
  size_t kl = strlen(key);
  if (kl + sizeof GUID > sizeof buf) return -1;
  memcpy(buf, key, kl);
  memcpy(buf + kl, GUID, sizeof GUID - 1);
  pthread_once(&sha1_once, sha1_fetch);
  if (sha1_md == NULL ||
      !EVP_Digest(buf, kl + sizeof GUID - 1, md, NULL, sha1_md, NULL))
    return -1;
  EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
  return 0;
}

static int tchar(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
         (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int wsp__is_token(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!tchar((unsigned char)s[i])) return 0;
  return 1;
}

/* Append to the request being built. */
static int append(struct wsp_conn *c, const char *s, size_t n) {
  wsp__buf *b = &c->request;
  if (wsp__buf_reserve(b, n, c->alloc) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

static int appendf(struct wsp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int appendf(struct wsp_conn *c, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) return -1;
  return append(c, tmp, (size_t)n);
}

/* Host: a reg-name, IPv4 address or IPv6 literal (brackets optional). */
static int valid_host(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 255) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)h[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
          (ch >= 'A' && ch <= 'Z') || strchr("-._~%!$&'()*+,;=:[]", ch)))
      return 0;
  }
  return 1;
}

/* Request target: visible ASCII starting with '/'. */
static int valid_path(const char *p) {
  if (p[0] != '/') return 0;
  for (; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return 0;
  return 1;
}

/* Header value: no CTL but HTAB (so no CR, LF, NUL), no leading or
** trailing whitespace; obs-text bytes are let through. */
static int valid_value(const char *v) {
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return 0;
  }
  return n == 0 ||
         (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t');
}

/* Headers the handshake sets itself, or that would change the request's
** framing: a caller may not add or override them. */
static int reserved_header(const char *name) {
  static const char *const names[] = {
      "host",           "upgrade",           "connection",
      "content-length", "transfer-encoding", NULL};
  for (int i = 0; names[i]; i++)
    if (strcasecmp(name, names[i]) == 0) return 1;
  return strncasecmp(name, "sec-websocket-", 14) == 0;
}

int wsp__build_request(struct wsp_conn *c, const wsp_options *o, char *err,
                       size_t errlen) {
  const char *path = o->path ? o->path : "/";
  int port = o->port ? o->port : (o->is_tls ? 443 : 80);
  uint8_t key[16];
  char key64[25], ext[160];

  if (!o->host || !valid_host(o->host)) {
    return sl_errf(err, errlen, -EINVAL, "invalid host \"%s\"",
                   o->host ? o->host : "(null)");
  }
  if (!valid_path(path) || strlen(path) > 8192) {
    return sl_errf(
        err, errlen, -EINVAL,
        "invalid path \"%.64s\": must start with '/', visible ASCII only",
        path);
  }
  if (o->port < 0 || o->port > 65535) {
    return sl_errf(err, errlen, -EINVAL, "invalid port %d (1-65535)", o->port);
  }
  for (size_t i = 0; i < o->nsubprotocols; i++) {
    const char *s = o->subprotocols[i];
    if (!s || !wsp__is_token(s, strlen(s))) {
      return sl_errf(err, errlen, -EINVAL,
                     "invalid subprotocol \"%s\": must be a token",
                     s ? s : "(null)");
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(s, o->subprotocols[j]) == 0) {
        return sl_errf(err, errlen, -EINVAL, "subprotocol \"%s\" listed twice",
                       s);
      }
  }
  for (size_t i = 0; i < o->nheaders; i++) {
    const wsp_header *h = &o->headers[i];
    if (!h->name || !wsp__is_token(h->name, strlen(h->name))) {
      return sl_errf(err, errlen, -EINVAL, "invalid header name \"%s\"",
                     h->name ? h->name : "(null)");
    }
    if (reserved_header(h->name)) {
      return sl_errf(err, errlen, -EINVAL,
                     "header \"%s\" is set by the handshake itself", h->name);
    }
    if (!h->value || !valid_value(h->value)) {
      return sl_errf(
          err, errlen, -EINVAL,
          "invalid value for header \"%s\": control characters (CR, LF, "
          "NUL) or surrounding whitespace",
          h->name);
    }
  }

  if (wsp__rng_bytes(key, sizeof key) != 0) {
    return sl_errf(err, errlen, -EIO, "no random bytes for Sec-WebSocket-Key");
  }
  wsp__key_base64(key, key64);
  if (wsp__accept_for_key(key64, c->accept) != 0) {
    return sl_errf(err, errlen, -EIO, "SHA-1 failed");
  }

  int ipv6 = strchr(o->host, ':') && o->host[0] != '[';
  int rc = append(c, "GET ", 4) | append(c, path, strlen(path)) |
           append(c, " HTTP/1.1\r\nHost: ", 17) |
           (ipv6 ? append(c, "[", 1) : 0) |
           append(c, o->host, strlen(o->host)) | (ipv6 ? append(c, "]", 1) : 0);
  if (port != (o->is_tls ? 443 : 80)) rc |= appendf(c, ":%d", port);
  rc |= appendf(c,
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                key64);
  if (o->nsubprotocols) {
    rc |= append(c, "Sec-WebSocket-Protocol: ", 24);
    for (size_t i = 0; i < o->nsubprotocols; i++) {
      if (i) rc |= append(c, ", ", 2);
      rc |= append(c, o->subprotocols[i], strlen(o->subprotocols[i]));
    }
    rc |= append(c, "\r\n", 2);
  }
  if (o->compression != WSP_COMPRESS_NONE) {
    if (wsp__pmd_offer(ext, sizeof ext, o->compression,
                       o->server_max_window_bits) != 0)
      rc = -1;
    else
      rc |= appendf(c, "Sec-WebSocket-Extensions: %s\r\n", ext);
  }
  for (size_t i = 0; i < o->nheaders; i++) {
    const wsp_header *h = &o->headers[i];
    rc |= append(c, h->name, strlen(h->name)) | append(c, ": ", 2) |
          append(c, h->value, strlen(h->value)) | append(c, "\r\n", 2);
  }
  rc |= append(c, "\r\n\0", 3); /* NUL-terminated, not counted */
  if (rc != 0) {
    return sl_errf(err, errlen, -ENOMEM, "out of memory");
  }
  c->request.len--;
  if (c->request.len > WSP_MAX_REQUEST)
    return sl_errf(err, errlen, -EINVAL,
                   "the handshake request would be %zu bytes, over the cap "
                   "of %d (headers, protocols and path together)",
                   c->request.len, WSP_MAX_REQUEST);
  return 0;
}

/* ---- the response --------------------------------------------------- */

static wsp_hs_status hs_fail(struct wsp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static wsp_hs_status hs_fail(struct wsp_conn *c, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wsp__free(c->alloc, c->hs_error);
  c->hs_error = wsp__strdup(c->alloc, msg);
  c->info.error =
      c->hs_error ? c->hs_error : "handshake failed (out of memory)";
  c->state = WSP_CLOSED;
  return WSP_HS_FAIL;
}

/* Does the comma-separated list v contain token t (case-insensitive)? */
static int list_has(const char *v, const char *t) {
  size_t tl = strlen(t);
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *s = p;
    while (*p && *p != ',') p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - s) == tl && strncasecmp(s, t, tl) == 0) return 1;
  }
  return 0;
}

/* Join a repeated header's values with ", " (RFC 9110 §5.3). */
static int join(char **dst, const char *v, wsp__alloc_fn al) {
  if (!*dst) return (*dst = wsp__strdup(al, v)) ? 0 : -1;
  size_t a = strlen(*dst), n = strlen(v);
  char *p = wsp__realloc(al, *dst, a + n + 3);
  if (!p) return -1;
  memcpy(p + a, ", ", 2);
  memcpy(p + a + 2, v, n + 1);
  *dst = p;
  return 0;
}

/* Find the end of the header block in b (after the empty line); 0 if the
** block is not complete.  Lines end in CRLF or a bare LF. */
static size_t block_end(const uint8_t *p, size_t n, size_t from) {
  for (size_t i = from > 2 ? from - 3 : 0; i < n; i++) {
    if (p[i] != '\n') continue;
    if (i + 1 < n && p[i + 1] == '\n') return i + 2;
    if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') return i + 3;
  }
  return 0;
}

static wsp_hs_status check_response(struct wsp_conn *c, char *block, size_t n) {
  char *upgrade = NULL, *connection = NULL, *accept = NULL, *proto = NULL,
       *exts = NULL, *location = NULL;
  int n_accept = 0, n_proto = 0, n_location = 0, oom = 0;
  wsp_hs_status rc;
  char *line = block, *end = block + n;

  /* Status line: HTTP/1.1 SP 3DIGIT SP reason */
  char *eol = memchr(line, '\n', (size_t)(end - line));
  *eol = '\0';
  if (eol > line && eol[-1] == '\r') eol[-1] = '\0';
  if (strncmp(line, "HTTP/1.1 ", 9) != 0 ||
      !(line[9] >= '1' && line[9] <= '5') ||
      !(line[10] >= '0' && line[10] <= '9') ||
      !(line[11] >= '0' && line[11] <= '9') ||
      (line[12] != ' ' && line[12] != '\0'))
    return hs_fail(c, "malformed status line \"%.60s\"", line);
  c->info.status =
      (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  for (char *q = line + 12; *q; q++)
    if ((unsigned char)*q < 0x20 && *q != '\t')
      return hs_fail(c, "control character in status line");

  for (line = eol + 1; line < end; line = eol + 1) {
    eol = memchr(line, '\n', (size_t)(end - line));
    *eol = '\0';
    if (eol > line && eol[-1] == '\r') eol[-1] = '\0';
    if (line[0] == '\0') break; /* the empty line */
    char *colon = strchr(line, ':');
    if (line[0] == ' ' || line[0] == '\t') {
      rc = hs_fail(c, "obsolete header line folding");
      goto out;
    }
    if (!colon || !wsp__is_token(line, (size_t)(colon - line))) {
      rc = hs_fail(c, "malformed header line \"%.60s\"", line);
      goto out;
    }
    *colon = '\0';
    char *v = colon + 1, *ve;
    while (*v == ' ' || *v == '\t') v++;
    ve = v + strlen(v);
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) *--ve = '\0';
    for (char *q = v; *q; q++)
      if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
        rc = hs_fail(c, "control character in header %s", line);
        goto out;
      }
    if (strcasecmp(line, "Upgrade") == 0)
      oom |= join(&upgrade, v, c->alloc);
    else if (strcasecmp(line, "Connection") == 0)
      oom |= join(&connection, v, c->alloc);
    else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0)
      n_accept++, oom |= join(&accept, v, c->alloc);
    else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0)
      n_proto++, oom |= join(&proto, v, c->alloc);
    else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0)
      oom |= join(&exts, v, c->alloc);
    else if (strcasecmp(line, "Location") == 0)
      n_location++, oom |= join(&location, v, c->alloc);
  }
  if (oom) {
    rc = hs_fail(c, "out of memory");
    goto out;
  }
  if (c->info.status != 101) {
    if (c->info.status >= 300 && c->info.status < 400 && n_location == 1) {
      c->hs_location = location;
      c->info.location = location;
      location = NULL;
      rc = hs_fail(c, "server answered %d (redirect to %.120s, not followed)",
                   c->info.status, c->info.location);
    } else {
      rc = hs_fail(c, "server answered %d, not 101 Switching Protocols",
                   c->info.status);
    }
    goto out;
  }
  if (!upgrade || !list_has(upgrade, "websocket")) {
    rc = hs_fail(c, "missing \"Upgrade: websocket\"");
    goto out;
  }
  if (!connection || !list_has(connection, "upgrade")) {
    rc = hs_fail(c, "missing \"Connection: Upgrade\"");
    goto out;
  }
  if (n_accept != 1 || strcmp(accept, c->accept) != 0) {
    rc = hs_fail(c, n_accept == 0  ? "missing Sec-WebSocket-Accept"
                    : n_accept > 1 ? "repeated Sec-WebSocket-Accept"
                                   : "wrong Sec-WebSocket-Accept");
    goto out;
  }
  if (proto) {
    size_t i;
    for (i = 0; i < c->nsubprotocols; i++)
      if (strcmp(proto, c->subprotocols[i]) == 0) break;
    if (n_proto != 1 || i == c->nsubprotocols) {
      rc = hs_fail(c,
                   "server chose subprotocol \"%.60s\", which was not offered",
                   proto);
      goto out;
    }
    c->hs_subprotocol = proto;
    c->info.subprotocol = proto;
    proto = NULL;
  }
  if (exts) {
    char why[160];
    if (c->mode == WSP_COMPRESS_NONE) {
      rc = hs_fail(c, "server accepted extensions \"%.60s\", none were offered",
                   exts);
      goto out;
    }
    if (wsp__pmd_accept(exts, c->mode, c->req_server_bits, &c->pmd_params, why,
                        sizeof why) != 0) {
      rc = hs_fail(c, "bad Sec-WebSocket-Extensions \"%.60s\": %s", exts, why);
      goto out;
    }
    c->pmd = 1;
    c->hs_extensions = exts;
    c->info.extensions = exts;
    exts = NULL;
    c->info.compression = 1;
    c->info.server_no_context_takeover =
        c->pmd_params.server_no_context_takeover;
    c->info.client_no_context_takeover =
        c->pmd_params.client_no_context_takeover;
    c->info.server_max_window_bits = c->pmd_params.server_max_window_bits;
    c->info.client_max_window_bits = c->pmd_params.client_max_window_bits;
  }
  rc = WSP_HS_OK;
out:
  wsp__free(c->alloc, upgrade);
  wsp__free(c->alloc, connection);
  wsp__free(c->alloc, accept);
  wsp__free(c->alloc, proto);
  wsp__free(c->alloc, exts);
  wsp__free(c->alloc, location);
  return rc;
}

wsp_hs_status wsp_handshake_feed(wsp_conn *c, const uint8_t *in, size_t len,
                                 size_t *used) {
  *used = 0;
  if (c->state != WSP_HANDSHAKE) return c->info.error ? WSP_HS_FAIL : WSP_HS_OK;
  size_t old = c->response.len;
  size_t take = len;
  if (take > c->header_limit + 1 - old) take = c->header_limit + 1 - old;
  if (wsp__buf_reserve(&c->response, take + 1, c->alloc) != 0)
    return hs_fail(c, "out of memory");
  memcpy(c->response.p + old, in, take);
  c->response.len += take;
  size_t end = block_end(c->response.p, c->response.len, old);
  if (end == 0 || end > c->header_limit) {
    if (c->response.len > c->header_limit)
      return hs_fail(c, "response header block exceeds %zu bytes",
                     c->header_limit);
    *used = take;
    return WSP_HS_MORE;
  }
  for (size_t i = 0; i < end; i++)
    if (c->response.p[i] == '\0')
      return hs_fail(c, "NUL byte in the response header");
  *used = end - old;
  c->response.p[end] = '\0';
  wsp_hs_status rc = check_response(c, (char *)c->response.p, end);
  wsp__free(c->alloc, c->response.p);
  c->response = (wsp__buf){0};
  if (rc != WSP_HS_OK) return rc;
  if (wsp__pmd_start(c) != 0) return hs_fail(c, "out of memory (zlib)");
  c->state = WSP_OPEN;
  return WSP_HS_OK;
}

const wsp_handshake_info *wsp_handshake_result(const wsp_conn *c) {
  return &c->info;
}
