/*
** policy_cmd.c - `sandlua policy lint|check|test`: the policy engine for
** CI, without a Lua state.
**
**   lint FILE...          each file alone, then all combined; exit 0 or 3
**   check [options] ACTION RESOURCE   the decision and the deciding policy;
**                         exit 0 allow, 1 deny
**   test [options] CASES.yaml...      expectation cases, TAP on stdout,
**                         JUnit XML with --junit FILE; exit 1 on a failure
** Usage errors exit 2, unreadable or invalid policy/cases files exit 3.
*/
#include "interp.h"
#include "diag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>

#include "../security/audit.h"
#include "../security/policy.h"
#include "../security/policy_cases.h"

#define P INTERP_PROGNAME " policy"

static const char *const USAGE_LINT =
    "usage: " P " lint [--allow-unknown] FILE...\n"
    "Check policy files (FILE - reads standard input): every error as\n"
    "file:line:column: message.  Unknown actions in the websocket.\n"
    "namespace (or near misses of websocket.connect[.url]) and unknown\n"
    "security.* kinds are errors; --allow-unknown makes them warnings.\n"
    "Exit 0 valid, 3 invalid, 2 usage.\n";
static const char *const USAGE_CHECK =
    "usage: " P " check [--policy FILE]... [--allow-url PATTERN]...\n"
    "                 [--actor ID] [--actor-meta K=V]... [--meta K=V]...\n"
    "                 [--ip ADDRESS]... [--allow-unknown] [--explain]\n"
    "                 ACTION RESOURCE\n"
    "Print allow or deny and the deciding policy, as the runtime decides\n"
    "(the site policy " INTERP_SITE_POLICY_DIR "/*.yaml included; without\n"
    "--policy, " INTERP_DEFAULT_POLICY " if present).  --ip: the resolved\n"
    "addresses, the first allowed one wins.  An ACTION that looks like a\n"
    "misspelt guarded action is a usage error unless --allow-unknown.\n"
    "--explain: every policy considered and why it applied or not.\n"
    "Exit 0 allow, 1 deny, 2 usage, 3 invalid policy.\n";
static const char *const USAGE_TEST =
    "usage: " P " test [--policy FILE]... [--junit FILE] [--allow-unknown]\n"
    "                [-v] [--run REGEX] [--format tap|json] CASES.yaml...\n"
    "Run expectation cases against the policies each cases file names\n"
    "(plus --policy; not the site policy: cases test the files they name).\n"
    "TAP on standard output (--format json: one JSON document); --junit\n"
    "FILE writes JUnit XML too.  -v: every case's decision; --run REGEX:\n"
    "only the cases whose name matches (POSIX extended regex).\n"
    "Exit 0 all pass, 1 a case failed, 2 usage, 3 invalid file.\n";

static void usage(FILE *f) {
  fprintf(f,
      "usage: " P " lint [--allow-unknown] FILE...\n"
      "       " P " check [options] ACTION RESOURCE\n"
      "       " P " test [options] CASES.yaml...\n"
      "lint: check policy files (exit 0 valid, 3 invalid).\n"
      "check: print allow or deny and the deciding policy (exit 0 allow, "
      "1 deny).\n"
      "test: run expectation cases, TAP on stdout (exit 0 all pass, 1 a "
      "case failed).\n"
      "--help after a command shows its options.\n"
      "Without --policy, check and test use " INTERP_DEFAULT_POLICY
      " if present.\n");
}

/* {======================================================
** lint
** ======================================================= */

/* Standard input, whole: a malloc'd buffer (NULL when out of memory). */
static char *read_stdin(size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    size_t got = fread(buf + n, 1, cap - n, stdin);
    n += got;
    if (got == 0) break;
    if (n == cap) {
      char *b = realloc(buf, cap *= 2);
      if (b == NULL) free(buf);
      buf = b;
    }
  }
  *len = n;
  return buf;
}

