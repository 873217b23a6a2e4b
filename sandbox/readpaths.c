/*
** readpaths.c - the files a sandboxed script may read (see readpaths.h).
*/
#include "readpaths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/errbuf.h"
#include "sandbox.h"

typedef struct root {
  char *path;   /* resolved, absolute, no trailing '/' (but "/") */
  int isdir;
  int fd;       /* O_PATH: the directory, or the file's directory */
  char *base;   /* a file root: its name in fd */
} root;

static root roots[SANDBOX_MAX_PATHS];
static size_t nroots;
static char cwd[PATH_MAX];

void sandbox_read_free(void) {
  for (size_t i = 0; i < nroots; i++) {
    if (roots[i].fd >= 0) close(roots[i].fd);
    free(roots[i].path);
    free(roots[i].base);
  }
  nroots = 0;
}

size_t sandbox_read_count(void) { return nroots; }

const char *sandbox_read_root(size_t i, int *isdir) {
  if (i >= nroots) return NULL;
  if (isdir) *isdir = roots[i].isdir;
  return roots[i].path;
}

int sandbox_read_init(const char *const *paths, size_t n, const char **canon,
                      char *err, size_t errlen) {
  sandbox_read_free();
  if (n > SANDBOX_MAX_PATHS)
    return sl_errf(err, errlen, -E2BIG, "too many --allow-read paths");
  if (n > 0 && getcwd(cwd, sizeof cwd) == NULL)
    cwd[0] = '\0';  /* relative paths will not match */
  for (size_t i = 0; i < n; i++) {
    root *r = &roots[nroots];
    memset(r, 0, sizeof *r);
    r->fd = -1;
    char *rp = realpath(paths[i], NULL);
    struct stat st;
    if (rp == NULL || stat(rp, &st) != 0) {
      int e = errno;
      free(rp);
      return sl_errf(err, errlen, -e, "--allow-read %s: %s", paths[i],
                     strerror(e));
    }
    r->path = rp;
    r->isdir = S_ISDIR(st.st_mode);
    if (r->isdir) {
      r->fd = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
      char *slash = strrchr(rp, '/');
      r->base = strdup(slash + 1);
      char *dir = slash == rp ? strdup("/") : strndup(rp, (size_t)(slash - rp));
      if (r->base == NULL || dir == NULL) {
        free(dir);
        free(r->base);
        free(rp);
        return sl_errf(err, errlen, -ENOMEM, "out of memory");
      }
      r->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      free(dir);
    }
    if (r->fd < 0) {
      int e = errno;
      free(r->base);
      free(rp);
      return sl_errf(err, errlen, -e, "--allow-read %s: %s", paths[i],
                     strerror(e));
    }
    nroots++;
    if (canon) canon[i] = rp;
  }
  return 0;
}

/* path made absolute and folded (".", "..", "//") into out; -1 if too
** long or relative with no working directory known. */
static int normalize(const char *path, char *out, size_t size) {
  char buf[PATH_MAX * 2];
  int k;
  if (path[0] == '/') k = snprintf(buf, sizeof buf, "%s", path);
  else if (cwd[0]) k = snprintf(buf, sizeof buf, "%s/%s", cwd, path);
  else return -1;
  if (k < 0 || (size_t)k >= sizeof buf) return -1;
  size_t o = 0;
  out[o++] = '/';
  for (char *s = buf; *s;) {
    while (*s == '/') s++;
    char *e = s;
    while (*e && *e != '/') e++;
    size_t len = (size_t)(e - s);
    if (len == 0 || (len == 1 && s[0] == '.')) {
      /* nothing */
    } else if (len == 2 && s[0] == '.' && s[1] == '.') {
      while (o > 1 && out[o - 1] != '/') o--;  /* drop the last part */
      if (o > 1) o--;
    } else {
      if (o > 1) out[o++] = '/';
      if (o + len + 1 > size) return -1;
      memcpy(out + o, s, len);
      o += len;
    }
    s = e;
  }
  out[o] = '\0';
  return 0;
}

/* Open rel (components separated by '/', none "." or "..") under dirfd,
** no symbolic link followed. */
static int walk(int dirfd, const char *rel) {
  char part[NAME_MAX + 1];
  int fd = dirfd, owned = 0;
  for (const char *s = rel; *s;) {
    const char *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len > NAME_MAX) {
      if (owned) close(fd);
      return -ENAMETOOLONG;
    }
    memcpy(part, s, len);
    part[len] = '\0';
    int last = e == NULL;
    /* the file: O_NONBLOCK, or a FIFO would block the open until a
    ** writer comes (only regular files are served, see below) */
    int flags = last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                     : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int nfd = openat(fd, part, flags);
    int er = errno;
    if (owned) close(fd);
    if (nfd < 0) return er == ENOTDIR && !last ? -ELOOP : -er;
    fd = nfd;
    owned = 1;
    if (last) {
      struct stat st;
      if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        close(fd);
        return r;
      }
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    s = e + 1;
  }
  return -EISDIR;  /* the root itself */
}

int sandbox_read_open(const char *path) {
  char abs[PATH_MAX];
  if (normalize(path, abs, sizeof abs) != 0) return -ENAMETOOLONG;
  for (size_t i = 0; i < nroots; i++) {
    root *r = &roots[i];
    size_t n = strlen(r->path);
    if (!r->isdir) {
      if (strcmp(abs, r->path) == 0) return walk(r->fd, r->base);
      continue;
    }
    if (strcmp(abs, r->path) == 0) return -EISDIR;
    if (n == 1) return walk(r->fd, abs + 1);  /* the root is "/" */
    if (strncmp(abs, r->path, n) == 0 && abs[n] == '/')
      return walk(r->fd, abs + n + 1);
  }
  return -EACCES;
}
