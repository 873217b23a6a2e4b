/*
** policy.h - the security policy model and its evaluation.
**
** Provides to the interpreter (loading, `sandlua policy`), the `security`
** Lua module and the WebSocket client: a policy set built from YAML files
** (policy_yaml.c) and command-line shorthands, the actor the script runs
** as, the `sandbox:` settings of the files, and the decision for a request
** (actor, action, resource, meta), naming the policy that decided.
**
** Lifecycle:
**   policy_set *set = policy_set_new();
**   policy_load_file(set, "policy.yaml", &diag);      (policy_yaml.c; repeat)
**   policy_set_add_allow_url(set, "wss://x.org", ...);   (optional)
**   policy_decide(set, &req, &decision);               (any number of times)
**   policy_set_free(set);
** A set is read-only once loaded; it may be used from one thread at a time.
**
** Semantics (DESIGN.md "Policies"): any applicable deny -> deny; else any
** applicable allow -> allow; else undefined, a deny unless every file said
** `strict: false`.  A policy applies when one of its action patterns, one of
** its resource patterns and all of its conditions match.  A condition that
** cannot be evaluated (missing field, type mismatch) makes a deny policy
** apply and an allow policy not apply (fail closed).
**
** Functions return 0 or a negative errno; diagnostics go to a policy_diag.
** Plain C: no Lua, no I/O (the loader reads its files; audit.c writes).
*/
#ifndef SL_SECURITY_POLICY_H
#define SL_SECURITY_POLICY_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits_table.h"
#include "ip.h"
#include "url.h"

/* {======================================================
** Values
** ======================================================= */

typedef enum policy_vtype {
  POLICY_V_NULL,
  POLICY_V_BOOL,
  POLICY_V_NUM,
  POLICY_V_STR,
  POLICY_V_LIST
} policy_vtype;

/* A value in a condition, in actor meta or request meta.  Owns s/items. */
typedef struct policy_value {
  policy_vtype type;
  int b;
  double n;
  char *s;
  struct policy_value *items;
  size_t n_items;
} policy_value;

/* A key and its value (actor meta, request meta). */
typedef struct policy_kv {
  char *key;
  policy_value value;
} policy_kv;

void policy_value_free(policy_value *v);

/* }====================================================== */

/* {======================================================
** Diagnostics
** ======================================================= */

/* One error or warning, located in a file (line and column from 1;
** 0 when unknown). */
typedef struct policy_diag {
  char file[256];
  int line;
  int column;
  char message[512];
} policy_diag;

/* The loader's warnings (entries of other kinds skipped, ...). */
typedef struct policy_diags {
  policy_diag error;      /* filled when a call fails */
  policy_diag *warnings;  /* owned; free with policy_diags_free */
  size_t n_warnings;
} policy_diags;

void policy_diags_free(policy_diags *d);

/* Write "file:line:column: message" into buf. */
void policy_diag_format(const policy_diag *d, char *buf, size_t len);

/* }====================================================== */

/* {======================================================
** Model
** ======================================================= */

typedef enum policy_op {
  POLICY_OP_EQ, POLICY_OP_NE, POLICY_OP_LT, POLICY_OP_GT, POLICY_OP_LTE,
  POLICY_OP_GTE, POLICY_OP_IN, POLICY_OP_NIN, POLICY_OP_EXISTS,
  POLICY_OP_NEXISTS, POLICY_OP_CONTAINS, POLICY_OP_NCONTAINS,
  POLICY_OP_MATCHES, POLICY_OP_NMATCHES, POLICY_OP_CIDR
} policy_op;

/* The operator named ("eq"), or -1 when unknown. */
int policy_op_from_name(const char *name);

/* Where a condition reads its value. */
typedef enum policy_froot {
  POLICY_F_ACTOR_ID,
  POLICY_F_ACTOR_META,  /* actor.meta.<key> */
  POLICY_F_ACTION,
  POLICY_F_RESOURCE,
  POLICY_F_META         /* meta.<key> */
} policy_froot;

typedef struct policy_field {
  policy_froot root;
  char *key;  /* for the meta roots */
} policy_field;

/* Parse "actor.meta.role" and the like; -EINVAL for an unknown field. */
int policy_field_parse(const char *s, policy_field *f);

typedef struct policy_cond {
  policy_field field;
  policy_op op;
  int has_value;
  policy_value value;
  int has_from;
  policy_field from;  /* value_from */
  int has_re;
  regex_t re;         /* matches/nmatches with a literal value */
  policy_cidr *cidrs; /* cidr with a literal value */
  size_t n_cidrs;
} policy_cond;

typedef enum policy_effect { POLICY_ALLOW, POLICY_DENY } policy_effect;

