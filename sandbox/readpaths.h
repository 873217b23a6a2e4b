/*
** readpaths.h - the files a sandboxed script may read: --allow-read PATH.
**
** Each PATH (a file, or a directory and everything under it) is resolved
** once, before the lock-down (realpath; the working directory is noted),
** and kept open (O_PATH).  Afterwards a script's path is resolved without
** the file system: made absolute against that working directory, `.` and
** `..` folded by text, matched against the roots; then the file is opened
** from its root's descriptor one component at a time with O_NOFOLLOW, so
** neither `..` nor a symbolic link (inside the tree or not) leads out, even
** where Landlock is missing.  Landlock grants the same paths read access
** (sandbox.c).  Process-wide; single-threaded.
*/
#ifndef SL_SANDBOX_READPATHS_H
#define SL_SANDBOX_READPATHS_H

#include <stddef.h>

/*
** Resolve and open the n paths.  0, or -errno with a message (naming the
** path) in err.  Call once, before the lock-down.  *canon[i] gets the
** resolved form of paths[i] (valid until sandbox_read_free).
*/
int sandbox_read_init(const char *const *paths, size_t n, const char **canon,
                      char *err, size_t errlen);

/* How many roots there are (0: no --allow-read). */
size_t sandbox_read_count(void);

/* Root i: its resolved path, and whether it is a directory. */
const char *sandbox_read_root(size_t i, int *isdir);

/*
** Open path for reading (O_RDONLY|O_CLOEXEC), a regular file only.
** Returns the descriptor, or -EACCES when it is under no root, -ELOOP for
** a symbolic link on the way, -EISDIR for a directory, -EINVAL for a
** FIFO, socket or device, or what openat said (-ENOENT...).
*/
int sandbox_read_open(const char *path);

/* Close the roots (at exit). */
void sandbox_read_free(void);

#endif
