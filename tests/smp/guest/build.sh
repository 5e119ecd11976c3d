#!/bin/sh
# Builds the 64-bit PV SMP guest on ../../guests/lib (needs gcc and GNU ld).
set -e
cd "$(dirname "$0")"
../../guests/lib/build.sh smp smp-x86_64.elf -DHEAD_C_UPCALL smp.c ap.S
