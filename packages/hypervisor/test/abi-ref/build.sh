#!/bin/sh
# Builds the 64-bit PV ABI reference guest (needs gcc and GNU ld).
set -e
cd "$(dirname "$0")"
CFLAGS="-m64 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -mcmodel=small -Wall"
gcc $CFLAGS -c head.S -o /tmp/tv-abi-head.o
gcc $CFLAGS -c guest.c -o /tmp/tv-abi-guest.o
ld -nostdlib -no-pie -z noexecstack -T guest.ld /tmp/tv-abi-head.o /tmp/tv-abi-guest.o -o abi-ref-x86_64.elf
