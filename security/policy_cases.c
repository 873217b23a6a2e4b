/*
** policy_cases.c - the loader of `sandlua policy test` cases files.
*/
#include "policy_cases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_internal.h"

void policy_cases_free(policy_cases *c) {
  for (size_t i = 0; i < c->n_policies; i++) free(c->policies[i]);
  free(c->policies);
  policy_actor_clear(&c->actor);
  for (size_t i = 0; i < c->n; i++) {
    policy_case *k = &c->items[i];
    free(k->name);
    policy_actor_clear(&k->actor);
    free(k->action);
    free(k->resource);
    for (size_t j = 0; j < k->n_meta; j++) {
      free(k->meta[j].key);
      policy_value_free(&k->meta[j].value);
    }
    free(k->meta);
    free(k->policy);
  }
  free(c->items);
  memset(c, 0, sizeof *c);
}

/* path relative to the directory of base, unless absolute. */
static char *resolve(const char *base, const char *path) {
  const char *slash = strrchr(base, '/');
  if (path[0] == '/' || slash == NULL) return strdup(path);
  size_t dl = (size_t)(slash - base) + 1, n = dl + strlen(path) + 1;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%.*s%s", (int)dl, base, path);
  return out;
}

static int dup_string(loader *ld, const ynode *n, const char *what,
                      char **out) {
  const char *s;
  int rc = policy__y_want_string(ld, n, what, &s);
  if (rc != 0) return rc;
  return (*out = strdup(s)) ? 0 : -ENOMEM;
}

/* An actor mapping into *a (loaded through the loader's actor slot). */
static int case_actor(loader *ld, const ynode *n, policy_actor *a) {
  policy_actor_clear(&ld->actor);
  int rc = policy__y_load_actor(ld, n);
  if (rc == 0) {
    *a = ld->actor;
    memset(&ld->actor, 0, sizeof ld->actor);
  }
  return rc;
}

/* ip: one address, or a list of them in the order DNS gave them. */
static int case_ips(loader *ld, const ynode *v, policy_case *k) {
  const ynode *one = v;
  size_t n = 1;
  if (v->kind == Y_SEQ) {
    if (v->n == 0) return ERR(ld, v, "ip: an empty list");
    if (v->n > POLICY_CASE_IPS)
      return ERR(ld, v, "ip: more than %d addresses", POLICY_CASE_IPS);
    n = v->n;
  }
  for (size_t i = 0; i < n; i++) {
    const char *s;
    int rc;
    if (v->kind == Y_SEQ) one = v->kids[i];
    if ((rc = policy__y_want_string(ld, one, "ip", &s)) != 0) return rc;
    if (policy_ip_parse(s, &k->ips[i]) != 0)
      return ERR(ld, one, "invalid IP address '%s'", s);
  }
  k->n_ips = n;
  return 0;
}

