/*
** audit.c - JSON-lines audit records.
*/
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../common/jsonstr.h"

int policy_audit_open(policy_audit *a, const char *path, int all,
                      int64_t max) {
  static const char hex[] = "0123456789abcdef";
  unsigned char id[8];
  struct stat st;
  memset(a, 0, sizeof *a);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
                          O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) return errno == ENXIO ? -EINVAL : -errno;  /* FIFO, no reader */
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(fd);
    return S_ISREG(st.st_mode) ? -e : -EINVAL;
  }
  fcntl(fd, F_SETFL, O_APPEND);  /* blocking again: a regular file */
  a->f = fdopen(fd, "a");
  if (a->f == NULL) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id)
    memset(id, 0, sizeof id);
  for (size_t i = 0; i < sizeof id; i++) {
    a->run[2 * i] = hex[id[i] >> 4];
    a->run[2 * i + 1] = hex[id[i] & 15];
  }
  a->all = all;
  a->max = max;
  return 0;
}

int64_t policy_audit_size(const policy_audit *a) {
  struct stat st;
  if (a == NULL || a->f == NULL || fstat(fileno(a->f), &st) != 0) return -1;
  return st.st_size;
}

static int write_record(policy_audit *a, const char *line, size_t n,
                        int count) {
  if (count && a->written + (int64_t)n > a->max) {
    a->dropped++;
    return 0;
  }
  if (fwrite(line, 1, n, a->f) != n || fflush(a->f) != 0) {
    int e = errno ? -errno : -EIO;
    clearerr(a->f);
    if (a->on_error) {
      void (*cb)(policy_audit *, int) = a->on_error;
      a->on_error = NULL;  /* once */
      cb(a, e);
    }
    return e;
  }
  a->written += (int64_t)n;
  return 0;
}

int policy_audit_close(policy_audit *a) {
  int rc = 0;
  if (a->f && a->dropped > 0) {
    char n[32], m[32];
    snprintf(n, sizeof n, "%lld", (long long)a->dropped);
    snprintf(m, sizeof m, "%lld", (long long)a->max);
    const char *kv[] = {"dropped", n, "max_bytes", m};
    a->dropped = 0;
    a->max = INT64_MAX;  /* the summary itself always goes */
    rc = policy_audit_record(a, "audit", kv, 2);
  }
  if (a->f && a->f != stdout && a->f != stderr && fclose(a->f) != 0)
    rc = -errno;
  a->f = NULL;
  return rc;
}

int policy_json_quote(const char *str, char *out, size_t len) {
  size_t n = strlen(str), pos = 0, o = 0;
  if (len < 3) { /* no room for "" */
    if (len == 2) out[o++] = '"';
    if (len > 0) out[o] = '\0';
    return 1;
  }
  out[o++] = '"';
  o += sl_jsonstr_escape(str, n, &pos, out + o, len - 3, SL_JSONSTR_SAFE,
                         NULL);
  out[o++] = '"';
  out[o] = '\0';
  return pos < n;
}

static void rfc3339(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

int policy_audit_record(policy_audit *a, const char *event,
                        const char *const *kv, size_t n) {
  char t[40], q[8192], line[65536];
  size_t o = 0;
  if (a == NULL || a->f == NULL) return 0;
  rfc3339(t, sizeof t);
  o += (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"run\":\"%s\","
                        "\"event\":", t, a->run);
  for (size_t i = 0; i <= 2 * n && o < sizeof line; i++) {
    const char *s = i == 0 ? event : kv[i - 1];
    if (i > 0) line[o++] = i % 2 ? ',' : ':';
    if (s == NULL) {
      o += (size_t)snprintf(line + o, sizeof line - o, "null");
    } else {
      policy_json_quote(s, q, sizeof q);
      o += (size_t)snprintf(line + o, sizeof line - o, "%s", q);
    }
  }
  if (o + 3 > sizeof line) return -E2BIG;  /* cannot happen: 18 fields */
  memcpy(line + o, "}\n", 3);
  return write_record(a, line, o + 2, 1);
}

int policy_audit_decision(policy_audit *a, const policy_actor *actor,
                          const char *action, const char *resource,
                          const policy_decision *d) {
  if (a == NULL || a->f == NULL || (d->allow && !a->all)) return 0;
  const char *kv[] = {
    "actor", actor ? actor->id : NULL,
    "action", action,
    "resource", resource,
    "decision", d->allow ? "allow" : "deny",
    "policy", policy_decision_policy(d),
    "detail", d->detail,
  };
  size_t n = d->detail[0] ? 6 : 5;
  return policy_audit_record(a, "policy", kv, n);
}
