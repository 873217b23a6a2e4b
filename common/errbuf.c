/*
** errbuf.c - sl_errf, the one formatter into an err/errlen buffer.
*/
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sl_errf(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

const char *sl_errno_name(int e) {
  const char *n = strerrorname_np(e);
  if (n != NULL) return n;
  static char buf[24];
  snprintf(buf, sizeof buf, "errno %d", e);
  return buf;
}