static int load_case(loader *ld, const ynode *n, policy_case *k) {
  static const char *const KEYS[] = {"name", "actor", "action", "resource",
                                     "meta", "ip", "expect", "policy", NULL};
  const ynode *v;
  int rc;
  if ((rc = policy__y_want_map(ld, n, "a case")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, n, "a case", KEYS)) != 0) return rc;
  k->line = n->line;
  if (!(v = policy__y_get(n, "action")))
    return ERR(ld, n, "case without 'action'");
  if ((rc = dup_string(ld, v, "action", &k->action)) != 0) return rc;
  if (!(v = policy__y_get(n, "resource")))
    return ERR(ld, n, "case without 'resource'");
  if ((rc = dup_string(ld, v, "resource", &k->resource)) != 0) return rc;
  if (!(v = policy__y_get(n, "expect")))
    return ERR(ld, n, "case without 'expect'");
  const char *e;
  if ((rc = policy__y_want_string(ld, v, "expect", &e)) != 0) return rc;
  if (strcmp(e, "allow") == 0) k->expect = POLICY_EXPECT_ALLOW;
  else if (strcmp(e, "deny") == 0) k->expect = POLICY_EXPECT_DENY;
  else if (strcmp(e, "invalid") == 0) k->expect = POLICY_EXPECT_INVALID;
  else return ERR(ld, v, "expect must be allow, deny or invalid, not '%s'", e);
  if ((v = policy__y_get(n, "name"))) {
    if ((rc = dup_string(ld, v, "name", &k->name)) != 0) return rc;
  } else {
    size_t len = strlen(k->action) + strlen(k->resource) + 2;
    if ((k->name = malloc(len)) == NULL) return -ENOMEM;
    snprintf(k->name, len, "%s %s", k->action, k->resource);
  }
  if ((v = policy__y_get(n, "policy")) &&
      (rc = dup_string(ld, v, "policy", &k->policy)) != 0)
    return rc;
  if ((v = policy__y_get(n, "actor"))) {
    if ((rc = case_actor(ld, v, &k->actor)) != 0) return rc;
    k->has_actor = 1;
  }
  if ((v = policy__y_get(n, "ip")) && (rc = case_ips(ld, v, k)) != 0)
    return rc;
  if ((v = policy__y_get(n, "meta")) && !policy__y_is_null(v)) {
    if ((rc = policy__y_want_map(ld, v, "meta")) != 0) return rc;
    size_t m = v->n / 2;
    if (m > 0 && (k->meta = calloc(m, sizeof *k->meta)) == NULL)
      return -ENOMEM;
    for (size_t i = 0; i < m; i++) {
      policy_kv *kv = &k->meta[i];
      if ((kv->key = strdup(v->kids[2 * i]->s)) == NULL) return -ENOMEM;
      k->n_meta = i + 1;
      rc = policy__y_node_value(ld, v->kids[2 * i + 1], "meta", &kv->value);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

static int load_root(loader *ld, const char *path, const ynode *root,
                     policy_cases *c) {
  static const char *const KEYS[] = {"policies", "actor", "cases", NULL};
  const ynode *v;
  int rc;
  if (root == NULL) return policy__y_errat(ld, 1, 1, "empty cases file");
  if ((rc = policy__y_want_map(ld, root, "a cases file")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, root, "the cases file", KEYS)) != 0)
    return rc;
  if ((v = policy__y_get(root, "policies"))) {
    char **list;
    size_t n;
    if ((rc = policy__y_string_list(ld, v, "policies", &list, &n)) != 0)
      return rc;
    c->policies = list;
    c->n_policies = n;
    for (size_t i = 0; i < n; i++) {
      char *r = resolve(path, list[i]);
      if (r == NULL) return -ENOMEM;
      free(list[i]);
      list[i] = r;
    }
  }
  if ((v = policy__y_get(root, "actor"))) {
    if ((rc = case_actor(ld, v, &c->actor)) != 0) return rc;
    c->has_actor = 1;
  }
  if (!(v = policy__y_get(root, "cases")))
    return ERR(ld, root, "cases file without 'cases'");
  if (v->kind != Y_SEQ || v->n == 0)
    return ERR(ld, v, "cases must be a non-empty list");
  if ((c->items = calloc(v->n, sizeof *c->items)) == NULL) return -ENOMEM;
  for (size_t i = 0; i < v->n; i++) {
    c->n = i + 1;
    if ((rc = load_case(ld, v->kids[i], &c->items[i])) != 0) return rc;
  }
  return 0;
}

int policy_cases_load(const char *path, policy_cases *c, policy_diags *d) {
  loader ld;
  ynode *root = NULL;
  char *buf;
  size_t len;
  memset(c, 0, sizeof *c);
  int rc = policy__y_read_file(path, 0, &buf, &len, d);
  if (rc != 0) return rc;
  memset(&ld, 0, sizeof ld);
  ld.file = path;
  ld.d = d;
  if ((rc = policy__y_check_utf8(&ld, (const unsigned char *)buf, len)) == 0 &&
      (rc = policy__y_build_tree(&ld, buf, len, &root)) == 0)
    rc = load_root(&ld, path, root, c);
  if (rc == -ENOMEM && !ld.failed) policy__y_errat(&ld, 0, 0, "out of memory");
  policy_actor_clear(&ld.actor);
  policy__y_ynode_free(root);
  free(buf);
  if (rc != 0) policy_cases_free(c);
  return rc;
}