/* Load one FILE of lint ("-": standard input). */
static int lint_load(policy_set *set, const char *file, policy_diags *d) {
  if (strcmp(file, "-") != 0) return policy_load_file(set, file, d);
  static char *in;  /* read once: the combined pass loads it again */
  static size_t inlen;
  if (in == NULL && (in = read_stdin(&inlen)) == NULL) return -ENOMEM;
  return policy_load_buffer(set, "<stdin>", in, inlen, d);
}

static int cmd_lint(int argc, char **argv) {
  int allow_unknown = 0, first = 1, nfiles = 0;
  for (; first < argc; first++) {
    if (strcmp(argv[first], "--help") == 0) {
      fputs(USAGE_LINT, stdout);
      return SL_EXIT_OK;
    }
    if (strcmp(argv[first], "--allow-unknown") == 0) {
      allow_unknown = 1;
    } else if (strcmp(argv[first], "--") == 0) {
      first++;
      break;
    } else if (strncmp(argv[first], "--", 2) == 0) {
      return interp_usage_error(P, "lint: unrecognized option '%s'",
                                argv[first]);
    } else {
      break;
    }
  }
  for (int i = first; i < argc; i++) nfiles += strcmp(argv[i], "--") != 0;
  if (nfiles == 0) return interp_usage_error(P, "lint needs at least one FILE");
  int bad = 0;
  policy_set *all = policy_set_new();
  policy_diags d;
  memset(&d, 0, sizeof d);
  for (int i = first; i < argc; i++) {
    policy_set *one = policy_set_new();
    if (one == NULL || all == NULL) {
      policy_set_free(one);
      policy_set_free(all);
      interp_errorf(P ": out of memory");
      return SL_EXIT_POLICY;
    }
    one->allow_unknown = all->allow_unknown = allow_unknown;
    const char *shown = strcmp(argv[i], "-") == 0 ? "<stdin>" : argv[i];
    int rc = lint_load(one, argv[i], &d);
    interp_print_warnings(&d, "warning: ");
    if (rc != 0) {
      interp_print_diag(&d.error, "");
      bad = 1;
    } else {
      printf("%s: ok (%zu %s)\n", shown, one->n,
             one->n == 1 ? "policy" : "policies");
      /* Combined: names must not clash across files. */
      if (lint_load(all, argv[i], &d) != 0) {
        interp_print_diag(&d.error, "");
        bad = 1;
      }
      policy_diags_free(&d);
    }
    policy_set_free(one);
  }
  policy_set_free(all);
  return bad ? SL_EXIT_POLICY : SL_EXIT_OK;
}

/* }====================================================== */

/* {======================================================
** Shared option parsing for check and test
** ======================================================= */

typedef struct cmd_opts {
  interp_config cfg;       /* --policy, --allow-url, --actor, --actor-meta */
  const char **meta;       /* check: --meta K=V */
  int n_meta;
  policy_ip ips[POLICY_CASE_IPS]; /* check: --ip, in order */
  size_t n_ips;
  const char *junit;       /* test: --junit */
  const char *run;         /* test: --run REGEX */
  int verbose;             /* test: -v */
  int json;                /* test: --format json */
  int explain;             /* check: --explain */
  char **rest;             /* positional arguments */
  int n_rest;
} cmd_opts;

