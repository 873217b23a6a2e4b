/* libFuzzer target: the URL parser and the pattern parser on arbitrary
** text; a URL that parses must re-parse to the same canonical form, and
** must match the pattern made of its own canonical form (make fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../security/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static policy_url u, v;
  char err[256];
  char *s = malloc(size + 1);
  if (s == NULL) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (policy_url_parse(s, &u, err, sizeof err) == 0) {
    /* Canonicalisation is idempotent. */
    if (policy_url_parse(u.canonical, &v, err, sizeof err) != 0 ||
        strcmp(u.canonical, v.canonical) != 0) {
      fprintf(stderr, "not idempotent: %s -> %s -> %s\n", s, u.canonical,
              v.canonical);
      abort();
    }
    /* Without its query, the canonical URL is a pattern matching itself. */
    char *q = strchr(v.canonical, '?');
    if (q) *q = '\0';
    if (strchr(v.canonical, '*') == NULL) {
      policy_url_pattern p;
      if (policy_url_pattern_parse(v.canonical, &p, err, sizeof err) != 0 ||
          !policy_url_pattern_match(&p, &u)) {
        fprintf(stderr, "no self-match: %s (%s)\n", v.canonical, err);
        abort();
      }
      if (policy_url_pattern_names_ip(&p, &u.ip) && !u.host_ip) abort();
      policy_url_pattern_free(&p);
    }
  }
  policy_url_pattern p;
  if (policy_url_pattern_parse(s, &p, err, sizeof err) == 0) {
    if (policy_url_parse("wss://a.example.com/x", &v, err, sizeof err) == 0)
      (void)policy_url_pattern_match(&p, &v);
    policy_url_pattern_free(&p);
  }
  policy_cidr c;
  if (policy_cidr_parse(s, &c, err, sizeof err) == 0 && u.host_ip)
    (void)policy_cidr_contains(&c, &u.ip);
  free(s);
  return 0;
}
