/*
** policy.c - the policy model and the decision procedure.
*/
#include "policy.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"

/* {======================================================
** Values and diagnostics
** ======================================================= */

void policy_value_free(policy_value *v) {
  if (v == NULL) return;
  free(v->s);
  for (size_t i = 0; i < v->n_items; i++) policy_value_free(&v->items[i]);
  free(v->items);
  memset(v, 0, sizeof *v);
}

static int policy_value_copy(policy_value *dst, const policy_value *src) {
  *dst = *src;
  dst->s = NULL;
  dst->items = NULL;
  dst->n_items = 0;
  if (src->s && (dst->s = strdup(src->s)) == NULL) return -ENOMEM;
  if (src->n_items > 0) {
    dst->items = calloc(src->n_items, sizeof *dst->items);
    if (dst->items == NULL) goto oom;
    for (size_t i = 0; i < src->n_items; i++) {
      dst->n_items = i + 1;
      if (policy_value_copy(&dst->items[i], &src->items[i]) != 0) goto oom;
    }
  }
  return 0;
oom:
  policy_value_free(dst);
  return -ENOMEM;
}

void policy_diags_free(policy_diags *d) {
  free(d->warnings);
  d->warnings = NULL;
  d->n_warnings = 0;
}

void policy_diag_format(const policy_diag *d, char *buf, size_t len) {
  if (d->line > 0)
    snprintf(buf, len, "%s:%d:%d: %s", d->file, d->line, d->column,
             d->message);
  else
    snprintf(buf, len, "%s: %s", d->file, d->message);
}

/* }====================================================== */

/* {======================================================
** Model
** ======================================================= */

static void index_free(struct policy__index *ix);

static const char *const OPS[] = {
  "eq", "ne", "lt", "gt", "lte", "gte", "in", "nin", "exists", "nexists",
  "contains", "ncontains", "matches", "nmatches", "cidr"
};

int policy_op_from_name(const char *name) {
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (strcmp(OPS[i], name) == 0) return (int)i;
  return -1;
}

int policy_field_parse(const char *s, policy_field *f) {
  const char *key = NULL;
  memset(f, 0, sizeof *f);
  if (strcmp(s, "actor.id") == 0) {
    f->root = POLICY_F_ACTOR_ID;
  } else if (strcmp(s, "action") == 0) {
    f->root = POLICY_F_ACTION;
  } else if (strcmp(s, "resource") == 0) {
    f->root = POLICY_F_RESOURCE;
  } else if (strncmp(s, "actor.meta.", 11) == 0) {
    f->root = POLICY_F_ACTOR_META;
    key = s + 11;
  } else if (strncmp(s, "meta.", 5) == 0) {
    f->root = POLICY_F_META;
    key = s + 5;
  } else {
    return -EINVAL;
  }
  if (key != NULL) {
    if (*key == '\0') return -EINVAL;
    if ((f->key = strdup(key)) == NULL) return -ENOMEM;
  }
  return 0;
}

static void cond_free(policy_cond *c) {
  free(c->field.key);
  free(c->from.key);
  policy_value_free(&c->value);
  if (c->has_re) regfree(&c->re);
  free(c->cidrs);
  memset(c, 0, sizeof *c);
}

static void strv_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

void policy_free(policy *p) {
  free(p->name);
  free(p->file);
  strv_free(p->actions, p->n_actions);
  for (size_t i = 0; i < p->n_resources; i++) {
    free(p->resources[i].text);
    policy_url_pattern_free(&p->resources[i].url);
  }
  free(p->resources);
  for (size_t i = 0; i < p->n_conds; i++) cond_free(&p->conds[i]);
  free(p->conds);
  strv_free(p->groups, p->n_groups);
  memset(p, 0, sizeof *p);
}

void policy_actor_clear(policy_actor *a) {
  free(a->id);
  for (size_t i = 0; i < a->n_meta; i++) {
    free(a->meta[i].key);
    policy_value_free(&a->meta[i].value);
  }
  free(a->meta);
  memset(a, 0, sizeof *a);
}

int policy_actor_set_id(policy_actor *a, const char *id) {
  char *copy = strdup(id);
  if (copy == NULL) return -ENOMEM;
  free(a->id);
  a->id = copy;
  return 0;
}

