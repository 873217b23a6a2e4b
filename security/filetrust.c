/*
** filetrust.c - StrictModes for policy files (see filetrust.h).
*/
#include "filetrust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why st (of what, named) cannot be trusted, or NULL. */
static const char *untrusted(const struct stat *st, int dir, char *why,
                             size_t len) {
  uid_t me = getuid();
  if (st->st_uid != 0 && st->st_uid != me) {
    snprintf(why, len, "owned by uid %lu, not by root or uid %lu",
             (unsigned long)st->st_uid, (unsigned long)me);
    return why;
  }
  if (dir && (st->st_mode & S_ISVTX) && st->st_uid == 0) return NULL;
  if (st->st_mode & S_IWGRP) return "writable by its group";
  if (st->st_mode & S_IWOTH) return "writable by others";
  return NULL;
}

int policy_file_trusted(int fd, const char *path, char *err, size_t errlen) {
  struct stat st;
  char why[96], real[PATH_MAX];
  const char *w;
  if (fstat(fd, &st) != 0) return -errno;
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "not a regular file");
    return -EPERM;
  }
  if ((w = untrusted(&st, 0, why, sizeof why)) != NULL) {
    snprintf(err, errlen, "refused: the file is %s%s", w,
             w == why ? "" : " (chmod go-w)");
    return -EPERM;
  }
  if (realpath(path, real) == NULL) return -errno;
  /* Every directory above the file, from its own up to "/". */
  for (;;) {
    char *slash = strrchr(real, '/');
    if (slash == NULL) break;
    if (slash == real)
      slash[1] = '\0';
    else
      *slash = '\0';
    if (stat(real, &st) != 0) return -errno;
    if ((w = untrusted(&st, 1, why, sizeof why)) != NULL) {
      snprintf(err, errlen, "refused: the directory %s is %s", real, w);
      return -EPERM;
    }
    if (slash == real) break;
  }
  return 0;
}
