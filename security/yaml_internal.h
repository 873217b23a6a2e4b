/*
** yaml_internal.h - what the YAML loaders of security/ share (policy files
** in policy_yaml.c, expectation cases in policy_cases.c): a bounded node
** tree built from libyaml events (no aliases or tags, limited depth and
** size, valid UTF-8 checked first) and schema helpers that report
** file:line:column errors.  Internal to security/.
*/
#ifndef SL_SECURITY_YAML_INTERNAL_H
#define SL_SECURITY_YAML_INTERNAL_H

#include "policy.h"

#define MAX_DEPTH 64          /* nesting of mappings and sequences */
#define MAX_NODES 200000      /* nodes in one file */
#define MAX_KEYS 1024         /* keys in one mapping */

enum { Y_SCALAR, Y_SEQ, Y_MAP };

typedef struct ynode {
  int kind;
  int line, col;       /* from 1 */
  char *s;             /* scalar text */
  int plain;           /* unquoted scalar (type resolution applies) */
  struct ynode **kids; /* sequence items; mapping key, value, key, ... */
  size_t n, cap;
} ynode;

typedef struct loader {
  const char *file;
  policy_diags *d;
  int failed;
  size_t nodes;
  /* What the file gives, applied to the set only on success. */
  policy *pols;
  size_t n_pols, cap_pols;
  int strict;        /* -1 unset, 0, 1 */
  int has_actor;
  policy_actor actor;
  policy_sandbox sandbox;
  const char *ns;
  int allow_unknown;  /* unknown actions and kinds only warn */
} loader;

#define ERR(ld, node, ...) \
  policy__y_errat((ld), (node)->line, (node)->col, __VA_ARGS__)

void policy__y_ynode_free(ynode *n);
int policy__y_errat(loader *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int policy__y_check_utf8(loader *ld, const unsigned char *s, size_t len);
/* Parse buf (after check_utf8) into a tree; *root NULL when empty. */
int policy__y_build_tree(loader *ld, const char *buf, size_t len,
                         ynode **root);
int policy__y_is_null(const ynode *n);
int policy__y_want_string(loader *ld, const ynode *n, const char *what,
                          const char **out);
int policy__y_node_value(loader *ld, const ynode *n, const char *what,
                         policy_value *v);
int policy__y_string_list(loader *ld, const ynode *n, const char *what,
                          char ***out, size_t *count);
const ynode *policy__y_get(const ynode *map, const char *key);
int policy__y_only_keys(loader *ld, const ynode *map, const char *where,
                        const char *const *keys);
int policy__y_want_map(loader *ld, const ynode *n, const char *what);
/* Read an `actor:` mapping into ld->actor. */
int policy__y_load_actor(loader *ld, const ynode *n);
/* Read a whole file (at most POLICY_FILE_MAX bytes) into a new buffer;
** errors (I/O, too large, with trusted: a file or directory others may
** write, filetrust.h) go to d->error. */
int policy__y_read_file(const char *path, int trusted, char **buf,
                        size_t *len, policy_diags *d);

#endif
