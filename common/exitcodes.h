/*
** exitcodes.h - the exit statuses of sandlua, in one X-macro (libuv's
** UV_ERRNO_MAP): interp/ returns them, sandbox/ ends the process with them
** from its signal handlers (a limit's timer, a refused system call), the
** limits table (common/limits_table.h) names each limit's, and the
** `sandlua policy` command reports its results with them.  The man page
** (packaging/man/sandlua.1, EXIT STATUS) documents every code;
** tests/integration/test_dist.py checks that it does.
**
** Header only: no Lua, no libraries.
*/
#ifndef SL_COMMON_EXITCODES_H
#define SL_COMMON_EXITCODES_H

/* XX(name, status).  A status may have several names (the policy command
** gives 1 its own meaning). */
#define SL_EXITCODES(XX)                                                   \
  XX(OK, 0)            /* the script ran to the end; policy: allow */      \
  XX(SCRIPT, 1)        /* the script raised an error, or a deadlock */     \
  XX(DENIED, 1)        /* policy check: deny; policy test: a case failed */\
  XX(USAGE, 2)         /* bad command line */                              \
  XX(POLICY, 3)        /* a policy (or cases) file is invalid */           \
  XX(MEMORY, 4)        /* the memory limit was hit */                      \
  XX(CPU, 5)           /* the CPU time limit was hit */                    \
  XX(TIMEOUT, 6)       /* the wall-clock timeout was hit */                \
  XX(INSTRUCTIONS, 7)  /* the instruction limit was hit */                 \
  XX(OUTPUT, 8)        /* the output limit was hit */                      \
  XX(SANDBOX, 9)       /* a refused system call, or no sandbox */      \
  XX(AUDIT, 10)        /* the audit log could not be written */

typedef enum sl_exit {
#define SL_EXIT_ENUM(name, status) SL_EXIT_##name = (status),
  SL_EXITCODES(SL_EXIT_ENUM)
#undef SL_EXIT_ENUM
} sl_exit;

#endif
