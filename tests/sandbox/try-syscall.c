/*
** try-syscall.c - run system calls under sandlua's seccomp filter
** (bubblewrap's tests/try-syscall.c, adapted).
**
**   try-syscall strict|log NAME...   install the filter of sandbox/seccomp.c,
**       then make each call, with arguments that make an allowed call fail
**       harmlessly (a bad fd or pointer).  Prints "NAME: ok" or
**       "NAME: errno ENAME" per call and exits 0; a trapped call ends the
**       process in the filter's SIGSYS handler ("sandlua: sandbox: blocked
**       system call NAME", exit 9).
**   try-syscall --audit FILE strict|log NAME...   the same, and the filter's
**       SIGSYS handler appends its audit record to FILE ("actor":"try").
**   try-syscall --deny NAME:ERRNO... -- PROG ARGS...   run PROG under a
**       filter that makes the named calls fail with ERRNO (a number), to
**       test how sandlua copes without seccomp or Landlock.
**   try-syscall --probe FEATURE   whether this kernel has FEATURE (i386, x32,
**       landlock, netns, seccomp-notify), tried
**       for real in a child without any filter: "i386" (int 0x80: IA32
**       emulation), "x32" (the x32 system call ABI), "landlock" (prints the
**       ABI version), "netns" (a network namespace of one's own).  Prints
**       "FEATURE: yes" (exit 0) or "FEATURE: no (why)" (exit 1).
**   try-syscall --net PORT,... ADDR:PORT...   apply sandbox/landlock.c's
**       rules with those TCP ports connectable ("any" for every port; no
**       file rule), then connect to each 127.0.0.1 port and bind one:
**       prints "connect PORT: ok|errno E" and "bind: ok|errno E"; exit 4
**       when the kernel has no network rules (Landlock ABI < 4).
**   try-syscall --maxrss NOFILE -- PROG ARGS...   run PROG with RLIMIT_NOFILE's
**       soft limit at NOFILE (exit 3 if it cannot be raised so far) and print its peak resident size in KiB (from
**       a child of this small process: a child of a big one, such as the
**       Python test runner, inherits its parent's peak).
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "../../sandbox/landlock.h"
#include "../../sandbox/seccomp.h"

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif

static long do_fork(void) {
  long r = syscall(SYS_fork);
  if (r == 0) _exit(0);
  return r;
}

static long do_vfork(void) {
  long r = syscall(SYS_vfork);  /* if it ever ran, the child exits at once */
  if (r == 0) _exit(0);
  return r;
}

static long do_clone(void) {
  long r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  return r;
}

/* A refused call with every signal blocked (SIGSYS too), as inside
** pthread_create. */
static long do_blocked_clone(void) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  return do_clone();
}

static void *thread_fn(void *arg) { return arg; }

/* pthread_create itself: clone3 (ENOSYS), then clone (refused). */
static long do_pthread(void) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, thread_fn, NULL);
  if (rc == 0) pthread_join(t, NULL);
  errno = rc;
  return rc == 0 ? 0 : -1;
}

/* Not a system call: a pause of 1.1 s (the audit's rate window). */
static long do_sleep(void) {
  struct timespec ts = {1, 100000000};
  nanosleep(&ts, NULL);
  return 0;
}

#if defined(__x86_64__)
static long do_x32(void) {
  return syscall(0x40000000 | SYS_getpid);
}

static long do_i386(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");  /* getpid */
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return r;
}
#endif

static long do_openat_write(void) {
  return syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_WRONLY | O_CREAT,
                 0600);
}

static long do_mmap_exec(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  return p == MAP_FAILED ? -1 : 0;
}

static long do_mprotect_exec(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

static long do_mmap_rw(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? -1 : 0;
}

static long do_socket(int family, int type) {
  long r = syscall(SYS_socket, family, type, 0);
  if (r >= 0) close((int)r);
  return r >= 0 ? 0 : r;
}

static long do_socket_inet(void) { return do_socket(AF_INET, SOCK_STREAM); }
static long do_socket_inet6_dgram(void) {
  return do_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC);
}
static long do_socket_unix(void) { return do_socket(AF_UNIX, SOCK_STREAM); }
static long do_socket_netlink(void) { return do_socket(AF_NETLINK, SOCK_RAW); }
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static long sock_close(long fd) {
  if (fd >= 0) close((int)fd);
  return fd < 0 ? fd : 0;
}

static long do_socket_mptcp(void) {
  return sock_close(socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP));
}

static long do_socket_udplite(void) {
  return sock_close(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE));
}

static long do_socket_tcp(void) {
  return sock_close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
}

