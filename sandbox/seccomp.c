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
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/errbuf.h"
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

/* The name of a call ("execve", or "#NR" for a foreign ABI or an unknown
** number) into l; returns whether it is foreign. */
static int call_name(line *l, int nr, unsigned arch) {
  int foreign = arch != FILTER_ARCH || (nr & 0x40000000) != 0;
  if (!foreign && nr >= 0 && nr < NAMES_MAX && names[nr] != NULL) {
    add(l, names[nr]);
  } else {
    add(l, "#");
    add_uint(l, (unsigned)nr & 0x3fffffffu, 1);
  }
  l->b[l->n] = '\0';
  return foreign;
}

/* The audit record of a refused call, in one write(2).  errname: the
** errno returned (action "errno"), or NULL (action "trap"). */
static void audit_call(int nr, unsigned arch, const char *errname,
                       unsigned long long suppressed) {
  if (audit_fd < 0) return;
  line what = {.n = 0}, rec = {.n = 0};
  int foreign = call_name(&what, nr, arch);
  add(&rec, "{\"time\":\"");
  add_time(&rec);
  add(&rec, "\",\"event\":\"sandbox\",\"syscall\":\"");
  add(&rec, what.b);
  add(&rec, foreign ? "\",\"abi\":\"foreign\"" : "\"");
  add(&rec, ",\"arch\":\"");
  add(&rec, arch_name(arch, nr));
  add(&rec, errname ? "\",\"action\":\"errno\",\"errno\":\""
                    : "\",\"action\":\"trap\"");
  if (errname) {
    add(&rec, errname);
    add(&rec, "\"");
  }
  if (suppressed > 0) {  /* refusals left out since the last record */
    add(&rec, ",\"suppressed\":");
    add_uint(&rec, suppressed, 1);
  }
  if (audit_fields[0] != '\0') {
    add(&rec, ",");
    add(&rec, audit_fields);
  }
  rec.b[rec.n++] = '}';
  rec.b[rec.n++] = '\n';
  sandbox_write_all(audit_fd, rec.b, rec.n);
}

/* A refused call ends the run: the audit record, one line on stderr, exit
** status 9.  Async-signal-safe: clock_gettime, write(2) and _exit only. */
static void refused(int nr, unsigned arch) {
  line what = {.n = 0};
  int foreign = call_name(&what, nr, arch);
  audit_call(nr, arch, NULL, 0);
  put("sandlua: sandbox: blocked system call ");
  put(foreign ? "of a foreign ABI (" : "");
  put(what.b);
  put(foreign ? ")\n" : "\n");
  _exit(SL_EXIT_SANDBOX);
}

static void on_sigsys(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)uc;
  refused(info->si_syscall, info->si_arch);
}

/* }====================================================== */

/* {======================================================
** The supervisor: user notification (Linux 5.7+)
** ======================================================= */

/*
** In strict mode every refused call is sent to a thread of sandlua's
** (SECCOMP_RET_USER_NOTIF; the thread is under the same filter, TSYNC)
** rather than trapped.  The thread runs the strict filter itself on the
** call (a small classic-BPF interpreter, so the two can never disagree):
** an errno refusal is answered with that errno and audited, at most
** AUDIT_RATE records a second (the others are counted, and the next
** record says how many); any other refusal ends the run with status 9 as
** the SIGSYS handler does.  The calling thread waits in the kernel, so a
** refusal made with SIGSYS blocked (clone inside pthread_create) ends the
** run the same way instead of a raw SIGSYS death.  Without user
** notification (older kernels) the trap filter and the handler above do
** the job.
*/
#define AUDIT_RATE 10

static struct sock_filter classifier[FILTER_MAX];
static unsigned short classifier_len;
static int listener = -1;     /* set once the filter is in force */
static int hand[2] = {-1, -1};  /* main -> supervisor: the listener, or -1 */
static int back[2] = {-1, -1};  /* supervisor -> main: started */
static pthread_t supervisor;
static int supervisor_made;

/* Run a classic BPF seccomp program on d; the action (KILL on anything
** unexpected). */
static uint32_t run_bpf(const struct sock_filter *f, unsigned n,
                        const struct seccomp_data *d) {
  uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};
  const unsigned char *data = (const unsigned char *)d;
  for (unsigned pc = 0; pc < n; pc++) {
    const struct sock_filter *i = &f[pc];
    uint32_t k = i->k;
    switch (i->code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k > sizeof *d - 4 || k % 4) return SECCOMP_RET_KILL_PROCESS;
        memcpy(&A, data + k, 4);
        break;
      case BPF_LD | BPF_W | BPF_LEN: A = sizeof *d; break;
      case BPF_LDX | BPF_W | BPF_LEN: X = sizeof *d; break;
      case BPF_LD | BPF_IMM: A = k; break;
      case BPF_LDX | BPF_IMM: X = k; break;
      case BPF_LD | BPF_MEM: A = M[k % BPF_MEMWORDS]; break;
      case BPF_LDX | BPF_MEM: X = M[k % BPF_MEMWORDS]; break;
      case BPF_ST: M[k % BPF_MEMWORDS] = A; break;
      case BPF_STX: M[k % BPF_MEMWORDS] = X; break;
      case BPF_ALU | BPF_AND | BPF_K: A &= k; break;
      case BPF_ALU | BPF_AND | BPF_X: A &= X; break;
      case BPF_ALU | BPF_OR | BPF_K: A |= k; break;
      case BPF_ALU | BPF_OR | BPF_X: A |= X; break;
      case BPF_ALU | BPF_RSH | BPF_K: A >>= (k & 31); break;
      case BPF_ALU | BPF_LSH | BPF_K: A <<= (k & 31); break;
      case BPF_ALU | BPF_ADD | BPF_K: A += k; break;
      case BPF_ALU | BPF_SUB | BPF_K: A -= k; break;
      case BPF_ALU | BPF_NEG: A = -A; break;
      case BPF_MISC | BPF_TAX: X = A; break;
      case BPF_MISC | BPF_TXA: A = X; break;
      case BPF_JMP | BPF_JA: pc += k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += A == k ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JEQ | BPF_X: pc += A == X ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += A > k ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JGT | BPF_X: pc += A > X ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += A >= k ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JGE | BPF_X: pc += A >= X ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (A & k) ? i->jt : i->jf; break;
      case BPF_JMP | BPF_JSET | BPF_X: pc += (A & X) ? i->jt : i->jf; break;
      case BPF_RET | BPF_K: return k;
      case BPF_RET | BPF_A: return A;
      default: return SECCOMP_RET_KILL_PROCESS;
    }
  }
  return SECCOMP_RET_KILL_PROCESS;
}