int policy_actor_set_meta(policy_actor *a, const char *key,
                          const policy_value *v) {
  policy_value copy;
  if (policy_value_copy(&copy, v) != 0) return -ENOMEM;
  for (size_t i = 0; i < a->n_meta; i++) {
    if (strcmp(a->meta[i].key, key) == 0) {
      policy_value_free(&a->meta[i].value);
      a->meta[i].value = copy;
      return 0;
    }
  }
  policy_kv *m = realloc(a->meta, (a->n_meta + 1) * sizeof *m);
  char *k = strdup(key);
  if (m) a->meta = m;
  if (m == NULL || k == NULL) {
    free(k);
    policy_value_free(&copy);
    return -ENOMEM;
  }
  m[a->n_meta].key = k;
  m[a->n_meta].value = copy;
  a->n_meta++;
  return 0;
}

int policy_actor_copy(policy_actor *dst, const policy_actor *src) {
  memset(dst, 0, sizeof *dst);
  if (src->id && policy_actor_set_id(dst, src->id) != 0) goto oom;
  for (size_t i = 0; i < src->n_meta; i++)
    if (policy_actor_set_meta(dst, src->meta[i].key, &src->meta[i].value))
      goto oom;
  return 0;
oom:
  policy_actor_clear(dst);
  return -ENOMEM;
}

policy_set *policy_set_new(void) {
  return calloc(1, sizeof(policy_set));
}

void policy_set_free(policy_set *set) {
  if (set == NULL) return;
  for (size_t i = 0; i < set->n; i++) policy_free(&set->items[i]);
  free(set->items);
  policy_actor_clear(&set->actor);
  index_free(set->index);
  free(set);
}

int policy_set_strict(const policy_set *set) {
  return set->n_files == 0 || set->n_nonstrict < set->n_files;
}

const policy *policy_set_find(const policy_set *set, const char *name) {
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
  return NULL;
}

int policy_set_append(policy_set *set, policy *p) {
  if (policy_set_find(set, p->name) != NULL) return -EEXIST;
  if (sl_grow(&set->items, &set->cap, set->n, sizeof *set->items, 16) != 0)
    return -ENOMEM;
  set->items[set->n++] = *p;
  memset(p, 0, sizeof *p);
  index_free(set->index);  /* stale: rebuilt by policy_set_reindex */
  set->index = NULL;
  return 0;
}

int policy_set_add_allow_url(policy_set *set, const char *pattern,
                             policy_diags *d) {
  policy p;
  char name[32];
  int rc = -ENOMEM;
  memset(&p, 0, sizeof p);
  snprintf(name, sizeof name, "allow-url:%zu", set->n + 1);
  p.name = strdup(name);
  p.file = strdup("--allow-url");
  p.actions = calloc(2, sizeof *p.actions);
  p.resources = calloc(1, sizeof *p.resources);
  if (!p.name || !p.file || !p.actions || !p.resources) goto fail;
  p.n_resources = 1;
  p.effect = POLICY_ALLOW;
  if ((p.actions[0] = strdup(POLICY_ACTION_CONNECT)) == NULL) goto fail;
  p.n_actions = 1;
  if ((p.actions[1] = strdup(POLICY_ACTION_CONNECT_URL)) == NULL) goto fail;
  p.n_actions = 2;
  if ((p.resources[0].text = strdup(pattern)) == NULL) goto fail;
  p.resources[0].is_url = 1;
  rc = policy_url_pattern_parse(pattern, &p.resources[0].url,
                                d->error.message, sizeof d->error.message);
  if (rc == -EINVAL) {
    snprintf(d->error.file, sizeof d->error.file, "--allow-url %s", pattern);
    d->error.line = d->error.column = 0;
  }
  if (rc != 0) goto fail;
  rc = policy_set_append(set, &p);
  if (rc == 0) {
    policy_set_reindex(set);  /* without it, decisions scan every policy */
    return 0;
  }
fail:
  policy_free(&p);
  return rc;
}

/* }====================================================== */


/* {======================================================
** Host index of the URL actions
** ======================================================= */

/*
** For websocket.connect and websocket.connect.url, the policies that can
** apply to a URL request are those with a "*" or any-host resource (the
** general list), those with an exact host equal to the request's, and
** those with a "*.domain" whose domain is a suffix of the request's host.
** The index keeps these lists (policy numbers, ascending), so a decision
** looks at a handful of policies, not all of them; the decision is the
** same as a full scan in policy order.
*/
typedef struct ids {
  size_t *v;
  size_t n, cap;
} ids;

