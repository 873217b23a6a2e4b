/*
** policy_yaml.c - the policy file loader: the node tree (yaml_tree.c) ->
** a strictly checked policy model.  Every error names file:line:column; entries of kinds other than
** security.policy are skipped with a warning.
*/
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "../common/grow.h"
#include "../common/units.h"
#include "../common/utf8.h"
#include "filetrust.h"
#include "yaml_internal.h"


/* {======================================================
** Warnings
** ======================================================= */

static void policy__y_warnat(loader *ld, const ynode *n, const char *fmt, ...) {
  policy_diags *d = ld->d;
  policy_diag *w = realloc(d->warnings, (d->n_warnings + 1) * sizeof *w);
  if (w == NULL) return;  /* a warning lost to OOM is not fatal */
  d->warnings = w;
  w = &w[d->n_warnings++];
  va_list ap;
  snprintf(w->file, sizeof w->file, "%s", ld->file);
  w->line = n->line;
  w->column = n->col;
  va_start(ap, fmt);
  vsnprintf(w->message, sizeof w->message, fmt, ap);
  va_end(ap);
}

/* }====================================================== */

/* {======================================================
** Scalars and values
** ======================================================= */

static const char *policy__y_kind_name(const ynode *n) {
  return n->kind == Y_MAP ? "a mapping" : n->kind == Y_SEQ ? "a list"
                                                           : "a scalar";
}

int policy__y_is_null(const ynode *n) {
  return n->kind == Y_SCALAR && n->plain &&
         (n->s[0] == '\0' || strcmp(n->s, "~") == 0 ||
          strcmp(n->s, "null") == 0 || strcmp(n->s, "Null") == 0 ||
          strcmp(n->s, "NULL") == 0);
}

static int policy__y_as_bool(const ynode *n, int *b) {
  if (n->kind != Y_SCALAR || !n->plain) return -1;
  if (!strcmp(n->s, "true") || !strcmp(n->s, "True") || !strcmp(n->s, "TRUE"))
    return *b = 1, 0;
  if (!strcmp(n->s, "false") || !strcmp(n->s, "False") ||
      !strcmp(n->s, "FALSE"))
    return *b = 0, 0;
  return -1;
}

/* A decimal number in YAML 1.2 core syntax. */
static int policy__y_as_number(const ynode *n, double *v) {
  if (n->kind != Y_SCALAR || !n->plain) return -1;
  const char *p = n->s;
  int digits = 0;
  if (*p == '-' || *p == '+') p++;
  while (*p >= '0' && *p <= '9') p++, digits++;
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') p++, digits++;
  }
  if (digits == 0) return -1;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+') p++;
    if (!(*p >= '0' && *p <= '9')) return -1;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p != '\0') return -1;
  *v = strtod(n->s, NULL);
  return 0;
}

/* The YAML type of a plain scalar that is not a string (YAML 1.2 core
** schema, and 1.1's octal/hex/special floats and yes/no/on/off, which
** other YAML tools still read so), or NULL. */
static const char *non_string(const ynode *n) {
  static const char *const words[] = {
      "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off",
      "OFF", ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".nan", ".NaN",
      ".NAN", NULL};
  int b;
  double d;
  if (n->kind != Y_SCALAR || !n->plain) return NULL;
  if (policy__y_is_null(n)) return "null";
  if (policy__y_as_bool(n, &b) == 0) return "a boolean";
  if (policy__y_as_number(n, &d) == 0) return "a number";
  for (size_t i = 0; words[i] != NULL; i++)
    if (strcmp(n->s, words[i]) == 0) return "a YAML 1.1 boolean or number";
  const char *p = n->s + (n->s[0] == '-' || n->s[0] == '+');
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p[2] != '\0' &&
      strspn(p + 2, "0123456789abcdefABCDEF") == strlen(p + 2))
    return "a number";
  return NULL;
}

/* A string: a non-empty scalar that YAML reads as a string (a number or a
** boolean is an error, never turned into its text: quote it). */
int policy__y_want_string(loader *ld, const ynode *n, const char *what,
                       const char **out) {
  const char *t = non_string(n);
  if (n->kind != Y_SCALAR || (t != NULL && strcmp(t, "null") == 0))
    return ERR(ld, n, "%s must be a string, not %s", what,
               t != NULL ? t : policy__y_kind_name(n));
  if (t != NULL)
    return ERR(ld, n, "%s must be a string, not %s (%s); quote it if the "
               "text is meant", what, t, n->s);
  if (n->s[0] == '\0') return ERR(ld, n, "%s must not be empty", what);
  *out = n->s;
  return 0;
}