/* A resource pattern: a glob, or a URL pattern (text containing "://"). */
typedef struct policy_resource {
  char *text;
  int is_url;
  policy_url_pattern url;
} policy_resource;

typedef struct policy {
  char *name;          /* "namespace:name" (or "name" without namespace) */
  char *file;          /* where it was defined ("--allow-url" for those) */
  int line, column;
  char **actions;
  size_t n_actions;
  policy_resource *resources;
  size_t n_resources;
  policy_effect effect;
  policy_cond *conds;
  size_t n_conds;
  char **groups;
  size_t n_groups;
} policy;

/* The actor a script runs as. */
typedef struct policy_actor {
  char *id;            /* NULL when none */
  policy_kv *meta;
  size_t n_meta;
} policy_actor;

/* Values of a top-level `sandbox:` section, each with a "set" flag.  The
** sandbox layer applies them (command-line options take precedence). */
typedef enum policy_seccomp {
  POLICY_SECCOMP_STRICT,
  POLICY_SECCOMP_LOG,
  POLICY_SECCOMP_OFF
} policy_seccomp;

typedef struct policy_sandbox {
  /* Per limit of common/limits_table.h: given, and its value (checked
  ** against the table's bounds, as the command line's options are). */
  int set[SL_LIMIT_COUNT];
  int64_t value[SL_LIMIT_COUNT];
  int seccomp_set;
  policy_seccomp seccomp;
} policy_sandbox;

typedef struct policy_set {
  policy *items;
  size_t n, cap;
  int n_files;          /* files loaded */
  int n_nonstrict;      /* files that said strict: false */
  int allow_unknown;    /* --allow-unknown: unknown names only warn */
  size_t n_site;        /* items[0..n_site) came from the site policy */
  policy_actor actor;
  policy_sandbox sandbox;
  struct policy__index *index;  /* host index of the URL actions (policy.c) */
} policy_set;

/* A new empty set (deny-all); NULL when out of memory. */
policy_set *policy_set_new(void);
void policy_set_free(policy_set *set);

/* Whether undefined decisions deny: true unless every loaded file said
** `strict: false` (and at least one file was loaded). */
int policy_set_strict(const policy_set *set);

/*
** Add the allow policy that `--allow-url PATTERN` stands for: actions
** websocket.connect and websocket.connect.url, resource PATTERN (a URL
** pattern), named "allow-url:N".  Returns 0, -EINVAL (bad pattern, message
** in d->error) or -ENOMEM.
*/
int policy_set_add_allow_url(policy_set *set, const char *pattern,
                             policy_diags *d);

/* Set the actor's id / one meta key (string value), replacing what the
** files said.  Return 0 or -ENOMEM. */
int policy_actor_set_id(policy_actor *a, const char *id);
int policy_actor_set_meta(policy_actor *a, const char *key,
                          const policy_value *v);
void policy_actor_clear(policy_actor *a);
int policy_actor_copy(policy_actor *dst, const policy_actor *src);

/* Free what a policy owns (used by the loader). */
void policy_free(policy *p);
/* Append p to the set (moved: the set owns it).  -EEXIST on a duplicate
** name, -ENOMEM. */
int policy_set_append(policy_set *set, policy *p);
/* Rebuild the index that speeds up URL decisions, after policies were
** appended.  Returns 0 or -ENOMEM (the set then decides without it). */
int policy_set_reindex(policy_set *set);
/* Find a policy by name; NULL if none. */
const policy *policy_set_find(const policy_set *set, const char *name);

/* }====================================================== */

/* {======================================================
** Evaluation
** ======================================================= */

/* The two guarded actions of the WebSocket client. */
#define POLICY_ACTION_CONNECT "websocket.connect"
#define POLICY_ACTION_CONNECT_URL "websocket.connect.url"

/*
** Is action an unknown name that looks like one of sandlua's guarded
** actions (in the websocket. namespace, or a near miss such as
** "websocket.conect")?  Then it is most likely a typo that would make a
** policy (or a check) silently match nothing: *suggest gets the closest
** known action.  Other names (a script's own, for security.can) are fine.
** Glob patterns are fine when they match a known action or stay out of
** the websocket. namespace.
*/
int policy_action_suspect(const char *action, const char **suggest);

/*
** What every policy of set makes of the request policy_check would make
** (after DNS when ip is given): fn(ud, p, verdict) in set order, verdict
** one of "skipped: no action pattern matches ...", "skipped: no resource
** pattern matches ...", "skipped: condition N (op) is false", "condition N
** ... cannot be evaluated: ...", "applies: allow|deny"; or once with p NULL
** for an invalid URL.  For `sandlua policy check --explain`.
*/
typedef void (*policy_explain_fn)(void *ud, const policy *p,
                                  const char *verdict);
