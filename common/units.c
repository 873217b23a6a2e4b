/*
** units.c - Go durations and byte sizes (see units.h).
*/
#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

static int isdigit_(char c) { return c >= '0' && c <= '9'; }

typedef struct unit {
  const char *name;
  int64_t ns;
} unit;

/* Longest names first, so "ms" is not read as "m". */
static const unit units[] = {
  {"ns", UNITS_NANOSECOND}, {"us", UNITS_MICROSECOND},
  {"\xc2\xb5s", UNITS_MICROSECOND}, /* U+00B5 micro sign */
  {"\xce\xbcs", UNITS_MICROSECOND}, /* U+03BC Greek mu */
  {"ms", UNITS_MILLISECOND}, {"s", UNITS_SECOND},
  {"m", UNITS_MINUTE}, {"h", UNITS_HOUR},
  {NULL, 0}
};

int units_parse_duration(const char *s, int64_t *ns, char *err,
                         size_t errlen) {
  const char *orig = s;
  int neg = 0;
  uint64_t total = 0;
  if (s == NULL)
    return sl_errf(err, errlen, -EINVAL, "invalid duration (null)");
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  if (strcmp(s, "0") == 0) {
    *ns = 0;
    return 0;
  }
  if (*s == '\0')
    return sl_errf(err, errlen, -EINVAL, "invalid duration \"%s\"", orig);
  while (*s) {
    /* the integer part */
    uint64_t v = 0;
    int pre = 0, post = 0, over = 0;
    while (isdigit_(*s)) {
      if (v > (UINT64_MAX - 9) / 10) over = 1;
      else v = v * 10 + (uint64_t)(*s - '0');
      s++, pre = 1;
    }
    /* the fraction, scaled after the unit is known */
    uint64_t f = 0, scale = 1;
    if (*s == '.') {
      s++;
      while (isdigit_(*s)) {
        if (scale < UINT64_C(1000000000000000000)) {
          f = f * 10 + (uint64_t)(*s - '0');
          scale *= 10;
        }
        s++, post = 1;
      }
    }
    if (!pre && !post)
      return sl_errf(err, errlen, -EINVAL, "invalid duration \"%s\"", orig);
    const unit *u = NULL;
    for (const unit *c = units; c->name; c++) {
      size_t n = strlen(c->name);
      if (strncmp(s, c->name, n) == 0 && (u == NULL || n > strlen(u->name)))
        u = c;
    }
    if (u == NULL) {
      if (*s == '\0' || isdigit_(*s))
        return sl_errf(err, errlen, -EINVAL, "missing unit in duration \"%s\"",
                       orig);
      return sl_errf(err, errlen, -EINVAL, "unknown unit in duration \"%s\"",
                     orig);
    }
    s += strlen(u->name);
    uint64_t unit_ns = (uint64_t)u->ns;
    if (over || v > (UINT64_C(1) << 63) / unit_ns) goto range;
    v *= unit_ns;
    if (f > 0) {
      /* f/scale of a unit, with enough precision for ns */
      long double add = (long double)f * (long double)unit_ns / scale;
      v += (uint64_t)add;
      if (v > (UINT64_C(1) << 63)) goto range;
    }
    total += v;
    if (total > (UINT64_C(1) << 63)) goto range;
  }
  if (!neg && total > (uint64_t)INT64_MAX) goto range;
  *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
  return 0;
range:
  return sl_errf(err, errlen, -ERANGE, "duration \"%s\" out of range", orig);
}

int units_parse_size(const char *s, int64_t *bytes, char *err,
                     size_t errlen) {
  static const struct { const char *name; int shift; } sfx[] = {
    {"", 0}, {"B", 0},
    {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40},
    {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
  };
  const char *orig = s;
  uint64_t v = 0;
  if (s == NULL || !isdigit_(*s))
    return sl_errf(err, errlen, -EINVAL,
                   "invalid size \"%s\" (expected e.g. 64M)", s ? s : "(null)");
  while (isdigit_(*s)) {
    if (v > (UINT64_MAX - 9) / 10) goto range;
    v = v * 10 + (uint64_t)(*s++ - '0');
  }
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    if (strcmp(s, sfx[i].name) == 0) {
      if (v > ((uint64_t)INT64_MAX >> sfx[i].shift)) goto range;
      *bytes = (int64_t)(v << sfx[i].shift);
      return 0;
    }
  }
  return sl_errf(err, errlen, -EINVAL,
                 "invalid size \"%s\" (units: B K M G T, KiB MiB GiB TiB)",
                 orig);
range:
  return sl_errf(err, errlen, -ERANGE, "size \"%s\" out of range", orig);
}