static int policy__y_scalar_value(const ynode *n, policy_value *v) {
  memset(v, 0, sizeof *v);
  if (policy__y_is_null(n)) return 0;
  if (policy__y_as_bool(n, &v->b) == 0) {
    v->type = POLICY_V_BOOL;
    return 0;
  }
  if (policy__y_as_number(n, &v->n) == 0) {
    v->type = POLICY_V_NUM;
    return 0;
  }
  v->type = POLICY_V_STR;
  return (v->s = strdup(n->s)) ? 0 : -ENOMEM;
}

/* A scalar or a list of scalars. */
int policy__y_node_value(loader *ld, const ynode *n, const char *what,
                      policy_value *v) {
  memset(v, 0, sizeof *v);
  if (n->kind == Y_SCALAR) return policy__y_scalar_value(n, v);
  if (n->kind == Y_MAP)
    return ERR(ld, n, "%s must be a scalar or a list, not a mapping", what);
  v->type = POLICY_V_LIST;
  if (n->n > 0 && (v->items = calloc(n->n, sizeof *v->items)) == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n->n; i++) {
    if (n->kids[i]->kind != Y_SCALAR) {
      policy_value_free(v);
      return ERR(ld, n->kids[i], "items of %s must be scalars", what);
    }
    v->n_items = i + 1;
    if (policy__y_scalar_value(n->kids[i], &v->items[i]) != 0) {
      policy_value_free(v);
      return -ENOMEM;
    }
  }
  return 0;
}

/* A string or a non-empty list of strings, copied into *out. */
int policy__y_string_list(loader *ld, const ynode *n, const char *what,
                       char ***out, size_t *count) {
  const ynode *const *items = (const ynode *const *)&n;
  size_t k = 1;
  if (n->kind == Y_MAP)
    return ERR(ld, n, "%s must be a string or a list of strings", what);
  if (n->kind == Y_SEQ) {
    if (n->n == 0) return ERR(ld, n, "%s must not be empty", what);
    items = (const ynode *const *)n->kids;
    k = n->n;
  }
  char **v = calloc(k, sizeof *v);
  if (v == NULL) return -ENOMEM;
  for (size_t i = 0; i < k; i++) {
    const char *s;
    int rc = policy__y_want_string(ld, items[i], what, &s);
    if (rc == 0 && (v[i] = strdup(s)) == NULL) rc = -ENOMEM;
    if (rc != 0) {
      for (size_t j = 0; j < i; j++) free(v[j]);
      free(v);
      return rc;
    }
  }
  *out = v;
  *count = k;
  return 0;
}

/* Look up key in a mapping node; NULL if absent. */
const ynode *policy__y_get(const ynode *map, const char *key) {
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (strcmp(map->kids[i]->s, key) == 0) return map->kids[i + 1];
  return NULL;
}

/* Refuse keys of map that are not in the NULL-terminated list. */
int policy__y_only_keys(loader *ld, const ynode *map, const char *where,
                     const char *const *keys) {
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const char *k = map->kids[i]->s;
    int ok = 0;
    for (const char *const *p = keys; *p; p++)
      if (strcmp(*p, k) == 0) ok = 1;
    if (!ok) return ERR(ld, map->kids[i], "unknown key '%s' in %s", k, where);
  }
  return 0;
}

int policy__y_want_map(loader *ld, const ynode *n, const char *what) {
  if (n->kind != Y_MAP)
    return ERR(ld, n, "%s must be a mapping, not %s", what, policy__y_kind_name(n));
  return 0;
}

/* }====================================================== */

/* {======================================================
** Schema
** ======================================================= */

