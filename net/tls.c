/*
** tls.c - TLS client over OpenSSL memory BIOs (see tls.h).
*/
#include "tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netmem.h"

struct sl_tls_conn {
  SSL *ssl;
  BIO *rbio; /* ciphertext from the peer (owned by ssl) */
  BIO *wbio; /* ciphertext to send (owned by ssl) */
  int established;
  int failed;
  int peer_closed; /* read the peer's close_notify */
  int close_sent;  /* queued our close_notify */
  char error[256];
};

/* A cached context for one extra CA file. */
struct ca_ctx {
  char *path;
  SSL_CTX *ctx;
  struct ca_ctx *next;
};

/* A drained memory BIO whose buffer grew past this is replaced. */
#define BIO_KEEP_MAX 16384

static SSL_CTX *default_ctx;
static int default_store_loaded;  /* default_ctx has the trust store */
static struct ca_ctx *ca_ctxs;
static char *trusted[16];         /* --ca-file: in every context */
static int ntrusted;

/* Append the reason of the first error on OpenSSL's queue, then clear it. */
static void err_reason(char *buf, size_t len, const char *prefix) {
  unsigned long e = ERR_get_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  if (r != NULL)
    snprintf(buf, len, "%s: %s", prefix, r);
  else if (e != 0)
    snprintf(buf, len, "%s: error %lx", prefix, e);
  else
    snprintf(buf, len, "%s", prefix);
  ERR_clear_error();
}

/*
** A client context: TLS 1.2+, verify the peer against the default store
** (unless store is 0: loaded later), plus cafile if not NULL.  NULL with a
** message in err on failure.
*/
static SSL_CTX *make_ctx(const char *cafile, int store, char *err,
                         size_t errlen) {
  SSL_CTX *ctx;
  ERR_clear_error();
  ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) {
    err_reason(err, errlen, "TLS: cannot create context");
    return NULL;
  }
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
    err_reason(err, errlen, "TLS: cannot set the minimum version");
    goto fail;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (store && !SSL_CTX_set_default_verify_paths(ctx)) {
    err_reason(err, errlen, "TLS: cannot load the default trust store");
    goto fail;
  }
  for (int i = 0; i < ntrusted; i++) {
    if (!SSL_CTX_load_verify_locations(ctx, trusted[i], NULL)) {
      char what[PATH_MAX + 64];
      snprintf(what, sizeof what, "TLS: cannot load CA file \"%s\"",
               trusted[i]);
      err_reason(err, errlen, what);
      goto fail;
    }
  }
  if (cafile != NULL && !SSL_CTX_load_verify_locations(ctx, cafile, NULL)) {
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "TLS: cannot load CA file \"%s\"", cafile);
    err_reason(err, errlen, what);
    goto fail;
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

/*
** The default context is made at start-up, but its trust store (the bundle
** file: some 30 ms of parsing for Debian's 140 certificates) is read by
** the first connection that needs it, so a script that opens no wss://
** connection does not pay for it.  The sandbox keeps the store readable.
**
** Memory limit: the default context and its trust store (with OpenSSL's own
** initialisation, made by the first SSL_CTX_new) are not counted, even when
** the script's first wss:// connection makes them: made once per process,
** shared by every connection, their size is the host's (about 1.2 MiB for
** Debian's bundle), not the script's, and with --ca-file they are made at
** start-up anyway.  The context of a CA file the script names itself (not
** given with --ca-file) counts: there is one per file it names.
*/
int sl_tls_init(char *err, size_t errlen) {
  if (default_ctx != NULL) return 0;
  net_mem_shared_begin();
  default_ctx = make_ctx(NULL, 0, err, errlen);
  net_mem_shared_end();
  default_store_loaded = 0;
  return default_ctx != NULL ? 0 : -1;
}

static SSL_CTX *default_ctx_loaded(char *err, size_t errlen) {
  if (!default_store_loaded) {
    int ok;
    ERR_clear_error();
    net_mem_shared_begin();
    ok = SSL_CTX_set_default_verify_paths(default_ctx);
    net_mem_shared_end();
    if (!ok) {
      err_reason(err, errlen, "TLS: cannot load the default trust store");
      return NULL;
    }
    default_store_loaded = 1;
  }
  return default_ctx;
}

/* The cached context for cafile, made now if needed; NULL + err on error. */
static SSL_CTX *ca_ctx_get(const char *cafile, char *err, size_t errlen) {
  struct ca_ctx *e;
  for (e = ca_ctxs; e != NULL; e = e->next)
    if (strcmp(e->path, cafile) == 0) return e->ctx;
  e = calloc(1, sizeof *e);
  if (e == NULL || (e->path = strdup(cafile)) == NULL) {
    free(e);
    snprintf(err, errlen, "TLS: out of memory");
    return NULL;
  }
  e->ctx = make_ctx(cafile, 1, err, errlen);
  if (e->ctx == NULL) {
    free(e->path);
    free(e);
    return NULL;
  }
  e->next = ca_ctxs;
  ca_ctxs = e;
  return e->ctx;
}