/* Returns 0, the exit status of a usage error, or -1 after --help. */
static int parse_opts(int argc, char **argv, int for_test, cmd_opts *o) {
  memset(o, 0, sizeof *o);
  o->rest = calloc((size_t)argc + 1, sizeof *o->rest);
  if (o->rest == NULL) return SL_EXIT_POLICY;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *why = NULL;
    if (strcmp(a, "--") == 0) {
      while (++i < argc) o->rest[o->n_rest++] = argv[i];
      break;
    }
    if (for_test && strcmp(a, "-v") == 0) {
      o->verbose = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      o->rest[o->n_rest++] = argv[i];
      continue;
    }
    if (strcmp(a, "--help") == 0) {
      fputs(for_test ? USAGE_TEST : USAGE_CHECK, stdout);
      return -1;  /* done, status 0 */
    }
    if (strcmp(a, "--allow-unknown") == 0) {
      o->cfg.allow_unknown = 1;
      continue;
    }
    if (!for_test && strcmp(a, "--explain") == 0) {
      o->explain = 1;
      continue;
    }
    if (for_test && strcmp(a, "--verbose") == 0) {
      o->verbose = 1;
      continue;
    }
    if (i + 1 >= argc) return interp_usage_error(P, "'%s' needs a value", a);
    const char *v = argv[++i];
    if (strcmp(a, "--policy") == 0) {
      why = interp_opt_policy(&o->cfg, v);
    } else if (strcmp(a, "--allow-url") == 0 && !for_test) {
      why = interp_opt_allow_url(&o->cfg, v);
    } else if (strcmp(a, "--actor") == 0 && !for_test) {
      why = interp_opt_actor(&o->cfg, v);
    } else if (strcmp(a, "--actor-meta") == 0 && !for_test) {
      why = interp_opt_actor_meta(&o->cfg, v);
    } else if (strcmp(a, "--meta") == 0 && !for_test) {
      const char *eq = strchr(v, '=');
      if (eq == NULL || eq == v) why = "expected KEY=VALUE";
      else {
        const char **m = realloc(o->meta, (size_t)(o->n_meta + 1) * sizeof *m);
        if (m == NULL) return SL_EXIT_POLICY;
        m[o->n_meta++] = v;
        o->meta = m;
      }
    } else if (strcmp(a, "--ip") == 0 && !for_test) {
      if (o->n_ips == POLICY_CASE_IPS)
        return interp_usage_error(P, "--ip: more than %d addresses",
                                  POLICY_CASE_IPS);
      if (policy_ip_parse(v, &o->ips[o->n_ips]) != 0)
        why = "not an IP address";
      else
        o->n_ips++;
    } else if (strcmp(a, "--junit") == 0 && for_test) {
      o->junit = v;
    } else if (strcmp(a, "--run") == 0 && for_test) {
      regex_t re;
      int e = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
      if (e != 0) {
        static char msg[160];
        regerror(e, &re, msg, sizeof msg);
        why = msg;
      } else {
        regfree(&re);
        o->run = v;
      }
    } else if (strcmp(a, "--format") == 0 && for_test) {
      if (strcmp(v, "json") == 0) o->json = 1;
      else if (strcmp(v, "tap") != 0) why = "must be tap or json";
    } else {
      return interp_usage_error(P, "unrecognized option '%s'", a);
    }
    if (why) return interp_usage_error(P, "%s %s: %s", a, v, why);
  }
  return 0;
}

static void free_opts(cmd_opts *o) {
  interp_policy_free(&o->cfg);
  free(o->meta);
  free(o->rest);
}

/* }====================================================== */

/* {======================================================
** check
** ======================================================= */

static void explain_line(void *ud, const policy *p, const char *verdict) {
  (void)ud;
  if (p == NULL) {
    printf("  %s\n", verdict);
    return;
  }
  if (strcmp(p->file, "--allow-url") == 0)
    printf("  %s (--allow-url): %s\n", p->name, verdict);
  else
    printf("  %s (%s:%d): %s\n", p->name, p->file, p->line, verdict);
}