static int load_condition(loader *ld, const ynode *n, policy_cond *c) {
  static const char *const KEYS[] = {"field", "operator", "value",
                                     "value_from", NULL};
  const char *s;
  int rc;
  memset(c, 0, sizeof *c);
  if ((rc = policy__y_want_map(ld, n, "a condition")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, n, "a condition", KEYS)) != 0) return rc;
  const ynode *field = policy__y_get(n, "field"), *op = policy__y_get(n, "operator");
  const ynode *value = policy__y_get(n, "value"), *from = policy__y_get(n, "value_from");
  if (field == NULL) return ERR(ld, n, "condition without 'field'");
  if (op == NULL) return ERR(ld, n, "condition without 'operator'");
  if ((rc = policy__y_want_string(ld, field, "field", &s)) != 0) return rc;
  rc = policy_field_parse(s, &c->field);
  if (rc == -EINVAL)
    return ERR(ld, field,
               "unknown field '%s' (actor.id, actor.meta.KEY, action, "
               "resource or meta.KEY)", s);
  if (rc != 0) return rc;
  if ((rc = policy__y_want_string(ld, op, "operator", &s)) != 0) return rc;
  int o = policy_op_from_name(s);
  if (o < 0) return ERR(ld, op, "unknown operator '%s'", s);
  c->op = (policy_op)o;
  int novalue = c->op == POLICY_OP_EXISTS || c->op == POLICY_OP_NEXISTS;
  if (novalue) {
    if (value || from)
      return ERR(ld, value ? value : from, "operator '%s' takes no value", s);
    return 0;
  }
  if (value && from)
    return ERR(ld, from, "'value' and 'value_from' cannot both be given");
  if (!value && !from)
    return ERR(ld, op, "operator '%s' needs 'value' or 'value_from'", s);
  if (from) {
    const char *f;
    if ((rc = policy__y_want_string(ld, from, "value_from", &f)) != 0) return rc;
    rc = policy_field_parse(f, &c->from);
    if (rc == -EINVAL)
      return ERR(ld, from, "unknown field '%s' in value_from", f);
    c->has_from = 1;
    return rc;
  }
  if ((rc = policy__y_node_value(ld, value, "value", &c->value)) != 0) return rc;
  c->has_value = 1;
  policy_value *v = &c->value;
  switch (c->op) {
    case POLICY_OP_IN:
    case POLICY_OP_NIN:
      if (v->type != POLICY_V_LIST)
        return ERR(ld, value, "operator '%s' needs a list value", s);
      break;
    case POLICY_OP_LT:
    case POLICY_OP_GT:
    case POLICY_OP_LTE:
    case POLICY_OP_GTE:
      if (v->type != POLICY_V_NUM)
        return ERR(ld, value, "operator '%s' needs a number", s);
      break;
    case POLICY_OP_MATCHES:
    case POLICY_OP_NMATCHES: {
      if (v->type != POLICY_V_STR)
        return ERR(ld, value, "operator '%s' needs a regular expression", s);
      int e = regcomp(&c->re, v->s, REG_EXTENDED | REG_NOSUB);
      if (e != 0) {
        char msg[128];
        regerror(e, &c->re, msg, sizeof msg);
        return ERR(ld, value, "invalid regular expression '%s': %s", v->s,
                   msg);
      }
      c->has_re = 1;
      break;
    }
    case POLICY_OP_CIDR: {
      size_t k = v->type == POLICY_V_LIST ? v->n_items : 1;
      const policy_value *items = v->type == POLICY_V_LIST ? v->items : v;
      if (k == 0) return ERR(ld, value, "operator 'cidr' needs a CIDR block");
      if ((c->cidrs = calloc(k, sizeof *c->cidrs)) == NULL) return -ENOMEM;
      for (size_t i = 0; i < k; i++) {
        const ynode *at = value->kind == Y_SEQ ? value->kids[i] : value;
        char msg[160];
        if (items[i].type != POLICY_V_STR)
          return ERR(ld, at, "operator 'cidr' needs CIDR strings");
        if (policy_cidr_parse(items[i].s, &c->cidrs[i], msg, sizeof msg))
          return ERR(ld, at, "%s", msg);
        c->n_cidrs = i + 1;
      }
      break;
    }
    default:
      if (v->type == POLICY_V_LIST)
        return ERR(ld, value, "operator '%s' needs a scalar value", s);
      break;
  }
  return 0;
}

