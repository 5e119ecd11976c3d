#!/bin/sh
# Assembles the 32-bit PAE PV SMP guest (the integration test does the same in a temporary
# directory; nothing generated is committed).
set -e
cd "$(dirname "$0")"
out=${1:-.}
nasm -f bin -o "$out/smp32.elf" smp32.asm
