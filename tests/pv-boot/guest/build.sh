#!/bin/sh
# Assembles the PV test guest and its hostile variants (the integration test does the same in a
# temporary directory; nothing generated is committed).
set -e
cd "$(dirname "$0")"
out=${1:-.}
nasm -f bin -o "$out/pv-hello.elf" pv-hello.asm
nasm -f bin -DCRASH_PF -o "$out/pv-crash-pf.elf" pv-hello.asm
nasm -f bin -DCRASH_GP -o "$out/pv-crash-gp.elf" pv-hello.asm
nasm -f bin -DSPIN -o "$out/pv-spin.elf" pv-hello.asm
nasm -f bin -DCOUNT -o "$out/pv-count.elf" pv-hello.asm
nasm -f bin -DTRAP -o "$out/pv-trap.elf" pv-hello.asm
nasm -f bin -DEVENT -o "$out/pv-event.elf" pv-hello.asm
