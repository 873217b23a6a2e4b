/*
** seccomp.c - the system call filter (see seccomp.h).
**
** The filter is compiled at build time by libseccomp, for the native ABI
** only (sandbox/gen/seccomp_gen.c has the rules): it checks the
** architecture and, on x86_64, refuses x32 numbers (bit 30) as a foreign
** ABI; both go to the bad-architecture action (a trap too).  Here it is
** only installed.
*/
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "sigsafe.h"

/* filter_strict and filter_log, the BPF of sandbox/gen/seccomp_gen.c's
** rules, made at build time (mk/sandbox.mk). */
#include "seccomp_filter.inc"

/* BPF_MAXINSNS: the kernel refuses longer programs. */
#define FILTER_MAX 4096

/* {======================================================
** The SIGSYS handler
** ======================================================= */

/* System call names by number, for the native ABI (generated at build time
** from <sys/syscall.h>: see mk/sandbox.mk). */
static const char *const names[] = {
#include "syscall_names.inc"
};
#define NAMES_MAX ((int)(sizeof names / sizeof names[0]))

static int audit_fd = -1;       /* the audit log, or -1 */
static char audit_fields[512];  /* JSON members added to its record */

int sandbox_seccomp_audit(int fd, const char *fields) {
  size_t n = fields ? strlen(fields) : 0;
  if (n >= sizeof audit_fields) return -ENAMETOOLONG;
  memcpy(audit_fields, fields ? fields : "", n + 1);
  audit_fd = fd;
  return 0;
}

static void put(const char *s) {
  sandbox_write_all(2, s, strlen(s));
}

/* A line being built without stdio; `room` keeps space for its end. */
typedef struct line {
  char b[1024];
  size_t n;
} line;

static void add(line *l, const char *s) {
  while (*s != '\0' && l->n + 3 < sizeof l->b) l->b[l->n++] = *s++;
}

static void add_uint(line *l, unsigned long long v, int width) {
  char d[24];
  int i = 0;
  do {
    d[i++] = (char)('0' + v % 10);
    v /= 10;
  } while ((v > 0 || i < width) && i < (int)sizeof d);
  while (i > 0 && l->n + 3 < sizeof l->b) l->b[l->n++] = d[--i];
}

/* The current UTC time as the audit log writes it (RFC 3339, ms). */
static void add_time(line *l) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long days = ts.tv_sec / 86400, sec = ts.tv_sec % 86400;
  /* days since 1970-01-01 -> civil date (proleptic Gregorian) */
  long long z = days + 719468, era = z / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153;
  long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  long long y = yoe + era * 400 + (m <= 2);
  add_uint(l, (unsigned long long)y, 4);
  add(l, "-");
  add_uint(l, (unsigned long long)m, 2);
  add(l, "-");
  add_uint(l, (unsigned long long)d, 2);
  add(l, "T");
  add_uint(l, (unsigned long long)(sec / 3600), 2);
  add(l, ":");
  add_uint(l, (unsigned long long)(sec / 60 % 60), 2);
  add(l, ":");
  add_uint(l, (unsigned long long)(sec % 60), 2);
  add(l, ".");
  add_uint(l, (unsigned long long)(ts.tv_nsec / 1000000), 3);
  add(l, "Z");
}

/* The ABI of a trapped call, for its audit record. */
static const char *arch_name(unsigned arch, int nr) {
  if (arch == AUDIT_ARCH_X86_64) return (nr & 0x40000000) ? "x32" : "x86_64";
  if (arch == AUDIT_ARCH_I386) return "i386";
  if (arch == AUDIT_ARCH_AARCH64) return "aarch64";
  if (arch == AUDIT_ARCH_ARM) return "arm";
  return "other";
}

/* Async-signal-safe: clock_gettime, write(2) and _exit only. */
static void on_sigsys(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)uc;
  int nr = info->si_syscall;
  int foreign = info->si_arch != FILTER_ARCH || (nr & 0x40000000) != 0;
  line what = {.n = 0};
  if (!foreign && nr >= 0 && nr < NAMES_MAX && names[nr] != NULL) {
    add(&what, names[nr]);
  } else {
    add(&what, "#");
    add_uint(&what, (unsigned)nr & 0x3fffffffu, 1);
  }
  what.b[what.n] = '\0';
  if (audit_fd >= 0) {
    line rec = {.n = 0};
    add(&rec, "{\"time\":\"");
    add_time(&rec);
    add(&rec, "\",\"event\":\"sandbox\",\"syscall\":\"");
    add(&rec, what.b);
    add(&rec, foreign ? "\",\"abi\":\"foreign\"" : "\"");
    add(&rec, ",\"arch\":\"");
    add(&rec, arch_name(info->si_arch, nr));
    add(&rec, "\",\"action\":\"trap\"");
    if (audit_fields[0] != '\0') {
      add(&rec, ",");
      add(&rec, audit_fields);
    }
    rec.b[rec.n++] = '}';
    rec.b[rec.n++] = '\n';
    sandbox_write_all(audit_fd, rec.b, rec.n);
  }
  put("sandlua: sandbox: blocked system call ");
  put(foreign ? "of a foreign ABI (" : "");
  put(what.b);
  put(foreign ? ")\n" : "\n");
  _exit(SL_EXIT_SANDBOX);
}

/* }====================================================== */

int sandbox_seccomp_parse(const char *text, sandbox_seccomp_mode *mode) {
  static const char *const modes[] = {"strict", "log", "off"};
  for (int i = 0; i < 3; i++) {
    if (strcmp(text, modes[i]) == 0) {
      *mode = (sandbox_seccomp_mode)i;
      return 0;
    }
  }
  return -EINVAL;
}

int sandbox_seccomp_install(sandbox_seccomp_mode mode, char *err,
                            size_t errlen) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int e = errno;
    snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(e));
    return -e;
  }
  if (mode == SANDBOX_SECCOMP_OFF) return 0;
  const struct sock_filter *prog = filter_log;
  unsigned short len = sizeof filter_log / sizeof filter_log[0];
  size_t uses = filter_log_PID_USES;
  if (mode == SANDBOX_SECCOMP_STRICT) {
    prog = filter_strict;
    len = sizeof filter_strict / sizeof filter_strict[0];
    uses = filter_strict_PID_USES;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0) {
      int e = errno;
      snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(e));
      return -e;
    }
  }
  /* The process id where the generator left its placeholder. */
  struct sock_filter copy[FILTER_MAX];
  if (len > FILTER_MAX) {
    snprintf(err, errlen, "seccomp filter of %u instructions", len);
    return -E2BIG;
  }
  memcpy(copy, prog, len * sizeof copy[0]);
  size_t patched = 0;
  for (unsigned short i = 0; i < len; i++) {
    if (copy[i].code == (BPF_JMP | BPF_JEQ | BPF_K) &&
        copy[i].k == FILTER_PID_PLACEHOLDER) {
      copy[i].k = (uint32_t)getpid();
      patched++;
    }
  }
  if (patched != uses) {
    snprintf(err, errlen, "seccomp filter: %zu pid comparisons, not %zu",
             patched, uses);
    return -EINVAL;
  }
  struct sock_fprog fprog = {.len = len, .filter = copy};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    int e = errno;
    snprintf(err, errlen, "cannot load the seccomp filter: %s%s", strerror(e),
             e == EINVAL ? " (is the kernel built with CONFIG_SECCOMP_FILTER?)"
                         : "");
    return -e;
  }
  return 0;
}
