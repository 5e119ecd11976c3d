#!/bin/sh
# Builds the 64-bit PV dirty guest on ../lib (needs gcc and GNU ld); the ELF is committed so
# tests and benchmarks need no compiler.
set -e
cd "$(dirname "$0")"
../lib/build.sh dirty dirty-x86_64.elf guest.c
