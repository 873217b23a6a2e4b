/*
** seccomp_gen.c - build-time generator of sandlua's seccomp-bpf filter.
**
** The rules are written here with libseccomp; this program compiles them
** into BPF for each mode and prints a C include file (see mk/sandbox.mk)
** that sandbox/seccomp.c installs with one seccomp(2) call.  Generating the
** program at start-up cost about 0.3 ms of libseccomp work per run, more
** than the rest of the lock-down together.
**
** The filter allows kill/tgkill for the process itself only; its pid is
** not known here, so the rules compare with GEN_PID_PLACEHOLDER (above
** any possible pid, 2^22) and the installer patches those comparisons.
** This program checks that the placeholder appears only where a pid goes.
**
**   seccomp-gen > seccomp_filter.inc
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif

#define GEN_PID_PLACEHOLDER 0x5ecc0b1dU

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
  "newfstatat", "statx", "getdents64",
  /* the event loop (made before the filter: epoll_create1, eventfd2) */
  "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
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

/* Allowed ioctl requests; any other is trapped (TIOCSTI and friends).
** The last two are the supervisor thread's (sandbox/seccomp.c), on its
** listener descriptor only. */
static const unsigned long ioctls[] = {FIONREAD, FIONBIO, TCGETS, TIOCGWINSZ,
                                       /* the REPL's line editing */
                                       TCSETS, TCSETSW, TCSETSF,
                                       SECCOMP_IOCTL_NOTIF_RECV,
                                       SECCOMP_IOCTL_NOTIF_SEND};

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
  /* socket: TCP and UDP sockets of AF_INET and AF_INET6 only: the
  ** protocol is 0 or the type's own (MPTCP, UDP-Lite, SCTP are not). */
  static const int families[] = {AF_INET, AF_INET6};
  static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  static const int protos[][2] = {{0, IPPROTO_TCP}, {0, IPPROTO_UDP}};
  for (int f = 0; f < 2; f++) {
    for (int t = 0; t < 2; t++) {
      for (int p = 0; p < 2 && rc == 0; p++) {
        struct scmp_arg_cmp a[3] = {
          SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[f]),
          SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)types[t]),
          SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)protos[t][p])};
        rc = rule(ctx, SCMP_ACT_ALLOW, "socket", 3, a, err, errlen);
      }
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
  /* Signals to this process only (abort()): the placeholder is replaced
     by the process id when the filter is installed. */
  const scmp_datum_t self = GEN_PID_PLACEHOLDER;
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

/* Compile the filter for one default action; returns the BPF in *out. */
static int compile(uint32_t deny, struct sock_filter **out, size_t *n) {
  char err[256] = "";
  scmp_filter_ctx ctx = seccomp_init(deny);
  if (ctx == NULL) {
    fprintf(stderr, "seccomp-gen: seccomp_init failed\n");
    return -1;
  }
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
  if (rc == 0) rc = build(ctx, err, sizeof err);
  FILE *tmp = rc == 0 ? tmpfile() : NULL;
  if (rc == 0 && tmp == NULL) rc = -errno;
  if (rc == 0) rc = seccomp_export_bpf(ctx, fileno(tmp));
  seccomp_release(ctx);
  if (rc != 0) {
    fprintf(stderr, "seccomp-gen: %s\n", err[0] ? err : strerror(-rc));
    if (tmp) fclose(tmp);
    return -1;
  }
  long size = lseek(fileno(tmp), 0, SEEK_END);
  if (size <= 0 || size % (long)sizeof(struct sock_filter) != 0 ||
      (*out = malloc((size_t)size)) == NULL ||
      pread(fileno(tmp), *out, (size_t)size, 0) != size) {
    fprintf(stderr, "seccomp-gen: cannot read back the filter\n");
    fclose(tmp);
    return -1;
  }
  fclose(tmp);
  *n = (size_t)size / sizeof(struct sock_filter);
  return 0;
}

static int emit(const char *name, uint32_t deny) {
  struct sock_filter *f;
  size_t n, uses = 0;
  if (compile(deny, &f, &n) != 0) return -1;
  printf("static const struct sock_filter %s[%zu] = {\n", name, n);
  for (size_t i = 0; i < n; i++) {
    if (f[i].k == GEN_PID_PLACEHOLDER) {
      if (f[i].code != (BPF_JMP | BPF_JEQ | BPF_K)) {
        fprintf(stderr, "seccomp-gen: the pid placeholder is used by "
                "instruction %zu (code 0x%x), not a comparison\n", i,
                f[i].code);
        free(f);
        return -1;
      }
      uses++;
    }
    printf("  {0x%04x, %u, %u, 0x%08x},\n", f[i].code, f[i].jt, f[i].jf,
           f[i].k);
  }
  printf("};\n#define %s_PID_USES %zu\n\n", name, uses);
  free(f);
  if (uses == 0) {  /* kill and tgkill (libseccomp may share the test) */
    fprintf(stderr, "seccomp-gen: the pid placeholder is not in the "
            "filter\n");
    return -1;
  }
  return 0;
}

int main(void) {
  const struct scmp_version *v = seccomp_version();
  printf("/* Generated by sandbox/gen/seccomp_gen.c with libseccomp %u.%u.%u;"
         " do not edit. */\n\n", v->major, v->minor, v->micro);
  printf("#define FILTER_ARCH 0x%08xU\n", seccomp_arch_native());
  printf("#define FILTER_PID_PLACEHOLDER 0x%08xU\n\n", GEN_PID_PLACEHOLDER);
  if (emit("filter_strict", SCMP_ACT_TRAP) != 0) return 1;
  if (emit("filter_log", SCMP_ACT_LOG) != 0) return 1;
  return fflush(stdout) == 0 ? 0 : 1;
}
