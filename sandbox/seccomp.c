/*
** seccomp.c - the system call filter (see seccomp.h).
**
** Built with libseccomp for the native ABI only: libseccomp checks the
** architecture in the filter and, on x86_64, refuses x32 numbers (bit 30)
** as a foreign ABI; both go to the bad-architecture action (a trap too).
*/
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "limits.h"

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif

/* What sandlua needs at steady state, whatever the arguments. */
static const char *const allowed[] = {
  /* memory */
  "brk", "munmap", "mremap", "madvise",
  /* time, sleeping, identity */
  "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
  "gettimeofday", "time", "getpid", "gettid", "getuid", "geteuid",
  "getgid", "getegid", "getrusage", "uname", "sched_yield", "getrandom",
  "futex",
  /* glibc's qsort asks for the physical memory size before sorting a large
     array (json.encode sorts object keys) */
  "sysinfo",
  /* signals */
  "rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "restart_syscall",
  /* file descriptors already open, and reading what Landlock lets through */
  "read", "readv", "pread64", "write", "writev", "close", "lseek", "fstat",
  "newfstatat", "statx", "getdents64", "poll", "ppoll",
  /* sockets (socket itself is checked below) */
  "connect", "bind", "sendto", "recvfrom", "sendmsg", "recvmsg",
  "sendmmsg", "recvmmsg", "setsockopt", "getsockopt", "getsockname",
  "getpeername", "shutdown",
  /* the end */
  "exit", "exit_group",
  NULL
};

/* Probed by libc, handled when refused: an errno, not a trap. */
static const struct {
  const char *name;
  int err;
} errnos[] = {
  {"clone3", ENOSYS},
  {"io_uring_setup", ENOSYS},
  {"io_uring_enter", ENOSYS},
  {"io_uring_register", ENOSYS},
  {NULL, 0}
};

/* Allowed fcntl commands (flags of a descriptor); F_SETOWN, F_SETSIG, the
** F_DUPFD family, leases and locks are trapped. */
static const int fcntls[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};

/* Allowed ioctl requests; any other is trapped (TIOCSTI and friends). */
static const unsigned long ioctls[] = {FIONREAD, FIONBIO, TCGETS, TIOCGWINSZ};

/* {======================================================
** The SIGSYS handler
** ======================================================= */

#define NAMES_MAX 512
static char names[NAMES_MAX][24];  /* filled before the filter is loaded */
static unsigned native_arch;       /* AUDIT_ARCH_* of this build */

static void put(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Async-signal-safe: write(2) and _exit only. */
static void on_sigsys(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)uc;
  char num[16];
  int nr = info->si_syscall;
  put("sandlua: sandbox: blocked system call ");
  int foreign = info->si_arch != native_arch || (nr & 0x40000000) != 0;
  if (foreign) {
    put("of a foreign ABI (");
  } else if (nr >= 0 && nr < NAMES_MAX && names[nr][0] != '\0') {
    put(names[nr]);
    put("\n");
    _exit(SANDBOX_EXIT_VIOLATION);
  }
  /* The number, in decimal, without stdio. */
  unsigned v = (unsigned)nr & 0x3fffffffu;
  int i = (int)sizeof num - 1;
  num[i] = '\0';
  do {
    num[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0 && i > 0);
  put("#");
  put(num + i);
  put(foreign ? ")\n" : "\n");
  _exit(SANDBOX_EXIT_VIOLATION);
}

static void load_names(void) {
  native_arch = seccomp_arch_native();
  for (int nr = 0; nr < NAMES_MAX; nr++) {
    char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (s == NULL) continue;
    snprintf(names[nr], sizeof names[nr], "%s", s);
    free(s);
  }
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

const char *sandbox_seccomp_name(sandbox_seccomp_mode mode) {
  switch (mode) {
    case SANDBOX_SECCOMP_STRICT: return "strict";
    case SANDBOX_SECCOMP_LOG: return "log";
    case SANDBOX_SECCOMP_OFF: return "off";
    default: return "?";
  }
}

/* Add one rule; a name this ABI does not have is skipped. */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
                unsigned n, const struct scmp_arg_cmp *args, char *err,
                size_t errlen) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return 0;
  int rc = seccomp_rule_add_array(ctx, action, nr, n, args);
  if (rc < 0) snprintf(err, errlen, "seccomp rule for %s: %s", name,
                       strerror(-rc));
  return rc;
}