/* An errno refusal: audited, AUDIT_RATE records a second at most. */
static void audit_errno(const struct seccomp_data *d, int e) {
  static time_t window;
  static int in_window;
  static unsigned long long suppressed;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (ts.tv_sec != window) {
    window = ts.tv_sec;
    in_window = 0;
  }
  if (++in_window > AUDIT_RATE) {
    suppressed++;
    return;
  }
  audit_call(d->nr, d->arch, sl_errno_name(e), suppressed);
  suppressed = 0;
}

static void *supervise(void *arg) {
  (void)arg;
  int fd = -1;
  /* past its own start-up calls (rseq...): say so, then wait for the
  ** listener (one read: no polling, no system call while waiting) */
  sandbox_write_all(back[1], "s", 1);
  if (read(hand[0], &fd, sizeof fd) != sizeof fd || fd < 0) return NULL;
  for (;;) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) continue;
    uint32_t act = run_bpf(classifier, classifier_len, &req.data);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if ((act & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO) {
      int e = (int)(act & SECCOMP_RET_DATA);
      audit_errno(&req.data, e);
      resp.error = -e;
    } else if ((act & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW) {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;  /* cannot happen */
    } else {
      refused((int)req.data.nr, req.data.arch);  /* exits */
    }
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  return NULL;
}

int sandbox_seccomp_prepare(sandbox_seccomp_mode mode) {
  if (mode != SANDBOX_SECCOMP_STRICT || supervisor_made) return 0;
  /* every signal blocked: they go to the main thread, as the limits'
  ** timers need (the mask is the new thread's from birth) */
  if (pipe2(hand, O_CLOEXEC) != 0) return -errno;
  if (pipe2(back, O_CLOEXEC) != 0) {
    int e = errno;
    close(hand[0]);
    close(hand[1]);
    return -e;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 64 * 1024);
  int rc = pthread_create(&supervisor, &at, supervise, NULL);
  pthread_attr_destroy(&at);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) return -rc;  /* without it: the trap filter */
  supervisor_made = 1;
  /* its start-up (rseq, the stack guard...) must be over before the filter
  ** applies to it: a refused call of its own would wait for itself */
  char c;
  while (read(back[0], &c, 1) < 0 && errno == EINTR) {
  }
  return 0;
}

/* No user notification here: the supervisor goes before the trap filter
** is installed (it would be outside it). */
static void supervisor_end(void) {
  if (!supervisor_made) return;
  int none = -1;
  sandbox_write_all(hand[1], (const char *)&none, sizeof none);
  pthread_join(supervisor, NULL);
  supervisor_made = 0;
}

/* Install prog (strict, pid patched) as user notifications to the
** supervisor, on every thread.  0, or -errno (then nothing changed). */
static int install_notify(const struct sock_filter *prog, unsigned short len) {
  if (!supervisor_made) return -ENOSYS;
  struct sock_filter notify[FILTER_MAX];
  memcpy(classifier, prog, len * sizeof prog[0]);
  classifier_len = len;
  memcpy(notify, prog, len * sizeof prog[0]);
  for (unsigned short i = 0; i < len; i++) {
    if (notify[i].code != (BPF_RET | BPF_K)) continue;
    uint32_t a = notify[i].k & SECCOMP_RET_ACTION_FULL;
    if (a != SECCOMP_RET_ALLOW && a != SECCOMP_RET_LOG)
      notify[i].k = SECCOMP_RET_USER_NOTIF;
  }
  struct sock_fprog fprog = {.len = len, .filter = notify};
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER |
                        SECCOMP_FILTER_FLAG_TSYNC |
                        SECCOMP_FILTER_FLAG_TSYNC_ESRCH, &fprog);
  if (fd < 0) return -errno;
  listener = (int)fd;
  sandbox_write_all(hand[1], (const char *)&listener, sizeof listener);
  return 0;
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
  if (mode == SANDBOX_SECCOMP_STRICT) {
    sandbox_seccomp_prepare(mode);  /* if start-up did not */
    if (install_notify(copy, len) == 0) return 0;
    supervisor_end();  /* an older kernel: the trap filter */
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
