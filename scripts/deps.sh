#!/bin/sh
# Install the Debian packages sandlua needs to build and test, if missing.
# Idempotent; quiet and instant when everything is present.
set -eu

# The packaging checks that make check runs (tests/integration/test_dist.py,
# test_packaging.py): man pages, the .deb and its lintian run, the .rpm,
# the systemd unit; zsh checks the zsh completion.
DIST_PKGS="build-essential debhelper dpkg-dev fakeroot groff-base lintian
man-db mandoc python3-yaml rpm systemd zsh"

# libwebsockets-dev: only for bench/'s raw lws C client (sandlua does not
# link it).
PKGS="gcc make pkg-config liblua5.4-dev lua5.4 libwebsockets-dev libssl-dev
zlib1g-dev libc-ares-dev libyaml-dev libseccomp-dev libcmocka-dev
python3 python3-pytest python3-websockets lua-cjson openssl strace valgrind
libedit2"
# `make fuzz` (libFuzzer) also needs clang; `make check` does not.
[ -n "${FUZZ:-}" ] && PKGS="$PKGS clang"

missing=""
for p in $PKGS $DIST_PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