typedef struct hslot {
  char *key;  /* exact host, or ".domain" for "*.domain" */
  ids list;
} hslot;

typedef struct uindex {
  ids general;
  hslot *tab;  /* open addressing; cap a power of two */
  size_t cap, used;
} uindex;

struct policy__index {
  uindex act[2];  /* websocket.connect, websocket.connect.url */
};

static const char *const URL_ACTIONS[2] = {POLICY_ACTION_CONNECT,
                                           POLICY_ACTION_CONNECT_URL};

static int ids_add(ids *l, size_t i) {
  if (l->n > 0 && l->v[l->n - 1] == i) return 0;
  if (sl_grow(&l->v, &l->cap, l->n, sizeof *l->v, 4) != 0) return -ENOMEM;
  l->v[l->n++] = i;
  return 0;
}

static size_t hash(const char *s, size_t n) {
  size_t h = 14695981039346656037u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

/* The slot for key (n bytes): found, or the empty one to fill. */
static hslot *slot(const uindex *x, const char *key, size_t n) {
  size_t m = x->cap - 1;
  for (size_t i = hash(key, n) & m;; i = (i + 1) & m) {
    hslot *e = &x->tab[i];
    if (e->key == NULL || (strncmp(e->key, key, n) == 0 && e->key[n] == '\0'))
      return e;
  }
}

static void uindex_free(uindex *x) {
  free(x->general.v);
  for (size_t i = 0; i < x->cap; i++) {
    free(x->tab[i].key);
    free(x->tab[i].list.v);
  }
  free(x->tab);
  memset(x, 0, sizeof *x);
}

static void index_free(struct policy__index *ix) {
  if (ix == NULL) return;
  uindex_free(&ix->act[0]);
  uindex_free(&ix->act[1]);
  free(ix);
}

static int action_matches(const policy *p, const char *action);

static int uindex_build(uindex *x, const policy_set *set, const char *act) {
  size_t keys = 0;
  for (size_t i = 0; i < set->n; i++) keys += set->items[i].n_resources;
  x->cap = 16;
  while (x->cap < 2 * keys) x->cap *= 2;
  if ((x->tab = calloc(x->cap, sizeof *x->tab)) == NULL) return -ENOMEM;
  for (size_t i = 0; i < set->n; i++) {
    const policy *p = &set->items[i];
    if (!action_matches(p, act)) continue;
    int general = 0;
    for (size_t k = 0; k < p->n_resources; k++) {
      const policy_resource *r = &p->resources[k];
      if (r->is_url ? r->url.host_kind == POLICY_HOST_ANY
                    : strcmp(r->text, "*") == 0)
        general = 1;
    }
    if (general) {
      if (ids_add(&x->general, i) != 0) return -ENOMEM;
      continue;
    }
    for (size_t k = 0; k < p->n_resources; k++) {
      const policy_resource *r = &p->resources[k];
      if (!r->is_url) continue;  /* never matches a URL */
      hslot *e = slot(x, r->url.host, strlen(r->url.host));
      if (e->key == NULL && (e->key = strdup(r->url.host)) == NULL)
        return -ENOMEM;
      if (ids_add(&e->list, i) != 0) return -ENOMEM;
    }
  }
  return 0;
}

int policy_set_reindex(policy_set *set) {
  index_free(set->index);
  set->index = NULL;
  struct policy__index *ix = calloc(1, sizeof *ix);
  if (ix == NULL) return -ENOMEM;
  for (int a = 0; a < 2; a++) {
    if (uindex_build(&ix->act[a], set, URL_ACTIONS[a]) != 0) {
      index_free(ix);
      return -ENOMEM;
    }
  }
  set->index = ix;
  return 0;
}

/* }====================================================== */

/* {======================================================
** Evaluation
** ======================================================= */

/* Result of a condition: holds, does not, or cannot be decided. */
enum { C_FALSE = 0, C_TRUE = 1, C_ERROR = 2, C_DEFERRED = 3 };

int policy_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  int row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

int policy_action_suspect(const char *action, const char **suggest) {
  static const char *const known[] = {POLICY_ACTION_CONNECT,
                                      POLICY_ACTION_CONNECT_URL, NULL};
  const char *best = NULL;
  int bestd = 99;
  *suggest = NULL;
  for (int i = 0; known[i]; i++) {
    if (strcmp(action, known[i]) == 0) return 0;
    if (strpbrk(action, "*?[") != NULL && policy_glob_match(action, known[i]))
      return 0;  /* a pattern that covers a guarded action */
    int d = policy_edit_distance(action, known[i]);
    if (d < bestd) bestd = d, best = known[i];
  }
  if (strncmp(action, "websocket.", 10) == 0 || bestd <= 2) {
    *suggest = best;
    return 1;
  }
  return 0;
}

int policy_action_is_url(const char *action, const char *resource) {
  if (strcmp(action, POLICY_ACTION_CONNECT_URL) == 0) return 1;
  return strcmp(action, POLICY_ACTION_CONNECT) == 0 && resource != NULL &&
         strstr(resource, "://") != NULL;
}

/* A value borrowed for the time of one evaluation. */
typedef struct fval {
  int present;
  policy_value v;  /* strings point into the request, never freed */
  char buf[POLICY_IP_STRLEN + 8];
} fval;

static const policy_value *find_kv(const policy_kv *kv, size_t n,
                                   const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[i].key, key) == 0) return &kv[i].value;
  return NULL;
}