int sl_tls_trust_ca(const char *cafile, char *err, size_t errlen) {
  if (default_ctx == NULL) {
    snprintf(err, errlen, "TLS: not initialised");
    return -1;
  }
  if (ntrusted == (int)(sizeof trusted / sizeof trusted[0])) {
    snprintf(err, errlen, "TLS: too many CA files");
    return -1;
  }
  ERR_clear_error();
  net_mem_shared_begin();
  int ok = SSL_CTX_load_verify_locations(default_ctx, cafile, NULL);
  char *copy = ok ? strdup(cafile) : NULL;
  net_mem_shared_end();
  if (!ok) {
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "TLS: cannot load CA file \"%s\"", cafile);
    err_reason(err, errlen, what);
    return -1;
  }
  if (copy == NULL) {
    snprintf(err, errlen, "TLS: out of memory");
    return -1;
  }
  trusted[ntrusted++] = copy;
  return 0;
}

int sl_tls_verify_failed(const sl_tls_conn *c) {
  return c != NULL && c->ssl != NULL && !c->established &&
         SSL_get_verify_result(c->ssl) != X509_V_OK;
}

int sl_tls_preload_ca(const char *cafile, char *err, size_t errlen) {
  if (default_ctx == NULL) {
    snprintf(err, errlen, "TLS: not initialised");
    return -1;
  }
  if (cafile == NULL || *cafile == '\0') {
    snprintf(err, errlen, "TLS: empty CA file name");
    return -1;
  }
  return ca_ctx_get(cafile, err, errlen) != NULL ? 0 : -1;
}

void sl_tls_cleanup(void) {
  while (ca_ctxs != NULL) {
    struct ca_ctx *e = ca_ctxs;
    ca_ctxs = e->next;
    SSL_CTX_free(e->ctx);
    free(e->path);
    free(e);
  }
  SSL_CTX_free(default_ctx);
  default_ctx = NULL;
  default_store_loaded = 0;
  while (ntrusted > 0) free(trusted[--ntrusted]);
}

sl_tls_conn *sl_tls_new(const char *host, const char *cafile, char *err,
                        size_t errlen) {
  char name[256];
  unsigned char ip[16];
  size_t n;
  int is_ip;
  SSL_CTX *ctx;
  sl_tls_conn *c;

  if (default_ctx == NULL) {
    snprintf(err, errlen, "TLS: not initialised");
    return NULL;
  }
  n = host != NULL ? strlen(host) : 0;
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { /* [IPv6] */
    host++;
    n -= 2;
  } else if (n > 1 && host[n - 1] == '.') { /* absolute name */
    n--;
  }
  if (n == 0 || n >= sizeof name) {
    snprintf(err, errlen, "TLS: invalid host name");
    return NULL;
  }
  memcpy(name, host, n);
  name[n] = '\0';
  is_ip =
      inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;

  if (cafile != NULL && *cafile != '\0') {
    ctx = ca_ctx_get(cafile, err, errlen);
    if (ctx == NULL) return NULL;
  } else {
    ctx = default_ctx_loaded(err, errlen);
    if (ctx == NULL) return NULL;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    snprintf(err, errlen, "TLS: out of memory");
    return NULL;
  }
  ERR_clear_error();
  c->ssl = SSL_new(ctx);
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
    err_reason(err, errlen, "TLS: cannot create connection");
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    SSL_free(c->ssl);
    free(c);
    return NULL;
  }
  BIO_set_mem_eof_return(c->rbio, -1);   /* empty means "retry", not EOF */
  SSL_set_bio(c->ssl, c->rbio, c->wbio); /* ssl owns both now */
  SSL_set_connect_state(c->ssl);
  if (is_ip) {
    if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name)) goto fail;
  } else {
    SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!SSL_set_tlsext_host_name(c->ssl, name) || !SSL_set1_host(c->ssl, name))
      goto fail;
  }
  /* SSL_set_alpn_protos returns 0 on success. */
  if (SSL_set_alpn_protos(c->ssl, (const unsigned char *)"\x08http/1.1", 9) !=
      0)
    goto fail;
  return c;
fail:
  err_reason(err, errlen, "TLS: cannot set up connection");
  sl_tls_free(c);
  return NULL;
}

void sl_tls_free(sl_tls_conn *c) {
  if (c == NULL) return;
  SSL_free(c->ssl);
  free(c);
}

/* Record why c failed (from the verify result or the error queue). */
static int fail(sl_tls_conn *c, const char *what) {
  long v = SSL_get_verify_result(c->ssl);
  if (!c->failed) {
    if (v != X509_V_OK) {
      snprintf(c->error, sizeof c->error, "certificate verify failed: %s",
               X509_verify_cert_error_string(v));
      ERR_clear_error();
    } else {
      err_reason(c->error, sizeof c->error, what);
    }
  }
  ERR_clear_error();
  c->failed = 1;
  return SL_TLS_ERROR;
}

