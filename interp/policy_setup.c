/*
** policy_setup.c - the policy options of the interpreter and the loading
** of every policy before any script code runs (start-up step 2).
*/
#include "interp.h"
#include "diag.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../security/audit.h"
#include "../common/units.h"
#include "../net/dns.h"
#include "../security/policy.h"
#include "../security/ports.h"

static const char *push(const char ***arr, int *n, const char *v) {
  const char **a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
  if (a == NULL) return "out of memory";
  a[(*n)++] = v;
  *arr = a;
  return NULL;
}

const char *interp_opt_policy(interp_config *cfg, const char *value) {
  if (value[0] == '\0') return "empty file name";
  return push(&cfg->policy_files, &cfg->n_policy_files, value);
}

const char *interp_opt_allow_url(interp_config *cfg, const char *value) {
  return push(&cfg->allow_urls, &cfg->n_allow_urls, value);
}

const char *interp_opt_actor(interp_config *cfg, const char *value) {
  if (value[0] == '\0') return "empty actor id";
  cfg->actor_id = value;
  return NULL;
}

const char *interp_opt_actor_meta(interp_config *cfg, const char *value) {
  const char *eq = strchr(value, '=');
  if (eq == NULL || eq == value) return "expected KEY=VALUE";
  return push(&cfg->actor_meta, &cfg->n_actor_meta, value);
}

const char *interp_opt_audit_log(interp_config *cfg, const char *value) {
  if (value[0] == '\0') return "empty file name";
  cfg->audit_log = value;
  return NULL;
}

const char *interp_opt_audit_all(interp_config *cfg, const char *value) {
  (void)value;
  cfg->audit_all = 1;
  return NULL;
}

const char *interp_opt_allow_unknown(interp_config *cfg, const char *value) {
  (void)value;
  cfg->allow_unknown = 1;
  return NULL;
}

const char *interp_opt_audit_max(interp_config *cfg, const char *value) {
  static char why[160];
  int64_t v;
  if (units_parse_size(value, &v, why, sizeof why) != 0) return why;
  if (v < 4096) return "must be at least 4K";
  cfg->audit_max = v;
  return NULL;
}

/* A record could not be written: say so and end the run, never go on
** without the trail an operator asked for. */
static void audit_failed(policy_audit *a, int err) {
  (void)a;
  interp_errorf(INTERP_PROGNAME ": audit log: a record could not be "
                "written (%s); ending the run", strerror(-err));
  exit(SL_EXIT_AUDIT);
}

static int yaml_name(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return e->d_name[0] != '.' && n > 5 &&
         strcmp(e->d_name + n - 5, ".yaml") == 0;
}

