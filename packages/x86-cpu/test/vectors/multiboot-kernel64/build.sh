#!/bin/sh
# Rebuilds kernel.elf (64-bit code in an ELF32 container, as multiboot loaders require) and
# QEMU's reference output (needs gcc, binutils and qemu-system-x86).
set -e
cd "$(dirname "$0")"
gcc -m64 -O2 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone -mgeneral-regs-only \
  -fno-stack-protector -nostdlib -c kernel.c -o /tmp/kernel64.o
gcc -m64 -c boot.S -o /tmp/boot64.o
ld -m elf_x86_64 -T link.ld -z noexecstack --no-warn-rwx-segments -o /tmp/kernel64.elf /tmp/boot64.o /tmp/kernel64.o
objcopy -O elf32-i386 /tmp/kernel64.elf kernel.elf
qemu-system-x86_64 -accel tcg -cpu max -display none -nodefaults -no-reboot -kernel kernel.elf \
  -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 > qemu-serial.txt || test $? -eq 33
