/*
** sigsafe.c - output from signal handlers (see sigsafe.h).
*/
#include "sigsafe.h"

#include <errno.h>
#include <unistd.h>

void sandbox_write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}
