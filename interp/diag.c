/*
** diag.c - usage errors and policy diagnostics on stderr (see diag.h).
*/
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

#include "interp.h"

int interp_usage_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
  return SL_EXIT_USAGE;
}

void interp_print_diag(const policy_diag *d, const char *prefix) {
  char buf[1024];
  policy_diag_format(d, buf, sizeof buf);
  fprintf(stderr, "%s%s\n", prefix, buf);
}

void interp_print_warnings(policy_diags *d, const char *prefix) {
  for (size_t i = 0; i < d->n_warnings; i++)
    interp_print_diag(&d->warnings[i], prefix);
  policy_diags_free(d);
}
