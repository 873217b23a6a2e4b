/*
** netmem.c - OpenSSL's allocator (see netmem.h).
*/
#include "netmem.h"

#include <openssl/crypto.h>

static const net_mem *mem;

/* OpenSSL: as its own CRYPTO_malloc, CRYPTO_realloc and CRYPTO_free (a
** request for 0 bytes gets NULL). */
static void *ossl_malloc(size_t size, const char *file, int line) {
  (void)file;
  (void)line;
  return size != 0 ? mem->realloc(NULL, size) : NULL;
}

static void *ossl_realloc(void *ptr, size_t size, const char *file,
                          int line) {
  (void)file;
  (void)line;
  return mem->realloc(ptr, size);
}

static void ossl_free(void *ptr, const char *file, int line) {
  (void)file;
  (void)line;
  if (ptr != NULL) mem->realloc(ptr, 0);
}

int net_mem_init(const net_mem *m) {
  mem = m;
  return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ? 0
                                                                        : -1;
}

void net_mem_shared_begin(void) {
  if (mem != NULL && mem->shared_begin != NULL) mem->shared_begin();
}

void net_mem_shared_end(void) {
  if (mem != NULL && mem->shared_end != NULL) mem->shared_end();
}
