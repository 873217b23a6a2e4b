/*
** policy_cases.h - expectation cases for `sandlua policy test`.
**
** Provides to interp/policy_cmd.c the loader of a cases file: which policy
** files to load (relative to the cases file), a default actor, and a list
** of requests with the decision (and optionally the deciding policy) they
** must get.  Format in policies/README.md.  Plain C, no Lua.
*/
#ifndef SL_SECURITY_POLICY_CASES_H
#define SL_SECURITY_POLICY_CASES_H

#include "policy.h"

enum { POLICY_EXPECT_DENY, POLICY_EXPECT_ALLOW, POLICY_EXPECT_INVALID };

/* At most this many addresses in a case's ip list. */
#define POLICY_CASE_IPS 16

typedef struct policy_case {
  char *name;           /* given, or "ACTION RESOURCE" */
  int line;             /* where the case starts */
  int has_actor;
  policy_actor actor;   /* replaces the file's actor when has_actor */
  char *action;
  char *resource;
  policy_kv *meta;
  size_t n_meta;
  policy_ip ips[POLICY_CASE_IPS]; /* post-DNS: the addresses the host */
  size_t n_ips;                    /* resolved to, in order (ip: A or [A..]) */
  int expect;           /* POLICY_EXPECT_* */
  char *policy;         /* expected deciding policy, or NULL */
} policy_case;

typedef struct policy_cases {
  char **policies;      /* policy files, resolved against the cases file */
  size_t n_policies;
  int has_actor;
  policy_actor actor;
  policy_case *items;
  size_t n;
} policy_cases;

/* Load a cases file.  Returns 0, or -EINVAL/-errno with d->error set. */
int policy_cases_load(const char *path, policy_cases *c, policy_diags *d);
void policy_cases_free(policy_cases *c);

#endif
