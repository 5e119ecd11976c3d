#!/bin/sh
# Builds the 64-bit PV blkhot guest (needs gcc and GNU ld); the ELF is committed so tests need
# no compiler.
set -e
cd "$(dirname "$0")"
CFLAGS="-m64 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -mcmodel=small -Wall"
T=$(mktemp -d)
gcc $CFLAGS -c head.S -o "$T/head.o"
gcc $CFLAGS -c guest.c -o "$T/guest.o"
ld -nostdlib -no-pie -z noexecstack -T guest.ld "$T/head.o" "$T/guest.o" -o blkhot-x86_64.elf
rm -rf "$T"
