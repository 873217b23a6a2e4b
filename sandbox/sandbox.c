/*
** sandbox.c - the lock-down sequence (see sandbox.h): rlimits, Landlock,
** seccomp.
*/
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "landlock.h"

/* File descriptors left for the process besides its connections. */
#define NOFILE_MARGIN 16

void sandbox_config_init(sandbox_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seccomp = SANDBOX_SECCOMP_STRICT;
  cfg->log_fd = -1;
  sandbox_limits_init(&cfg->limits);
}

void sandbox_config_set_seccomp(sandbox_config *cfg, sandbox_seccomp_mode mode,
                                int source) {
  if (source < cfg->seccomp_source) return;
  cfg->seccomp = mode;
  cfg->seccomp_source = source;
}

/* The highest open file descriptor + 1. */
static int fd_count(void) {
  int high = 3;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return 64;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd >= high) high = fd + 1;
  }
  closedir(d);
  return high;
}

static int is_regular(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int set_rlimit(int res, rlim_t v, const char *name, char *err,
                      size_t errlen) {
  struct rlimit rl;
  if (getrlimit(res, &rl) != 0) rl.rlim_max = RLIM_INFINITY;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v) v = rl.rlim_max;
  rl.rlim_cur = rl.rlim_max = v;
  if (setrlimit(res, &rl) != 0) {
    int e = errno;
    snprintf(err, errlen, "setrlimit(%s): %s", name, strerror(e));
    return -e;
  }
  return 0;
}

/*
** NPROC 0: no new process; FSIZE 0: no file grows, unless stdout, stderr
** or the audit log is a regular file (`sandlua s.lua > out`), whose writes
** it would stop (no new file can be opened for writing anyway);
** NOFILE: the connections allowed and a margin.
*/
static int rlimits(const sandbox_config *cfg, char *err, size_t errlen) {
  int rc = set_rlimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC", err, errlen);
  if (rc == 0 && !is_regular(1) && !is_regular(2) &&
      !(cfg->log_fd >= 0 && is_regular(cfg->log_fd)))
    rc = set_rlimit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", err, errlen);
  if (rc == 0) rc = sandbox_limit_files(cfg, err, errlen);
  return rc;
}

int sandbox_limit_files(const sandbox_config *cfg, char *err, size_t errlen) {
  static int done;  /* the second call could only keep the limit */
  if (cfg->unsafe || done) return 0;
  done = 1;
  rlim_t n = (rlim_t)fd_count() +
             (rlim_t)cfg->limits.value[SL_LIMIT_CONNECTIONS] +
             NOFILE_MARGIN;
  return set_rlimit(RLIMIT_NOFILE, n, "RLIMIT_NOFILE", err, errlen);
}

/* What stays readable: module paths, the script, the trust store, the
** files the resolver reads, the time zone. */
static size_t readable(const sandbox_config *cfg, const char **out,
                       size_t max) {
  static const char *const fixed[] = {
    "/etc/ssl", "/usr/lib/ssl", "/usr/share/ca-certificates",
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
    "/etc/gai.conf", "/etc/localtime", "/usr/share/zoneinfo",
#if defined(__SANITIZE_ADDRESS__) || defined(SANDBOX_SANITIZER)
    "/proc",  /* the sanitizer runtime reads /proc/self/maps */
#endif
    NULL};
  size_t n = 0;
  for (size_t i = 0; i < cfg->n_module_paths && n < max; i++)
    out[n++] = cfg->module_paths[i];
  if (cfg->script != NULL && n < max) out[n++] = cfg->script;
  const char *env[] = {getenv("SSL_CERT_FILE"), getenv("SSL_CERT_DIR")};
  for (int i = 0; i < 2; i++)
    if (env[i] != NULL && env[i][0] != '\0' && n < max) out[n++] = env[i];
  for (int i = 0; fixed[i] && n < max; i++) out[n++] = fixed[i];
  return n;
}

int sandbox_lockdown(const sandbox_config *cfg, sandbox_status *st,
                     char *err, size_t errlen) {
  memset(st, 0, sizeof *st);
  if (cfg->unsafe) return 0;
  tzset();  /* os.date: read the time zone now */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int e = errno;
    snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(e));
    return -e;
  }
  int rc = rlimits(cfg, err, errlen);
  if (rc != 0) return rc;
  const char *paths[SANDBOX_MAX_PATHS + 16];
  size_t n = readable(cfg, paths, sizeof paths / sizeof paths[0]);
  char why[200] = "";
  rc = sandbox_landlock_restrict(paths, n, &cfg->net, &st->landlock_net,
                                 why, sizeof why);
  if (rc > 0) {
    st->landlock_abi = rc;
    if (!st->landlock_net)
      snprintf(st->warning, sizeof st->warning,
               "warning: Landlock ABI %d has no network rules (4 or later "
               "does); TCP connections are limited by seccomp and the "
               "policies only", rc);
  } else if (rc == -ENOSYS || rc == -EOPNOTSUPP || rc == -EPERM) {
    snprintf(st->warning, sizeof st->warning,
             "warning: %s; file access is not restricted by Landlock", why);
  } else {
    snprintf(err, errlen, "%s", why);
    return rc;
  }
  return sandbox_seccomp_install(cfg->seccomp, err, errlen);
}
