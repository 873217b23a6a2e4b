/*
** Unit tests of sandbox/libmem.c: the counted allocator of OpenSSL (and of
** the websocket client's buffers, zlib and c-ares), on a real Lua state
** with the limits attached (memory limit 2M) and a real in-memory TLS
** handshake.
**
** The tests run in order: the first one checks that nothing is counted
** before sandbox_limits_start() and starts the limits; the last ones pass
** the limit (a hit is sticky for the process).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../../net/netmem.h"
#include "../../sandbox/libmem.h"
#include "../../sandbox/limits.h"

#define LIMIT ((size_t)2 << 20)
#define HDR SANDBOX_LIBMEM_HEADER

static lua_State *L;

static int aligned(const void *p) {
  return (uintptr_t)p % _Alignof(max_align_t) == 0;
}

static void test_uncounted_before_start(void **state) {
  (void)state;
  size_t used = sandbox_memory_used();
  void *p = sandbox_libmem_realloc(NULL, 1000);
  assert_non_null(p);
  assert_true(aligned(p));
  assert_int_equal(sandbox_memory_used(), used);
  assert_int_equal(sandbox_libmem_used(), 0);
  assert_int_equal(sandbox_limits_start(), 0);  /* the script's from now */
  p = sandbox_libmem_realloc(p, 100000);  /* stays uncounted */
  assert_non_null(p);
  assert_int_equal(sandbox_memory_used(), used);
  sandbox_libmem_free(p);
  assert_int_equal(sandbox_memory_used(), used);
}

static void test_counting(void **state) {
  (void)state;
  size_t used = sandbox_memory_used();
  unsigned char *p = sandbox_libmem_realloc(NULL, 1000);
  assert_non_null(p);
  assert_true(aligned(p));
  memset(p, 0xab, 1000);
  assert_int_equal(sandbox_memory_used(), used + 1000 + HDR);
  assert_int_equal(sandbox_libmem_used(), 1000 + HDR);
  p = sandbox_libmem_realloc(p, 50000);  /* grows */
  assert_non_null(p);
  assert_true(aligned(p));
  assert_int_equal(p[999], 0xab);
  assert_int_equal(sandbox_memory_used(), used + 50000 + HDR);
  p = sandbox_libmem_realloc(p, 10);  /* shrinks */
  assert_non_null(p);
  assert_int_equal(p[9], 0xab);
  assert_int_equal(sandbox_memory_used(), used + 10 + HDR);
  void *q = sandbox_libmem_realloc(NULL, 3);
  assert_int_equal(sandbox_memory_used(), used + 10 + 3 + 2 * HDR);
  assert_null(sandbox_libmem_realloc(p, 0));  /* size 0 frees */
  sandbox_libmem_free(q);
  sandbox_libmem_free(NULL);
  assert_int_equal(sandbox_memory_used(), used);
  assert_int_equal(sandbox_libmem_used(), 0);
  assert_null(sandbox_libmem_realloc(NULL, SIZE_MAX - 4));
  assert_int_equal(sandbox_memory_used(), used);
  assert_true(sandbox_limits_hit() < 0);
}

static void test_uncounted_section(void **state) {
  (void)state;
  size_t used = sandbox_memory_used();
  void *counted = sandbox_libmem_realloc(NULL, 100);
  sandbox_memory_uncounted_begin();
  sandbox_memory_uncounted_begin();  /* nests */
  void *shared = sandbox_libmem_realloc(NULL, 5000);
  sandbox_memory_uncounted_end();
  void *shared2 = sandbox_libmem_realloc(NULL, 5000);
  counted = sandbox_libmem_realloc(counted, 300);  /* keeps being counted */
  sandbox_memory_uncounted_end();
  assert_non_null(shared);
  assert_non_null(shared2);
  assert_non_null(counted);
  assert_int_equal(sandbox_memory_used(), used + 300 + HDR);
  shared = sandbox_libmem_realloc(shared, 90000);  /* a block keeps its kind */
  assert_non_null(shared);
  assert_int_equal(sandbox_memory_used(), used + 300 + HDR);
  sandbox_libmem_free(shared);
  sandbox_libmem_free(shared2);
  sandbox_libmem_free(counted);
  assert_int_equal(sandbox_memory_used(), used);
}

/* {------------------------------------------------------
** OpenSSL: a full handshake between two SSL objects over memory BIOs
** ------------------------------------------------------- */

typedef struct tls_pair {
  SSL_CTX *sctx, *cctx;
  SSL *server, *client;
} tls_pair;

static EVP_PKEY *key;
static X509 *cert;

/* A self-signed certificate for the server, made once (uncounted). */
static void make_cert(void) {
  sandbox_memory_uncounted_begin();
  key = EVP_EC_gen("P-256");
  assert_non_null(key);
  cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"test", -1, -1, 0);
  X509_set_issuer_name(cert, name);
  assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
  sandbox_memory_uncounted_end();
}

/* Move what one side wrote to the other; returns the bytes moved. */
static size_t pump(SSL *from, SSL *to) {
  char buf[4096];
  size_t moved = 0;
  int n;
  while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof buf)) > 0) {
    assert_int_equal(BIO_write(SSL_get_rbio(to), buf, n), n);
    moved += (size_t)n;
  }
  return moved;
}

/* A memory BIO that reads as "retry" when empty (not EOF). */
static BIO *mem_bio(void) {
  BIO *b = BIO_new(BIO_s_mem());
  if (b != NULL) BIO_set_mem_eof_return(b, -1);
  return b;
}

