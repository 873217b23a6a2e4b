/*
** landlock.h - read-only file access through Landlock (raw system calls).
**
** Provides to sandbox.c one call that restricts the process, for good, to
** reading the listed paths (files, or directories and what is below them):
** every other open, and any write, truncation, creation or removal, fails
** with EACCES.  Files already open (stdin, stdout, sockets) are unaffected.
*/
#ifndef SL_SANDBOX_LANDLOCK_H
#define SL_SANDBOX_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The TCP ports a connection may go to (the loaded policies'). */
typedef struct sandbox_net {
  int any_port;           /* a policy may allow any port */
  const uint16_t *ports;  /* else only these */
  size_t n;
} sandbox_net;

/*
** Restrict the process to reading `paths` (n of them; missing ones are
** skipped) and, where the kernel has Landlock's network rules (ABI 4),
** to connecting over TCP only to net's ports (any with net->any_port) and
** to binding no TCP port at all; *net_on says whether those rules are in
** force.  net may be NULL (no network rules).  no_new_privs must be set
** already.  Returns the Landlock ABI version in force (>= 1), or
** -ENOSYS/-EOPNOTSUPP when the kernel has no Landlock (the caller warns
** and goes on), or another -errno with a message in err.
*/
int sandbox_landlock_restrict(const char *const *paths, size_t n,
                              const sandbox_net *net, int *net_on, char *err,
                              size_t errlen);

#endif
