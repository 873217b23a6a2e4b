/*
** diag.h - what the sandlua executable prints on stderr when its command
** line or a policy file is wrong: used by main.c (the interpreter's
** options), policy_setup.c (loading the policies) and policy_cmd.c
** (`sandlua policy ...`).
*/
#ifndef SL_INTERP_DIAG_H
#define SL_INTERP_DIAG_H

#include "../security/policy.h"

/*
** A usage error: "PROG: what is wrong" and a hint to PROG --help on
** stderr.  Returns SL_EXIT_USAGE.
*/
/*
** s on stderr with its control characters escaped (common/escape.h):
** every one, or with lines, all but the line breaks and tabs of a
** multi-line message (a traceback).
*/
void interp_eputs(const char *s, int lines);

/* One diagnostic line on stderr, formatted, escaped, then a newline. */
void interp_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int interp_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One loader diagnostic, "PREFIXfile:line:col: what", on stderr. */
void interp_print_diag(const policy_diag *d, const char *prefix);

/* Print the loader's warnings, each after prefix, and forget them. */
void interp_print_warnings(policy_diags *d, const char *prefix);

#endif
