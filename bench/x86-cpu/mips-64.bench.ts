/**
 * x86-cpu 64-bit throughput: the compute64 guest (long mode, 2 MiB pages, the compute32 loop
 * with 64-bit registers) under QEMU TCG (v86 has no 64-bit mode). Issue 3's target: within
 * 30% of v86's interpreter figure on the 32-bit guest.
 */
import { defineSuite } from '../harness.ts';
import { COMPUTE64 } from '../peers/guests.ts';
import { qemuMips } from '../peers/qemu.ts';
import { typevisorMips } from '../peers/typevisor.ts';

export default defineSuite({
  name: 'x86-cpu/mips-64',
  description:
    'Guest MIPS on the 64-bit compute loop (bench/guests/compute64.asm, 708 instructions per turn), start-up removed by timing 100k and 4M turns.',
  unit: 'MIPS',
  rounds: 3,
  cases: [
    { name: 'typevisor', measure: () => typevisorMips(COMPUTE64, 40_000, 400_000) },
    { name: 'qemu-tcg', peer: true, measure: async () => qemuMips(COMPUTE64, 100_000, 4_000_000) },
  ],
});
