/**
 * Every #PF condition at every level of every paging mode, table-driven: not-present, U/S,
 * R/W (with CR0.WP on and off), NX (with and without EFER.NXE) and reserved bits, checking the
 * exact error code and that nothing is marked accessed on a fault.
 */
import { describe, expect, it } from 'vitest';
import { ACCESS, MachineMemory, PAGING_MODE, PageWalker } from '../src/index.ts';

const MiB = 1024 * 1024;
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const NX = -0x80000000;
const LEAF = 0x300;
const VA = 0x00403000; // 2-level: PDE 1, PTE 3; PAE: PDPTE 0, PDE 2, PTE 3; long: 0/0/2/3

type Mode = 'two' | 'pae' | 'long';
const LEVELS: Record<Mode, number> = { two: 2, pae: 2, long: 4 }; // levels carrying U/S, R/W

/** Builds a full chain for VA with every level P|RW|US and returns a setter per level. */
function chain(mode: Mode, nxe: boolean, wp: boolean) {
  const mem = new MachineMemory({ bytes: 8 * MiB });
  const w = new PageWalker(mem, 36);
  const slots: { mfn: number; idx: number; wide: boolean }[] = [];
  if (mode === 'two') {
    slots.push({ mfn: 1, idx: 1, wide: false }, { mfn: 2, idx: 3, wide: false });
    w.configure({ mode: PAGING_MODE.TWO_LEVEL, cr3Lo: 1 << 12, cr3Hi: 0, wp, pse: true, nxe });
  } else if (mode === 'pae') {
    mem.write32(1, 0, (2 << 12) | P); // PDPTE 0
    slots.push({ mfn: 2, idx: 2, wide: true }, { mfn: 3, idx: 3, wide: true });
    w.configure({ mode: PAGING_MODE.PAE, cr3Lo: 1 << 12, cr3Hi: 0, wp, pse: false, nxe });
  } else {
    slots.push(
      { mfn: 1, idx: 0, wide: true },
      { mfn: 2, idx: 0, wide: true },
      { mfn: 3, idx: 2, wide: true },
      { mfn: 4, idx: 3, wide: true },
    );
    w.configure({ mode: PAGING_MODE.LONG, cr3Lo: 1 << 12, cr3Hi: 0, wp, pse: false, nxe });
  }
  const set = (k: number, flags: number, hi = 0) => {
    const s = slots[k];
    const next = k + 1 < slots.length ? slots[k + 1].mfn : LEAF;
    if (s.wide) {
      mem.write32(s.mfn, s.idx * 8, (next << 12) | flags | 0);
      mem.write32(s.mfn, s.idx * 8 + 4, hi);
    } else mem.write32(s.mfn, s.idx * 4, (next << 12) | flags | 0);
  };
  for (let k = 0; k < slots.length; k++) set(k, P | RW | US);
  const anyAccessed = () =>
    slots.some((s) => (mem.read32(s.mfn, s.idx * (s.wide ? 8 : 4)) & A) !== 0);
  return { w, set, anyAccessed, levels: slots.length };
}

const ACCESSES = [
  0,
  ACCESS.WRITE,
  ACCESS.USER,
  ACCESS.USER | ACCESS.WRITE,
  ACCESS.FETCH,
  ACCESS.FETCH | ACCESS.USER,
];

describe.each(['two', 'pae', 'long'] as const)('%s paging: fault matrix', (mode) => {
  // 2-level entries are 32 bits wide: no NX bit and no reserved address bits to test.
  const itWithNx = (name: string, fn: () => void) => {
    if (mode !== 'two') it(name, fn);
  };
  const idBit = (access: number, nxe: boolean) =>
    (access & 0x10) !== 0 && nxe && mode !== 'two' ? 0x10 : 0;

  it('faults not-present at every level with P=0', () => {
    for (let k = 0; k < LEVELS[mode]; k++) {
      for (const access of ACCESSES) {
        const c = chain(mode, true, true);
        c.set(k, RW | US);
        expect(c.w.walk(VA, 0, access)).toBe(false);
        expect(c.w.errorCode).toBe((access & 6) | idBit(access, true));
        expect(c.anyAccessed()).toBe(false);
      }
    }
  });

  it('faults user accesses to supervisor pages at every level', () => {
    for (let k = 0; k < LEVELS[mode]; k++) {
      for (const access of ACCESSES) {
        const c = chain(mode, true, true);
        c.set(k, P | RW);
        const ok = c.w.walk(VA, 0, access);
        expect(ok).toBe((access & ACCESS.USER) === 0);
        if (!ok) expect(c.w.errorCode).toBe(1 | (access & 6) | idBit(access, true));
      }
    }
  });

  it('faults writes to read-only pages at every level, supervisor writes only with CR0.WP', () => {
    for (let k = 0; k < LEVELS[mode]; k++) {
      for (const wp of [true, false]) {
        for (const access of ACCESSES) {
          const c = chain(mode, true, wp);
          c.set(k, P | US);
          const write = (access & ACCESS.WRITE) !== 0;
          const user = (access & ACCESS.USER) !== 0;
          const ok = c.w.walk(VA, 0, access);
          expect(ok).toBe(!write || (!user && !wp));
          if (!ok) expect(c.w.errorCode).toBe(1 | (access & 6));
        }
      }
    }
  });

  itWithNx('faults fetches from NX pages at every level only with EFER.NXE', () => {
    for (let k = 0; k < LEVELS[mode]; k++) {
      for (const access of ACCESSES) {
        const c = chain(mode, true, true);
        c.set(k, P | RW | US, NX);
        const ok = c.w.walk(VA, 0, access);
        expect(ok).toBe((access & ACCESS.FETCH) === 0);
        if (!ok) expect(c.w.errorCode).toBe(0x11 | (access & 6));
        const off = chain(mode, false, true);
        off.set(k, P | RW | US, NX);
        expect(off.w.walk(VA, 0, access)).toBe(false);
        expect(off.w.errorCode).toBe(0x9 | (access & 6));
      }
    }
  });

  itWithNx('reports reserved address bits at every level with RSVD and P', () => {
    for (let k = 0; k < LEVELS[mode]; k++) {
      for (const access of ACCESSES) {
        const c = chain(mode, true, true);
        c.set(k, P | RW | US, 0x100); // bit 40 ≥ MAXPHYADDR 36
        expect(c.w.walk(VA, 0, access)).toBe(false);
        expect(c.w.errorCode).toBe(0x9 | (access & 6) | idBit(access, true));
        expect(c.anyAccessed()).toBe(false);
      }
    }
  });

  it('succeeds for every access when all levels allow it, and reports the frame', () => {
    for (const access of ACCESSES) {
      const c = chain(mode, true, true);
      expect(c.w.walk(VA | 0x123, 0, access)).toBe(true);
      expect(c.w.frame).toBe(LEAF);
      expect(c.anyAccessed()).toBe(true);
    }
  });
});
