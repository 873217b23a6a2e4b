#!/bin/sh
# vm-pad.sh BINARY OFFSET - print an assembler file whose .text is the
# padding that, linked right before liblua's objects, puts luaV_execute at
# OFFSET modulo 4096 (the Makefile links sandlua twice: see VM_OFFSET there).
# Without luaV_execute in BINARY (liblua linked shared) the file is empty.
set -eu
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
echo '.section .note.GNU-stack,"",@progbits'
[ -n "$addr" ] || exit 0
echo '.text'
echo ".skip $(( (off - 0x$addr) & 4095 )), 0xcc"