static int load_resources(loader *ld, const ynode *n, policy *p) {
  char **texts;
  size_t k;
  int rc = policy__y_string_list(ld, n, "resources", &texts, &k);
  if (rc != 0) return rc;
  p->resources = calloc(k, sizeof *p->resources);
  if (p->resources == NULL) rc = -ENOMEM;
  for (size_t i = 0; i < k; i++) {
    if (rc == 0) {
      policy_resource *r = &p->resources[i];
      r->text = texts[i];
      p->n_resources = i + 1;
      if (strstr(r->text, "://") != NULL) {
        char msg[256];
        r->is_url = 1;
        rc = policy_url_pattern_parse(r->text, &r->url, msg, sizeof msg);
        if (rc == -EINVAL) {
          const ynode *at = n->kind == Y_SEQ ? n->kids[i] : n;
          rc = ERR(ld, at, "invalid URL pattern '%s': %s", r->text, msg);
        }
      }
    } else {
      free(texts[i]);
    }
  }
  free(texts);
  return rc;
}

/* Find a policy named name among those of this file and of the set. */
static int check_duplicate(loader *ld, const policy_set *set,
                           const ynode *at, const char *name) {
  const policy *prev = policy_set_find(set, name);
  for (size_t i = 0; prev == NULL && i < ld->n_pols; i++)
    if (strcmp(ld->pols[i].name, name) == 0) prev = &ld->pols[i];
  if (prev)
    return ERR(ld, at, "duplicate policy name '%s' (first defined at %s:%d:%d)",
               name, prev->file, prev->line, prev->column);
  return 0;
}

/* An unknown name: an error naming its place and the closest known one,
** or only a warning with --allow-unknown.  Returns 0 or the error. */
static int unknown_name(loader *ld, const ynode *at, const char *what,
                        const char *name, const char *suggest) {
  char hint[160] = "";
  if (suggest != NULL)
    snprintf(hint, sizeof hint, " (did you mean '%s'?)", suggest);
  if (ld->allow_unknown) {
    policy__y_warnat(ld, at, "unknown %s '%s'%s", what, name, hint);
    return 0;
  }
  return ERR(ld, at, "unknown %s '%s'%s; --allow-unknown makes this a "
             "warning", what, name, hint);
}

static int load_policy_entry(loader *ld, const policy_set *set,
                             const ynode *e, const ynode *name_node,
                             policy *p) {
  static const char *const KEYS[] = {"name", "kind", "meta", "policy",
                                     "groups", NULL};
  static const char *const PKEYS[] = {"actions", "resources", "effect",
                                      "conditions", NULL};
  const char *name, *s;
  int rc;
  memset(p, 0, sizeof *p);
  if ((rc = policy__y_only_keys(ld, e, "an entry", KEYS)) != 0) return rc;
  if ((rc = policy__y_want_string(ld, name_node, "name", &name)) != 0) return rc;
  size_t len = strlen(name) + (ld->ns ? strlen(ld->ns) + 1 : 0) + 1;
  if ((p->name = malloc(len)) == NULL || (p->file = strdup(ld->file)) == NULL)
    return -ENOMEM;
  snprintf(p->name, len, "%s%s%s", ld->ns ? ld->ns : "", ld->ns ? ":" : "",
           name);
  p->line = e->line;
  p->column = e->col;
  if ((rc = check_duplicate(ld, set, name_node, p->name)) != 0) return rc;
  const ynode *meta = policy__y_get(e, "meta"), *groups = policy__y_get(e, "groups");
  if (meta && !policy__y_is_null(meta) && (rc = policy__y_want_map(ld, meta, "meta")) != 0)
    return rc;
  if (groups &&
      (rc = policy__y_string_list(ld, groups, "groups", &p->groups, &p->n_groups)) != 0)
    return rc;
  const ynode *pol = policy__y_get(e, "policy");
  if (pol == NULL) return ERR(ld, e, "entry '%s' has no 'policy'", name);
  if ((rc = policy__y_want_map(ld, pol, "policy")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, pol, "a policy", PKEYS)) != 0) return rc;
  const ynode *actions = policy__y_get(pol, "actions"), *res = policy__y_get(pol, "resources");
  const ynode *effect = policy__y_get(pol, "effect"), *conds = policy__y_get(pol, "conditions");
  if (actions == NULL) return ERR(ld, pol, "policy without 'actions'");
  if (res == NULL) return ERR(ld, pol, "policy without 'resources'");
  if (effect == NULL) return ERR(ld, pol, "policy without 'effect'");
  rc = policy__y_string_list(ld, actions, "actions", &p->actions, &p->n_actions);
  if (rc != 0) return rc;
  for (size_t i = 0; i < p->n_actions; i++) {
    const char *suggest;
    if (policy_action_suspect(p->actions[i], &suggest) &&
        (rc = unknown_name(ld, actions->kind == Y_SEQ ? actions->kids[i]
                                                      : actions,
                           "action", p->actions[i], suggest)) != 0)
      return rc;
  }
  if ((rc = load_resources(ld, res, p)) != 0) return rc;
  if ((rc = policy__y_want_string(ld, effect, "effect", &s)) != 0) return rc;
  if (strcmp(s, "allow") == 0) p->effect = POLICY_ALLOW;
  else if (strcmp(s, "deny") == 0) p->effect = POLICY_DENY;
  else return ERR(ld, effect, "effect must be 'allow' or 'deny', not '%s'", s);
  if (conds && !policy__y_is_null(conds)) {
    if (conds->kind != Y_SEQ)
      return ERR(ld, conds, "conditions must be a list, not %s",
                 policy__y_kind_name(conds));
    if (conds->n > 0 &&
        (p->conds = calloc(conds->n, sizeof *p->conds)) == NULL)
      return -ENOMEM;
    for (size_t i = 0; i < conds->n; i++) {
      p->n_conds = i + 1;
      if ((rc = load_condition(ld, conds->kids[i], &p->conds[i])) != 0)
        return rc;
    }
  }
  return 0;
}

