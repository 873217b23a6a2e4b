/*
** diag.c - usage errors and policy diagnostics on stderr (see diag.h).
*/
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../common/escape.h"
#include "interp.h"

void interp_eputs(const char *s, int lines) {
  char out[512];
  while (*s) {
    /* a run without the kept line breaks, escaped in pieces */
    size_t n = lines ? strcspn(s, "\n\t") : strlen(s);
    while (n > 0) {
      size_t k = n < 100 ? n : 100;  /* 100 bytes escape to at most 400 */
      sl_escape_ctl(out, sizeof out, s, k);
      fputs(out, stderr);
      s += k;
      n -= k;
    }
    if (*s) fputc(*s++, stderr);  /* '\n' or '\t' */
  }
}

void interp_errorf(const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  interp_eputs(msg, 0);
  fputc('\n', stderr);
}

int interp_usage_error(const char *prog, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: ", prog);
  interp_eputs(msg, 0);
  fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
  return SL_EXIT_USAGE;
}

void interp_print_diag(const policy_diag *d, const char *prefix) {
  char buf[1024];
  policy_diag_format(d, buf, sizeof buf);
  fputs(prefix, stderr);
  interp_eputs(buf, 0);
  fputc('\n', stderr);
}

void interp_print_warnings(policy_diags *d, const char *prefix) {
  for (size_t i = 0; i < d->n_warnings; i++)
    interp_print_diag(&d->warnings[i], prefix);
  policy_diags_free(d);
}