static void set_str(fval *out, const char *s) {
  out->present = 1;
  out->v.type = POLICY_V_STR;
  out->v.s = (char *)s;
}

/* Read a field of the request.  Returns C_DEFERRED for meta.ip before
** DNS, else 0 (out->present says whether the field exists). */
static int get_field(const policy_request *req, const policy_field *f,
                     fval *out) {
  const policy_value *v = NULL;
  memset(&out->v, 0, sizeof out->v);
  out->present = 0;
  switch (f->root) {
    case POLICY_F_ACTOR_ID:
      if (req->actor && req->actor->id) set_str(out, req->actor->id);
      return 0;
    case POLICY_F_ACTION:
      set_str(out, req->action);
      return 0;
    case POLICY_F_RESOURCE:
      if (req->url) set_str(out, req->url->canonical);
      else if (req->resource) set_str(out, req->resource);
      return 0;
    case POLICY_F_ACTOR_META:
      if (req->actor) v = find_kv(req->actor->meta, req->actor->n_meta, f->key);
      break;
    case POLICY_F_META:
      if (strcmp(f->key, "ip") == 0) {
        if (req->ip) {
          policy_ip_format(req->ip, out->buf, sizeof out->buf);
          set_str(out, out->buf);
          return 0;
        }
        if (req->ip_pending) return C_DEFERRED;
      }
      if (req->url) {
        const policy_url *u = req->url;
        if (strcmp(f->key, "scheme") == 0) return set_str(out, u->scheme), 0;
        if (strcmp(f->key, "host") == 0) return set_str(out, u->host), 0;
        if (strcmp(f->key, "path") == 0) return set_str(out, u->path), 0;
        if (strcmp(f->key, "query") == 0) {
          if (u->has_query) set_str(out, u->query);
          return 0;
        }
        if (strcmp(f->key, "port") == 0) {
          out->present = 1;
          out->v.type = POLICY_V_NUM;
          out->v.n = u->port;
          return 0;
        }
      }
      v = find_kv(req->meta, req->n_meta, f->key);
      break;
    default:
      break;
  }
  if (v != NULL) {
    out->present = 1;
    out->v = *v;
  }
  return 0;
}

/* Text form of a scalar for comparisons across types. */
static const char *scalar_text(const policy_value *v, char *buf, size_t len) {
  switch (v->type) {
    case POLICY_V_STR: return v->s;
    case POLICY_V_BOOL: return v->b ? "true" : "false";
    case POLICY_V_NULL: return "null";
    case POLICY_V_NUM:
      if (v->n == floor(v->n) && fabs(v->n) < 1e15)
        snprintf(buf, len, "%.0f", v->n);
      else
        snprintf(buf, len, "%.17g", v->n);
      return buf;
    default:
      return NULL;
  }
}

