#!/bin/sh
# Builds the 64-bit PV lifecycle guest on ../lib (needs gcc and GNU ld); the ELF is committed so
# tests need no compiler.
set -e
cd "$(dirname "$0")"
../lib/build.sh lifecycle lifecycle-x86_64.elf guest.c