/*
** Memory BIOs never shrink: once one is drained, swap it for a new one if
** its buffer grew big (a large message), so an idle connection stays small.
** ssl frees the old BIO.  On allocation failure the old one is kept.
*/
static void trim(sl_tls_conn *c, int write_side) {
  BIO *b = write_side ? c->wbio : c->rbio, *n;
  BUF_MEM *bm = NULL;
  if (BIO_ctrl_pending(b) != 0) return;
  BIO_get_mem_ptr(b, &bm);
  if (bm == NULL || bm->max <= BIO_KEEP_MAX) return;
  n = BIO_new(BIO_s_mem());
  if (n == NULL) return;
  if (write_side) {
    SSL_set0_wbio(c->ssl, n);
    c->wbio = n;
  } else {
    BIO_set_mem_eof_return(n, -1);
    SSL_set0_rbio(c->ssl, n);
    c->rbio = n;
  }
}

int sl_tls_feed(sl_tls_conn *c, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int w = BIO_write(c->rbio, p, chunk);
    if (w <= 0) {
      fail(c, "TLS: out of memory");
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int sl_tls_handshake(sl_tls_conn *c) {
  int r;
  if (c->failed) return SL_TLS_ERROR;
  if (c->established) return SL_TLS_OK;
  ERR_clear_error();
  r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->established = 1;
    return SL_TLS_OK;
  }
  switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return SL_TLS_AGAIN;
    default: return fail(c, "TLS handshake failed");
  }
}

int sl_tls_established(const sl_tls_conn *c) {
  return c->established && !c->failed;
}

ssize_t sl_tls_read(sl_tls_conn *c, void *buf, size_t len) {
  int r;
  if (c->failed) return SL_TLS_ERROR;
  if (c->peer_closed) return SL_TLS_CLOSED;
  if (!c->established) {
    r = sl_tls_handshake(c);
    if (r != SL_TLS_OK) return r;
  }
  if (len == 0) return SL_TLS_AGAIN;
  ERR_clear_error();
  r = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
  if (r > 0) return r;
  switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      /* Drained: give back the 16 KiB record buffer of an idle connection
         (SSL_MODE_RELEASE_BUFFERS misses it after post-handshake messages
         such as TLS 1.3 session tickets). */
      SSL_free_buffers(c->ssl);
      trim(c, 0);
      return SL_TLS_AGAIN;
    case SSL_ERROR_ZERO_RETURN: c->peer_closed = 1; return SL_TLS_CLOSED;
    default: return fail(c, "TLS error");
  }
}

int sl_tls_write(sl_tls_conn *c, const void *data, size_t len) {
  const char *p = data;
  if (c->failed) return SL_TLS_ERROR;
  if (!c->established) return SL_TLS_AGAIN;
  if (c->close_sent) return SL_TLS_CLOSED;
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int w;
    ERR_clear_error();
    w = SSL_write(c->ssl, p, chunk);
    if (w <= 0) return fail(c, "TLS error");
    p += w;
    len -= (size_t)w;
  }
  return SL_TLS_OK;
}

size_t sl_tls_pending(const sl_tls_conn *c) {
  return BIO_ctrl_pending(c->wbio);
}

size_t sl_tls_take(sl_tls_conn *c, void *buf, size_t len) {
  int r;
  if (len == 0) return 0;
  r = BIO_read(c->wbio, buf, len > INT_MAX ? INT_MAX : (int)len);
  trim(c, 1);
  return r > 0 ? (size_t)r : 0;
}

int sl_tls_close(sl_tls_conn *c) {
  int r;
  if (c->failed) return SL_TLS_ERROR;
  if (!c->established || c->close_sent) return SL_TLS_OK;
  c->close_sent = 1;
  ERR_clear_error();
  r = SSL_shutdown(c->ssl); /* 0: sent, waiting for the peer's; 1: both */
  if (r < 0 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
    return fail(c, "TLS error");
  return SL_TLS_OK;
}

const char *sl_tls_error(const sl_tls_conn *c) {
  return c->error;
}

const char *sl_tls_version(const sl_tls_conn *c) {
  return c->established ? SSL_get_version(c->ssl) : "";
}

const char *sl_tls_alpn(const sl_tls_conn *c, char *buf, size_t len) {
  const unsigned char *p = NULL;
  unsigned int n = 0;
  if (len == 0) return buf;
  SSL_get0_alpn_selected(c->ssl, &p, &n);
  if (n >= len) n = (unsigned)len - 1;
  if (n > 0) memcpy(buf, p, n);
  buf[n] = '\0';
  return buf;
}
