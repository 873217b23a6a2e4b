/*
** sl_security.h - the policy engine as the Lua side sees it.
**
** Provides to interp/main.c (installing the loaded policies into a state
** before any script runs) and to the WebSocket client (the two checks a
** connection must pass) the glue between security/ (plain C) and Lua
** error objects.  The `security` module itself is luaopen_security (sl.h).
**
** Use from the WebSocket client, for each websocket.connect(url):
**
**   policy_url u;                    (about 8 KiB: keep it off deep stacks)
**   if (sl_security_check_url(L, url, &u) != 0)
**     return nil_and_error(L);       (the error object is on the stack)
**   ... resolve u.host with c-ares (never the raw URL string) ...
**   for each address ip:
**     if (sl_security_check_ip(L, &u, &ip, cname) == 0) connect to ip, u.port,
**       TLS when u.tls, SNI and Host header u.host, request path u.path
**       (plus "?" u.query when u.has_query); stop.
**     else remember the error (on the stack) and try the next address.
**
** Every refusal is an errors object of kind PERMISSION_DENIED (policy) or
** INVALID (malformed URL), not retryable, whose message names the action,
** the canonical resource and the deciding policy, with details
** {action=, resource=, policy=[, ip=]}; each decision is written to the
** audit log (denials always, allows with --audit-all).
*/
#ifndef SL_STDLIB_SL_SECURITY_H
#define SL_STDLIB_SL_SECURITY_H

#include <lua.h>

#include "../security/audit.h"
#include "../security/policy.h"

/*
** Make set (and its actor) the policy of the state L; audit may be NULL.
** Both must outlive L.  Without this call every check denies (deny-all).
** Stack: 0.
*/
void sl_security_install(lua_State *L, const policy_set *set,
                         policy_audit *audit);

/*
** Before DNS: parse and canonicalise url into *u, then evaluate
** websocket.connect and websocket.connect.url (resource: the canonical
** URL; meta.scheme, meta.host, meta.port, meta.path, meta.query from it;
** conditions on meta.ip deferred).  Returns 0 when both allow (stack
** unchanged), else pushes an error object and returns -1 (stack: +1).
** Does not raise except on memory errors.
*/
int sl_security_check_url(lua_State *L, const char *url, policy_url *u);

/*
** After DNS, for one address of u.host: evaluate websocket.connect.url
** again with meta.ip, and refuse special-purpose addresses (loopback,
** private, link-local, CGNAT, unique-local, multicast, unspecified, their
** IPv4-mapped/NAT64 forms, ...) unless an allow policy names them
** explicitly.  cname: the CNAME chain DNS followed ("a -> b"), or NULL;
** the decision is on the address, the chain goes to the audit record.
** Returns 0 (connect to exactly this address) or pushes an error object
** and returns -1.
*/
int sl_security_check_ip(lua_State *L, const policy_url *u,
                         const policy_ip *ip, const char *cname);

#endif
