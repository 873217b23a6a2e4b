#!/bin/sh
# vm-pad.sh BINARY OFFSET - print an assembler file whose .text is the
# padding that, linked right before liblua's objects, puts luaV_execute at
# OFFSET modulo 4096 (the Makefile links sandlua twice: see VM_OFFSET there).
# Without luaV_execute in BINARY (liblua linked shared) the file is empty.
set -eu
addr=$(nm "$1" 2>/dev/null |
       awk '$2 ~ /^[tT]$/ && $3 == "luaV_execute" { print $1; exit }')
echo '.section .note.GNU-stack,"",@progbits'
[ -n "$addr" ] || exit 0
echo '.text'
echo ".skip $(( ($2 - 0x$addr) & 4095 )), 0xcc"