/* eq between scalars: same type compares values; different scalar types
** compare their text forms (443 eq "443").  Lists: C_ERROR. */
static int eq(const policy_value *a, const policy_value *b) {
  if (a->type == POLICY_V_LIST || b->type == POLICY_V_LIST) return C_ERROR;
  if (a->type == b->type) {
    switch (a->type) {
      case POLICY_V_STR: return strcmp(a->s, b->s) == 0;
      case POLICY_V_NUM: return a->n == b->n;
      case POLICY_V_BOOL: return a->b == b->b;
      default: return 1;
    }
  }
  char ba[64], bb[64];
  return strcmp(scalar_text(a, ba, sizeof ba), scalar_text(b, bb, sizeof bb))
         == 0;
}

/* A number from a number or a numeric string; -1 when not numeric. */
static int as_number(const policy_value *v, double *n) {
  if (v->type == POLICY_V_NUM) {
    *n = v->n;
    return 0;
  }
  if (v->type == POLICY_V_STR && v->s[0] != '\0') {
    char *end;
    *n = strtod(v->s, &end);
    if (*end == '\0' && !isnan(*n)) return 0;
  }
  return -1;
}

static int order(policy_op op, const policy_value *a, const policy_value *b) {
  double x, y;
  if (as_number(a, &x) != 0 || as_number(b, &y) != 0) return C_ERROR;
  switch (op) {
    case POLICY_OP_LT: return x < y;
    case POLICY_OP_GT: return x > y;
    case POLICY_OP_LTE: return x <= y;
    default: return x >= y;
  }
}

static int in_list(const policy_value *x, const policy_value *list) {
  if (list->type != POLICY_V_LIST) return C_ERROR;
  int err = 0;
  for (size_t i = 0; i < list->n_items; i++) {
    int r = eq(x, &list->items[i]);
    if (r == C_TRUE) return C_TRUE;
    if (r == C_ERROR) err = 1;
  }
  return err ? C_ERROR : C_FALSE;
}

static int contains(const policy_value *hay, const policy_value *needle) {
  if (hay->type == POLICY_V_LIST) return in_list(needle, hay);
  if (hay->type != POLICY_V_STR) return C_ERROR;
  char buf[64];
  const char *n = scalar_text(needle, buf, sizeof buf);
  if (n == NULL) return C_ERROR;
  return strstr(hay->s, n) != NULL;
}

static int matches(const policy_cond *c, const policy_value *x,
                   const policy_value *pat) {
  char buf[64];
  const char *s = scalar_text(x, buf, sizeof buf);
  if (s == NULL || x->type == POLICY_V_NULL) return C_ERROR;
  if (c->has_re) return regexec(&c->re, s, 0, NULL, 0) == 0;
  if (pat->type != POLICY_V_STR) return C_ERROR;
  regex_t re;  /* value_from: compiled now */
  if (regcomp(&re, pat->s, REG_EXTENDED | REG_NOSUB) != 0) return C_ERROR;
  int r = regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return r;
}

static int in_cidrs(const policy_cond *c, const policy_value *x,
                    const policy_value *v) {
  policy_ip ip;
  if (x->type != POLICY_V_STR || policy_ip_parse(x->s, &ip) != 0)
    return C_ERROR;
  if (c->n_cidrs > 0 || c->has_value) {
    for (size_t i = 0; i < c->n_cidrs; i++)
      if (policy_cidr_contains(&c->cidrs[i], &ip)) return C_TRUE;
    return C_FALSE;
  }
  /* value_from: a CIDR string or a list of them. */
  const policy_value *items = v->type == POLICY_V_LIST ? v->items : v;
  size_t n = v->type == POLICY_V_LIST ? v->n_items : 1;
  char err[8];
  for (size_t i = 0; i < n; i++) {
    policy_cidr cidr;
    if (items[i].type != POLICY_V_STR ||
        policy_cidr_parse(items[i].s, &cidr, err, sizeof err) != 0)
      return C_ERROR;
    if (policy_cidr_contains(&cidr, &ip)) return C_TRUE;
  }
  return C_FALSE;
}

static int negate(int r) { return r == C_ERROR ? C_ERROR : !r; }

