/*
** sigsafe.h - output from signal handlers.
**
** Provides to the limits' and the seccomp filter's handlers (limits.c,
** seccomp.c) the one way they write: write(2) until all is written,
** retrying on EINTR, giving up silently on any other error.  Async-signal-
** safe; no dependency, so the try-syscall test program links it alone.
*/
#ifndef SL_SANDBOX_SIGSAFE_H
#define SL_SANDBOX_SIGSAFE_H

#include <stddef.h>

void sandbox_write_all(int fd, const char *s, size_t n);

#endif
