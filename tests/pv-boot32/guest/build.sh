#!/bin/sh
# Assembles the 32-bit PAE PV test guest and its hostile variants (the integration test does the
# same in a temporary directory; nothing generated is committed).
set -e
cd "$(dirname "$0")"
out=${1:-.}
nasm -f bin -o "$out/pv32-hello.elf" pv32-hello.asm
nasm -f bin -DCRASH_PF -o "$out/pv32-crash-pf.elf" pv32-hello.asm
nasm -f bin -DCRASH_GP -o "$out/pv32-crash-gp.elf" pv32-hello.asm
nasm -f bin -DINT_GP -o "$out/pv32-int-gp.elf" pv32-hello.asm
nasm -f bin -DSPIN -o "$out/pv32-spin.elf" pv32-hello.asm
nasm -f bin -DBAD_SEL -o "$out/pv32-bad-sel.elf" pv32-hello.asm
