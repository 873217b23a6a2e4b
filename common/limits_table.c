/*
** limits_table.c - the rows of SL_LIMITS, and the one parser and range
** check of limit values (see limits_table.h).
*/
#include "limits_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

const sl_limit_info sl_limits[SL_LIMIT_COUNT] = {
#define SL_LIMIT_ROW(id, name, option, key, kind, dflt, lo, hi, code, help) \
  {name, option, key, SL_LIMIT_KIND_##kind, dflt, lo, hi, code, help},
  SL_LIMITS(SL_LIMIT_ROW)
#undef SL_LIMIT_ROW
};

const char *sl_limit_metavar(sl_limit_kind kind) {
  switch (kind) {
    case SL_LIMIT_KIND_SIZE: return "SIZE";
    case SL_LIMIT_KIND_DURATION: return "DURATION";
    default: return "N";
  }
}

int sl_limit_check(sl_limit which, int64_t value, char *err, size_t errlen) {
  char bound[48];
  if ((unsigned)which >= SL_LIMIT_COUNT) {
    snprintf(err, errlen, "no such limit");
    return -EINVAL;
  }
  const sl_limit_info *li = &sl_limits[which];
  if (value < 0) {
    snprintf(err, errlen, "must not be negative");
    return -ERANGE;
  }
  if (value != 0 && value < li->lowest) {
    sl_limit_format(which, li->lowest, bound, sizeof bound);
    snprintf(err, errlen, "must be 0 (no limit) or at least %s", bound);
    return -ERANGE;
  }
  if (value > li->highest) {
    sl_limit_format(which, li->highest, bound, sizeof bound);
    snprintf(err, errlen, "must be at most %s", bound);
    return -ERANGE;
  }
  return 0;
}

/* A whole number of decimal digits. */
static int parse_count(const char *text, int64_t *out, char *err,
                       size_t errlen) {
  int64_t v = 0;
  const char *p = text;
  if (*p == '\0') {
    snprintf(err, errlen, "not a whole number: \"%s\"", text);
    return -EINVAL;
  }
  for (; *p; p++) {
    if (*p < '0' || *p > '9') {
      snprintf(err, errlen, "not a whole number: \"%s\"", text);
      return -EINVAL;
    }
    if (v > (INT64_MAX - (*p - '0')) / 10) {
      snprintf(err, errlen, "number too large: \"%s\"", text);
      return -ERANGE;
    }
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}

int sl_limit_parse(sl_limit which, const char *text, int64_t *out,
                   char *err, size_t errlen) {
  int64_t v = 0;
  int rc;
  if ((unsigned)which >= SL_LIMIT_COUNT) {
    snprintf(err, errlen, "no such limit");
    return -EINVAL;
  }
  switch (sl_limits[which].kind) {
    case SL_LIMIT_KIND_SIZE:
      rc = units_parse_size(text, &v, err, errlen);
      break;
    case SL_LIMIT_KIND_DURATION:
      rc = units_parse_duration(text, &v, err, errlen);
      break;
    default:
      rc = parse_count(text, &v, err, errlen);
      break;
  }
  if (rc == 0) rc = sl_limit_check(which, v, err, errlen);
  if (rc == 0) *out = v;
  return rc;
}

/* Go's time.Duration.String for the common cases: 1h2m3s, 1.5s, 250ms. */
static void format_duration(int64_t v, char *buf, size_t len) {
  if (v < UNITS_SECOND) {
    if (v % UNITS_MILLISECOND == 0)
      snprintf(buf, len, "%" PRId64 "ms", v / UNITS_MILLISECOND);
    else
      snprintf(buf, len, "%" PRId64 "ns", v);
    return;
  }
  int64_t h = v / UNITS_HOUR, m = v / UNITS_MINUTE % 60;
  int64_t s = v / UNITS_SECOND % 60, frac = v % UNITS_SECOND;
  char fr[16] = "";
  if (frac != 0) {
    snprintf(fr, sizeof fr, ".%09" PRId64, frac);
    for (size_t n = strlen(fr); n > 0 && fr[n - 1] == '0'; n--)
      fr[n - 1] = '\0';
  }
  if (h > 0)
    snprintf(buf, len, "%" PRId64 "h%" PRId64 "m%" PRId64 "%ss", h, m, s,
             fr);
  else if (m > 0)
    snprintf(buf, len, "%" PRId64 "m%" PRId64 "%ss", m, s, fr);
  else
    snprintf(buf, len, "%" PRId64 "%ss", s, fr);
}

void sl_limit_format(sl_limit which, int64_t v, char *buf, size_t len) {
  sl_limit_kind kind = (unsigned)which < SL_LIMIT_COUNT
                           ? sl_limits[which].kind
                           : SL_LIMIT_KIND_COUNT;
  if (kind == SL_LIMIT_KIND_SIZE) {
    static const char suffix[] = "TGMK";
    for (int i = 0; i < 4; i++) {
      int shift = 10 * (4 - i);
      if (v != 0 && v % (INT64_C(1) << shift) == 0) {
        snprintf(buf, len, "%" PRId64 "%c", v >> shift, suffix[i]);
        return;
      }
    }
    snprintf(buf, len, "%" PRId64 "B", v);
  } else if (kind == SL_LIMIT_KIND_DURATION) {
    format_duration(v, buf, len);
  } else {
    snprintf(buf, len, "%" PRId64, v);
  }
}

int sl_limit_tightens(sl_limit which, int64_t value) {
  int64_t d = sl_limits[which].dflt;
  if (which == SL_LIMIT_CONNECTIONS) return value <= d;
  return value != 0 && (d == 0 || value <= d);
}
