/*
** filetrust.h - whether a policy file can be trusted to be the operator's.
**
** A policy decides what untrusted code may reach, so whoever can write the
** file decides it too.  As sshd's StrictModes: the file, judged by what a
** symbolic link points to, must be a regular file owned by root or by the
** user running sandlua and writable by no one else (no group or other
** write bit), and so must every directory above it, except that a
** directory with the sticky bit owned by root (/tmp) may be writable by
** all: no one else can replace or remove what is in it.
**
** Provides to policy_yaml.c: policy_file_trusted(fd, path) on the open
** file and its path.  Plain C.
*/
#ifndef SL_SECURITY_FILETRUST_H
#define SL_SECURITY_FILETRUST_H

#include <stddef.h>

/*
** 0 when the file open as fd at path may be trusted; -EPERM with the reason
** in err ("group-writable", "owned by uid 1000", the directory named), or
** -errno when the path cannot be resolved.
*/
int policy_file_trusted(int fd, const char *path, char *err, size_t errlen);

#endif
