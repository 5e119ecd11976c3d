import { Machine, MMUEXT, type MmuextOp, PvMm } from '../src/index.ts';

export const P = 1;
export const RW = 2;
export const US = 4;
export const NX = -0x80000000;

/** One mmu_update request buffer. */
export function reqs(...r: [ptr: number, lo: number, hi?: number][]): Int32Array {
  const a = new Int32Array(r.length * 4);
  r.forEach(([ptr, lo, hi], i) => {
    a[i * 4] = (ptr % 0x100000000) | 0;
    a[i * 4 + 1] = Math.floor(ptr / 0x100000000) | 0;
    a[i * 4 + 2] = lo | 0;
    a[i * 4 + 3] = (hi ?? 0) | 0;
  });
  return a;
}

/** Machine address of entry `idx` in frame `mfn`, with command `cmd`. */
export function ptr(mfn: number, idx: number, cmd = 0): number {
  return mfn * 4096 + idx * 8 + cmd;
}

export function pte(mfn: number, flags: number): number {
  return (mfn << 12) | flags | 0;
}

export function op(cmd: number, arg1Lo = 0, arg2 = 0, arg1Hi = 0): MmuextOp {
  return { cmd, arg1Lo, arg1Hi, arg2 };
}

/**
 * A 64-bit PV guest (domid 1) with `pages` frames and a victim domain 2 with 4 frames.
 * `f(pfn)` gives the MFN of the guest's pfn.
 */
export function guest64(pages = 16, options: ConstructorParameters<typeof PvMm>[1] = {}) {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 });
  machine.populate(1, 0, pages);
  machine.populate(2, 0, 4);
  const mm = new PvMm(machine, options);
  const d = mm.addDomain(1, { guestWidth: 64, vcpus: 2 });
  mm.addDomain(2, { guestWidth: 64 });
  const f = (pfn: number) => machine.p2m(1).get(pfn);
  const v = (pfn: number) => machine.p2m(2).get(pfn);
  return { machine, mm, d, f, v };
}

/** Writes raw entries into unvalidated frames (type none) via mmu_update; asserts success. */
export function rawWrite(
  mm: PvMm,
  domid: number,
  entries: [mfn: number, idx: number, lo: number, hi?: number][],
): number {
  return mm.mmuUpdate(
    domid,
    reqs(...entries.map(([m, i, lo, hi]) => [ptr(m, i), lo, hi ?? 0] as [number, number, number])),
    entries.length,
  );
}

/**
 * Builds L4(pfn0) → L3(pfn1) → L2(pfn2) → L1(pfn3) mapping VA 0x0 .. with L1[4] → pfn 8 (RW),
 * pins the L4 and makes it the base of vCPU 0.
 */
export function buildTables(g: ReturnType<typeof guest64>): number {
  const { mm, f } = g;
  let rc = rawWrite(mm, 1, [
    [f(3), 4, pte(f(8), P | RW | US)],
    [f(3), 5, pte(f(9), P | US)],
    [f(2), 0, pte(f(3), P | RW | US)],
    [f(1), 0, pte(f(2), P | RW | US)],
    [f(0), 0, pte(f(1), P | RW | US)],
  ]);
  if (rc !== 0) return rc;
  rc = mm.mmuextOp(1, 0, [
    op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0)),
    op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0)),
  ]);
  return rc;
}
