/*
** netmem.h - the allocator of the net layer's library
** (OpenSSL) and the bracket around process-wide state.
**
** The net layer does not know who counts memory: the interpreter hands it
** an allocator (the sandbox's counted one) with net_mem_init(), the first
** call of main(), before OpenSSL allocates anything.  From then on every
** block OpenSSL allocates goes through it.
**
** Process-wide state (the default TLS context and its trust store, made once
** and shared by every connection) is made between net_mem_shared_begin()
** and _end(), which call the hooks given (the sandbox does not count what is
** allocated in between).  Without hooks both are no-ops.
*/
#ifndef SL_NET_NETMEM_H
#define SL_NET_NETMEM_H

#include <stddef.h>

typedef struct net_mem {
  /* realloc's contract: ptr NULL allocates, size 0 frees (and returns
  ** NULL), NULL on failure with ptr untouched. */
  void *(*realloc)(void *ptr, size_t size);
  void (*shared_begin)(void);  /* may be NULL */
  void (*shared_end)(void);    /* may be NULL */
} net_mem;

/*
** Route OpenSSL's allocations through m->realloc (m must
** outlive the process's use of the libraries).  Returns 0, or -1 when
** OpenSSL had already allocated (its memory functions cannot be changed
** then): its memory would not go through m.
*/
int net_mem_init(const net_mem *m);

void net_mem_shared_begin(void);
void net_mem_shared_end(void);

#endif
