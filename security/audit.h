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
#include <stdio.h>

#include "policy.h"

typedef struct policy_audit {
  FILE *f;
  int all;  /* record allowed decisions too (--audit-all) */
} policy_audit;

/*
** Open (append, create with mode 0600) the log at path.  Returns 0 or
** -errno.  all: also record decisions that allowed.
*/
int policy_audit_open(policy_audit *a, const char *path, int all);

/* Flush and close.  Returns 0 or -errno. */
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
