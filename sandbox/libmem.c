/*
** libmem.c - the counted allocator of the libraries (OpenSSL, zlib,
** c-ares) and the websocket client, see libmem.h.
**
** Neither library passes the old size to free or realloc, so each block
** starts with a header: the size asked for and whether it was charged.
** A block is charged its size plus the header (what malloc is asked for).
** Cost per call: one call into the budget and one add, next to malloc's.
*/
#include "libmem.h"

#include <stdint.h>
#include <stdlib.h>

#include "limits.h"

typedef struct block {
  size_t size;     /* bytes asked for */
  size_t counted;  /* 1: charged size + HDR to the budget */
} block;

#define HDR SANDBOX_LIBMEM_HEADER
_Static_assert(sizeof(block) <= HDR && HDR % _Alignof(max_align_t) == 0,
               "the header keeps the blocks aligned");

/* What the counted blocks alive were charged (libs_add after a successful
** sandbox_memory_charge; libs_release also gives it back to the budget). */
static size_t libs_used;

static block *head(void *ptr) {
  return (block *)(void *)((char *)ptr - HDR);
}

static void *user(block *b) {
  return (char *)b + HDR;
}

static void libs_add(size_t n) {
  libs_used += n;
}

static void libs_release(size_t n) {
  libs_used -= n;
  sandbox_memory_uncharge(n);
}

void sandbox_libmem_free(void *ptr) {
  if (ptr == NULL) return;
  block *b = head(ptr);
  if (b->counted) libs_release(b->size + HDR);
  free(b);
}

static void *alloc_new(size_t size) {
  int counted = sandbox_memory_counting();
  if (counted && sandbox_memory_charge(size + HDR) != 0) return NULL;
  block *b = malloc(size + HDR);
  if (b == NULL) {
    if (counted) sandbox_memory_uncharge(size + HDR);
    return NULL;
  }
  if (counted) libs_add(size + HDR);
  b->size = size;
  b->counted = (size_t)counted;
  return user(b);
}

void *sandbox_libmem_realloc(void *ptr, size_t size) {
  if (size == 0) {
    sandbox_libmem_free(ptr);
    return NULL;
  }
  if (size > SIZE_MAX - HDR) return NULL;
  if (ptr == NULL) return alloc_new(size);
  block *b = head(ptr);
  size_t old = b->size;
  int counted = b->counted != 0;
  if (counted && size > old && sandbox_memory_charge(size - old) != 0)
    return NULL;
  block *nb = realloc(b, size + HDR);
  if (nb == NULL) {
    if (counted && size > old) sandbox_memory_uncharge(size - old);
    return NULL;
  }
  nb->size = size;
  if (counted) {
    if (size > old) {
      libs_add(size - old);
    } else {
      libs_release(old - size);
    }
  }
  return user(nb);
}

size_t sandbox_libmem_used(void) {
  return libs_used;
}
