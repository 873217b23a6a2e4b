/*
** landlock.c - read-only file access through Landlock (see landlock.h).
**
** The ruleset handles every file-system right the running kernel knows
** (ABI 1: 13 rights; 2: REFER; 3: TRUNCATE; 5: IOCTL_DEV), so each is denied
** unless a rule grants it; the rules grant READ_FILE (and READ_DIR for
** directories) beneath each path.
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

static int abi_rights(int abi, uint64_t *rights) {
  if (abi < 1) return -EOPNOTSUPP;
  uint64_t r = (UINT64_C(1) << 13) - 1;  /* EXECUTE .. MAKE_SYM */
  if (abi >= 2) r |= UINT64_C(1) << 13;  /* REFER */
  if (abi >= 3) r |= UINT64_C(1) << 14;  /* TRUNCATE */
  if (abi >= 5) r |= UINT64_C(1) << 15;  /* IOCTL_DEV */
  *rights = r;
  return 0;
}

int sandbox_landlock_restrict(const char *const *paths, size_t n, char *err,
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
  struct landlock_ruleset_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.handled_access_fs = handled;
  int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
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
  if (rc == 0 && syscall(__NR_landlock_restrict_self, rs, 0) != 0) {
    rc = -errno;
    snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
  }
  close(rs);
  return rc == 0 ? (int)abi : rc;
}
