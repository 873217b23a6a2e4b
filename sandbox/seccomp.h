/*
** seccomp.h - the seccomp-bpf system call filter (compiled at build time by
** libseccomp from the rules in sandbox/gen/seccomp_gen.c).
**
** Provides to sandbox.c (and to the try-syscall test program, which installs
** the very same filter) one call that installs an allowlist of the system
** calls sandlua makes at steady state: memory, time, signals, stdio, the
** event loop's epoll_wait/epoll_ctl, and AF_INET/AF_INET6 sockets for the
** WebSocket client (see docs/sandbox.md for the list and how it was
** measured).  What libc probes and handles gets an errno
** instead of a trap: clone3 and io_uring_* ENOSYS, socket(AF_UNIX or
** AF_NETLINK) EAFNOSUPPORT, openat for writing EACCES, other ioctls ENOTTY,
** executable mappings EACCES.  Everything else is refused:
**   strict  the call never runs: SIGSYS, whose handler writes
**           "sandlua: sandbox: blocked system call NAME" (async-signal-safe
**           calls only, names from a table made at build time) and
**           exits with SL_EXIT_SANDBOX (common/exitcodes.h);
**   log     the call runs and the kernel logs it (audit log, dmesg);
**   off     no filter.
** Calls of another ABI (i386, x32) are refused the same way.
*/
#ifndef SL_SANDBOX_SECCOMP_H
#define SL_SANDBOX_SECCOMP_H

#include <stddef.h>

/* Same order as security/policy.h's policy_seccomp. */
typedef enum sandbox_seccomp_mode {
  SANDBOX_SECCOMP_STRICT,
  SANDBOX_SECCOMP_LOG,
  SANDBOX_SECCOMP_OFF
} sandbox_seccomp_mode;

/* "strict", "log", "off" -> mode; returns 0 or -EINVAL. */
int sandbox_seccomp_parse(const char *text, sandbox_seccomp_mode *mode);

/*
** With fd >= 0, a refused call (strict mode) also appends one JSON line to
** fd, in one write(2):
**   {"time":"...Z","event":"sandbox","syscall":"execve","arch":"x86_64",
**    "action":"trap",FIELDS}
** or, for a call refused with an errno (at most 10 records a second; the
** next record after a gap carries "suppressed":N),
**   {...,"syscall":"socket","arch":"x86_64","action":"errno",
**    "errno":"EAFNOSUPPORT",FIELDS}
** (a foreign ABI's call: "syscall":"#NR","abi":"foreign").  FIELDS are
** JSON members, already escaped, without the leading comma ("" for none).
** Returns 0, or -ENAMETOOLONG when fields do not fit (nothing changed).
*/
int sandbox_seccomp_audit(int fd, const char *fields);

/*
** Strict mode: start the thread that will receive the refused calls (user
** notification), with every signal blocked.  Call it before RLIMIT_NPROC
** forbids threads and after Landlock (the thread must be under every
** restriction the process is under); sandbox_seccomp_install calls it when
** it was not.  Returns 0, or -errno (then the trap filter is used).
*/
int sandbox_seccomp_prepare(sandbox_seccomp_mode mode);

/*
** Set no_new_privs and install the filter for `mode` (nothing for OFF but
** no_new_privs).  Returns 0, or -errno with a message in err.  After it
** returns 0 the process cannot exec, fork or open files for writing.
*/
int sandbox_seccomp_install(sandbox_seccomp_mode mode, char *err,
                            size_t errlen);

#endif
