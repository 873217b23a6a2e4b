/*
** version.c - `sandlua --version`: our version and the versions of the
** libraries we were built with and run against.
*/
#include "interp.h"

#include <stdio.h>

#include <ares.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <yaml.h>
#include <zlib.h>

void interp_print_version(void) {
  const struct scmp_version *sv = seccomp_version();
  printf("sandlua %s\n", INTERP_VERSION);
  printf("  %s\n", LUA_RELEASE);
  printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
  printf("  libseccomp %u.%u.%u\n", sv->major, sv->minor, sv->micro);
  printf("  libyaml %s\n", yaml_get_version_string());
  printf("  c-ares %s\n", ares_version(NULL));
  printf("  zlib %s\n", zlibVersion());
}
