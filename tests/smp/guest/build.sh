#!/bin/sh
# Builds the 64-bit PV SMP guest (needs gcc and GNU ld).
set -e
cd "$(dirname "$0")"
CFLAGS="-m64 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -mcmodel=small -Wall"
gcc $CFLAGS -c head.S -o /tmp/tv-smp-head.o
gcc $CFLAGS -c smp.c -o /tmp/tv-smp-guest.o
ld -nostdlib -no-pie -z noexecstack -T guest.ld /tmp/tv-smp-head.o /tmp/tv-smp-guest.o -o smp-x86_64.elf
strip --strip-debug smp-x86_64.elf
