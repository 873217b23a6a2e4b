/*
** audit.c - JSON-lines audit records.
*/
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../common/jsonstr.h"

int policy_audit_open(policy_audit *a, const char *path, int all) {
  memset(a, 0, sizeof *a);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                0600);
  if (fd < 0) return -errno;
  a->f = fdopen(fd, "a");
  if (a->f == NULL) {
    int e = errno;
    close(fd);
    return -e;
  }
  a->all = all;
  return 0;
}

int policy_audit_close(policy_audit *a) {
  int rc = 0;
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
  char t[40], q[8192];
  if (a == NULL || a->f == NULL) return 0;
  rfc3339(t, sizeof t);
  fprintf(a->f, "{\"time\":\"%s\",\"event\":", t);
  policy_json_quote(event, q, sizeof q);
  fputs(q, a->f);
  for (size_t i = 0; i < n; i++) {
    fputc(',', a->f);
    policy_json_quote(kv[2 * i], q, sizeof q);
    fputs(q, a->f);
    fputc(':', a->f);
    if (kv[2 * i + 1] == NULL) {
      fputs("null", a->f);
    } else {
      policy_json_quote(kv[2 * i + 1], q, sizeof q);
      fputs(q, a->f);
    }
  }
  fputs("}\n", a->f);
  if (fflush(a->f) != 0 || ferror(a->f)) return -EIO;
  return 0;
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
