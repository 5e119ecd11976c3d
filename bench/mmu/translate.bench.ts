/**
 * Linear-to-machine translation: warm-TLB hits through `Translator.translate`, and forced-miss
 * page walks (`PageWalker.walk`) for 4-level, PAE and 2-level tables. The target is at
 * least 20 M walks/s. Each walk sets no new A/D bits after the first pass (as in steady state).
 */
import { ACCESS, MachineMemory, PAGING_MODE, PageWalker, Translator } from '@typevisor/mmu';
import { defineSuite } from '../harness.ts';

const OPS = 4096;
const mem = new MachineMemory({ bytes: 64 * 1024 * 1024 });
const put64 = (mfn: number, idx: number, lo: number) => {
  mem.write32(mfn, idx * 8, lo);
  mem.write32(mfn, idx * 8 + 4, 0);
};

// 4-level: PML4 1 → PDPT 2 → PDs 3..6 → 8 PTs (frames 16..23) of 512 pages each, user RW.
put64(1, 0, (2 << 12) | 7);
for (let i = 0; i < 4; i++) put64(2, i, ((3 + i) << 12) | 7);
for (let t = 0; t < 8; t++) {
  put64(3 + (t & 3), t >> 2, ((16 + t) << 12) | 7);
  for (let p = 0; p < 512; p++) put64(16 + t, p, ((1024 + t * 512 + p) << 12) | 0x67);
}
// PAE: PDPT at frame 40 → PD 41 → the same PTs.
put64(40, 0, (41 << 12) | 1);
for (let t = 0; t < 8; t++) put64(41, t, ((16 + t) << 12) | 7);
// 2-level: PD 42 → PTs 48..55 (32-bit entries).
for (let t = 0; t < 8; t++) {
  mem.write32(42, t * 4, ((48 + t) << 12) | 7);
  for (let p = 0; p < 1024; p++) mem.write32(48 + t, p * 4, ((1024 + p) << 12) | 0x67);
}

// Addresses: a pseudo-random permutation over the mapped 4-level range (8 × 2 MiB).
const VAS = new Int32Array(OPS);
for (let i = 0; i < OPS; i++) {
  const t = (i * 7) & 7;
  const p = (i * 313) & 511;
  VAS[i] = ((t >> 2) << 30) | ((t & 3) << 21) | (p << 12) | ((i * 8) & 0xfff);
}
const VAS2 = new Int32Array(OPS);
for (let i = 0; i < OPS; i++) VAS2[i] = (((i * 7) & 7) << 22) | (((i * 313) & 1023) << 12);
const VAS_PAE = new Int32Array(OPS);
for (let i = 0; i < OPS; i++) VAS_PAE[i] = (((i * 7) & 7) << 21) | (((i * 313) & 511) << 12);

function walker(mode: number, cr3: number): PageWalker {
  const w = new PageWalker(mem, 36);
  w.configure({ mode: mode as 3, cr3Lo: cr3, cr3Hi: 0, wp: true, pse: true, nxe: true });
  return w;
}
const w4 = walker(PAGING_MODE.LONG, 1 << 12);
const wPae = walker(PAGING_MODE.PAE, 40 << 12);
const w2 = walker(PAGING_MODE.TWO_LEVEL, 42 << 12);
const warm = new Translator(mem);
warm.setPaging({
  mode: PAGING_MODE.LONG,
  cr3Lo: 1 << 12,
  cr3Hi: 0,
  wp: true,
  pse: false,
  nxe: true,
});
const HOT = new Int32Array(OPS);
for (let i = 0; i < OPS; i++) HOT[i] = VAS[i & 255] as number; // 256-page working set
for (let i = 0; i < OPS; i++) warm.translate(HOT[i] as number, 0, ACCESS.WRITE);

function walks(w: PageWalker, vas: Int32Array, iters: number): number {
  let sum = 0;
  for (let n = 0; n < iters; n++) {
    for (let i = 0; i < OPS; i++) {
      if (w.walk(vas[i] as number, 0, ACCESS.READ | ACCESS.USER)) sum = (sum + w.frame) | 0;
    }
  }
  return sum;
}

export default defineSuite({
  name: 'mmu/translate',
  description:
    'Linear-to-machine translations per second: warm TLB hits (256-page working set), and forced-miss page walks on 4-level, PAE and 2-level tables (target ≥ 20 M walks/s).',
  unit: 'M translations/s',
  opsPerIter: OPS,
  divisor: 1e6,
  cases: [
    {
      name: 'walk-4level',
      run: (iters) => walks(w4, VAS, iters),
    },
    {
      name: 'walk-pae',
      run: (iters) => walks(wPae, VAS_PAE, iters),
    },
    {
      name: 'walk-2level',
      run: (iters) => walks(w2, VAS2, iters),
    },
    {
      name: 'tlb-hit',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < OPS; i++)
            sum = (sum + warm.translate(HOT[i] as number, 0, ACCESS.WRITE)) | 0;
        }
        return sum;
      },
    },
  ],
});