/* A connected pair (handshake done, one message each way); 0 when an
** allocation failed on the way. */
static int tls_open(tls_pair *t) {
  memset(t, 0, sizeof *t);
  t->sctx = SSL_CTX_new(TLS_server_method());
  t->cctx = SSL_CTX_new(TLS_client_method());
  if (t->sctx == NULL || t->cctx == NULL) return 0;
  if (SSL_CTX_use_certificate(t->sctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey(t->sctx, key) != 1)
    return 0;
  t->server = SSL_new(t->sctx);
  t->client = SSL_new(t->cctx);
  if (t->server == NULL || t->client == NULL) return 0;
  SSL_set_bio(t->server, mem_bio(), mem_bio());
  SSL_set_bio(t->client, mem_bio(), mem_bio());
  SSL_set_accept_state(t->server);
  SSL_set_connect_state(t->client);
  for (int i = 0; i < 20; i++) {
    /* SSL_get_error right after the call: a BIO_write into its rbio
    ** clears the retry flags it reads. */
    int c = SSL_do_handshake(t->client);
    if (c <= 0 && SSL_get_error(t->client, c) != SSL_ERROR_WANT_READ)
      return 0;
    pump(t->client, t->server);
    int s = SSL_do_handshake(t->server);
    if (s <= 0 && SSL_get_error(t->server, s) != SSL_ERROR_WANT_READ)
      return 0;
    pump(t->server, t->client);
    if (c == 1 && s == 1) break;
  }
  char buf[64];
  if (SSL_write(t->client, "ping", 4) != 4) return 0;
  pump(t->client, t->server);
  if (SSL_read(t->server, buf, sizeof buf) != 4) return 0;
  if (SSL_write(t->server, "pong", 4) != 4) return 0;
  pump(t->server, t->client);
  return SSL_read(t->client, buf, sizeof buf) == 4;
}

static void tls_close(tls_pair *t) {
  SSL_free(t->server);
  SSL_free(t->client);
  SSL_CTX_free(t->sctx);
  SSL_CTX_free(t->cctx);
}

static void test_openssl_returns_to_baseline(void **state) {
  (void)state;
  tls_pair t;
  make_cert();
  /* The first handshake leaves OpenSSL's caches (the algorithms it
  ** fetched) until exit: the baseline is taken after it. */
  assert_true(tls_open(&t));
  tls_close(&t);
  size_t base = sandbox_memory_used();
  size_t libs = sandbox_libmem_used();
  for (int i = 0; i < 5; i++) {
    assert_true(tls_open(&t));
    /* two contexts and two established connections */
    assert_true(sandbox_libmem_used() > libs + 8 * 1024);
    tls_close(&t);
    assert_int_equal(sandbox_memory_used(), base);
    assert_int_equal(sandbox_libmem_used(), libs);
  }
  assert_true(sandbox_limits_hit() < 0);
}

/* }------------------------------------------------------ */

/* Fill the budget until fewer than `left` bytes remain; returns the block
** (counted) or NULL when already there. */
static void *fill_to(size_t left) {
  size_t used = sandbox_memory_used();
  if (used + left >= LIMIT) return NULL;
  void *p = sandbox_libmem_realloc(NULL, LIMIT - used - left);
  assert_non_null(p);
  return p;
}

static void test_openssl_fails_at_the_limit(void **state) {
  (void)state;
  size_t used = sandbox_memory_used();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  void *filler = fill_to(64);  /* not enough for an SSL object */
  assert_null(SSL_new(ctx));   /* refused by the allocator: an error */
  assert_int_equal(sandbox_limits_hit(), SL_LIMIT_MEMORY);
  ERR_clear_error();
  sandbox_libmem_free(filler);
  SSL_CTX_free(ctx);
  assert_int_equal(sandbox_memory_used(), used);
}

static void test_refusal_after_the_hit(void **state) {
  (void)state;
  /* The hit stays (sticky); 1 MiB more is allowed for closing. */
  size_t used = sandbox_memory_used();
  void *p = sandbox_libmem_realloc(NULL, 1000);
  assert_non_null(p);
  void *big = sandbox_libmem_realloc(p, 4 * LIMIT);  /* past the reserve */
  assert_null(big);
  assert_int_equal(sandbox_memory_used(), used + 1000 + HDR);
  sandbox_libmem_free(p);
  void *r = sandbox_libmem_realloc(NULL, (size_t)512 << 10);
  assert_non_null(r);  /* within the reserve */
  sandbox_libmem_free(r);
  assert_int_equal(sandbox_memory_used(), used);
  assert_int_equal(sandbox_limits_hit(), SL_LIMIT_MEMORY);
}

static int group_setup(void **state) {
  (void)state;
  sandbox_limits lim;
  char err[128];
  sandbox_limits_init(&lim);
  if (sandbox_limits_set(&lim, SL_LIMIT_MEMORY, (int64_t)LIMIT,
                         SANDBOX_SOURCE_CLI, err, sizeof err) != 0 ||
      sandbox_limits_set(&lim, SL_LIMIT_CPU, 0, SANDBOX_SOURCE_CLI, err,
                         sizeof err) != 0)
    return -1;
  L = luaL_newstate();
  if (L == NULL || sandbox_limits_attach(L, &lim) != 0) return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  X509_free(cert);
  EVP_PKEY_free(key);
  sandbox_limits_closing();
  lua_close(L);
  return 0;
}

int main(void) {
  /* First, as in sandlua's main: before OpenSSL allocates anything. */
  static const net_mem counted_mem = {
    sandbox_libmem_realloc, sandbox_memory_uncounted_begin,
    sandbox_memory_uncounted_end,
  };
  if (net_mem_init(&counted_mem) != 0) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_uncounted_before_start),
    cmocka_unit_test(test_counting),
    cmocka_unit_test(test_uncounted_section),
    cmocka_unit_test(test_openssl_returns_to_baseline),
    cmocka_unit_test(test_openssl_fails_at_the_limit),
    cmocka_unit_test(test_refusal_after_the_hit),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
