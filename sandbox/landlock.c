/*
** landlock.c - read-only file access through Landlock (see landlock.h).
**
** The ruleset handles every file-system right the running kernel knows
** (ABI 1: 13 rights; 2: REFER; 3: TRUNCATE; 5: IOCTL_DEV), so each is denied
** unless a rule grants it; the rules grant READ_FILE (and READ_DIR for
** directories) beneath each path.  From ABI 4 it also handles TCP: binding
** is never granted, and connecting only to the ports of net (every port
** when net->any_port).
*/
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

/* ABI 4 (Linux 6.7), newer than the headers of Debian 12: the kernel's
** own layouts. */
struct ruleset_attr_v4 {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
};
struct net_port_attr {
  uint64_t allowed_access;
  uint64_t port;
};
#define RULE_NET_PORT 2
#define NET_BIND_TCP (UINT64_C(1) << 0)
#define NET_CONNECT_TCP (UINT64_C(1) << 1)

static int abi_rights(int abi, uint64_t *rights) {
  if (abi < 1) return -EOPNOTSUPP;
  uint64_t r = (UINT64_C(1) << 13) - 1;  /* EXECUTE .. MAKE_SYM */
  if (abi >= 2) r |= UINT64_C(1) << 13;  /* REFER */
  if (abi >= 3) r |= UINT64_C(1) << 14;  /* TRUNCATE */
  if (abi >= 5) r |= UINT64_C(1) << 15;  /* IOCTL_DEV */
  *rights = r;
  return 0;
}

/* The rules of net on ruleset rs; 0 or -errno with a message. */
static int add_ports(int rs, const sandbox_net *net, char *err,
                     size_t errlen) {
  for (size_t i = 0; !net->any_port && i < net->n; i++) {
    struct net_port_attr np = {NET_CONNECT_TCP, net->ports[i]};
    if (syscall(__NR_landlock_add_rule, rs, RULE_NET_PORT, &np, 0) != 0) {
      int e = errno;
      snprintf(err, errlen, "landlock_add_rule port %u: %s",
               (unsigned)net->ports[i], strerror(e));
      return -e;
    }
  }
  return 0;
}

int sandbox_landlock_restrict(const char *const *paths, size_t n,
                              const sandbox_net *net, int *net_on, char *err,
                              size_t errlen) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
                     LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) {
    int e = errno;
    snprintf(err, errlen, "Landlock is not available: %s", strerror(e));
    return -e;
  }
  uint64_t handled;
  if (abi_rights((int)abi, &handled) != 0) {
    snprintf(err, errlen, "Landlock ABI %ld is not supported", abi);
    return -EOPNOTSUPP;
  }
  struct ruleset_attr_v4 attr;
  memset(&attr, 0, sizeof attr);
  attr.handled_access_fs = handled;
  size_t attr_size = sizeof attr.handled_access_fs;  /* ABI 1-3 */
  *net_on = 0;
  if (abi >= 4 && net != NULL) {
    attr.handled_access_net = NET_BIND_TCP;
    if (!net->any_port) attr.handled_access_net |= NET_CONNECT_TCP;
    attr_size = sizeof attr;
  }
  int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
  if (rs < 0) {
    int e = errno;
    snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(e));
    return -e;
  }
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    int fd = open(paths[i], O_PATH | O_CLOEXEC);
    if (fd < 0) continue;  /* missing: nothing to allow */
    struct stat st;
    struct landlock_path_beneath_attr pb;
    memset(&pb, 0, sizeof pb);
    pb.parent_fd = fd;
    pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
      pb.allowed_access |= LANDLOCK_ACCESS_FS_READ_DIR;
    if (syscall(__NR_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb,
                0) != 0) {
      rc = -errno;
      snprintf(err, errlen, "landlock_add_rule %s: %s", paths[i],
               strerror(errno));
    }
    close(fd);
  }
  if (rc == 0 && attr.handled_access_net != 0)
    rc = add_ports(rs, net, err, errlen);
  if (rc == 0 && syscall(__NR_landlock_restrict_self, rs, 0) != 0) {
    rc = -errno;
    snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
  }
  close(rs);
  if (rc == 0) *net_on = attr.handled_access_net != 0;
  return rc == 0 ? (int)abi : rc;
}
