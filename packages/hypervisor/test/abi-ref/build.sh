#!/bin/sh
# Builds the 64-bit PV ABI reference guest and its 32-bit PAE descriptor-table build (needs gcc
# with -m32 support and GNU ld).
set -e
cd "$(dirname "$0")"
CFLAGS="-m64 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -mcmodel=small -Wall"
gcc $CFLAGS -c head.S -o /tmp/tv-abi-head.o
gcc $CFLAGS -c guest.c -o /tmp/tv-abi-guest.o
ld -nostdlib -no-pie -z noexecstack -T guest.ld /tmp/tv-abi-head.o /tmp/tv-abi-guest.o -o abi-ref-x86_64.elf
# The compat (32-bit PAE) build of the descriptor-table checks.
CFLAGS32="-m32 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -Wall"
gcc $CFLAGS32 -c head32.S -o /tmp/tv-abi-head32.o
gcc $CFLAGS32 -c guest32.c -o /tmp/tv-abi-guest32.o
ld -m elf_i386 -nostdlib -no-pie -z noexecstack -T guest32.ld /tmp/tv-abi-head32.o /tmp/tv-abi-guest32.o -o abi-ref-x86_32.elf
# The user-mode reference guest (64-bit PV).
gcc $CFLAGS -c user-head.S -o /tmp/tv-user-head.o
gcc $CFLAGS -c user.c -o /tmp/tv-user.o
ld -nostdlib -no-pie -z noexecstack -T guest.ld /tmp/tv-user-head.o /tmp/tv-user.o -o user-ref-x86_64.elf
# The compat (32-bit PAE) build of the user-mode reference guest.
gcc $CFLAGS32 -c user32-head.S -o /tmp/tv-user32-head.o
gcc $CFLAGS32 -c user32.c -o /tmp/tv-user32.o
ld -m elf_i386 -nostdlib -no-pie -z noexecstack -T user32.ld /tmp/tv-user32-head.o /tmp/tv-user32.o -o user-ref-x86_32.elf
