/*
** yaml_tree.c - libyaml events -> a small node tree (no aliases, bounded
** depth and size), and reading a whole file, for the policy loader and the
** expectation cases (see yaml_internal.h).  Every error names
** file:line:column.
*/
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "../common/grow.h"
#include "../common/utf8.h"
#include "filetrust.h"
#include "yaml_internal.h"

/* {======================================================
** Node tree
** ======================================================= */

void policy__y_ynode_free(ynode *n) {
  if (n == NULL) return;
  for (size_t i = 0; i < n->n; i++) policy__y_ynode_free(n->kids[i]);
  free(n->kids);
  free(n->s);
  free(n);
}

int policy__y_errat(loader *ld, int line, int col, const char *fmt, ...) {
  if (ld->failed) return -EINVAL;  /* keep the first error */
  policy_diag *e = &ld->d->error;
  va_list ap;
  snprintf(e->file, sizeof e->file, "%s", ld->file);
  e->line = line;
  e->column = col;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  ld->failed = 1;
  return -EINVAL;
}

#define ERR(ld, node, ...) policy__y_errat((ld), (node)->line, (node)->col, __VA_ARGS__)


static int policy__y_add_kid(ynode *parent, ynode *kid) {
  if (sl_grow(&parent->kids, &parent->cap, parent->n, sizeof *parent->kids,
              4) != 0)
    return -ENOMEM;
  parent->kids[parent->n++] = kid;
  return 0;
}

/* Check that the input is valid UTF-8 without NUL bytes; on failure
** report the line and column of the first bad byte. */
int policy__y_check_utf8(loader *ld, const unsigned char *s, size_t len) {
  int line = 1, col = 1;
  for (size_t i = 0; i < len;) {
    unsigned c = s[i];
    if (c == 0) return policy__y_errat(ld, line, col, "NUL byte in file");
    if (c < 0x80) {
      if (c == '\n') line++, col = 0;
      i++;
      col++;
      continue;
    }
    size_t n = sl_utf8_seq(s + i, len - i);
    if (n == 0) return policy__y_errat(ld, line, col, "invalid UTF-8");
    i += n;
    col++;
  }
  return 0;
}

static int policy__y_parser_error(loader *ld, yaml_parser_t *p) {
  if (p->error == YAML_MEMORY_ERROR) return -ENOMEM;
  const yaml_mark_t *m = &p->problem_mark;
  if (p->context)
    return policy__y_errat(ld, (int)m->line + 1, (int)m->column + 1,
                 "YAML syntax error: %s %s", p->problem ? p->problem : "",
                 p->context);
  return policy__y_errat(ld, (int)m->line + 1, (int)m->column + 1,
               "YAML syntax error: %s", p->problem ? p->problem : "?");
}

