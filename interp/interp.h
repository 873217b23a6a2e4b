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
} interp_config;

/* Print the --version text (sandlua's and its libraries' versions). */
void interp_print_version(void);

#endif
