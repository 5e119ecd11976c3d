#!/bin/sh
# Rebuilds kernel.elf and QEMU's reference output (needs gcc, binutils and qemu-system-x86).
set -e
cd "$(dirname "$0")"
gcc -m32 -O2 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -c kernel.c -o /tmp/kernel.o
gcc -m32 -c boot.S -o /tmp/boot.o
ld -m elf_i386 -T link.ld -z noexecstack --no-warn-rwx-segments -o kernel.elf /tmp/boot.o /tmp/kernel.o
qemu-system-i386 -accel tcg -display none -nodefaults -no-reboot -kernel kernel.elf -serial stdio \
  -device isa-debug-exit,iobase=0xf4,iosize=4 > qemu-serial.txt || test $? -eq 33
