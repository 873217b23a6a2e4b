/*
** counting_alloc.h - a realloc-style allocator for the unit tests (size 0
** frees): counts the bytes live in m_live and refuses a block that would
** take them past m_budget.  Included by the tests of the components that
** take an allocator (the protocol engine, the resolver).
*/
#ifndef SL_TESTS_COUNTING_ALLOC_H
#define SL_TESTS_COUNTING_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct mblock {
  size_t size;
  max_align_t align[];
} mblock;
static size_t m_live, m_budget = SIZE_MAX;

static void *count_alloc(void *p, size_t size) {
  mblock *b =
      p ? (mblock *)(void *)((char *)p - offsetof(mblock, align)) : NULL;
  size_t old = b ? b->size : 0;
  if (size == 0) {
    m_live -= old;
    free(b);
    return NULL;
  }
  if (size > old && m_live + (size - old) > m_budget) return NULL;
  mblock *nb = realloc(b, sizeof *nb + size);
  if (nb == NULL) return NULL;
  m_live = m_live - old + size;
  nb->size = size;
  return nb->align;
}

#endif