static int cmd_check(int argc, char **argv) {
  cmd_opts o;
  int rc = parse_opts(argc, argv, 0, &o);
  if (rc == -1) {  /* --help */
    free_opts(&o);
    return SL_EXIT_OK;
  }
  if (rc == 0 && o.n_rest != 2)
    rc = interp_usage_error(P, "check needs ACTION and RESOURCE");
  const char *suggest;
  if (rc == 0 && policy_action_suspect(o.rest[0], &suggest)) {
    if (!o.cfg.allow_unknown)
      rc = interp_usage_error(P, "unknown action '%s' (did you mean '%s'?); "
                              "--allow-unknown checks it anyway", o.rest[0],
                              suggest);
    else
      interp_errorf(P ": warning: unknown action '%s' (did you mean '%s'?)",
                    o.rest[0], suggest);
  }
  if (rc == 0) rc = interp_policy_load(&o.cfg);
  policy_kv *meta = NULL;
  if (rc == 0 && o.n_meta > 0 &&
      (meta = calloc((size_t)o.n_meta, sizeof *meta)) == NULL)
    rc = SL_EXIT_POLICY;
  policy_url *u = rc == 0 ? malloc(sizeof *u) : NULL;
  if (rc == 0 && u == NULL) rc = SL_EXIT_POLICY;
  if (rc != 0) {
    free(meta);
    free_opts(&o);
    return rc;
  }
  for (int i = 0; i < o.n_meta; i++) {
    const char *eq = strchr(o.meta[i], '=');
    meta[i].key = strndup(o.meta[i], (size_t)(eq - o.meta[i]));
    meta[i].value.type = POLICY_V_STR;
    meta[i].value.s = (char *)(eq + 1);
  }
  const policy_set *set = o.cfg.policies;
  const char *action = o.rest[0], *resource = o.rest[1];
  policy_decision d;
  size_t which;
  int urc = policy_check_addrs(set, &set->actor, action, resource, meta,
                               (size_t)o.n_meta, o.ips, o.n_ips, &which, u,
                               &d);
  printf("%s\n", d.allow ? "allow" : "deny");
  printf("policy: %s\n", policy_decision_policy(&d));
  if (urc == 0 && policy_action_is_url(action, resource)) {
    printf("resource: %s\n", u->canonical);
    if (o.n_ips > 0) {
      char ip[POLICY_IP_STRLEN];
      policy_ip_format(&o.ips[which], ip, sizeof ip);
      printf("ip: %s\n", ip);
    }
  }
  if (d.detail[0]) printf("detail: %s\n", d.detail);
  if (o.explain) {  /* every policy, and what it made of the request */
    policy_url *eu = malloc(sizeof *eu);
    printf("explain:\n");
    if (eu != NULL)
      policy_explain(set, &set->actor, action, resource, meta,
                     (size_t)o.n_meta, o.n_ips > 0 ? &o.ips[which] : NULL,
                     eu, explain_line, NULL);
    if (set->n == 0) printf("  (no policy loaded: everything is denied)\n");
    free(eu);
  }
  for (int i = 0; i < o.n_meta; i++) free(meta[i].key);
  free(meta);
  free(u);
  free_opts(&o);
  return d.allow ? SL_EXIT_OK : SL_EXIT_DENIED;
}

/* }====================================================== */

/* {======================================================
** test
** ======================================================= */

typedef struct result {
  const char *file;
  const policy_case *c;
  int ok;
  char got[512];  /* the decision: "allow by NAME[: detail]" */
  char why[768];  /* the failure, in words */
} result;

static void xml_text(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&apos;", f); break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t') fprintf(f, "&#xfffd;");
        else fputc(c, f);
    }
  }
}

