/*
** ports.h - the TCP ports the loaded policies can ever let a connection
** reach, for the sandbox's second wall (Landlock's network rules).
**
** Provides to interp/main.c one question asked once, before the lock-down:
** which destination ports may an allowed websocket.connect.url have?  An
** allow policy for that action contributes the port of each URL pattern
** (80 for ws, 443 for wss when none is written, both for "*://"); a
** "*" port, a plain "*" resource, or a set that is not strict (undefined
** allows) means any port.  Plain C, no Lua.
*/
#ifndef SL_SECURITY_PORTS_H
#define SL_SECURITY_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/*
** Fill ports[0..*n) with the distinct ports (at most max; sorted).
** Returns 1 when any port can be allowed (ports is then unused), 0
** otherwise, -ENOSPC when more than max distinct ports are named.
*/
int policy_set_connect_ports(const policy_set *set, uint16_t *ports,
                             size_t max, size_t *n);

#endif
