/*
** interp.h - what the sandlua executable's parts share: the exit codes and
** the run-time configuration gathered from the command line.
*/
#ifndef SL_INTERP_INTERP_H
#define SL_INTERP_INTERP_H

/* Exit codes (documented in the README and the man page). */
#define INTERP_EXIT_OK 0
#define INTERP_EXIT_SCRIPT 1  /* the script raised an error */
#define INTERP_EXIT_USAGE 2   /* bad command line */
#define INTERP_EXIT_POLICY 3  /* a policy file is invalid */
/* A limit ended the script (sandbox/limits.h), or the sandbox refused. */
#define INTERP_EXIT_MEMORY 4        /* --memory-limit */
#define INTERP_EXIT_CPU 5           /* --cpu-limit */
#define INTERP_EXIT_TIMEOUT 6       /* --timeout */
#define INTERP_EXIT_INSTRUCTIONS 7  /* --instruction-limit */
#define INTERP_EXIT_OUTPUT 8        /* --max-output */
#define INTERP_EXIT_SANDBOX 9       /* a blocked system call, or no filter */

#include "../sandbox/sandbox.h"

_Static_assert(INTERP_EXIT_MEMORY == SANDBOX_EXIT_MEMORY &&
               INTERP_EXIT_CPU == SANDBOX_EXIT_CPU &&
               INTERP_EXIT_TIMEOUT == SANDBOX_EXIT_TIMEOUT &&
               INTERP_EXIT_INSTRUCTIONS == SANDBOX_EXIT_INSTRUCTIONS &&
               INTERP_EXIT_OUTPUT == SANDBOX_EXIT_OUTPUT &&
               INTERP_EXIT_SANDBOX == SANDBOX_EXIT_VIOLATION,
               "exit codes of interp.h and sandbox/limits.h");

#define INTERP_PROGNAME "sandlua"
#define INTERP_VERSION "0.1.0"

/*
** What the command line asked for.  Each layer adds the fields its options
** set (see the long option table in main.c).
*/
typedef struct interp_config {
  int argc;
  char **argv;
  int script;    /* index of the script in argv; argc when none */
  int args;      /* lua.c's has_* bits */
  int exit_now;  /* --help, --version: done after parsing */
  int exit_code; /* set when start-up fails after parsing */
  sandbox_config sandbox;  /* --unsafe-no-sandbox, limits, --seccomp... */
} interp_config;

/* Print the --version text (sandlua's and its libraries' versions). */
void interp_print_version(void);

#endif
