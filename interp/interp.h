/*
** interp.h - what the sandlua executable's parts share: the exit codes and
** the run-time configuration gathered from the command line.
*/
#ifndef SL_INTERP_INTERP_H
#define SL_INTERP_INTERP_H

/* Exit codes: SL_EXIT_* (common/exitcodes.h, documented in the README and
** the man page). */
#include "../common/exitcodes.h"

#include <stdint.h>

#include "../sandbox/sandbox.h"

#define INTERP_PROGNAME "sandlua"
#define INTERP_VERSION "0.1.0"

struct policy_set;
struct policy_audit;

/*
** What the command line asked for.  Each layer adds the fields its options
** set (see the long option table in main.c).
*/
/* Most distinct TCP ports the policies may name for Landlock's rules. */
#define INTERP_NET_PORTS 1024

typedef struct interp_config {
  int argc;
  char **argv;
  int script;    /* index of the script in argv; argc when none */
  int args;      /* lua.c's has_* bits */
  int exit_now;  /* --help, --version: done after parsing */
  /* Policies (interp/policy_setup.c): options, then what was loaded. */
  const char **policy_files;   /* --policy, in order */
  int n_policy_files;
  const char **allow_urls;     /* --allow-url */
  int n_allow_urls;
  const char *actor_id;        /* --actor */
  const char **actor_meta;     /* --actor-meta K=V */
  int n_actor_meta;
  const char *audit_log;       /* --audit-log */
  int audit_all;               /* --audit-all */
  int allow_unknown;           /* --allow-unknown */
  int64_t audit_max;           /* --audit-log-max; 0: the default */
  struct policy_set *policies; /* loaded before the state exists */
  struct policy_audit *audit;  /* NULL without --audit-log */
  const char *dns_server;      /* --dns-server ADDR[:PORT] */
  const char *ca_files[16];    /* --ca-file, loaded before the lockdown */
  int n_ca_files;
  int exit_code; /* set when start-up fails after parsing */
  sandbox_config sandbox;  /* --unsafe-no-sandbox, limits, --seccomp... */
  uint16_t net_ports[INTERP_NET_PORTS];  /* sandbox.net's (interp_net) */
} interp_config;

/* Policy file read when no --policy is given (deny-all if absent). */
#ifndef INTERP_DEFAULT_POLICY
#define INTERP_DEFAULT_POLICY "/etc/sandlua/policy.yaml"
#endif

/* The site policy: every *.yaml here is loaded first, whatever the
** options say (the operator's; a deny there cannot be overridden). */
#ifndef INTERP_SITE_POLICY_DIR
#define INTERP_SITE_POLICY_DIR "/etc/sandlua/policy.d"
#endif

/* Long options of the policy layer: NULL or what is wrong with value. */
const char *interp_opt_policy(interp_config *cfg, const char *value);
const char *interp_opt_allow_url(interp_config *cfg, const char *value);
const char *interp_opt_actor(interp_config *cfg, const char *value);
const char *interp_opt_actor_meta(interp_config *cfg, const char *value);
const char *interp_opt_audit_log(interp_config *cfg, const char *value);
const char *interp_opt_audit_all(interp_config *cfg, const char *value);
const char *interp_opt_allow_unknown(interp_config *cfg, const char *value);
const char *interp_opt_audit_max(interp_config *cfg, const char *value);

/*
** Load and validate every policy the options name (or the default file),
** apply --actor/--actor-meta, open the audit log.  Prints each problem as
** "file:line:col: what" on stderr.  Returns 0 or the exit status
** (SL_EXIT_POLICY, SL_EXIT_USAGE).
*/
int interp_policy_load(interp_config *cfg);
/* Free what the options and interp_policy_load allocated. */
void interp_policy_free(interp_config *cfg);

/*
** Fill cfg->sandbox.net from the loaded policies (security/ports.h) and
** the resolver's port (53, or --dns-server's: c-ares falls back to TCP for
** long answers).  More distinct ports than INTERP_NET_PORTS: any port.
*/
void interp_net(interp_config *cfg);

/* `sandlua policy lint|check|test ...` (argv[0] is "policy"). */
int interp_policy_main(int argc, char **argv);

/* Print the --version text (sandlua's and its libraries' versions). */
void interp_print_version(void);

#endif