static int build(scmp_filter_ctx ctx, char *err, size_t errlen) {
  int rc = 0;
  for (const char *const *s = allowed; *s && rc == 0; s++)
    rc = rule(ctx, SCMP_ACT_ALLOW, *s, 0, NULL, err, errlen);
  for (int i = 0; errnos[i].name && rc == 0; i++)
    rc = rule(ctx, SCMP_ACT_ERRNO((uint32_t)errnos[i].err), errnos[i].name, 0,
              NULL, err, errlen);
  /* socket: stream and datagram sockets of AF_INET and AF_INET6 only. */
  static const int families[] = {AF_INET, AF_INET6};
  static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  for (int f = 0; f < 2; f++) {
    for (int t = 0; t < 2 && rc == 0; t++) {
      struct scmp_arg_cmp a[2] = {
        SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[f]),
        SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)types[t])};
      rc = rule(ctx, SCMP_ACT_ALLOW, "socket", 2, a, err, errlen);
    }
  }
  static const int refused_families[] = {AF_UNIX, AF_NETLINK};
  for (int f = 0; f < 2 && rc == 0; f++) {
    struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ,
                                    (scmp_datum_t)refused_families[f]);
    rc = rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &a, err, errlen);
  }
  /* openat: reading only (Landlock says what); writing gets EACCES. */
  const scmp_datum_t wflags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC |
                              O_APPEND;
  if (rc == 0) {
    struct scmp_arg_cmp a = SCMP_A2(SCMP_CMP_MASKED_EQ, wflags, 0);
    rc = rule(ctx, SCMP_ACT_ALLOW, "openat", 1, &a, err, errlen);
  }
  static const int wbits[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};
  for (int i = 0; i < 5 && rc == 0; i++) {
    struct scmp_arg_cmp a = SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)wbits[i],
                                    (scmp_datum_t)wbits[i]);
    rc = rule(ctx, SCMP_ACT_ERRNO(EACCES), "openat", 1, &a, err, errlen);
  }
  /* mmap/mprotect: never executable. */
  static const char *const maps[] = {"mmap", "mprotect"};
  for (int i = 0; i < 2 && rc == 0; i++) {
    struct scmp_arg_cmp a = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    rc = rule(ctx, SCMP_ACT_ALLOW, maps[i], 1, &a, err, errlen);
    if (rc != 0) break;
    a = (struct scmp_arg_cmp)SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC);
    rc = rule(ctx, SCMP_ACT_ERRNO(EACCES), maps[i], 1, &a, err, errlen);
  }
  for (size_t i = 0; i < sizeof fcntls / sizeof fcntls[0] && rc == 0; i++) {
    struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntls[i]);
    rc = rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &a, err, errlen);
  }
  for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0] && rc == 0; i++) {
    struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]);
    rc = rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &a, err, errlen);
  }
  /* Signals to this process only (abort()). */
  pid_t self = getpid();
  static const char *const kills[] = {"kill", "tgkill"};
  for (int i = 0; i < 2 && rc == 0; i++) {
    struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);
    rc = rule(ctx, SCMP_ACT_ALLOW, kills[i], 1, &a, err, errlen);
  }
#if defined(__SANITIZE_ADDRESS__) || defined(SANDBOX_SANITIZER)
  /* Sanitizer builds only (make check-asan): LeakSanitizer's exit-time
  ** check runs a tracer thread that ptrace-attaches to this one.  Never in
  ** a normal build. */
  static const char *const sanitizer[] = {
    "clone", "ptrace", "wait4", "prctl", "sigaltstack", "getppid",
    "sched_getaffinity", "openat", "open", "getdents", "readlink", "mmap",
    "mprotect", NULL};
  for (const char *const *s = sanitizer; *s && rc == 0; s++)
    rc = rule(ctx, SCMP_ACT_ALLOW, *s, 0, NULL, err, errlen);
#endif
  return rc;
}

int sandbox_seccomp_install(sandbox_seccomp_mode mode, char *err,
                            size_t errlen) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    int e = errno;
    snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(e));
    return -e;
  }
  if (mode == SANDBOX_SECCOMP_OFF) return 0;
  uint32_t deny = mode == SANDBOX_SECCOMP_STRICT ? SCMP_ACT_TRAP
                                                 : SCMP_ACT_LOG;
  if (mode == SANDBOX_SECCOMP_STRICT) {
    load_names();
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
  scmp_filter_ctx ctx = seccomp_init(deny);
  if (ctx == NULL) {
    snprintf(err, errlen, "seccomp_init failed");
    return -ENOMEM;
  }
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
  if (rc < 0) snprintf(err, errlen, "seccomp bad-arch action: %s",
                       strerror(-rc));
  if (rc == 0) rc = build(ctx, err, errlen);
  if (rc == 0) {
    rc = seccomp_load(ctx);
    if (rc < 0)
      snprintf(err, errlen, "cannot load the seccomp filter: %s%s",
               strerror(-rc),
               rc == -EINVAL ? " (is the kernel built with "
                               "CONFIG_SECCOMP_FILTER?)" : "");
  }
  seccomp_release(ctx);
  return rc < 0 ? rc : 0;
}