static int eval_cond(const policy_request *req, const policy_cond *c) {
  fval x, y;
  if (get_field(req, &c->field, &x) == C_DEFERRED) return C_DEFERRED;
  if (c->op == POLICY_OP_EXISTS) return x.present;
  if (c->op == POLICY_OP_NEXISTS) return !x.present;
  if (!x.present) return C_ERROR;
  const policy_value *v = &c->value;
  if (c->has_from) {
    if (get_field(req, &c->from, &y) == C_DEFERRED) return C_DEFERRED;
    if (!y.present) return C_ERROR;
    v = &y.v;
  }
  switch (c->op) {
    case POLICY_OP_EQ: return eq(&x.v, v);
    case POLICY_OP_NE: return negate(eq(&x.v, v));
    case POLICY_OP_LT:
    case POLICY_OP_GT:
    case POLICY_OP_LTE:
    case POLICY_OP_GTE: return order(c->op, &x.v, v);
    case POLICY_OP_IN: return in_list(&x.v, v);
    case POLICY_OP_NIN: return negate(in_list(&x.v, v));
    case POLICY_OP_CONTAINS: return contains(&x.v, v);
    case POLICY_OP_NCONTAINS: return negate(contains(&x.v, v));
    case POLICY_OP_MATCHES: return matches(c, &x.v, v);
    case POLICY_OP_NMATCHES: return negate(matches(c, &x.v, v));
    case POLICY_OP_CIDR: return in_cidrs(c, &x.v, v);
    default: return C_ERROR;
  }
}

static int action_matches(const policy *p, const char *action) {
  for (size_t i = 0; i < p->n_actions; i++)
    if (policy_glob_match(p->actions[i], action)) return 1;
  return 0;
}

/* The resource pattern of p that matches, or NULL. */
static const policy_resource *resource_matches(const policy *p,
                                               const policy_request *req) {
  for (size_t i = 0; i < p->n_resources; i++) {
    const policy_resource *r = &p->resources[i];
    if (r->is_url) {
      if (req->url && policy_url_pattern_match(&r->url, req->url)) return r;
    } else if (req->url) {
      /* A URL is never matched as a raw string: only "*" covers it. */
      if (strcmp(r->text, "*") == 0) return r;
    } else if (req->resource && policy_glob_match(r->text, req->resource)) {
      return r;
    }
  }
  return NULL;
}

/* Whether an applicable allow policy names the address explicitly: any of
** its URL patterns that matches the URL has that IP (or localhost) as host
** (a "*" beside it does not cancel that), or a meta.ip cidr condition of it
** holds. */
static int names_ip(const policy *p, const policy_request *req) {
  for (size_t i = 0; i < p->n_resources; i++) {
    const policy_resource *r = &p->resources[i];
    if (r->is_url && policy_url_pattern_match(&r->url, req->url) &&
        policy_url_pattern_names_ip(&r->url, req->ip))
      return 1;
  }
  for (size_t i = 0; i < p->n_conds; i++) {
    const policy_cond *c = &p->conds[i];
    if (c->op == POLICY_OP_CIDR && c->field.root == POLICY_F_META &&
        strcmp(c->field.key, "ip") == 0)
      return 1;  /* it applied, so the condition held */
  }
  return 0;
}

/* What the scan of the policies has found so far. */
typedef struct scan {
  const policy *deny, *allow, *explicit_allow;
  const char *special;  /* range of req->ip, when special-purpose */
  int deny_error;       /* the deny applied through a condition error */
} scan;

/* Consider policy p for req; returns 1 when a deny decided. */
static int consider(const policy *p, const policy_request *req, scan *sc) {
  const policy_resource *r = resource_matches(p, req);
  if (r == NULL) return 0;
  /* Every condition of a deny policy is evaluated (an error anywhere
  ** denies); an allow policy stops at the first that fails. */
  int any_false = 0, error = 0, deferred = 0;
  for (size_t j = 0; j < p->n_conds; j++) {
    int c = eval_cond(req, &p->conds[j]);
    if (c == C_FALSE) any_false = 1;
    else if (c == C_ERROR) error = 1;
    else if (c == C_DEFERRED) deferred = 1;
    if (p->effect == POLICY_ALLOW && (any_false || error)) break;
  }
  int applies = !any_false && !error;
  if (p->effect == POLICY_DENY) {
    if (deferred) return 0;  /* decided after DNS */
    if (applies || error) {
      sc->deny = p;
      sc->deny_error = !applies;
      return 1;
    }
  } else if (applies) {
    if (sc->allow == NULL) sc->allow = p;
    if (sc->special && sc->explicit_allow == NULL && names_ip(p, req))
      sc->explicit_allow = p;
  }
  return 0;
}

