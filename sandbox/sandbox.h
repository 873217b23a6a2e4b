/*
** sandbox.h - the sandbox's configuration and the lock-down of the process.
**
** Provides to interp/main.c: the settings the command line and a policy's
** `sandbox:` section fill in, and sandbox_lockdown(), the last
** step of start-up (DESIGN.md "Start-up sequence" step 6): rlimits, then
** Landlock, then seccomp, no_new_privs first.  Call it after everything
** that opens files or creates threads is done: the state and its libraries,
** the event loop (epoll and eventfd), the --ca-file CA files and the c-ares
** channel (resolver files read).  OpenSSL's configuration and the default
** trust store stay readable: the first wss:// connection loads them.  The
** network layer must also keep /dev/urandom open if it reads it per frame.
** After the lock-down the process can read only the module paths, the
** script, the trust store and the DNS files, cannot exec, fork, write files,
** or open sockets other than AF_INET/AF_INET6 stream and datagram.
*/
#ifndef SL_SANDBOX_SANDBOX_H
#define SL_SANDBOX_SANDBOX_H

#include <stddef.h>

#include "limits.h"
#include "landlock.h"
#include "seccomp.h"

#define SANDBOX_MAX_PATHS 64

typedef struct sandbox_config {
  int unsafe;                       /* --unsafe-no-sandbox */
  sandbox_seccomp_mode seccomp;     /* --seccomp */
  int seccomp_source;               /* SANDBOX_SOURCE_* */
  const char *module_paths[SANDBOX_MAX_PATHS];  /* --module-path */
  size_t n_module_paths;
  const char *read_paths[SANDBOX_MAX_PATHS];    /* --allow-read (resolved
                                                   by sandbox_read_init) */
  size_t n_read_paths;
  const char *script;               /* the script file (read once more) */
  int log_fd;                       /* a file sandlua appends to (the audit
                                       log), or -1 */
  int64_t log_room;                 /* the size log_fd may reach: its size
                                       now and what this run may add */
  sandbox_net net;                  /* the TCP ports connections may reach
                                       (Landlock ABI 4); zero: none */
  sandbox_limits limits;
} sandbox_config;

/* Defaults: sandbox on, seccomp strict, default limits, no module path. */
void sandbox_config_init(sandbox_config *cfg);

/*
** Set the seccomp mode from `source` (SANDBOX_SOURCE_*); ignored when a
** higher source set it already (the command line wins over a policy).
** A policy's `sandbox:` section feeds the limits the same way:
**   if (ps->set[SL_LIMIT_MEMORY])
**     rc = sandbox_limits_set(&cfg->limits, SL_LIMIT_MEMORY,
**                             ps->value[SL_LIMIT_MEMORY],
**                             SANDBOX_SOURCE_POLICY, ...);
**   if (ps->seccomp_set)
**     sandbox_config_set_seccomp(cfg, (sandbox_seccomp_mode)ps->seccomp,
**                                SANDBOX_SOURCE_POLICY);
** after the options are parsed and before sandbox_limits_attach().
*/
void sandbox_config_set_seccomp(sandbox_config *cfg, sandbox_seccomp_mode mode,
                                int source);

/* What the lock-down did, for the caller to report. */
typedef struct sandbox_status {
  int landlock_abi;       /* > 0 when Landlock is in force */
  int landlock_net;       /* 1 when its TCP rules are in force */
  char warning[256];      /* a line to print on stderr, or "" */
} sandbox_status;

/*
** Lower RLIMIT_NOFILE to the descriptors open now, the connections allowed
** and a margin.  Called early in start-up; the lock-down calls it too, in
** case it was not called before: only the first call counts.  Does
** nothing with cfg->unsafe.
*/
int sandbox_limit_files(const sandbox_config *cfg, char *err, size_t errlen);

/*
** Lock the process down as cfg says (nothing but the limits' rlimits with
** cfg->unsafe).  Returns 0, or -errno with a message in err: the caller
** must then not run the script (seccomp could not be installed although
** the mode is not off).
*/
int sandbox_lockdown(const sandbox_config *cfg, sandbox_status *st,
                     char *err, size_t errlen);

#endif
