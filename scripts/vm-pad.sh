#!/bin/sh
# vm-pad.sh BINARY OFFSET - print an assembler file whose .text is the
# padding that, linked right before liblua's objects, puts luaV_execute at
# OFFSET modulo 4096 (the Makefile links sandlua twice: see VM_OFFSET there).
# Without luaV_execute in BINARY (liblua linked shared) the file is empty.
#
# vm-pad.sh --check BINARY OFFSET - after the second link: exit 1 with a
# message when luaV_execute is in BINARY but not at OFFSET modulo 4096 (a
# linker flag moved the code around the padding).
set -eu
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
off=-1
if printf '%s' "$2" | grep -Eqx '0x[0-9a-fA-F]{1,4}|[1-9][0-9]{0,3}|0'; then
  off=$(( $2 ))
fi
if [ "$off" -lt 0 ] || [ "$off" -ge 4096 ] || [ $(( off % 16 )) -ne 0 ]; then
  echo "vm-pad.sh: VM_OFFSET $2: must be a multiple of 16 below 4096" \
       "(functions are 16-byte aligned)" >&2
  exit 1
fi
addr=$(nm "$1" 2>/dev/null |
       awk '$2 ~ /^[tT]$/ && $3 == "luaV_execute" { print $1; exit }')
if [ "$check" = 1 ]; then
  [ -n "$addr" ] || exit 0
  at=$(( 0x$addr & 4095 ))
  [ "$at" -eq "$off" ] && exit 0
  printf 'vm-pad.sh: %s: luaV_execute is at offset 0x%x modulo 4096, not at VM_OFFSET %s: the linker flags moved code around the padding; build with VM_OFFSET= to link without it\n' \
         "${1%.tmp}" "$at" "$2" >&2
  exit 1
fi
echo '.section .note.GNU-stack,"",@progbits'
[ -n "$addr" ] || exit 0
# Its own section, kept by --gc-sections (R: SHF_GNU_RETAIN); the default
# linker script places .text.* input sections in link order.
echo '.section .text.sandlua_vm_pad,"axR",@progbits'
echo ".skip $(( (off - 0x$addr) & 4095 )), 0xcc"