/* Scan the indexed candidates of a URL request, in policy order. */
static void scan_indexed(const policy_set *set, const uindex *x,
                         const policy_request *req, scan *sc) {
  const ids *lists[POLICY_HOST_MAX / 2 + 3];
  size_t pos[POLICY_HOST_MAX / 2 + 3];
  size_t k = 0;
  const char *host = req->url->host;
  size_t hl = strlen(host);
  lists[k++] = &x->general;
  hslot *e = slot(x, host, hl);
  if (e->key) lists[k++] = &e->list;
  for (size_t i = 0; i < hl; i++) {
    if (host[i] != '.') continue;
    e = slot(x, host + i, hl - i);
    if (e->key) lists[k++] = &e->list;
  }
  memset(pos, 0, k * sizeof pos[0]);
  for (;;) {  /* k-way merge: k is the number of matching keys, small */
    size_t best = SIZE_MAX, which = 0;
    for (size_t j = 0; j < k; j++)
      if (pos[j] < lists[j]->n && lists[j]->v[pos[j]] < best)
        best = lists[j]->v[pos[j]], which = j;
    if (best == SIZE_MAX) return;
    pos[which]++;
    for (size_t j = 0; j < k; j++)  /* the same policy via another key */
      if (pos[j] < lists[j]->n && lists[j]->v[pos[j]] == best) pos[j]++;
    if (consider(&set->items[best], req, sc)) return;
  }
}

void policy_decide(const policy_set *set, const policy_request *req,
                   policy_decision *d) {
  policy_request literal;
  scan sc;
  /* An IP-literal host needs no DNS to be decided: its address is the one
  ** connected to, so meta.ip and the special-address rule apply now, for
  ** `policy check` as at run time. */
  if (req->url != NULL && req->url->host_ip && req->ip == NULL) {
    literal = *req;
    literal.ip = &req->url->ip;
    literal.ip_pending = 0;
    req = &literal;
  }
  memset(&sc, 0, sizeof sc);
  sc.special = req->ip ? policy_ip_special(req->ip) : NULL;
  memset(d, 0, sizeof *d);
  const uindex *x = NULL;
  if (set->index && req->url) {
    for (int a = 0; a < 2; a++)
      if (strcmp(req->action, URL_ACTIONS[a]) == 0) x = &set->index->act[a];
  }
  if (x) {
    scan_indexed(set, x, req, &sc);
  } else {
    for (size_t i = 0; i < set->n; i++) {
      const policy *p = &set->items[i];
      if (action_matches(p, req->action) && consider(p, req, &sc)) break;
    }
  }
  if (sc.deny) {
    d->allow = 0;
    d->why = POLICY_WHY_DENY;
    d->policy = sc.deny;
    if (sc.deny_error)
      snprintf(d->detail, sizeof d->detail,
               "a condition could not be evaluated (fail closed)");
    return;
  }
  if (sc.special && sc.explicit_allow == NULL &&
      (sc.allow != NULL || !policy_set_strict(set))) {
    char ip[POLICY_IP_STRLEN];
    policy_ip_format(req->ip, ip, sizeof ip);
    d->allow = 0;
    d->why = POLICY_WHY_SPECIAL;
    d->policy = NULL;
    snprintf(d->detail, sizeof d->detail,
             "%s is a %s address, which no allow policy names explicitly",
             ip, sc.special);
    return;
  }
  if (sc.explicit_allow || sc.allow) {
    d->allow = 1;
    d->why = POLICY_WHY_ALLOW;
    d->policy = sc.explicit_allow ? sc.explicit_allow : sc.allow;
    return;
  }
  d->why = POLICY_WHY_UNDEFINED;
  d->allow = !policy_set_strict(set);
}

/*
** The request policy_check and policy_explain decide: the resource of a
** URL action canonicalised into *u.  0, or -EINVAL with the URL's error in
** err.
*/
static int make_request(policy_request *r, const policy_actor *actor,
                        const char *action, const char *resource,
                        const policy_kv *meta, size_t n_meta, policy_url *u,
                        char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->actor = actor;
  r->action = action;
  r->resource = resource;
  r->meta = meta;
  r->n_meta = n_meta;
  if (!policy_action_is_url(action, resource)) return 0;
  if (policy_url_parse(resource, u, err, errlen) != 0) return -EINVAL;
  r->url = u;
  r->resource = u->canonical;
  return 0;
}