/*
** The site policy: every INTERP_SITE_POLICY_DIR/ *.yaml, in name order,
** before anything the command line names.  A missing directory is none;
** one that cannot be read is an error (the operator's policy must not be
** skipped silently).  0, -ENOMEM, or -1 (reported).
*/
static int load_site_policy(policy_set *set, policy_diags *d) {
  struct dirent **names = NULL;
  int n = scandir(INTERP_SITE_POLICY_DIR, &names, yaml_name, alphasort);
  if (n < 0) {
    if (errno == ENOENT) return 0;
    interp_errorf(INTERP_PROGNAME ": site policy %s: %s",
                  INTERP_SITE_POLICY_DIR, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    if (rc == 0) {
      char path[4096];
      int len = snprintf(path, sizeof path, "%s/%s", INTERP_SITE_POLICY_DIR,
                         names[i]->d_name);
      rc = len > 0 && (size_t)len < sizeof path
               ? policy_load_file(set, path, d) : -ENAMETOOLONG;
      if (rc != 0 && rc != -ENOMEM) {
        interp_print_diag(&d->error, "");
        rc = -1;
      }
    }
    free(names[i]);
  }
  free(names);
  set->n_site = set->n;  /* loaded first: the site's are the first items */
  return rc;
}

int interp_policy_load(interp_config *cfg) {
  policy_diags d;
  memset(&d, 0, sizeof d);
  if (cfg->audit_max && cfg->audit_log == NULL) {
    interp_errorf(INTERP_PROGNAME ": --audit-log-max needs --audit-log FILE");
    return SL_EXIT_USAGE;
  }
  if (cfg->audit_all && cfg->audit_log == NULL) {
    interp_errorf(INTERP_PROGNAME ": --audit-all needs --audit-log FILE");
    return SL_EXIT_USAGE;
  }
  policy_set *set = cfg->policies = policy_set_new();
  if (set == NULL) goto oom;
  set->allow_unknown = cfg->allow_unknown;
  int rc = load_site_policy(set, &d);
  if (rc == -1) {
    interp_print_warnings(&d, INTERP_PROGNAME ": warning: ");
    return SL_EXIT_POLICY;
  }
  if (rc == 0 && cfg->n_policy_files == 0) {
    struct stat st;
    if (stat(INTERP_DEFAULT_POLICY, &st) == 0 || errno != ENOENT)
      rc = policy_load_file(set, INTERP_DEFAULT_POLICY, &d);
  }
  for (int i = 0; rc == 0 && i < cfg->n_policy_files; i++)
    rc = policy_load_file(set, cfg->policy_files[i], &d);
  for (int i = 0; rc == 0 && i < cfg->n_allow_urls; i++)
    rc = policy_set_add_allow_url(set, cfg->allow_urls[i], &d);
  interp_print_warnings(&d, INTERP_PROGNAME ": warning: ");
  if (rc == -ENOMEM) goto oom;
  if (rc != 0) {
    interp_print_diag(&d.error, "");
    return SL_EXIT_POLICY;
  }
  if (cfg->actor_id && policy_actor_set_id(&set->actor, cfg->actor_id) != 0)
    goto oom;
  for (int i = 0; i < cfg->n_actor_meta; i++) {
    const char *kv = cfg->actor_meta[i], *eq = strchr(kv, '=');
    char *key = strndup(kv, (size_t)(eq - kv));
    policy_value v = {.type = POLICY_V_STR, .s = (char *)(eq + 1)};
    rc = key ? policy_actor_set_meta(&set->actor, key, &v) : -ENOMEM;
    free(key);
    if (rc != 0) goto oom;
  }
  if (cfg->audit_log) {
    if ((cfg->audit = calloc(1, sizeof *cfg->audit)) == NULL) goto oom;
    rc = policy_audit_open(cfg->audit, cfg->audit_log, cfg->audit_all,
                           cfg->audit_max ? cfg->audit_max
                                          : POLICY_AUDIT_MAX);
    if (rc != 0) {
      interp_errorf(INTERP_PROGNAME ": --audit-log %s: %s", cfg->audit_log,
                    rc == -EINVAL ? "not a regular file (a file, not a "
                                    "FIFO or device)"
                    : rc == -ELOOP ? "a symbolic link (refused)"
                                   : strerror(-rc));
      free(cfg->audit);
      cfg->audit = NULL;
      return SL_EXIT_POLICY;
    }
    cfg->audit->on_error = audit_failed;
  }
  return 0;
oom:
  interp_errorf(INTERP_PROGNAME ": loading policies: out of memory");
  return SL_EXIT_POLICY;
}

void interp_policy_free(interp_config *cfg) {
  free(cfg->policy_files);
  free(cfg->allow_urls);
  free(cfg->actor_meta);
  policy_set_free(cfg->policies);
  if (cfg->audit) {
    policy_audit_close(cfg->audit);
    free(cfg->audit);
  }
  cfg->policy_files = cfg->allow_urls = cfg->actor_meta = NULL;
  cfg->policies = NULL;
  cfg->audit = NULL;
}

void interp_net(interp_config *cfg) {
  sandbox_net *net = &cfg->sandbox.net;
  size_t n = 0;
  int rc = policy_set_connect_ports(cfg->policies, cfg->net_ports,
                                    INTERP_NET_PORTS - 1, &n);
  memset(net, 0, sizeof *net);
  if (rc != 0) {  /* any port, or more than we keep: any */
    net->any_port = 1;
    return;
  }
  int port = 53;
  if (cfg->dns_server != NULL) {
    sl_dns_addr a;
    char err[128];
    if (sl_dns_parse_server(cfg->dns_server, &a, &port, err, sizeof err))
      port = 53;
  }
  size_t i = 0;
  while (i < n && cfg->net_ports[i] != port) i++;
  if (i == n) cfg->net_ports[n++] = (uint16_t)port;
  net->ports = cfg->net_ports;
  net->n = n;
}