void policy_explain(const policy_set *set, const policy_actor *actor,
                    const char *action, const char *resource,
                    const policy_kv *meta, size_t n_meta,
                    const policy_ip *ip, policy_url *u,
                    policy_explain_fn fn, void *ud);

/* Levenshtein distance of two short names (99 past 64 bytes). */
int policy_edit_distance(const char *a, const char *b);

typedef struct policy_request {
  const policy_actor *actor;  /* NULL: no actor */
  const char *action;
  const char *resource;
  const policy_kv *meta;      /* caller's meta (may be NULL) */
  size_t n_meta;
  /*
  ** For URL resources: the canonical URL.  Its parts override the caller's
  ** meta.scheme, meta.host, meta.port, meta.path and meta.query, and URL
  ** patterns are matched against it.  NULL: the resource is matched as a
  ** plain string and URL patterns never match.
  */
  const policy_url *url;
  /*
  ** The address the client is about to connect to (post-DNS evaluation),
  ** given to conditions as meta.ip; the special-purpose rule applies.
  */
  const policy_ip *ip;
  /*
  ** Pre-DNS evaluation: conditions on meta.ip are not decidable yet; they
  ** hold for allow policies and do not for deny policies (the post-DNS
  ** evaluation decides them).  A URL whose host is an IP literal is never
  ** pending: without ip, its literal is the address decided on.
  */
  int ip_pending;
} policy_request;

typedef enum policy_why {
  POLICY_WHY_DENY,       /* a deny policy applied */
  POLICY_WHY_ALLOW,      /* an allow policy applied */
  POLICY_WHY_UNDEFINED,  /* no policy applied */
  POLICY_WHY_SPECIAL,    /* special-purpose address not named explicitly */
  POLICY_WHY_INVALID     /* the resource is not a valid URL */
} policy_why;

typedef struct policy_decision {
  int allow;               /* 1 allow, 0 deny */
  policy_why why;
  const policy *policy;    /* the deciding policy; NULL if none */
  char detail[256];        /* why, in words (special range, URL error, ...) */
} policy_decision;

/*
** Decide a request.  Never fails: every error denies (fail closed).
** d->policy points into set.
*/
void policy_decide(const policy_set *set, const policy_request *req,
                   policy_decision *d);

/*
** The name of the deciding policy for messages and the audit log:
** the policy's name, or "(default deny)", "(undefined: strict off)",
** "(special-purpose address)", "(invalid URL)".
*/
const char *policy_decision_policy(const policy_decision *d);

/*
** Decide (action, resource) the way the runtime does.  For a URL action
** (policy_action_is_url) the resource is parsed into *u (caller's scratch,
** may be large: policy_url is about 8 KiB); an invalid URL denies with
** why POLICY_WHY_INVALID, the reason in d->detail, and returns -EINVAL.
** For URL actions without ip, meta.ip conditions are deferred (pre-DNS);
** with ip, the pre-DNS evaluation must allow and the post-DNS one
** (meta.ip, the special-purpose rule) decides.  A URL whose host is an
** IP literal is decided on that address without ip.  Other actions ignore
** ip (their meta.ip, if any, is plain meta).  Returns 0 otherwise.
*/
int policy_check(const policy_set *set, const policy_actor *actor,
                 const char *action, const char *resource,
                 const policy_kv *meta, size_t n_meta, const policy_ip *ip,
                 policy_url *u, policy_decision *d);

/*
** As policy_check, for a host name that resolved to ips[0..n) (n >= 1), as
** the runtime decides the connection: the addresses are taken in order,
** the first one allowed is the answer (it is connected to); when none is,
** the first refusal is.  *which is the index of the deciding address.
** With n == 0, policy_check without ip.
*/
int policy_check_addrs(const policy_set *set, const policy_actor *actor,
                       const char *action, const char *resource,
                       const policy_kv *meta, size_t n_meta,
                       const policy_ip *ips, size_t n, size_t *which,
                       policy_url *u, policy_decision *d);

/* Whether an action's resource is a URL (websocket.connect.url, or
** websocket.connect with a resource containing "://"). */
int policy_action_is_url(const char *action, const char *resource);

/* }====================================================== */

/* {======================================================
** Loading (policy_yaml.c)
** ======================================================= */

#define POLICY_FILE_MAX (1024 * 1024)  /* larger files are refused */

/*
** Load the policies of a file (or of a buffer named `name`) into set.
** On failure returns -EINVAL (d->error says where and what), -ENOENT and
** the like for I/O, or -ENOMEM; the set is left as it was before the
** call.  Warnings are appended to d.
*/
int policy_load_file(policy_set *set, const char *path, policy_diags *d);
int policy_load_buffer(policy_set *set, const char *name, const char *buf,
                       size_t len, policy_diags *d);

/* }====================================================== */

#endif
