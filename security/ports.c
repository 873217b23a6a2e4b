/*
** ports.c - the TCP ports the policies can allow (see ports.h).
*/
#include "ports.h"

#include <errno.h>
#include <string.h>

#include "url.h"

static int add(uint16_t *ports, size_t max, size_t *n, int port) {
  size_t i = 0;
  while (i < *n && ports[i] < port) i++;
  if (i < *n && ports[i] == port) return 0;
  if (*n == max) return -ENOSPC;
  memmove(ports + i + 1, ports + i, (*n - i) * sizeof *ports);
  ports[i] = (uint16_t)port;
  (*n)++;
  return 0;
}

/* Whether p can allow websocket.connect.url. */
static int allows_url_action(const policy *p) {
  if (p->effect != POLICY_ALLOW) return 0;
  for (size_t i = 0; i < p->n_actions; i++)
    if (policy_glob_match(p->actions[i], POLICY_ACTION_CONNECT_URL)) return 1;
  return 0;
}

int policy_set_connect_ports(const policy_set *set, uint16_t *ports,
                             size_t max, size_t *n) {
  *n = 0;
  if (!policy_set_strict(set)) return 1;
  for (size_t i = 0; i < set->n; i++) {
    const policy *p = &set->items[i];
    if (!allows_url_action(p)) continue;
    for (size_t j = 0; j < p->n_resources; j++) {
      const policy_resource *r = &p->resources[j];
      int rc = 0;
      if (!r->is_url) {
        if (strcmp(r->text, "*") == 0) return 1;  /* covers any URL */
        continue;
      }
      if (r->url.port == 0) return 1;
      if (r->url.port > 0) {
        rc = add(ports, max, n, r->url.port);
      } else {
        if (strcmp(r->url.scheme, "wss") != 0) rc = add(ports, max, n, 80);
        if (rc == 0 && strcmp(r->url.scheme, "ws") != 0)
          rc = add(ports, max, n, 443);
      }
      if (rc != 0) return rc;
    }
  }
  return 0;
}