void policy_explain(const policy_set *set, const policy_actor *actor,
                    const char *action, const char *resource,
                    const policy_kv *meta, size_t n_meta,
                    const policy_ip *ip, policy_url *u,
                    policy_explain_fn fn, void *ud) {
  policy_request r;
  char why[POLICY_URL_MAX + 128], err[200];
  if (make_request(&r, actor, action, resource, meta, n_meta, u, err,
                   sizeof err) != 0) {
    snprintf(why, sizeof why, "invalid URL: %s (decided before any policy)",
             err);
    fn(ud, NULL, why);
    return;
  }
  if (r.url != NULL) {
    r.ip = ip;
    r.ip_pending = ip == NULL;
  }
  for (size_t i = 0; i < set->n; i++) {
    const policy *p = &set->items[i];
    const char *eff = p->effect == POLICY_DENY ? "deny" : "allow";
    if (!action_matches(p, r.action)) {
      snprintf(why, sizeof why, "skipped: no action pattern matches %s",
               r.action);
    } else if (resource_matches(p, &r) == NULL) {
      snprintf(why, sizeof why, "skipped: no resource pattern matches %s",
               r.resource ? r.resource : "(none)");
    } else {
      why[0] = '\0';
      for (size_t j = 0; j < p->n_conds && why[0] == '\0'; j++) {
        int c = eval_cond(&r, &p->conds[j]);
        const char *op = OPS[p->conds[j].op];
        if (c == C_FALSE)
          snprintf(why, sizeof why, "skipped: condition %zu (%s) is false",
                   j + 1, op);
        else if (c == C_ERROR)
          snprintf(why, sizeof why, "condition %zu (%s) cannot be evaluated: "
                   "%s", j + 1, op, p->effect == POLICY_DENY
                       ? "applies, a deny fails closed" : "skipped");
        else if (c == C_DEFERRED)
          snprintf(why, sizeof why, "condition %zu (%s) waits for the "
                   "resolved address (give --ip)", j + 1, op);
      }
      if (why[0] == '\0') snprintf(why, sizeof why, "applies: %s", eff);
    }
    fn(ud, p, why);
  }
}

int policy_check(const policy_set *set, const policy_actor *actor,
                 const char *action, const char *resource,
                 const policy_kv *meta, size_t n_meta, const policy_ip *ip,
                 policy_url *u, policy_decision *d) {
  policy_request r;
  char err[200];
  if (make_request(&r, actor, action, resource, meta, n_meta, u, err,
                   sizeof err) != 0) {
    memset(d, 0, sizeof *d);
    d->why = POLICY_WHY_INVALID;
    snprintf(d->detail, sizeof d->detail, "%s", err);
    return -EINVAL;
  }
  if (r.url != NULL) {
    r.ip_pending = 1;
    policy_decide(set, &r, d);
    if (!d->allow || ip == NULL) return 0;
    r.ip_pending = 0;
    r.ip = ip;
  }
  policy_decide(set, &r, d);
  return 0;
}

int policy_check_addrs(const policy_set *set, const policy_actor *actor,
                       const char *action, const char *resource,
                       const policy_kv *meta, size_t n_meta,
                       const policy_ip *ips, size_t n, size_t *which,
                       policy_url *u, policy_decision *d) {
  policy_decision first;
  *which = 0;
  if (n == 0)
    return policy_check(set, actor, action, resource, meta, n_meta, NULL, u,
                        d);
  for (size_t i = 0; i < n; i++) {
    int rc = policy_check(set, actor, action, resource, meta, n_meta, &ips[i],
                          u, d);
    if (rc != 0) return rc;
    if (d->allow) {
      *which = i;
      return 0;
    }
    if (i == 0) first = *d;
  }
  *d = first;
  return 0;
}

const char *policy_decision_policy(const policy_decision *d) {
  if (d->policy) return d->policy->name;
  switch (d->why) {
    case POLICY_WHY_SPECIAL: return "(special-purpose address)";
    case POLICY_WHY_INVALID: return "(invalid URL)";
    default: return d->allow ? "(undefined: strict off)" : "(default deny)";
  }
}

/* }====================================================== */
