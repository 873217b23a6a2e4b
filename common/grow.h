/*
** grow.h - the growth of a dynamic array by doubling, for every layer that
** keeps one (security/: policy sets and the YAML tree; net/: the hosts
** table).
*/
#ifndef SL_COMMON_GROW_H
#define SL_COMMON_GROW_H

#include <stddef.h>

/*
** Make room for element n of the array at *(T **)arrp, which has *cap
** elements of `size` bytes: when n == *cap, realloc it to twice as many
** (`first` when empty).  Returns 0, or -ENOMEM with the array unchanged.
*/
int sl_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first);

#endif
