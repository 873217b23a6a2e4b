/*
** units.h - parsing of the quantities that command-line options, policy
** files and the `time` module share: Go durations ("1h30m", "250ms",
** "1.5s") and byte sizes ("64M", "512KiB", "1048576").
**
** Plain C, no Lua: used by security/ (policy `sandbox:` section), sandbox/
** (limit options) and stdlib/ (time, websocket timeouts).
*/
#ifndef SL_SECURITY_UNITS_H
#define SL_SECURITY_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_NANOSECOND INT64_C(1)
#define UNITS_MICROSECOND INT64_C(1000)
#define UNITS_MILLISECOND INT64_C(1000000)
#define UNITS_SECOND INT64_C(1000000000)
#define UNITS_MINUTE (60 * UNITS_SECOND)
#define UNITS_HOUR (60 * UNITS_MINUTE)

/*
** Parse a Go duration exactly as Go's time.ParseDuration does: an optional
** sign, then one or more decimal numbers, each with an optional fraction and
** a unit (ns, us, µs, μs, ms, s, m, h); "0" alone is allowed.  On success
** stores nanoseconds in *ns and returns 0.  On failure returns -EINVAL (bad
** syntax, unknown or missing unit) or -ERANGE (overflows int64) and writes a
** message naming the offending text into err (if errlen > 0).
*/
int units_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);

/*
** Parse a byte size: a decimal integer with an optional suffix K, M, G, T
** (or KiB, MiB, GiB, TiB; powers of 1024) or B.  Returns 0, -EINVAL or
** -ERANGE (over INT64_MAX) with a message in err as above.
*/
int units_parse_size(const char *s, int64_t *bytes, char *err, size_t errlen);

#endif
