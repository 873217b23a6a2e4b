/* Unit tests of security/policy_yaml.c: every fixture under
** tests/policies/bad fails with the position and message its first line
** states ("# expect: LINE:COL: message"; a message ending in ": " is a
** prefix); every fixture under tests/policies/good loads.  Run from the
** source root (tests/run.sh does). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../security/policy.h"

#define BAD "tests/policies/bad"
#define GOOD "tests/policies/good"

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_yaml(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0;
}

static void test_bad_fixtures(void **state) {
  (void)state;
  struct dirent **names;
  int n = scandir(BAD, &names, is_yaml, by_name);
  assert_true(n >= 40);
  int failures = 0;
  for (int i = 0; i < n; i++) {
    char path[512], expect[768] = "", got[1024];
    snprintf(path, sizeof path, BAD "/%s", names[i]->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    if (fgets(expect, sizeof expect, f) == NULL ||
        strncmp(expect, "# expect: ", 10) != 0) {
      fprintf(stderr, "%s: first line is not '# expect: '\n", path);
      failures++;
    }
    fclose(f);
    expect[strcspn(expect, "\n")] = '\0';
    const char *want = expect + 10;
    policy_set *set = policy_set_new();
    policy_diags d;
    memset(&d, 0, sizeof d);
    int rc = policy_load_file(set, path, &d);
    snprintf(got, sizeof got, "%d:%d: %s", d.error.line, d.error.column,
             d.error.message);
    size_t wl = strlen(want);
    int prefix = wl >= 2 && strcmp(want + wl - 2, ": ") == 0;
    if (rc != -EINVAL || (prefix ? strncmp(got, want, wl) != 0
                                 : strcmp(got, want) != 0)) {
      fprintf(stderr, "%s: rc %d\n  want: %s\n  got:  %s\n", path, rc, want,
              got);
      failures++;
    }
    assert_int_equal(set->n, 0);
    assert_string_equal(d.error.file, path);
    policy_set_free(set);
    policy_diags_free(&d);
    free(names[i]);
  }
  free(names);
  assert_int_equal(failures, 0);
}

static void test_good_fixtures(void **state) {
  (void)state;
  struct dirent **names;
  int n = scandir(GOOD, &names, is_yaml, by_name);
  assert_true(n >= 3);
  policy_set *set = policy_set_new();
  policy_diags d;
  memset(&d, 0, sizeof d);
  for (int i = 0; i < n; i++) {
    char path[512], msg[1024];
    snprintf(path, sizeof path, GOOD "/%s", names[i]->d_name);
    if (policy_load_file(set, path, &d) != 0) {
      policy_diag_format(&d.error, msg, sizeof msg);
      fail_msg("%s", msg);
    }
    free(names[i]);
  }
  free(names);
  /* All of them combined. */
  assert_int_equal(set->n, 4);
  assert_non_null(policy_set_find(set, "app.security:chat"));
  assert_non_null(policy_set_find(set, "app:ws"));
  /* The two other kinds of _index.yaml were skipped with warnings. */
  assert_int_equal(d.n_warnings, 2);
  char w[1024];
  policy_diag_format(&d.warnings[0], w, sizeof w);
  assert_string_equal(w, GOOD "/_index.yaml:5:5: entry 'main' of kind "
                          "'function.lua' skipped");
  /* full.yaml's actor and sandbox, sandbox_only.yaml's overrides. */
  assert_string_equal(set->actor.id, "bot-7");
  assert_int_equal(set->actor.n_meta, 3);
  const policy_sandbox *sb = &set->sandbox;
  assert_true(sb->set[SL_LIMIT_MEMORY]);
  assert_int_equal(sb->value[SL_LIMIT_MEMORY], 1048576);
  assert_int_equal(sb->value[SL_LIMIT_CPU], 10000000000LL);
  assert_int_equal(sb->value[SL_LIMIT_TIMEOUT], 250000000LL);
  assert_int_equal(sb->value[SL_LIMIT_CONNECTIONS], 16);
  assert_int_equal(sb->value[SL_LIMIT_OUTPUT], 1048576);
  assert_int_equal(sb->value[SL_LIMIT_INSTRUCTIONS], 100000000);
  assert_int_equal(sb->seccomp, POLICY_SECCOMP_STRICT);
  const policy *chat = policy_set_find(set, "app.security:chat");
  assert_int_equal(chat->n_conds, 6);
  assert_int_equal(chat->n_groups, 1);
  assert_true(chat->resources[0].is_url);
  assert_int_equal(chat->line, 20);
  assert_int_equal(chat->column, 5);
  policy_set_free(set);
  policy_diags_free(&d);
}

static int load_buf(const char *buf, size_t len, policy_diags *d) {
  policy_set *set = policy_set_new();
  int rc = policy_load_buffer(set, "buf", buf, len, d);
  policy_set_free(set);
  return rc;
}

static void test_limits(void **state) {
  (void)state;
  policy_diags d;
  memset(&d, 0, sizeof d);
  /* Over 1 MiB: refused before parsing, from a file and from a buffer. */
  size_t big = POLICY_FILE_MAX + 1;
  char *buf = malloc(big);
  memset(buf, '#', big);
  buf[big - 1] = '\n';
  assert_int_equal(load_buf(buf, big, &d), -EINVAL);
  assert_string_equal(d.error.message, "file larger than 1 MiB");
  char path[] = "/tmp/sl_big_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fwrite(buf, 1, big, f);
  fclose(f);
  policy_set *set = policy_set_new();
  assert_int_equal(policy_load_file(set, path, &d), -EINVAL);
  assert_string_equal(d.error.message, "file larger than 1 MiB");
  assert_int_equal(d.error.line, 1);
  assert_int_equal(d.error.column, 1);
  /* Exactly 1 MiB of comments is fine (and empty). */
  assert_int_equal(load_buf(buf, big - 1, &d), -EINVAL);
  assert_string_equal(d.error.message, "empty policy file");
  free(buf);
  remove(path);
  /* NUL bytes. */
  assert_int_equal(load_buf("entries: []\n\0", 13, &d), -EINVAL);
  assert_string_equal(d.error.message, "NUL byte in file");
  assert_int_equal(d.error.line, 2);
  /* Files that cannot be read. */
  assert_int_equal(policy_load_file(set, "/nonexistent/p.yaml", &d), -ENOENT);
  assert_string_equal(d.error.file, "/nonexistent/p.yaml");
  assert_string_equal(d.error.message, "No such file or directory");
  assert_int_equal(policy_load_file(set, "/", &d), -EISDIR);
  char msg[2048];
  policy_diag_format(&d.error, msg, sizeof msg);
  assert_string_equal(msg, "/: Is a directory");
  policy_set_free(set);
  policy_diags_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bad_fixtures),
    cmocka_unit_test(test_good_fixtures),
    cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