static long do_socket_udp6(void) {
  return sock_close(socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP));
}

static long do_socket_packet(void) { return do_socket(17 /* AF_PACKET */, SOCK_RAW); }
static long do_socket_raw(void) { return do_socket(AF_INET, SOCK_RAW); }

static long do_openat_read(void) {
  long r = syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
  if (r >= 0) close((int)r);
  return r >= 0 ? 0 : r;
}

static long do_kill_self(void) { return kill(getpid(), 0); }
static long do_kill_init(void) { return kill(1, 0); }

/* A call and its arguments: allowed ones fail with EBADF/EFAULT/EINVAL. */
static long call(const char *name) {
  static const struct {
    const char *name;
    long (*fn)(void);
  } special[] = {
    {"fork", do_fork},
    {"vfork", do_vfork},
    {"clone", do_clone},
    {"blocked-clone", do_blocked_clone},
    {"pthread", do_pthread},
    {"sleep", do_sleep},
#if defined(__x86_64__)
    {"x32", do_x32},
    {"i386", do_i386},
#endif
    {"openat-write", do_openat_write},
    {"openat-read", do_openat_read},
    {"mmap-exec", do_mmap_exec},
    {"mmap-rw", do_mmap_rw},
    {"mprotect-exec", do_mprotect_exec},
    {"socket-inet", do_socket_inet},
    {"socket-inet6-dgram", do_socket_inet6_dgram},
    {"socket-unix", do_socket_unix},
    {"socket-netlink", do_socket_netlink},
    {"socket-packet", do_socket_packet},
    {"socket-mptcp", do_socket_mptcp},
    {"socket-udplite", do_socket_udplite},
    {"socket-tcp", do_socket_tcp},
    {"socket-udp6", do_socket_udp6},
    {"socket-raw", do_socket_raw},
    {"kill-self", do_kill_self},
    {"kill-init", do_kill_init},
    {NULL, NULL}
  };
  for (int i = 0; special[i].name; i++)
    if (strcmp(special[i].name, name) == 0) return special[i].fn();
  if (strcmp(name, "ioctl-tiocsti") == 0)
    return syscall(SYS_ioctl, -1, TIOCSTI, "x");
  if (strcmp(name, "fcntl-getfl") == 0) return syscall(SYS_fcntl, -1, F_GETFL);
  if (strcmp(name, "fcntl-setfl") == 0)
    return syscall(SYS_fcntl, -1, F_SETFL, O_NONBLOCK);
  if (strcmp(name, "fcntl-setown") == 0)
    return syscall(SYS_fcntl, -1, F_SETOWN, 1);
  if (strcmp(name, "fcntl-dupfd") == 0)
    return syscall(SYS_fcntl, -1, F_DUPFD_CLOEXEC, 100);
  if (strcmp(name, "ioctl-fionread") == 0)
    return syscall(SYS_ioctl, -1, FIONREAD, NULL);
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    fprintf(stderr, "try-syscall: unknown system call %s\n", name);
    exit(2);
  }
  /* Bad fd, bad pointers: harmless if it ever runs. */
  return syscall(nr, -1L, 0L, 0L, 0L, 0L, 0L);
}

static int deny_and_exec(int argc, char **argv) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int i = 2;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    char *colon = strchr(argv[i], ':');
    if (colon == NULL) return 2;
    *colon = '\0';
    if (strcmp(argv[i], "prctl-seccomp") == 0) {  /* PR_SET_SECCOMP only */
      if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)atoi(colon + 1)),
                           SCMP_SYS(prctl), 1,
                           SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP)) != 0)
        return 2;
      continue;
    }
    int nr = seccomp_syscall_resolve_name(argv[i]);
    if (nr == __NR_SCMP_ERROR ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)atoi(colon + 1)), nr,
                         0) != 0)
      return 2;
  }
  if (i + 1 >= argc || seccomp_load(ctx) != 0) return 2;
  seccomp_release(ctx);
  execv(argv[i + 1], argv + i + 1);
  perror("execv");
  return 127;
}

