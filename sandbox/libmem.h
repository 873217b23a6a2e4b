/*
** libmem.h - the memory OpenSSL, zlib and c-ares allocate for the script,
** counted against the memory limit (one budget with the Lua state's
** allocator, sandbox/limits.h), and the websocket client's own buffers.
**
** interp/main.c hands sandbox_libmem_realloc() to the net layer
** (net/netmem.h) as the first call of main(), before OpenSSL allocates
** anything.  From then on every block the two libraries allocate goes
** through it (and so do zlib's streams, c-ares' resolver and the buffers of
** the websocket client and its protocol engine, stdlib/websocket.c): it carries
** a small header (its size and whether it was counted; the user pointer
** keeps max_align_t alignment), so a free gives back exactly what the
** allocation charged.
**
** What counts: a block allocated while sandbox_memory_counting() (from
** sandbox_limits_start(), right before the script runs; not inside
** sandbox_memory_uncounted_begin/end) is counted for its whole life; a
** block allocated before (the event loop's context, whose fd tables follow
** RLIMIT_NOFILE; --ca-file contexts) or in an uncounted section (the
** process-wide TLS set-up and trust store, net/tls.c) never
** is, even when resized later.  A counted block that would pass the limit
** is refused (NULL: the library fails that connection or operation) and
** the memory limit is hit.
**
** Headers of sandbox/ do not include lua.h or OpenSSL headers.
*/
#ifndef SL_SANDBOX_LIBMEM_H
#define SL_SANDBOX_LIBMEM_H

#include <stddef.h>

/*
** realloc with the header: ptr NULL allocates, size 0 frees (returns
** NULL); NULL on failure (ptr untouched), also when a counted block would
** pass the memory limit.  Blocks must come from this allocator.
*/
void *sandbox_libmem_realloc(void *ptr, size_t size);
void sandbox_libmem_free(void *ptr);

/* Bytes of the header before each block (a multiple of max_align_t's
** alignment, so blocks keep malloc's); a block is charged its size plus
** this. */
#define SANDBOX_LIBMEM_HEADER                                        \
  ((2 * sizeof(size_t) + _Alignof(max_align_t) - 1) /                \
   _Alignof(max_align_t) * _Alignof(max_align_t))

/* Bytes counted for library blocks alive now (part of
** sandbox_memory_used()), header included. */
size_t sandbox_libmem_used(void);

#endif
