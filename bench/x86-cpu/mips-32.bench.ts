/**
 * x86-cpu 32-bit throughput: the compute32 guest (protected mode, 4 KiB paging, loads,
 * stores, ALU, rotate, call/ret, branches) under v86's interpreter and JIT and QEMU TCG, in
 * millions of guest instructions per second. Issue 3's target: Typevisor at least equal to
 * v86's interpreter.
 */
import { defineSuite } from '../harness.ts';
import { COMPUTE32 } from '../peers/guests.ts';
import { qemuMips } from '../peers/qemu.ts';
import { typevisorMips } from '../peers/typevisor.ts';
import { v86Mips } from '../peers/v86.ts';

const SMALL = 100_000;
const LARGE = 1_000_000;

export default defineSuite({
  name: 'x86-cpu/mips-32',
  description:
    'Guest MIPS on the 32-bit compute loop (bench/guests/compute32.asm, 708 instructions per turn), start-up removed by timing 100k and 1M turns.',
  unit: 'MIPS',
  rounds: 3,
  cases: [
    // Typevisor runs fewer turns (40k and 400k) so that a sample stays within seconds.
    { name: 'typevisor', measure: () => typevisorMips(COMPUTE32, 40_000, 400_000) },
    { name: 'v86-interpreter', peer: true, measure: () => v86Mips(COMPUTE32, SMALL, LARGE, false) },
    { name: 'v86-jit', peer: true, measure: () => v86Mips(COMPUTE32, SMALL, 4 * LARGE, true) },
    { name: 'qemu-tcg', peer: true, measure: async () => qemuMips(COMPUTE32, SMALL, 4 * LARGE) },
  ],
});