static int load_entries(loader *ld, const policy_set *set, const ynode *n) {
  if (policy__y_is_null(n)) return 0;
  if (n->kind != Y_SEQ)
    return ERR(ld, n, "entries must be a list, not %s", policy__y_kind_name(n));
  for (size_t i = 0; i < n->n; i++) {
    const ynode *e = n->kids[i];
    const char *kind;
    int rc;
    if ((rc = policy__y_want_map(ld, e, "an entry")) != 0) return rc;
    const ynode *kn = policy__y_get(e, "kind"), *nn = policy__y_get(e, "name");
    if (kn == NULL) return ERR(ld, e, "entry without 'kind'");
    if (nn == NULL) return ERR(ld, e, "entry without 'name'");
    if ((rc = policy__y_want_string(ld, kn, "kind", &kind)) != 0) return rc;
    if (strcmp(kind, "security.policy") != 0) {
      /* The registry's other kinds (function.lua, registry.entry...) are
      ** skipped; a security.* kind or a near miss of security.policy is a
      ** security entry that would silently do nothing. */
      if (strncmp(kind, "security.", 9) == 0 ||
          policy_edit_distance(kind, "security.policy") <= 3) {
        if ((rc = unknown_name(ld, kn, "kind", kind, "security.policy")))
          return rc;
      } else {
        policy__y_warnat(ld, e, "entry '%s' of kind '%s' skipped",
                         nn->kind == Y_SCALAR ? nn->s : "?", kind);
      }
      continue;
    }
    if (sl_grow(&ld->pols, &ld->cap_pols, ld->n_pols, sizeof *ld->pols, 16))
      return -ENOMEM;
    policy *p = &ld->pols[ld->n_pols];
    rc = load_policy_entry(ld, set, e, nn, p);
    if (rc != 0) {
      policy_free(p);
      return rc;
    }
    ld->n_pols++;
  }
  return 0;
}

