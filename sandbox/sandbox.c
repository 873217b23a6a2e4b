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
/* Room above the output cap for sandlua's own messages (RLIMIT_FSIZE). */
#define FSIZE_MARGIN ((rlim_t)1 << 16)
/* The address-space backstop: twice the memory limit plus this (code,
** stacks, the event loop's tables, what no allocator counts). */
#define AS_MARGIN ((int64_t)1 << 30)

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

/* Size of fd when it is a regular file, else -1. */
static off_t regular_size(int fd) {
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size
                                                                : -1;
}

/*
** The largest a file may grow (RLIMIT_FSIZE): 0 when no output is a
** regular file (no new file can be opened for writing anyway); when
** stdout or stderr is one (`sandlua s.lua > out`), its size now plus the
** output cap and a margin for sandlua's own messages (no limit without a
** cap); when the audit log is one, at least the room it was given
** (--audit-log-max) and the margin, for its last record.
*/
static rlim_t fsize_limit(const sandbox_config *cfg) {
  off_t out = regular_size(1), err = regular_size(2);
  rlim_t lim = 0;
  if (out >= 0 || err >= 0) {
    int64_t cap = cfg->limits.value[SL_LIMIT_OUTPUT];
    if (cap <= 0) return RLIM_INFINITY;
    off_t base = out > err ? out : err;
    lim = (rlim_t)base + (rlim_t)cap + FSIZE_MARGIN;
  }
  if (regular_size(cfg->log_fd) >= 0 && cfg->log_room >= 0 &&
      (rlim_t)cfg->log_room + FSIZE_MARGIN > lim)
    lim = (rlim_t)cfg->log_room + FSIZE_MARGIN;
  return lim;
}

/*
** (NPROC 0, no new process, comes after Landlock, once seccomp's thread
** is made: sandbox_lockdown.)  CORE 0: no core file (the memory of a script
** someone else wrote); FSIZE (fsize_limit); AS: a backstop well above the
** memory limit, for memory the allocators do not see (not under the
** sanitizers, which reserve terabytes); NOFILE: the connections allowed
** and a margin.
*/
static int rlimits(const sandbox_config *cfg, char *err, size_t errlen) {
  int rc = set_rlimit(RLIMIT_CORE, 0, "RLIMIT_CORE", err, errlen);
  rlim_t fsize = fsize_limit(cfg);
  if (rc == 0 && fsize != RLIM_INFINITY)
    rc = set_rlimit(RLIMIT_FSIZE, fsize, "RLIMIT_FSIZE", err, errlen);
#if !defined(__SANITIZE_ADDRESS__) && !defined(SANDBOX_SANITIZER)
  int64_t mem = cfg->limits.value[SL_LIMIT_MEMORY];
  if (rc == 0 && mem > 0 && mem <= INT64_MAX / 2 - AS_MARGIN)
    rc = set_rlimit(RLIMIT_AS, (rlim_t)(2 * mem + AS_MARGIN), "RLIMIT_AS",
                    err, errlen);
#endif
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
  for (size_t i = 0; i < cfg->n_read_paths && n < max; i++)
    out[n++] = cfg->read_paths[i];
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
  /* the seccomp supervisor thread: under Landlock, before NPROC 0 */
  sandbox_seccomp_prepare(cfg->seccomp);
  rc = set_rlimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC", err, errlen);
  if (rc != 0) return rc;
  return sandbox_seccomp_install(cfg->seccomp, err, errlen);
}