/* Parse buf into a tree; *root is NULL for an empty document. */
int policy__y_build_tree(loader *ld, const char *buf, size_t len,
                      ynode **root) {
  yaml_parser_t p;
  yaml_event_t ev;
  ynode *stack[MAX_DEPTH + 1];
  int depth = 0, docs = 0, rc = 0, done = 0;
  *root = NULL;
  if (!yaml_parser_initialize(&p)) return -ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
  yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
  while (!done) {
    if (!yaml_parser_parse(&p, &ev)) {
      rc = policy__y_parser_error(ld, &p);
      break;
    }
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    ynode *n = NULL;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done = 1;
        break;
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1)
          rc = policy__y_errat(ld, line, col, "only one YAML document is allowed");
        break;
      case YAML_ALIAS_EVENT:
        rc = policy__y_errat(ld, line, col, "YAML aliases are not allowed");
        break;
      case YAML_SCALAR_EVENT:
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const yaml_char_t *tag =
            ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.tag
            : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                                   : ev.data.mapping_start.tag;
        if (tag != NULL) {
          rc = policy__y_errat(ld, line, col, "YAML tags are not allowed");
          break;
        }
        if (++ld->nodes > MAX_NODES) {
          rc = policy__y_errat(ld, line, col, "too many YAML nodes (over %d)",
                     MAX_NODES);
          break;
        }
        n = calloc(1, sizeof *n);
        if (n == NULL) {
          rc = -ENOMEM;
          break;
        }
        n->line = line;
        n->col = col;
        if (ev.type == YAML_SCALAR_EVENT) {
          n->kind = Y_SCALAR;
          n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
          n->s = malloc(ev.data.scalar.length + 1);
          if (n->s == NULL) {
            free(n);
            rc = -ENOMEM;
            break;
          }
          memcpy(n->s, ev.data.scalar.value, ev.data.scalar.length);
          n->s[ev.data.scalar.length] = '\0';
          if (strlen(n->s) != ev.data.scalar.length) {
            policy__y_ynode_free(n);
            rc = policy__y_errat(ld, line, col, "NUL character in a string");
            break;
          }
        } else {
          n->kind = ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP;
        }
        /* Attach to the parent, checking for duplicate mapping keys. */
        if (depth == 0) {
          *root = n;
        } else {
          ynode *parent = stack[depth - 1];
          if (parent->kind == Y_MAP && parent->n % 2 == 0) {
            if (n->kind != Y_SCALAR) {
              rc = policy__y_errat(ld, line, col, "mapping keys must be scalars");
              policy__y_ynode_free(n);
              break;
            }
            if (parent->n / 2 >= MAX_KEYS) {
              rc = policy__y_errat(ld, line, col,
                                   "mapping with more than %d keys", MAX_KEYS);
              policy__y_ynode_free(n);
              break;
            }
            for (size_t i = 0; i < parent->n; i += 2)
              if (strcmp(parent->kids[i]->s, n->s) == 0) {
                rc = policy__y_errat(ld, line, col, "duplicate key '%s'", n->s);
                break;
              }
            if (rc) {
              policy__y_ynode_free(n);
              break;
            }
          }
          if (policy__y_add_kid(parent, n) != 0) {
            policy__y_ynode_free(n);
            rc = -ENOMEM;
            break;
          }
        }
        if (n->kind != Y_SCALAR) {
          if (depth == MAX_DEPTH) {
            rc = policy__y_errat(ld, line, col, "nesting deeper than %d", MAX_DEPTH);
            break;
          }
          stack[depth++] = n;
        }
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        depth--;
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
    if (rc) break;
  }
  yaml_parser_delete(&p);
  if (rc) {
    policy__y_ynode_free(*root);
    *root = NULL;
  }
  return rc;
}

/* }====================================================== */

int policy__y_read_file(const char *path, int trusted, char **out,
                        size_t *outlen, policy_diags *d) {
  policy_diag *e = &d->error;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  int rc = 0;
  char *buf = NULL;
  size_t len = 0;
  snprintf(e->file, sizeof e->file, "%s", path);
  e->line = e->column = 0;
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = -errno;
    goto fail;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = -EISDIR;
    goto fail;
  }
  if (trusted &&
      (rc = policy_file_trusted(fd, path, e->message, sizeof e->message)) ==
          -EPERM) {
    close(fd);
    e->line = e->column = 1;
    return -EINVAL;
  } else if (rc != 0) {
    goto fail;
  }
  if ((buf = malloc(POLICY_FILE_MAX + 1)) == NULL) {
    rc = -ENOMEM;
    goto fail;
  }
  while (len <= POLICY_FILE_MAX) {
    ssize_t r = read(fd, buf + len, POLICY_FILE_MAX + 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = -errno;
      goto fail;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  if (len > POLICY_FILE_MAX) {
    snprintf(e->message, sizeof e->message, "file larger than 1 MiB");
    e->line = e->column = 1;
    free(buf);
    return -EINVAL;
  }
  *out = buf;
  *outlen = len;
  return 0;
fail:
  snprintf(e->message, sizeof e->message, "%s", strerror(-rc));
  if (fd >= 0) close(fd);
  free(buf);
  return rc;
}