int policy__y_load_actor(loader *ld, const ynode *n) {
  static const char *const KEYS[] = {"id", "meta", NULL};
  int rc;
  if ((rc = policy__y_want_map(ld, n, "actor")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, n, "actor", KEYS)) != 0) return rc;
  ld->has_actor = 1;
  const ynode *id = policy__y_get(n, "id"), *meta = policy__y_get(n, "meta");
  if (id) {
    const char *s;
    if ((rc = policy__y_want_string(ld, id, "actor.id", &s)) != 0) return rc;
    if ((rc = policy_actor_set_id(&ld->actor, s)) != 0) return rc;
  }
  if (meta && !policy__y_is_null(meta)) {
    if ((rc = policy__y_want_map(ld, meta, "actor.meta")) != 0) return rc;
    for (size_t i = 0; i + 1 < meta->n; i += 2) {
      policy_value v;
      if ((rc = policy__y_node_value(ld, meta->kids[i + 1], "actor.meta", &v)) != 0)
        return rc;
      rc = policy_actor_set_meta(&ld->actor, meta->kids[i]->s, &v);
      policy_value_free(&v);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

/* What a value of the kind must look like, for a value of the wrong type. */
static const char *example(sl_limit_kind kind) {
  switch (kind) {
    case SL_LIMIT_KIND_SIZE: return "a size such as 64M";
    case SL_LIMIT_KIND_DURATION: return "a duration such as 10s";
    default: return "a whole number such as 1000";
  }
}

/* One limit of the `sandbox:` section: the table's parser and bounds, as
** the command line's (common/limits_table.h); "sandbox.KEY: what". */
static int load_limit(loader *ld, const ynode *v, sl_limit which) {
  const sl_limit_info *li = &sl_limits[which];
  char msg[160];
  int64_t value;
  if (v->kind != Y_SCALAR || policy__y_is_null(v) ||
      (li->kind == SL_LIMIT_KIND_COUNT && !v->plain))
    return ERR(ld, v, "sandbox.%s must be %s", li->key, example(li->kind));
  if (sl_limit_parse(which, v->s, &value, msg, sizeof msg) != 0)
    return ERR(ld, v, "sandbox.%s: %s", li->key, msg);
  /* Only tighter than the default: 0 is no limit (but no connection at
  ** all for max_connections); loosening is the command line's to say. */
  if (!sl_limit_tightens(which, value)) {
    char d[48] = "none";
    if (li->dflt != 0) sl_limit_format(which, li->dflt, d, sizeof d);
    return ERR(ld, v, "sandbox.%s: %s would loosen the sandbox (the "
               "default is %s): a policy file may only tighten it; %s on "
               "the command line loosens it", li->key, v->s, d, li->option);
  }
  ld->sandbox.value[which] = value;
  ld->sandbox.set[which] = 1;
  return 0;
}

static int load_sandbox(loader *ld, const ynode *n) {
  static const char *const KEYS[] = {
#define SANDBOX_KEY(id, name, option, key, ...) key,
    SL_LIMITS(SANDBOX_KEY)
#undef SANDBOX_KEY
    "seccomp", NULL};
  policy_sandbox *sb = &ld->sandbox;
  const ynode *v;
  int rc;
  if ((rc = policy__y_want_map(ld, n, "sandbox")) != 0) return rc;
  if ((rc = policy__y_only_keys(ld, n, "sandbox", KEYS)) != 0) return rc;
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    if ((v = policy__y_get(n, sl_limits[i].key)) &&
        (rc = load_limit(ld, v, (sl_limit)i)) != 0)
      return rc;
  }
  if ((v = policy__y_get(n, "seccomp"))) {
    const char *s = v->kind == Y_SCALAR ? v->s : "";
    if (strcmp(s, "strict") == 0) sb->seccomp = POLICY_SECCOMP_STRICT;
    else if (strcmp(s, "log") == 0 || strcmp(s, "off") == 0)
      return ERR(ld, v, "sandbox.seccomp: '%s' would loosen the sandbox: a "
                 "policy file may only tighten it; --seccomp %s on the "
                 "command line loosens it", s, s);
    else return ERR(ld, v, "sandbox.seccomp must be strict, log or off");
    sb->seccomp_set = 1;
  }
  return 0;
}

/* Put what one file set over what the files before it did. */
static void merge_sandbox(policy_sandbox *to, const policy_sandbox *from) {
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    if (!from->set[i]) continue;
    to->value[i] = from->value[i];
    to->set[i] = 1;
  }
  if (from->seccomp_set) {
    to->seccomp = from->seccomp;
    to->seccomp_set = 1;
  }
}