static int maxrss_of(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) return 2;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 2;
  rl.rlim_cur = (rlim_t)strtoull(argv[2], NULL, 10);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
    rl.rlim_max = rl.rlim_cur;  /* root may raise it */
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    perror("setrlimit");
    return 3;
  }
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    personality(ADDR_NO_RANDOMIZE);  /* the same layout, run after run */
    execv(argv[4], argv + 4);
    perror("execv");
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid) return 2;
  printf("%ld\n", ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Run fn in a child; 0 when it returned 0, else why not in why. */
static int in_child(long (*fn)(void), char *why, size_t len) {
  int status;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return snprintf(why, len, "fork failed"), -1;
  if (pid == 0) _exit(fn() < 0 ? 10 + (errno & 0xff) % 100 : 0);
  if (waitpid(pid, &status, 0) != pid) return snprintf(why, len, "wait"), -1;
  if (WIFSIGNALED(status))
    return snprintf(why, len, "killed by %s", sigabbrev_np(WTERMSIG(status))),
           -1;
  if (WEXITSTATUS(status) != 0)
    return snprintf(why, len, "errno %s",
                    strerrorname_np(WEXITSTATUS(status) - 10)), -1;
  return 0;
}

static long do_netns(void) {
  return unshare(CLONE_NEWNET);
}

/* seccomp user notification with thread sync (Linux 5.7+), as
** sandbox/seccomp.c installs it: a filter that allows everything. */
static long do_seccomp_notify(void) {
  struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {1, &allow};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                 SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                     SECCOMP_FILTER_FLAG_TSYNC_ESRCH, &prog) < 0 ? -1 : 0;
}

static int probe(const char *what) {
  char why[96] = "";
  int ok = -1;
  if (strcmp(what, "landlock") == 0) {
    long abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) {
      printf("landlock: yes (ABI %ld)\n", abi);
      return 0;
    }
    snprintf(why, sizeof why, "errno %s", strerrorname_np(errno));
  } else if (strcmp(what, "seccomp-notify") == 0) {
    ok = in_child(do_seccomp_notify, why, sizeof why);
  } else if (strcmp(what, "netns") == 0) {
    ok = in_child(do_netns, why, sizeof why);
#if defined(__x86_64__)
  } else if (strcmp(what, "i386") == 0) {
    ok = in_child(do_i386, why, sizeof why);
  } else if (strcmp(what, "x32") == 0) {
    ok = in_child(do_x32, why, sizeof why);
#endif
  } else {
    snprintf(why, sizeof why, "not known on this machine");
  }
  if (ok == 0) {
    printf("%s: yes\n", what);
    return 0;
  }
  printf("%s: no (%s)\n", what, why);
  return 1;
}

static int net_rules(int argc, char **argv) {
  uint16_t ports[16];
  sandbox_net net = {0, ports, 0};
  char err[256], *save = NULL;
  int on = 0;
  if (strcmp(argv[2], "any") == 0) net.any_port = 1;
  for (char *t = strtok_r(argv[2], ",", &save); !net.any_port && t != NULL &&
       net.n < 16; t = strtok_r(NULL, ",", &save))
    ports[net.n++] = (uint16_t)atoi(t);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
  /* /proc stays readable: a sanitizer's runtime reads it at exit */
  static const char *const keep[] = {"/proc"};
  if (sandbox_landlock_restrict(keep, 1, &net, &on, err, sizeof err) < 0) {
    fprintf(stderr, "try-syscall: %s\n", err);
    return 4;
  }
  if (!on) return 4;
  for (int i = 3; i < argc; i++) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[i]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    printf("connect %s: %s%s\n", argv[i], r == 0 ? "ok" : "errno ",
           r == 0 ? "" : strerrorname_np(errno));
    close(fd);
  }
  struct sockaddr_in b = {0};
  b.sin_family = AF_INET;
  b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int r = bind(fd, (struct sockaddr *)&b, sizeof b);
  printf("bind: %s%s\n", r == 0 ? "ok" : "errno ",
         r == 0 ? "" : strerrorname_np(errno));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--probe") == 0) return probe(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "--net") == 0) return net_rules(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "--audit") == 0) {
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || sandbox_seccomp_audit(fd, "\"actor\":\"try\"") != 0)
      return 2;
    argc -= 2;
    argv += 2;
  }
  if (argc >= 2 && strcmp(argv[1], "--maxrss") == 0)
    return maxrss_of(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "--deny") == 0)
    return deny_and_exec(argc, argv);
  if (argc < 3) {
    fprintf(stderr, "usage: try-syscall strict|log NAME...\n");
    return 2;
  }
  sandbox_seccomp_mode mode;
  char err[256];
  if (sandbox_seccomp_parse(argv[1], &mode) != 0) return 2;
  if (sandbox_seccomp_install(mode, err, sizeof err) != 0) {
    fprintf(stderr, "try-syscall: %s\n", err);
    return 3;
  }
  for (int i = 2; i < argc; i++) {
    errno = 0;
    long r = call(argv[i]);
    if (r < 0 || errno != 0)
      printf("%s: errno %s\n", argv[i], strerrorname_np(errno));
    else
      printf("%s: ok\n", argv[i]);
    fflush(stdout);
  }
  return 0;
}
