/*
** errbuf.h - the error-buffer convention of the C layers: a function that
** can fail takes `char *err, size_t errlen` and, failing, writes one line
** saying why into it (never more than errlen bytes, nothing when errlen is
** 0) and returns a negative errno.  Used by common/, security/ and net/.
*/
#ifndef SL_COMMON_ERRBUF_H
#define SL_COMMON_ERRBUF_H

#include <stddef.h>

/*
** Format fmt into err (errlen bytes, truncated, always terminated; nothing
** when errlen is 0) and return rc, so a parser can
** `return sl_errf(err, errlen, -EINVAL, "bad %s", what);`.
*/
int sl_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The symbolic name of an errno value ("ECONNREFUSED"), or "errno N" (a
** static buffer for unknown values: not reentrant then). */
const char *sl_errno_name(int e);

#endif