static int load_root(loader *ld, const policy_set *set, const ynode *root) {
  static const char *const KEYS[] = {"version", "namespace", "strict",
                                     "entries", "actor", "sandbox", NULL};
  int rc;
  if (root == NULL) return policy__y_errat(ld, 1, 1, "empty policy file");
  if (root->kind != Y_MAP)
    return ERR(ld, root, "a policy file must be a mapping, not %s",
               policy__y_kind_name(root));
  if ((rc = policy__y_only_keys(ld, root, "the file", KEYS)) != 0) return rc;
  const ynode *v;
  if ((v = policy__y_get(root, "version"))) {
    if (v->kind != Y_SCALAR || (strcmp(v->s, "1.0") && strcmp(v->s, "1")))
      return ERR(ld, v, "unsupported version '%s' (1.0)",
                 v->kind == Y_SCALAR ? v->s : policy__y_kind_name(v));
  }
  if ((v = policy__y_get(root, "namespace")) &&
      (rc = policy__y_want_string(ld, v, "namespace", &ld->ns)) != 0)
    return rc;
  if ((v = policy__y_get(root, "strict"))) {
    int b;
    if (policy__y_as_bool(v, &b) != 0)
      return ERR(ld, v, "strict must be true or false");
    ld->strict = b;
  }
  if ((v = policy__y_get(root, "actor")) && (rc = policy__y_load_actor(ld, v)) != 0) return rc;
  if ((v = policy__y_get(root, "sandbox")) && (rc = load_sandbox(ld, v)) != 0)
    return rc;
  if ((v = policy__y_get(root, "entries")) && (rc = load_entries(ld, set, v)) != 0)
    return rc;
  return 0;
}

/* Apply what the file gave to the set.  On failure the set is unchanged. */
static int commit(loader *ld, policy_set *set) {
  size_t n0 = set->n;
  policy_actor actor;
  int rc = 0;
  if (ld->has_actor) {
    if ((rc = policy_actor_copy(&actor, &set->actor)) != 0) return rc;
    if (ld->actor.id) rc = policy_actor_set_id(&actor, ld->actor.id);
    for (size_t i = 0; rc == 0 && i < ld->actor.n_meta; i++)
      rc = policy_actor_set_meta(&actor, ld->actor.meta[i].key,
                                 &ld->actor.meta[i].value);
    if (rc != 0) {
      policy_actor_clear(&actor);
      return rc;
    }
  }
  for (size_t i = 0; i < ld->n_pols; i++) {
    if ((rc = policy_set_append(set, &ld->pols[i])) != 0) {
      /* Move the ones already appended back, so the caller frees them. */
      for (size_t j = n0; j < set->n; j++) ld->pols[j - n0] = set->items[j];
      set->n = n0;
      if (ld->has_actor) policy_actor_clear(&actor);
      return rc;
    }
  }
  ld->n_pols = 0;
  policy_set_reindex(set);  /* without it, decisions scan every policy */
  if (ld->has_actor) {
    policy_actor_clear(&set->actor);
    set->actor = actor;
  }
  merge_sandbox(&set->sandbox, &ld->sandbox);
  set->n_files++;
  if (ld->strict == 0) set->n_nonstrict++;
  return 0;
}

int policy_load_buffer(policy_set *set, const char *name, const char *buf,
                       size_t len, policy_diags *d) {
  loader ld;
  ynode *root = NULL;
  memset(&ld, 0, sizeof ld);
  ld.file = name;
  ld.d = d;
  ld.strict = -1;
  ld.allow_unknown = set->allow_unknown;
  int rc;
  if (len > POLICY_FILE_MAX)
    rc = policy__y_errat(&ld, 1, 1, "file larger than 1 MiB");
  else if ((rc = policy__y_check_utf8(&ld, (const unsigned char *)buf, len)) == 0 &&
           (rc = policy__y_build_tree(&ld, buf, len, &root)) == 0 &&
           (rc = load_root(&ld, set, root)) == 0)
    rc = commit(&ld, set);
  if (rc == -ENOMEM && !ld.failed) policy__y_errat(&ld, 0, 0, "out of memory");
  for (size_t i = 0; i < ld.n_pols; i++) policy_free(&ld.pols[i]);
  free(ld.pols);
  policy_actor_clear(&ld.actor);
  policy__y_ynode_free(root);
  return rc;
}

int policy_load_file(policy_set *set, const char *path, policy_diags *d) {
  char *buf;
  size_t len;
  int rc = policy__y_read_file(path, 1, &buf, &len, d);
  if (rc != 0) return rc;
  rc = policy_load_buffer(set, path, buf, len, d);
  free(buf);
  return rc;
}
