/*
** grow.c - sl_grow (see grow.h).
*/
#include "grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sl_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first) {
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : first;
  if (ncap < *cap || ncap > SIZE_MAX / size) return -ENOMEM;
  void *a;
  memcpy(&a, arrp, sizeof a); /* arrp points to a T *, whatever T */
  a = realloc(a, ncap * size);
  if (a == NULL) return -ENOMEM;
  memcpy(arrp, &a, sizeof a);
  *cap = ncap;
  return 0;
}
