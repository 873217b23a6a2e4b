/*
** limits_table.h - the resource limits of a sandboxed script, in one
** X-macro (libuv's UV_ERRNO_MAP): every place that names a limit, parses
** or checks its value, prints its default or ends the process with its exit
** status is generated from SL_LIMITS, so they cannot drift apart.
**
** Users:
**   - sandbox/limits.[ch]: the limit enum, the defaults, the option parser
**     and range check (sl_limit_parse, sl_limit_check), the stop messages
**     and the exit status of a hit;
**   - security/policy_sandbox.c: the keys of a policy's `sandbox:` section
**     and their validation (the same parser and bounds as the options);
**   - interp/main.c: the long options, their help lines, and applying the
**     policy's values below the command line's.
**
** Plain C, no Lua, no libraries (common/ layer).
*/
#ifndef SL_COMMON_LIMITS_TABLE_H
#define SL_COMMON_LIMITS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "exitcodes.h"

/*
** XX(id, name, option, policy key, kind, default, lowest, highest, exit,
**    help)
**   name      in messages ("limit: memory 256M exceeded") and audit records
**   option    the command-line option
**   key       the key of a policy's `sandbox:` section
**   kind      SIZE (bytes: "64M"), DURATION (ns: Go's "10s") or COUNT
**   default   the value when neither the command line nor a policy sets it
**   lowest    the smallest value allowed besides 0 (0 is always allowed and
**             means "no limit", except for CONNECTIONS: none allowed)
**   highest   the largest value allowed
**   exit      the exit status when the limit ends the script (0: it never
**             does; a connection over the limit is a returned error)
**   help      the --help line, after the option and before the default
** Listed in the order of --help and the man page.
*/
#define SL_LIMITS(XX)                                                     \
  XX(MEMORY, "memory", "--memory-limit", "memory_limit", SIZE,           \
     INT64_C(256) << 20, INT64_C(1) << 20, INT64_MAX, SL_EXIT_MEMORY,     \
     "bytes the script may hold")                                         \
  XX(CPU, "cpu", "--cpu-limit", "cpu_limit", DURATION,                    \
     INT64_C(300) * 1000000000, INT64_C(1000000), INT64_MAX, SL_EXIT_CPU, \
     "CPU time")                                                          \
  XX(TIMEOUT, "timeout", "--timeout", "timeout", DURATION, 0,             \
     INT64_C(1000000), INT64_MAX, SL_EXIT_TIMEOUT, "wall-clock time")     \
  XX(INSTRUCTIONS, "instructions", "--instruction-limit",                 \
     "instruction_limit", COUNT, 0, 1, INT64_MAX / 2,                     \
     SL_EXIT_INSTRUCTIONS, "Lua instructions, all tasks together")        \
  XX(CONNECTIONS, "connections", "--max-connections", "max_connections",  \
     COUNT, 64, 0, 100000, 0, "open connections (0: none)")                         \
  XX(OUTPUT, "output", "--max-output", "max_output", SIZE, 0, 1,          \
     INT64_MAX, SL_EXIT_OUTPUT, "bytes written by print/io.write")

typedef enum sl_limit {
#define SL_LIMIT_ENUM(id, ...) SL_LIMIT_##id,
  SL_LIMITS(SL_LIMIT_ENUM)
#undef SL_LIMIT_ENUM
  SL_LIMIT_COUNT
} sl_limit;

typedef enum sl_limit_kind {
  SL_LIMIT_KIND_SIZE,
  SL_LIMIT_KIND_DURATION,
  SL_LIMIT_KIND_COUNT
} sl_limit_kind;

/* One row of SL_LIMITS. */
typedef struct sl_limit_info {
  const char *name, *option, *key;
  sl_limit_kind kind;
  int64_t dflt, lowest, highest;
  int exit_code;
  const char *help;
} sl_limit_info;

/* The rows, indexed by sl_limit. */
extern const sl_limit_info sl_limits[SL_LIMIT_COUNT];

/* What a value of the kind looks like, for messages and --help:
** "SIZE", "DURATION", "N". */
const char *sl_limit_metavar(sl_limit_kind kind);

/*
** Check a value against the limit's bounds.  Returns 0, or -ERANGE with
** "must not be negative", "must be 0 (no limit) or at least 1M" or "must be
** at most 100000" in err; -EINVAL for a `which` out of the table.
*/
int sl_limit_check(sl_limit which, int64_t value, char *err, size_t errlen);

/*
** Parse a limit's text by its kind ("64M", "10s", "1000": common/units.h)
** and check it.  The one parser of both the command line and the policy
** `sandbox:` section.  Returns 0 with the value in *out, or -EINVAL /
** -ERANGE with a message in err (the text it rejects, or the bound).
*/
int sl_limit_parse(sl_limit which, const char *text, int64_t *out,
                   char *err, size_t errlen);

/* The value as the user would write it: "64M", "1m30s", "1000". */
void sl_limit_format(sl_limit which, int64_t value, char *buf, size_t len);

/*
** Whether value is at least as tight as the limit's default: not 0 (no
** limit) unless the default is, and not above it; for CONNECTIONS, where 0
** is none at all, not above it.  A policy file may only set such values.
*/
int sl_limit_tightens(sl_limit which, int64_t value);

#endif
