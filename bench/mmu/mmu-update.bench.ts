/**
 * `mmu_update` batch validation rate: a 64-bit PV guest rewrites L1 entries of a pinned,
 * live page table, alternating each entry between two data frames (every update validates the
 * new entry, takes its references and drops the old one's), in batches of 512; and the same on
 * a 32-bit PAE guest's L1.
 */
import { Machine, MMUEXT, PvMm } from '@typevisor/mmu';
import { defineSuite } from '../harness.ts';

const machine = new Machine({ bytes: 64 * 1024 * 1024 });
machine.populate(1, 0, 64);
const mfn = (pfn: number) => machine.p2m(1).get(pfn);
const mm = new PvMm(machine);
mm.addDomain(1, { guestWidth: 64 });
const one = (table: number, slot: number, lo: number) =>
  mm.mmuUpdate(1, Int32Array.of(mfn(table) * 4096 + slot * 8, 0, lo, 0), 1);
one(2, 0, (mfn(3) << 12) | 7);
one(1, 0, (mfn(2) << 12) | 7);
one(0, 0, (mfn(1) << 12) | 7);
if (
  mm.mmuextOp(1, 0, [{ cmd: MMUEXT.MMUEXT_PIN_L4_TABLE, arg1Lo: mfn(0), arg1Hi: 0, arg2: 0 }]) !== 0
) {
  throw new Error('pin failed');
}

const BATCH = 512;
const batches = [0, 1].map((k) => {
  const a = new Int32Array(BATCH * 4);
  for (let i = 0; i < BATCH; i++) {
    a[i * 4] = mfn(3) * 4096 + i * 8;
    a[i * 4 + 2] = (mfn(8 + ((i + k) & 31)) << 12) | (k === 0 ? 0x7 : 0x5);
  }
  return a;
});

// The same on a 32-bit PAE guest (domain 2): L3 (slot 3 → its Xen L2, slot 0 → L2) → L1.
machine.populate(2, 0, 64);
const mfn32 = (pfn: number) => machine.p2m(2).get(pfn);
mm.addDomain(2, { guestWidth: 32 });
const one32 = (table: number, slot: number, lo: number) =>
  mm.mmuUpdate(2, Int32Array.of(mfn32(table) * 4096 + slot * 8, 0, lo, 0), 1);
one32(2, 0, (mfn32(3) << 12) | 7);
one32(0, 0, (mfn32(2) << 12) | 1);
one32(0, 3, (mfn32(4) << 12) | 1);
if (
  mm.mmuextOp(2, 0, [{ cmd: MMUEXT.MMUEXT_PIN_L3_TABLE, arg1Lo: mfn32(0), arg1Hi: 0, arg2: 0 }]) !==
  0
) {
  throw new Error('pin L3 failed');
}
const batches32 = [0, 1].map((k) => {
  const a = new Int32Array(BATCH * 4);
  for (let i = 0; i < BATCH; i++) {
    a[i * 4] = mfn32(3) * 4096 + i * 8;
    a[i * 4 + 2] = (mfn32(8 + ((i + k) & 31)) << 12) | (k === 0 ? 0x7 : 0x5);
  }
  return a;
});
for (const b of [...batches, ...batches32]) {
  const dom = batches32.includes(b) ? 2 : 1;
  if (mm.mmuUpdate(dom, b, BATCH) !== 0 || mm.done !== BATCH) throw new Error('batch refused');
}

export default defineSuite({
  name: 'mmu/mmu-update',
  description:
    'mmu_update validation rate: batches of 512 L1 updates on a live, pinned page table (64-bit, and 32-bit PAE), each taking and dropping page references and writable types.',
  unit: 'M updates/s',
  opsPerIter: BATCH,
  divisor: 1e6,
  cases: [
    {
      name: 'l1-updates',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++)
          sum += mm.mmuUpdate(1, batches[n & 1] as Int32Array, BATCH) + mm.done;
        return sum;
      },
    },
    {
      name: 'l1-updates-pae32',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++)
          sum += mm.mmuUpdate(2, batches32[n & 1] as Int32Array, BATCH) + mm.done;
        return sum;
      },
    },
  ],
});
