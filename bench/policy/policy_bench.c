/*
** policy_bench.c - decisions per second for websocket.connect.url against
** generated files of 10, 100 and 1,000 policies, and the load time of the
** 1,000-policy file.  Targets: under 1 us per decision at 100 policies,
** load under 20 ms at 1,000.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../security/policy.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
** n policies in the shapes real files have: URL allows per host (half
** with a role condition), subdomain allows, deny policies on meta.ip and
** on hosts, plain action globs.
*/
static void generate(const char *path, int n) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  fprintf(f, "version: \"1.0\"\nnamespace: bench\n"
             "actor: {id: bot, meta: {role: bot}}\nentries:\n");
  for (int i = 0; i < n; i++) {
    fprintf(f, "  - name: p%d\n    kind: security.policy\n    policy:\n", i);
    switch (i % 5) {
      case 0:
      case 1:
        fprintf(f, "      actions: [websocket.connect, websocket.connect.url]\n"
                   "      resources: \"wss://host%d.example.com/ws/*\"\n"
                   "      effect: allow\n", i);
        if (i % 2)
          fprintf(f, "      conditions:\n"
                     "        - {field: actor.meta.role, operator: in, "
                     "value: [bot, admin]}\n");
        break;
      case 2:
        fprintf(f, "      actions: websocket.connect.url\n"
                   "      resources: \"wss://*.zone%d.example.net\"\n"
                   "      effect: allow\n", i);
        break;
      case 3:
        fprintf(f, "      actions: websocket.connect.url\n"
                   "      resources: [\"wss://bad%d.example.org/*\", "
                   "\"ws://bad%d.example.org/*\"]\n"
                   "      effect: deny\n", i, i);
        break;
      default:
        fprintf(f, "      actions: \"fs.*\"\n      resources: \"/data/%d/*\"\n"
                   "      effect: allow\n      conditions:\n"
                   "        - {field: meta.path, operator: matches, "
                   "value: \"^/data/[0-9]+/\"}\n", i);
        break;
    }
  }
  fprintf(f, "  - name: internal\n    kind: security.policy\n    policy:\n"
             "      actions: websocket.connect.url\n      resources: \"*\"\n"
             "      effect: deny\n      conditions:\n"
             "        - {field: meta.ip, operator: cidr, "
             "value: [10.0.0.0/8, 192.168.0.0/16]}\n");
  fclose(f);
}

static policy_set *load(const char *path) {
  policy_set *set = policy_set_new();
  policy_diags d;
  memset(&d, 0, sizeof d);
  if (policy_load_file(set, path, &d) != 0) {
    char buf[1024];
    policy_diag_format(&d.error, buf, sizeof buf);
    fprintf(stderr, "%s\n", buf);
    exit(1);
  }
  policy_diags_free(&d);
  return set;
}

/* Nanoseconds per decision for url (best of 5 runs). */
static double per_decision(const policy_set *set, const char *url,
                           int expect) {
  static policy_url u;
  policy_decision d;
  double best = 1e9;
  int iters = 20000;
  for (int run = 0; run < 5; run++) {
    double t0 = now();
    for (int i = 0; i < iters; i++) {
      policy_check(set, &set->actor, POLICY_ACTION_CONNECT_URL, url, NULL, 0,
                   NULL, &u, &d);
      if (d.allow != expect) {
        fprintf(stderr, "unexpected decision for %s\n", url);
        exit(1);
      }
    }
    double ns = (now() - t0) / iters * 1e9;
    if (ns < best) best = ns;
  }
  return best;
}

int main(void) {
  char path[] = "/tmp/sandlua-bench-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  static const int sizes[] = {10, 100, 1000};
  double at100 = 0, load_ms = 0;
  printf("ns per websocket.connect.url decision (URL parsing included):\n"
         "first/last: allowed by a policy near the start/end of the file;\n"
         "none: no policy applies; scan: the same without the host index\n\n");
  printf("%-9s %11s %11s %11s %13s %11s %8s\n", "policies", "first",
         "last", "none", "decisions/s", "none scan", "ratio");
  for (size_t k = 0; k < 3; k++) {
    int n = sizes[k];
    generate(path, n);
    policy_set *set = load(path);
    char first[128], last[128];
    snprintf(first, sizeof first, "wss://host0.example.com/ws/room");
    snprintf(last, sizeof last, "wss://a.zone%d.example.net/x",
             n - 3);  /* n - 3 is a "case 2" policy near the end */
    double a = per_decision(set, first, 1);
    double b = per_decision(set, last, 1);
    double c = per_decision(set, "wss://unknown.example.com/ws/x", 0);
    struct policy__index *ix = set->index;  /* decide without the index */
    set->index = NULL;
    double lin = per_decision(set, "wss://unknown.example.com/ws/x", 0);
    set->index = ix;
    printf("%-9d %11.0f %11.0f %11.0f %13.0f %11.0f %7.1fx\n", n, a, b, c,
           1e9 / c, lin, lin / c);
    if (n == 100) at100 = c;
    if (n == 1000) {
      double best = 1e9;
      for (int r = 0; r < 10; r++) {
        double t0 = now();
        policy_set *s2 = load(path);
        double ms = (now() - t0) * 1e3;
        policy_set_free(s2);
        if (ms < best) best = ms;
      }
      load_ms = best;
    }
    policy_set_free(set);
  }
  unlink(path);
  printf("\n%-44s %10s %10s %8s\n", "", "measured", "target", "ratio");
  printf("%-44s %8.3f us %7.1f us %7.1fx\n",
         "decision, 100 policies (none applies)", at100 / 1e3, 1.0,
         1e3 / at100);
  printf("%-44s %8.2f ms %7.1f ms %7.1fx\n", "load, 1,000-policy file",
         load_ms, 20.0, 20.0 / load_ms);
  printf("(ratio = target / measured; above 1 meets the target)\n");
  return 0;
}