static int write_junit(const char *path, const result *r, size_t n,
                       size_t failures) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    interp_errorf(P ": --junit %s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites name=\"sandlua policy test\" tests=\"%zu\" "
             "failures=\"%zu\">\n", n, failures);
  for (size_t i = 0; i < n;) {
    size_t j = i, fails = 0;
    while (j < n && strcmp(r[j].file, r[i].file) == 0) fails += !r[j++].ok;
    fprintf(f, "  <testsuite name=\"");
    xml_text(f, r[i].file);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", j - i, fails);
    for (size_t k = i; k < j; k++) {
      fprintf(f, "    <testcase classname=\"");
      xml_text(f, r[k].file);
      fprintf(f, "\" name=\"");
      xml_text(f, r[k].c->name);
      if (r[k].ok) {
        fprintf(f, "\"/>\n");
        continue;
      }
      fprintf(f, "\">\n      <failure message=\"");
      xml_text(f, r[k].why);
      fprintf(f, "\">");
      xml_text(f, r[k].file);
      fprintf(f, ":%d: ", r[k].c->line);
      xml_text(f, r[k].why);
      fprintf(f, "</failure>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n");
    i = j;
  }
  fprintf(f, "</testsuites>\n");
  if (fclose(f) != 0) {
    interp_errorf(P ": --junit %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

static const char *expect_name(int e) {
  return e == POLICY_EXPECT_ALLOW ? "allow"
         : e == POLICY_EXPECT_DENY ? "deny" : "invalid";
}

/* Run one case against set; fills r. */
static void run_case(const policy_set *set, const policy_actor *actor,
                     const policy_case *c, policy_url *u, result *r) {
  policy_decision d;
  size_t which;
  int rc = policy_check_addrs(set, c->has_actor ? &c->actor : actor,
                              c->action, c->resource, c->meta, c->n_meta,
                              c->ips, c->n_ips, &which, u, &d);
  int got = rc == -EINVAL ? POLICY_EXPECT_INVALID
            : d.allow ? POLICY_EXPECT_ALLOW : POLICY_EXPECT_DENY;
  const char *by = policy_decision_policy(&d);
  r->c = c;
  snprintf(r->got, sizeof r->got, "%s by %s%s%s", expect_name(got), by,
           d.detail[0] ? ": " : "", d.detail);
  r->ok = got == c->expect && (c->policy == NULL || got ==
                               POLICY_EXPECT_INVALID ||
                               strcmp(c->policy, by) == 0);
  if (!r->ok)
    snprintf(r->why, sizeof r->why, "expected %s%s%s, got %s by %s%s%s",
             expect_name(c->expect), c->policy ? " by " : "",
             c->policy ? c->policy : "", expect_name(got), by,
             d.detail[0] ? ": " : "", d.detail);
}

/* The results as one JSON document (--format json). */
static void print_json(const result *r, size_t n, size_t failures,
                       int verbose) {
  char buf[2048];
  printf("{\"passed\":%zu,\"failed\":%zu,\"cases\":[", n - failures,
         failures);
  for (size_t i = 0; i < n; i++) {
    printf("%s\n {\"name\":", i ? "," : "");
    policy_json_quote(r[i].c->name, buf, sizeof buf);
    printf("%s,\"file\":", buf);
    policy_json_quote(r[i].file, buf, sizeof buf);
    printf("%s,\"line\":%d,\"ok\":%s", buf, r[i].c->line,
           r[i].ok ? "true" : "false");
    if (!r[i].ok || verbose) {
      policy_json_quote(r[i].got, buf, sizeof buf);
      printf(",\"got\":%s", buf);
    }
    if (!r[i].ok) {
      policy_json_quote(r[i].why, buf, sizeof buf);
      printf(",\"message\":%s", buf);
    }
    printf("}");
  }
  printf("%s]}\n", n ? "\n" : "");
}

static int cmd_test(int argc, char **argv) {
  cmd_opts o;
  int rc = parse_opts(argc, argv, 1, &o);
  if (rc == 0 && o.n_rest == 0)
    rc = interp_usage_error(P, "test needs CASES.yaml");
  if (rc != 0) {
    free_opts(&o);
    return rc == -1 ? SL_EXIT_OK : rc;  /* -1: after --help */
  }
  policy_cases *cases = calloc((size_t)o.n_rest, sizeof *cases);
  policy_url *u = malloc(sizeof *u);
  result *res = NULL;
  size_t total = 0, nres = 0, failures = 0;
  policy_diags d;
  memset(&d, 0, sizeof d);
  rc = (cases && u) ? 0 : SL_EXIT_POLICY;
  int loaded = 0;
  regex_t re;
  if (rc == 0 && o.run) regcomp(&re, o.run, REG_EXTENDED | REG_NOSUB);
  for (int i = 0; rc == 0 && i < o.n_rest; i++, loaded++) {
    if (policy_cases_load(o.rest[i], &cases[i], &d) != 0) {
      interp_print_diag(&d.error, "");
      rc = SL_EXIT_POLICY;
      break;
    }
    for (size_t k = 0; k < cases[i].n; k++)
      total += !o.run || regexec(&re, cases[i].items[k].name, 0, NULL, 0) == 0;
  }
  if (rc == 0 && (res = calloc(total + 1, sizeof *res)) == NULL)
    rc = SL_EXIT_POLICY;
  if (rc == 0 && !o.json) printf("TAP version 13\n1..%zu\n", total);
  for (int i = 0; rc == 0 && i < o.n_rest; i++) {
    /* Each cases file: its policies plus the --policy files. */
    policy_set *set = policy_set_new();
    if (set != NULL) set->allow_unknown = o.cfg.allow_unknown;
    if (set == NULL) {
      rc = SL_EXIT_POLICY;
      break;
    }
    for (size_t k = 0; rc == 0 && k < cases[i].n_policies; k++)
      if (policy_load_file(set, cases[i].policies[k], &d) != 0) {
        interp_print_diag(&d.error, "");
        rc = SL_EXIT_POLICY;
      }
    for (int k = 0; rc == 0 && k < o.cfg.n_policy_files; k++)
      if (policy_load_file(set, o.cfg.policy_files[k], &d) != 0) {
        interp_print_diag(&d.error, "");
        rc = SL_EXIT_POLICY;
      }
    interp_print_warnings(&d, "warning: ");
    const policy_actor *actor =
        cases[i].has_actor ? &cases[i].actor : &set->actor;
    for (size_t k = 0; rc == 0 && k < cases[i].n; k++) {
      if (o.run && regexec(&re, cases[i].items[k].name, 0, NULL, 0) != 0)
        continue;
      result *r = &res[nres++];
      r->file = o.rest[i];
      run_case(set, actor, &cases[i].items[k], u, r);
      failures += !r->ok;
      if (o.json) continue;
      printf("%s %zu - %s\n", r->ok ? "ok" : "not ok", nres, r->c->name);
      if (r->ok && o.verbose)
        printf("  # %s:%d: %s\n", r->file, r->c->line, r->got);
      if (!r->ok) {
        printf("  ---\n  message: \"");
        for (const char *p = r->why; *p; p++)
          if (*p == '"' || *p == '\\') printf("\\%c", *p);
          else putchar(*p);
        printf("\"\n  at: %s:%d\n  ...\n", r->file, r->c->line);
      }
    }
    policy_set_free(set);
  }
  if (o.run && cases && u) regfree(&re);
  if (rc == 0 && o.json) print_json(res, nres, failures, o.verbose);
  if (rc == 0) {
    if (!o.json)
      printf("# %zu passed, %zu failed\n", total - failures, failures);
    if (o.junit && write_junit(o.junit, res, nres, failures) != 0)
      rc = SL_EXIT_POLICY;
    else
      rc = failures ? SL_EXIT_DENIED : SL_EXIT_OK;
  } else if (cases == NULL || u == NULL) {
    interp_errorf(P ": out of memory");
  }
  for (int i = 0; cases && i < loaded; i++) policy_cases_free(&cases[i]);
  policy_diags_free(&d);
  free(cases);
  free(res);
  free(u);
  free_opts(&o);
  return rc;
}

/* }====================================================== */

int interp_policy_main(int argc, char **argv) {
  if (argc < 2)
    return interp_usage_error(P, "missing command (lint, check or test)");
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return SL_EXIT_OK;
  }
  if (strcmp(cmd, "lint") == 0) return cmd_lint(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "test") == 0) return cmd_test(argc - 1, argv + 1);
  return interp_usage_error(P, "unknown command '%s' (lint, check or test)",
                            cmd);
}
