/*
** audit.h - the audit log: one JSON object per line.
**
** Provides to the interpreter, the `security` module and the sandbox layer
** one stream of records (policy decisions, sandbox refusals, limit hits).
** Every string is escaped so that control characters, quotes and invalid
** UTF-8 in a URL or an actor id cannot forge a line or break a parser.
** Plain C; writes only to the file it was opened on.
*/
#ifndef SL_SECURITY_AUDIT_H
#define SL_SECURITY_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

typedef struct policy_audit {
  FILE *f;
  int all;              /* record allowed decisions too (--audit-all) */
  char run[17];         /* this run's id, in every record */
  int64_t max;          /* bytes this run may write (--audit-log-max) */
  int64_t written;      /* bytes written by this run */
  int64_t dropped;      /* records not written: over max */
  /* A write failed (disk full, ...): called once with -errno; the
  ** interpreter ends the run (SL_EXIT_AUDIT).  NULL: the record is lost. */
  void (*on_error)(struct policy_audit *a, int err);
} policy_audit;

/* Default of --audit-log-max. */
#define POLICY_AUDIT_MAX ((int64_t)64 << 20)

/*
** Open the log at path to append to (created with mode 0600): a regular
** file only, never through a symbolic link (O_NOFOLLOW: a dangling link's
** target is not created), never blocking (a FIFO without a reader is
** refused), close-on-exec.  Records past max bytes (this run's) are
** counted and summed up in a last record at close.  Returns 0 or -errno
** (-EINVAL: not a regular file).  all: also record decisions that allowed.
*/
int policy_audit_open(policy_audit *a, const char *path, int all,
                      int64_t max);

/* Size of the file now (for the file-size limit), or -1. */
int64_t policy_audit_size(const policy_audit *a);

/* The summary record of what was dropped, then flush and close.  Returns
** 0 or -errno. */
int policy_audit_close(policy_audit *a);

/*
** Write one record: {"time":..., "event": event, k1: v1, ...} with n
** key/value string pairs (kv[2i], kv[2i+1]; a NULL value is written as
** null).  Returns 0 or -errno (also 0 when a is closed).
*/
int policy_audit_record(policy_audit *a, const char *event,
                        const char *const *kv, size_t n);

/*
** Record a decision: time, actor, action, resource, decision
** ("allow"/"deny"), policy, and detail when there is one.  Denials are
** always written, allows only when a->all.  Returns 0 or -errno.
*/
int policy_audit_decision(policy_audit *a, const policy_actor *actor,
                          const char *action, const char *resource,
                          const policy_decision *d);

/* Append s as a JSON string literal (quotes included) to out (size len,
** always NUL-terminated; truncated strings stay valid JSON).  Returns 1
** when s had to be truncated, else 0. */
int policy_json_quote(const char *s, char *out, size_t len);

#endif
