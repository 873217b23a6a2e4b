/*
** Unit tests of stdlib/websocket/tls.c: the memory-BIO TLS client paired
** with an in-memory OpenSSL server.  Keys and certificates are made at test
** time with the OpenSSL API; the default trust store is pointed at a test CA
** through SSL_CERT_FILE (and an empty SSL_CERT_DIR) before sl_tls_init().
*/
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../../net/tls.h"

#define DAY 86400L

/* An issuer (CA) or leaf: key + certificate. */
typedef struct {
  EVP_PKEY *key;
  X509 *cert;
} ident;

static char tmpdir[64];
static char ca_file[128];    /* the CA trusted through SSL_CERT_FILE */
static char private_ca[128]; /* a CA only named as an extra CA file */
static char certdir[128];    /* an empty SSL_CERT_DIR */
static ident ca, other_ca, priv_ca;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  assert_non_null(ext);
  assert_int_equal(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/*
** A certificate for cn signed by issuer (NULL: self-signed CA), valid from
** now+from to now+to seconds, with the subjectAltName san (NULL: none).
*/
static ident make_ident(const char *cn, const ident *issuer, const char *san,
                        long from, long to) {
  ident id;
  X509_NAME *name;
  unsigned char serial[8];
  BIGNUM *bn;
  id.key = EVP_EC_gen("P-256");
  assert_non_null(id.key);
  id.cert = X509_new();
  assert_non_null(id.cert);
  X509_set_version(id.cert, 2);
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  bn = BN_bin2bn(serial, sizeof serial, NULL);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(id.cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(id.cert), from);
  X509_gmtime_adj(X509_getm_notAfter(id.cert), to);
  X509_set_pubkey(id.cert, id.key);
  name = X509_get_subject_name(id.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(
      id.cert, issuer != NULL ? X509_get_subject_name(issuer->cert) : name);
  add_ext(id.cert, NULL, NID_subject_key_identifier, "hash");
  if (issuer == NULL) {
    add_ext(id.cert, NULL, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(id.cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(id.cert, issuer->cert, NID_authority_key_identifier,
            "keyid:always");
    add_ext(id.cert, NULL, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(id.cert, NULL, NID_ext_key_usage, "serverAuth");
  }
  if (san != NULL) add_ext(id.cert, NULL, NID_subject_alt_name, san);
  assert_true(X509_sign(id.cert, issuer != NULL ? issuer->key : id.key,
                        EVP_sha256()) > 0);
  return id;
}

static void free_ident(ident *id) {
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  id->key = NULL;
  id->cert = NULL;
}

static void write_pem(const char *path, X509 *cert) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, cert), 1);
  fclose(f);
}

static int group_setup(void **state) {
  char err[256];
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sl_tls_XXXXXX");
  if (mkdtemp(tmpdir) == NULL) return -1;
  snprintf(ca_file, sizeof ca_file, "%s/ca.pem", tmpdir);
  snprintf(private_ca, sizeof private_ca, "%s/private-ca.pem", tmpdir);
  snprintf(certdir, sizeof certdir, "%s/certs", tmpdir);
  if (mkdir(certdir, 0700) != 0) return -1;
  ca = make_ident("sandlua test CA", NULL, NULL, -DAY, 30 * DAY);
  other_ca = make_ident("sandlua unknown CA", NULL, NULL, -DAY, 30 * DAY);
  priv_ca = make_ident("sandlua private CA", NULL, NULL, -DAY, 30 * DAY);
  write_pem(ca_file, ca.cert);
  write_pem(private_ca, priv_ca.cert);
  setenv("SSL_CERT_FILE", ca_file, 1);
  setenv("SSL_CERT_DIR", certdir, 1);
  if (sl_tls_init(err, sizeof err) != 0) {
    fprintf(stderr, "sl_tls_init: %s\n", err);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  sl_tls_cleanup();
  free_ident(&ca);
  free_ident(&other_ca);
  free_ident(&priv_ca);
  unlink(ca_file);
  unlink(private_ca);
  rmdir(certdir);
  rmdir(tmpdir);
  return 0;
}

/* ---- the in-memory server ---- */

typedef struct {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio, *wbio;
  char sni[256]; /* the server name the client sent, "" if none */
  int got_sni;
  char alpn_offer[64]; /* the client's ALPN list, wire format */
  unsigned alpn_offer_len;
} server;

static int sni_cb(SSL *s, int *al, void *arg) {
  server *sv = arg;
  const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
  (void)al;
  if (name != NULL) {
    snprintf(sv->sni, sizeof sv->sni, "%s", name);
    sv->got_sni = 1;
  }
  return SSL_TLSEXT_ERR_OK;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
  server *sv = arg;
  (void)s;
  if (inlen <= sizeof sv->alpn_offer) {
    memcpy(sv->alpn_offer, in, inlen);
    sv->alpn_offer_len = inlen;
  }
  if (inlen >= 9 && memcmp(in, "\x08http/1.1", 9) == 0) {
    *out = in + 1;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

/* A server presenting leaf (and nothing else of its chain). */
static void server_init(server *sv, const ident *leaf, int max_version) {
  memset(sv, 0, sizeof *sv);
  sv->ctx = SSL_CTX_new(TLS_server_method());
  assert_non_null(sv->ctx);
  if (max_version != 0) {
    SSL_CTX_set_security_level(sv->ctx, 0);
    SSL_CTX_set_min_proto_version(sv->ctx, 0);
    SSL_CTX_set_max_proto_version(sv->ctx, max_version);
  }
  assert_int_equal(SSL_CTX_use_certificate(sv->ctx, leaf->cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(sv->ctx, leaf->key), 1);
  SSL_CTX_set_tlsext_servername_callback(sv->ctx, sni_cb);
  SSL_CTX_set_tlsext_servername_arg(sv->ctx, sv);
  SSL_CTX_set_alpn_select_cb(sv->ctx, alpn_cb, sv);
  sv->ssl = SSL_new(sv->ctx);
  sv->rbio = BIO_new(BIO_s_mem());
  sv->wbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(sv->rbio, -1);
  SSL_set_bio(sv->ssl, sv->rbio, sv->wbio);
  SSL_set_accept_state(sv->ssl);
}

static void server_free(server *sv) {
  SSL_free(sv->ssl);
  SSL_CTX_free(sv->ctx);
}

/* Move the client's output to the server, at most chunk bytes at a time. */
static size_t client_to_server(sl_tls_conn *c, server *sv, size_t chunk) {
  char buf[4096];
  size_t moved = 0, n;
  if (chunk > sizeof buf) chunk = sizeof buf;
  while ((n = sl_tls_take(c, buf, chunk)) > 0) {
    assert_int_equal(BIO_write(sv->rbio, buf, (int)n), (int)n);
    moved += n;
    if (!SSL_is_init_finished(sv->ssl)) SSL_do_handshake(sv->ssl);
  }
  return moved;
}

/*
** Move the server's output to the client chunk bytes at a time, driving the
** client's handshake after each piece.  Returns the bytes moved.
*/
static size_t server_to_client(server *sv, sl_tls_conn *c, size_t chunk) {
  char buf[4096];
  size_t moved = 0;
  int n;
  if (chunk > sizeof buf) chunk = sizeof buf;
  while ((n = BIO_read(sv->wbio, buf, (int)chunk)) > 0) {
    assert_int_equal(sl_tls_feed(c, buf, (size_t)n), 0);
    moved += (size_t)n;
    if (!sl_tls_established(c)) sl_tls_handshake(c);
  }
  return moved;
}

/*
** Run the handshake until the client is done or failed, or nothing moves;
** returns the client's last sl_tls_handshake() result.
*/
static int handshake(sl_tls_conn *c, server *sv, size_t chunk) {
  int r = sl_tls_handshake(c);
  for (int rounds = 0; rounds < 100 && r == SL_TLS_AGAIN; rounds++) {
    size_t moved = client_to_server(c, sv, chunk);
    if (!SSL_is_init_finished(sv->ssl)) SSL_do_handshake(sv->ssl);
    moved += server_to_client(sv, c, chunk);
    r = sl_tls_handshake(c);
    if (moved == 0) break;
  }
  /* Let the server see the client's Finished (and any alert). */
  client_to_server(c, sv, chunk);
  if (!SSL_is_init_finished(sv->ssl)) SSL_do_handshake(sv->ssl);
  return r;
}

/* Connect to a server showing leaf as host; the result's fields filled. */
typedef struct {
  server sv;
  sl_tls_conn *c;
  int rc;
} session;

static void open_session(session *s, const ident *leaf, const char *host,
                         const char *cafile, size_t chunk) {
  char err[256] = "";
  server_init(&s->sv, leaf, 0);
  s->c = sl_tls_new(host, cafile, err, sizeof err);
  if (s->c == NULL) fail_msg("sl_tls_new(%s): %s", host, err);
  s->rc = handshake(s->c, &s->sv, chunk);
}

static void close_session(session *s) {
  sl_tls_free(s->c);
  server_free(&s->sv);
}

static void expect_ok(session *s) {
  if (s->rc != SL_TLS_OK)
    fail_msg("handshake: rc %d, \"%s\"", s->rc, sl_tls_error(s->c));
  assert_true(sl_tls_established(s->c));
  assert_true(SSL_is_init_finished(s->sv.ssl));
  assert_string_equal(sl_tls_error(s->c), "");
}

static void expect_fail(session *s, const char *reason) {
  assert_int_equal(s->rc, SL_TLS_ERROR);
  assert_false(sl_tls_established(s->c));
  if (getenv("TEST_TLS_VERBOSE") != NULL)
    fprintf(stderr, "  error: %s\n", sl_tls_error(s->c));
  if (strstr(sl_tls_error(s->c), reason) == NULL)
    fail_msg("error \"%s\", expected \"%s\"", sl_tls_error(s->c), reason);
  /* Sticky: every later call fails the same way. */
  assert_int_equal(sl_tls_handshake(s->c), SL_TLS_ERROR);
  assert_int_equal(sl_tls_write(s->c, "x", 1), SL_TLS_ERROR);
  assert_int_equal(sl_tls_close(s->c), SL_TLS_ERROR);
  assert_false(SSL_is_init_finished(s->sv.ssl));
}

/* Check a message goes each way intact, moved in pieces of chunk bytes. */
static void exchange(session *s, const char *msg, size_t chunk) {
  char buf[256];
  size_t len = strlen(msg);
  ssize_t n;
  assert_int_equal(sl_tls_write(s->c, msg, len), SL_TLS_OK);
  client_to_server(s->c, &s->sv, chunk);
  assert_int_equal(SSL_read(s->sv.ssl, buf, sizeof buf), (int)len);
  assert_memory_equal(buf, msg, len);
  assert_int_equal(SSL_write(s->sv.ssl, msg, (int)len), (int)len);
  server_to_client(&s->sv, s->c, chunk);
  n = sl_tls_read(s->c, buf, sizeof buf);
  assert_int_equal(n, (ssize_t)len);
  assert_memory_equal(buf, msg, len);
  assert_int_equal(sl_tls_read(s->c, buf, sizeof buf), SL_TLS_AGAIN);
}

/* ---- tests ---- */

static void test_success_by_name(void **state) {
  ident leaf =
      make_ident("localhost", &ca, "DNS:localhost,IP:127.0.0.1", -DAY, DAY);
  session s;
  char alpn[32];
  (void)state;
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_ok(&s);
  assert_true(s.sv.got_sni);
  assert_string_equal(s.sv.sni, "localhost");
  assert_int_equal(s.sv.alpn_offer_len, 9);
  assert_memory_equal(s.sv.alpn_offer, "\x08http/1.1", 9);
  assert_string_equal(sl_tls_alpn(s.c, alpn, sizeof alpn), "http/1.1");
  assert_string_equal(sl_tls_version(s.c), "TLSv1.3");
  assert_int_equal(SSL_version(s.sv.ssl), TLS1_3_VERSION);
  exchange(&s, "GET / HTTP/1.1\r\n\r\n", 4096);
  exchange(&s, "second", 4096);
  close_session(&s);
  free_ident(&leaf);
}

static void test_absolute_name_and_tls12(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  session s;
  char err[256];
  (void)state;
  /* A trailing dot is stripped for SNI and the name check. */
  open_session(&s, &leaf, "localhost.", NULL, 4096);
  expect_ok(&s);
  assert_string_equal(s.sv.sni, "localhost");
  close_session(&s);
  /* TLS 1.2 is accepted. */
  server_init(&s.sv, &leaf, TLS1_2_VERSION);
  s.c = sl_tls_new("localhost", NULL, err, sizeof err);
  assert_non_null(s.c);
  s.rc = handshake(s.c, &s.sv, 4096);
  expect_ok(&s);
  assert_string_equal(sl_tls_version(s.c), "TLSv1.2");
  exchange(&s, "over 1.2", 4096);
  close_session(&s);
  free_ident(&leaf);
}

static void test_tls11_refused(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  session s;
  char err[256];
  (void)state;
  server_init(&s.sv, &leaf, TLS1_1_VERSION);
  s.c = sl_tls_new("localhost", NULL, err, sizeof err);
  assert_non_null(s.c);
  s.rc = handshake(s.c, &s.sv, 4096);
  expect_fail(&s, "TLS handshake failed: ");
  close_session(&s);
  free_ident(&leaf);
}

static void test_wrong_host(void **state) {
  ident leaf =
      make_ident("localhost", &ca, "DNS:localhost,IP:127.0.0.1", -DAY, DAY);
  session s;
  (void)state;
  open_session(&s, &leaf, "example.org", NULL, 4096);
  expect_fail(&s, "certificate verify failed: hostname mismatch");
  assert_string_equal(s.sv.sni, "example.org");
  close_session(&s);
  free_ident(&leaf);
}

static void test_wildcards(void **state) {
  ident full = make_ident("wild", &ca, "DNS:*.example.com", -DAY, DAY);
  ident partial = make_ident("partial", &ca, "DNS:f*.example.com", -DAY, DAY);
  session s;
  (void)state;
  open_session(&s, &full, "a.example.com", NULL, 4096);
  expect_ok(&s);
  close_session(&s);
  open_session(&s, &full, "example.com", NULL, 4096);
  expect_fail(&s, "hostname mismatch");
  close_session(&s);
  open_session(&s, &full, "a.b.example.com", NULL, 4096);
  expect_fail(&s, "hostname mismatch");
  close_session(&s);
  open_session(&s, &partial, "foo.example.com", NULL, 4096);
  expect_fail(&s, "hostname mismatch");
  close_session(&s);
  free_ident(&full);
  free_ident(&partial);
}

static void test_expired(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -10 * DAY, -DAY);
  ident future = make_ident("localhost", &ca, "DNS:localhost", DAY, 10 * DAY);
  session s;
  (void)state;
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_fail(&s, "certificate verify failed: certificate has expired");
  close_session(&s);
  open_session(&s, &future, "localhost", NULL, 4096);
  expect_fail(&s, "certificate verify failed: certificate is not yet valid");
  close_session(&s);
  free_ident(&leaf);
  free_ident(&future);
}

static void test_unknown_ca(void **state) {
  ident leaf = make_ident("localhost", &other_ca, "DNS:localhost", -DAY, DAY);
  ident self = make_ident("localhost", NULL, "DNS:localhost", -DAY, DAY);
  session s;
  (void)state;
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_fail(
      &s, "certificate verify failed: unable to get local issuer certificate");
  close_session(&s);
  open_session(&s, &self, "localhost", NULL, 4096);
  expect_fail(&s, "certificate verify failed: self"); /* self-signed */
  close_session(&s);
  free_ident(&leaf);
  free_ident(&self);
}

static void test_ip_san(void **state) {
  ident leaf =
      make_ident("ip", &ca, "DNS:localhost,IP:127.0.0.1,IP:::1", -DAY, DAY);
  session s;
  (void)state;
  open_session(&s, &leaf, "127.0.0.1", NULL, 4096);
  expect_ok(&s);
  assert_false(s.sv.got_sni); /* no SNI for an IP literal */
  exchange(&s, "by address", 4096);
  close_session(&s);
  open_session(&s, &leaf, "[::1]", NULL, 4096);
  expect_ok(&s);
  assert_false(s.sv.got_sni);
  close_session(&s);
  open_session(&s, &leaf, "::1", NULL, 4096);
  expect_ok(&s);
  close_session(&s);
  open_session(&s, &leaf, "127.0.0.2", NULL, 4096);
  expect_fail(&s, "certificate verify failed: IP address mismatch");
  assert_false(s.sv.got_sni);
  close_session(&s);
  open_session(&s, &leaf, "[::2]", NULL, 4096);
  expect_fail(&s, "certificate verify failed: IP address mismatch");
  close_session(&s);
  free_ident(&leaf);
}

static void test_extra_ca_file(void **state) {
  ident leaf = make_ident("private", &priv_ca, "DNS:private.test", -DAY, DAY);
  ident pub = make_ident("public", &ca, "DNS:public.test", -DAY, DAY);
  char copy[160], err[256];
  FILE *f;
  session s;
  (void)state;
  /* Not trusted by the default store. */
  open_session(&s, &leaf, "private.test", NULL, 4096);
  expect_fail(&s, "unable to get local issuer certificate");
  close_session(&s);
  /* Trusted with the extra CA file, which adds to the default store. */
  open_session(&s, &leaf, "private.test", private_ca, 4096);
  expect_ok(&s);
  exchange(&s, "private", 4096);
  close_session(&s);
  open_session(&s, &pub, "public.test", private_ca, 4096);
  expect_ok(&s);
  close_session(&s);
  /* Loaded once, then cached: works after the file is gone. */
  snprintf(copy, sizeof copy, "%s/copy.pem", tmpdir);
  write_pem(copy, priv_ca.cert);
  assert_int_equal(sl_tls_preload_ca(copy, err, sizeof err), 0);
  unlink(copy);
  open_session(&s, &leaf, "private.test", copy, 4096);
  expect_ok(&s);
  close_session(&s);
  assert_int_equal(sl_tls_preload_ca(copy, err, sizeof err), 0);
  /* Errors: a missing file, a file without a certificate, no name. */
  snprintf(copy, sizeof copy, "%s/missing.pem", tmpdir);
  assert_int_equal(sl_tls_preload_ca(copy, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot load CA file"));
  assert_non_null(strstr(err, "missing.pem"));
  assert_null(sl_tls_new("private.test", copy, err, sizeof err));
  assert_non_null(strstr(err, "missing.pem"));
  snprintf(copy, sizeof copy, "%s/empty.pem", tmpdir);
  f = fopen(copy, "w");
  assert_non_null(f);
  fputs("not a certificate\n", f);
  fclose(f);
  assert_int_equal(sl_tls_preload_ca(copy, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot load CA file"));
  unlink(copy);
  assert_int_equal(sl_tls_preload_ca("", err, sizeof err), -1);
  assert_int_equal(sl_tls_preload_ca(NULL, err, sizeof err), -1);
  free_ident(&leaf);
  free_ident(&pub);
}

static void test_split_handshake(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 64, 100, 333, 1000};
  (void)state;
  /* One byte at a time splits every flight at every byte boundary. */
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    session s;
    open_session(&s, &leaf, "localhost", NULL, chunks[i]);
    expect_ok(&s);
    exchange(&s, "after a split handshake", chunks[i]);
    close_session(&s);
  }
  free_ident(&leaf);
}

/* Deterministic test data. */
static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (unsigned char)(seed >> 16);
  }
}

/* Bytes allocated with malloc, mmapped blocks included. */
static size_t heap_in_use(void) {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

static void test_large_transfer(void **state) {
  enum { SIZE = 4 << 20 };
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  unsigned char *out = malloc(SIZE), *in = malloc(SIZE);
  unsigned char buf[16384];
  size_t off, got;
  session s;
  (void)state;
  size_t held;
  assert_non_null(out);
  assert_non_null(in);
  fill(out, SIZE, 7);
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_ok(&s);
  exchange(&s, "warm up", 4096);
  /* Client to server, written in uneven pieces, one big one. */
  got = 0;
  for (off = 0; off < SIZE;) {
    size_t n = off == 0 ? 1000000 : 12345;
    int r;
    if (n > SIZE - off) n = SIZE - off;
    assert_int_equal(sl_tls_write(s.c, out + off, n), SL_TLS_OK);
    off += n;
    client_to_server(s.c, &s.sv, 4096);
    while ((r = SSL_read(s.sv.ssl, in + got, (int)(SIZE - got))) > 0)
      got += (size_t)r;
  }
  assert_int_equal(got, SIZE);
  assert_memory_equal(in, out, SIZE);
  /* Server to client, read through a small buffer. */
  fill(out, SIZE, 11);
  memset(in, 0, SIZE);
  got = 0;
  for (off = 0; off < SIZE;) {
    size_t n = SIZE - off < 100000 ? SIZE - off : 100000;
    ssize_t r;
    assert_int_equal(SSL_write(s.sv.ssl, out + off, (int)n), (int)n);
    off += n;
    server_to_client(&s.sv, s.c, 1500);
    while ((r = sl_tls_read(s.c, buf, sizeof buf)) > 0) {
      memcpy(in + got, buf, (size_t)r);
      got += (size_t)r;
    }
    assert_int_equal(r, SL_TLS_AGAIN);
  }
  assert_int_equal(got, SIZE);
  assert_memory_equal(in, out, SIZE);
  /* Drained, the buffers went back: what the client still holds (measured
     by freeing it) is small again. */
  held = heap_in_use();
  sl_tls_free(s.c);
  s.c = NULL;
  held -= heap_in_use();
  if (held > 64 * 1024) fail_msg("the idle client holds %zu bytes", held);
  close_session(&s);
  free_ident(&leaf);
  free(out);
  free(in);
}

static void test_idle_memory(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  session s;
  size_t held;
  (void)state;
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_ok(&s);
  exchange(&s, "after the session tickets", 4096);
  held = heap_in_use();
  sl_tls_free(s.c);
  s.c = NULL;
  held -= heap_in_use();
  if (getenv("TEST_TLS_VERBOSE") != NULL)
    fprintf(stderr, "  idle client: %zu bytes\n", held);
  /* About 20 KiB with OpenSSL 3.0 and a P-256 certificate; the 16 KiB
     record buffer kept after TLS 1.3 tickets would make it 37 KiB. */
  if (held > 28 * 1024) fail_msg("the idle client holds %zu bytes", held);
  close_session(&s);
  free_ident(&leaf);
}

static void test_close_notify(void **state) {
  ident leaf = make_ident("localhost", &ca, "DNS:localhost", -DAY, DAY);
  session s;
  char buf[64];
  (void)state;
  /* The client closes: the server reads close_notify. */
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_ok(&s);
  assert_int_equal(sl_tls_close(s.c), SL_TLS_OK);
  assert_int_equal(sl_tls_close(s.c), SL_TLS_OK); /* idempotent */
  assert_true(sl_tls_pending(s.c) > 0);
  assert_int_equal(sl_tls_write(s.c, "late", 4), SL_TLS_CLOSED);
  client_to_server(s.c, &s.sv, 4096);
  assert_int_equal(SSL_read(s.sv.ssl, buf, sizeof buf), 0);
  assert_int_equal(SSL_get_error(s.sv.ssl, 0), SSL_ERROR_ZERO_RETURN);
  close_session(&s);
  /* The server closes after some data: the client reads it, then CLOSED. */
  open_session(&s, &leaf, "localhost", NULL, 4096);
  expect_ok(&s);
  assert_int_equal(SSL_write(s.sv.ssl, "bye", 3), 3);
  SSL_shutdown(s.sv.ssl);
  server_to_client(&s.sv, s.c, 4096);
  assert_int_equal(sl_tls_read(s.c, buf, sizeof buf), 3);
  assert_int_equal(sl_tls_read(s.c, buf, sizeof buf), SL_TLS_CLOSED);
  assert_int_equal(sl_tls_read(s.c, buf, sizeof buf), SL_TLS_CLOSED);
  assert_string_equal(sl_tls_error(s.c), "");
  close_session(&s);
  free_ident(&leaf);
}

static void test_garbage_and_misuse(void **state) {
  static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
  char err[256], buf[64];
  sl_tls_conn *c;
  (void)state;
  /* Not TLS from the peer. */
  c = sl_tls_new("localhost", NULL, err, sizeof err);
  assert_non_null(c);
  assert_string_equal(sl_tls_error(c), "");
  assert_string_equal(sl_tls_version(c), "");
  assert_int_equal(sl_tls_write(c, "x", 1), SL_TLS_AGAIN); /* before */
  assert_int_equal(sl_tls_read(c, buf, sizeof buf), SL_TLS_AGAIN);
  assert_int_equal(sl_tls_handshake(c), SL_TLS_AGAIN);
  assert_true(sl_tls_pending(c) > 0); /* the ClientHello */
  assert_true(sl_tls_take(c, buf, sizeof buf) > 0);
  assert_int_equal(sl_tls_take(c, buf, 0), 0);
  assert_int_equal(sl_tls_close(c), SL_TLS_OK); /* no-op before */
  assert_int_equal(sl_tls_feed(c, http, sizeof http - 1), 0);
  assert_int_equal(sl_tls_handshake(c), SL_TLS_ERROR);
  if (strncmp(sl_tls_error(c), "TLS handshake failed: ", 22) != 0)
    fail_msg("error \"%s\"", sl_tls_error(c));
  assert_int_equal(sl_tls_read(c, buf, sizeof buf), SL_TLS_ERROR);
  sl_tls_free(c);
  sl_tls_free(NULL);
  /* Bad host names. */
  assert_null(sl_tls_new("", NULL, err, sizeof err));
  assert_non_null(strstr(err, "invalid host name"));
  assert_null(sl_tls_new(NULL, NULL, err, sizeof err));
  assert_null(sl_tls_new("[]", NULL, err, sizeof err));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_by_name),
      cmocka_unit_test(test_absolute_name_and_tls12),
      cmocka_unit_test(test_tls11_refused),
      cmocka_unit_test(test_wrong_host),
      cmocka_unit_test(test_wildcards),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_unknown_ca),
      cmocka_unit_test(test_ip_san),
      cmocka_unit_test(test_extra_ca_file),
      cmocka_unit_test(test_split_handshake),
      cmocka_unit_test(test_large_transfer),
      cmocka_unit_test(test_idle_memory),
      cmocka_unit_test(test_close_notify),
      cmocka_unit_test(test_garbage_and_misuse),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
