import { describe, expect, it } from 'vitest';
import { ACCESS, MachineMemory, PAGING_MODE, PageWalker, RIGHTS } from '../src/index.ts';
import { get64lo, pte, put32, put64 } from './helpers.ts';

const MiB = 1024 * 1024;
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;
const NX = -0x80000000;

function longMode(opts: { wp?: boolean; nxe?: boolean } = {}) {
  const mem = new MachineMemory({ bytes: 64 * MiB });
  const w = new PageWalker(mem, 36);
  // PML4 at 1, PDPT at 2, PD at 3, PT at 4; VA 0x0000_0040_1020_3000 → idx 0/1/0x81/3.
  w.configure({
    mode: PAGING_MODE.LONG,
    cr3Lo: 1 << 12,
    cr3Hi: 0,
    wp: opts.wp ?? true,
    pse: false,
    nxe: opts.nxe ?? true,
  });
  return { mem, w };
}

/** Builds a 4-level mapping of `lo/hi` → frame 0x100 with the given per-level flags. */
function map4(
  mem: MachineMemory,
  lo: number,
  hi: number,
  f4: number,
  f3: number,
  f2: number,
  f1: number,
  nx1 = 0,
) {
  const i4 = (hi >>> 7) & 511;
  const i3 = ((hi & 0x7f) << 2) | (lo >>> 30);
  const i2 = (lo >>> 21) & 511;
  const i1 = (lo >>> 12) & 511;
  put64(mem, 1, i4, pte(2, f4));
  put64(mem, 2, i3, pte(3, f3));
  put64(mem, 3, i2, pte(4, f2));
  put64(mem, 4, i1, pte(0x100, f1), nx1);
  return { i4, i3, i2, i1 };
}

describe('4-level long-mode walks', () => {
  it('translates a 4 KiB page and sets accessed bits on every level but dirty only on a write', () => {
    const { mem, w } = longMode();
    const lo = 0x10203456 | 0;
    const hi = 0x40;
    const ix = map4(mem, lo, hi, P | RW | US, P | RW | US, P | RW | US, P | RW | US);
    expect(w.walk(lo, hi, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x100);
    expect(w.pageShift).toBe(12);
    expect(w.rights).toBe(RIGHTS.WRITABLE | RIGHTS.USER);
    expect(get64lo(mem, 1, ix.i4) & A).toBe(A);
    expect(get64lo(mem, 2, ix.i3) & A).toBe(A);
    expect(get64lo(mem, 3, ix.i2) & A).toBe(A);
    expect(get64lo(mem, 4, ix.i1) & (A | D)).toBe(A);
    expect(w.walk(lo, hi, ACCESS.WRITE | ACCESS.USER)).toBe(true);
    expect(get64lo(mem, 4, ix.i1) & D).toBe(D);
    expect(get64lo(mem, 3, ix.i2) & D).toBe(0);
  });

  it('indexes the PML4 with the high half: 0xffff800000000000 uses slot 256', () => {
    const { mem, w } = longMode();
    const ix = map4(mem, 0, 0xffff8000 | 0, P, P, P, P);
    expect(ix.i4).toBe(256);
    expect(w.walk(0, 0xffff8000 | 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x100);
    expect(w.walk(0, 0x7f80, ACCESS.READ)).toBe(false); // slot 255
  });

  it('reports a not-present fault at each level with P=0 and the access bits', () => {
    for (let level = 4; level >= 1; level--) {
      const { mem, w } = longMode();
      const f = [P | RW | US, P | RW | US, P | RW | US, P | RW | US];
      f[4 - level] = RW | US; // clear P at this level
      map4(mem, 0x1000, 0, f[0], f[1], f[2], f[3]);
      expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(false);
      expect(w.errorCode).toBe(0);
      expect(w.walk(0x1000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(false);
      expect(w.errorCode).toBe(0x6);
      expect(w.walk(0x1000, 0, ACCESS.FETCH | ACCESS.USER)).toBe(false);
      expect(w.errorCode).toBe(0x14);
    }
  });

  it('faults user accesses unless every level has U/S set', () => {
    for (let level = 0; level < 4; level++) {
      const { mem, w } = longMode();
      const f = [P | RW | US, P | RW | US, P | RW | US, P | RW | US];
      f[level] = P | RW;
      map4(mem, 0x1000, 0, f[0], f[1], f[2], f[3]);
      expect(w.walk(0x1000, 0, ACCESS.USER)).toBe(false);
      expect(w.errorCode).toBe(0x5);
      expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(true);
    }
  });

  it('faults writes unless every level has R/W set, honouring CR0.WP for supervisor writes', () => {
    for (let level = 0; level < 4; level++) {
      const f = [P | RW | US, P | RW | US, P | RW | US, P | RW | US];
      f[level] = P | US;
      const a = longMode({ wp: true });
      map4(a.mem, 0x1000, 0, f[0], f[1], f[2], f[3]);
      expect(a.w.walk(0x1000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(false);
      expect(a.w.errorCode).toBe(0x7);
      expect(a.w.walk(0x1000, 0, ACCESS.WRITE)).toBe(false);
      expect(a.w.errorCode).toBe(0x3);
      const b = longMode({ wp: false });
      map4(b.mem, 0x1000, 0, f[0], f[1], f[2], f[3]);
      expect(b.w.walk(0x1000, 0, ACCESS.WRITE)).toBe(true);
      expect(b.w.walk(0x1000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(false);
      expect(b.w.errorCode).toBe(0x7);
    }
  });

  it('faults instruction fetches from NX pages with the I/D bit when EFER.NXE is set', () => {
    const { mem, w } = longMode({ nxe: true });
    map4(mem, 0x1000, 0, P | US, P | US, P | US, P | US, NX);
    expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(true);
    expect(w.rights & RIGHTS.NO_EXEC).toBe(RIGHTS.NO_EXEC);
    expect(w.walk(0x1000, 0, ACCESS.FETCH)).toBe(false);
    expect(w.errorCode).toBe(0x11);
    expect(w.walk(0x1000, 0, ACCESS.FETCH | ACCESS.USER)).toBe(false);
    expect(w.errorCode).toBe(0x15);
  });

  it('treats bit 63 as reserved when EFER.NXE is clear', () => {
    const { mem, w } = longMode({ nxe: false });
    map4(mem, 0x1000, 0, P, P, P, P, NX);
    expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0x9);
    expect(w.walk(0x1000, 0, ACCESS.FETCH)).toBe(false);
    expect(w.errorCode).toBe(0x9); // no I/D without NXE
  });

  it('reports RSVD for address bits above MAXPHYADDR at any level', () => {
    for (let level = 0; level < 4; level++) {
      const { mem, w } = longMode();
      map4(mem, 0x1000, 0, P | RW, P | RW, P | RW, P | RW);
      const tables = [1, 2, 3, 4];
      const idx = [0, 0, 0, 1];
      const cur = get64lo(mem, tables[level], idx[level]);
      put64(mem, tables[level], idx[level], cur, 0x10); // bit 36 with MAXPHYADDR 36
      expect(w.walk(0x1000, 0, ACCESS.WRITE)).toBe(false);
      expect(w.errorCode).toBe(0xb);
      expect(get64lo(mem, 4, 1) & A).toBe(0);
    }
  });

  it('maps 2 MiB and 1 GiB pages and rejects PS in the PML4 and reserved large-page bits', () => {
    const { mem, w } = longMode();
    put64(mem, 1, 0, pte(2, P | RW));
    put64(mem, 2, 0, pte(3, P | RW));
    put64(mem, 3, 1, pte(0x200, P | RW | PS | G));
    expect(w.walk(0x203456, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x203);
    expect(w.pageShift).toBe(21);
    expect(w.global).toBe(1);
    put64(mem, 3, 1, pte(0x201, P | RW | PS)); // bit 12 is PAT; bit 13 set → reserved
    expect(w.walk(0x203456, 0, ACCESS.READ)).toBe(true);
    put64(mem, 3, 1, pte(0x202, P | RW | PS));
    expect(w.walk(0x203456, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0x9);
    put64(mem, 2, 1, pte(0x40000, P | PS));
    expect(w.walk(0x40123000, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x40123);
    expect(w.pageShift).toBe(30);
    put64(mem, 1, 0, pte(2, P | RW | PS));
    expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0x9);
  });

  it('leaves accessed bits alone when the walk faults on permissions', () => {
    const { mem, w } = longMode();
    map4(mem, 0x1000, 0, P, P, P, P);
    expect(w.walk(0x1000, 0, ACCESS.USER)).toBe(false);
    expect(get64lo(mem, 1, 0) & A).toBe(0);
    expect(get64lo(mem, 4, 1) & A).toBe(0);
  });

  it('faults not-present on tables beyond the machine', () => {
    const { mem, w } = longMode();
    put64(mem, 1, 0, pte(0xfffff, P));
    expect(w.walk(0x1000, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0);
  });
});

describe('walks through tables above 4 GiB', () => {
  it('follows high address bits without mistaking them for NX (long mode and PAE)', () => {
    const mem = new MachineMemory({ bytes: 8192 * MiB });
    const hiFrame = 0x100000; // 4 GiB
    const w = new PageWalker(mem, 36);
    w.configure({
      mode: PAGING_MODE.LONG,
      cr3Lo: 1 << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    put64(mem, 1, 0, pte(2, P | RW | US));
    put64(mem, 2, 0, pte(3, P | RW | US));
    put64(mem, 3, 0, P | RW | US, 1); // PT at frame 0x100000
    put64(mem, hiFrame, 2, pte(5, P | RW | US), 1); // page at frame 0x100005
    expect(w.walk(0x2000, 0, ACCESS.FETCH | ACCESS.USER)).toBe(true);
    expect(w.frame).toBe(hiFrame + 5);
    expect(mem.read32(hiFrame, 16) & A).toBe(A);
    const p = new PageWalker(mem, 36);
    p.configure({
      mode: PAGING_MODE.PAE,
      cr3Lo: 4 << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    put64(mem, 4, 0, P, 1); // PD at frame 0x100000 holds... reuse: PDPT[0] → 0x100000
    put64(mem, hiFrame, 0, P | RW | US, 1); // PDE 0 → PT at 0x100000 itself
    expect(p.walk(0x2000, 0, ACCESS.FETCH)).toBe(true);
    expect(p.frame).toBe(hiFrame + 5);
  });
});

describe('PAE walks', () => {
  function pae(nxe = true) {
    const mem = new MachineMemory({ bytes: 64 * MiB });
    const w = new PageWalker(mem, 36);
    // PDPT at frame 1, offset 0x20 (32-byte aligned); PD at 2; PT at 3.
    w.configure({ mode: PAGING_MODE.PAE, cr3Lo: 0x1020, cr3Hi: 0, wp: true, pse: false, nxe });
    return { mem, w };
  }

  it('translates through a 32-byte-aligned PDPT and sets A on PDE and PTE only', () => {
    const { mem, w } = pae();
    put64(mem, 1, 4 + 2, pte(2, P)); // PDPT entry 2 (offset 0x20 = entry 4)
    put64(mem, 2, 5, pte(3, P | RW | US));
    put64(mem, 3, 7, pte(0x55, P | RW | US));
    const va = (2 << 30) | (5 << 21) | (7 << 12) | 0x123;
    expect(w.walk(va, 0, ACCESS.WRITE | ACCESS.USER)).toBe(true);
    expect(w.frame).toBe(0x55);
    expect(get64lo(mem, 1, 6)).toBe(pte(2, P));
    expect(get64lo(mem, 2, 5) & (A | D)).toBe(A);
    expect(get64lo(mem, 3, 7) & (A | D)).toBe(A | D);
  });

  it('reports RSVD for reserved PDPTE bits, including NX', () => {
    const { mem, w } = pae();
    put64(mem, 1, 4, pte(2, P | RW));
    put64(mem, 2, 0, pte(3, P));
    put64(mem, 3, 0, pte(9, P));
    expect(w.walk(0, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0x9);
    put64(mem, 1, 4, pte(2, P), NX);
    expect(w.walk(0, 0, ACCESS.READ)).toBe(false);
    expect(w.errorCode).toBe(0x9);
    put64(mem, 1, 4, pte(2, P));
    expect(w.walk(0, 0, ACCESS.READ)).toBe(true);
  });

  it('maps 2 MiB pages and faults NX fetches with I/D', () => {
    const { mem, w } = pae(true);
    put64(mem, 1, 4, pte(2, P));
    put64(mem, 2, 1, pte(0x400, P | PS), NX);
    expect(w.walk(0x00345000, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x545);
    expect(w.walk(0x00345000, 0, ACCESS.FETCH)).toBe(false);
    expect(w.errorCode).toBe(0x11);
  });

  it('reports a not-present PDPTE as P=0', () => {
    const { w } = pae();
    expect(w.walk(0x40000000, 0, ACCESS.WRITE)).toBe(false);
    expect(w.errorCode).toBe(0x2);
  });
});

describe('32-bit 2-level walks', () => {
  function two(pse: boolean, wp = true) {
    const mem = new MachineMemory({ bytes: 64 * MiB });
    const w = new PageWalker(mem, 36);
    w.configure({ mode: PAGING_MODE.TWO_LEVEL, cr3Lo: 1 << 12, cr3Hi: 0, wp, pse, nxe: false });
    return { mem, w };
  }

  it('translates 4 KiB pages and combines U/S and R/W across both levels', () => {
    const { mem, w } = two(false);
    put32(mem, 1, 3, pte(2, P | RW));
    put32(mem, 2, 4, pte(0x77, P | RW | US));
    const va = (3 << 22) | (4 << 12);
    expect(w.walk(va, 0, ACCESS.WRITE)).toBe(true);
    expect(w.frame).toBe(0x77);
    expect(mem.read32(1, 12) & A).toBe(A);
    expect(mem.read32(2, 16) & (A | D)).toBe(A | D);
    expect(w.walk(va, 0, ACCESS.USER)).toBe(false);
    expect(w.errorCode).toBe(0x5);
  });

  it('maps 4 MiB pages with PSE-36 high bits only when CR4.PSE is set', () => {
    // 4 MiB page at physical 0x1_0040_0000 (PSE-36: bit 13 = PA bit 32).
    const mem2 = new MachineMemory({ bytes: 8192 * MiB });
    const w2 = new PageWalker(mem2, 36);
    w2.configure({
      mode: PAGING_MODE.TWO_LEVEL,
      cr3Lo: 1 << 12,
      cr3Hi: 0,
      wp: true,
      pse: true,
      nxe: false,
    });
    put32(mem2, 1, 1, 0x00400000 | (1 << 13) | P | RW | PS | 0);
    expect(w2.walk(0x00456789, 0, ACCESS.READ)).toBe(true);
    expect(w2.frame).toBe(0x100000 + 0x400 + 0x56);
    expect(w2.pageShift).toBe(22);
    put32(mem2, 1, 1, 0x00400000 | (1 << 21) | P | PS | 0);
    expect(w2.walk(0x00456789, 0, ACCESS.READ)).toBe(false);
    expect(w2.errorCode).toBe(0x9);
    put32(mem2, 1, 1, 0x00400000 | (1 << 17) | P | PS | 0); // PA bit 36: above MAXPHYADDR
    expect(w2.walk(0x00456789, 0, ACCESS.READ)).toBe(false);
    expect(w2.errorCode).toBe(0x9);
  });

  it('treats PS as an ordinary bit pointing to a page table when CR4.PSE is clear', () => {
    const { mem, w } = two(false);
    put32(mem, 1, 0, pte(2, P | PS));
    put32(mem, 2, 5, pte(0x33, P));
    expect(w.walk(5 << 12, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(0x33);
    expect(w.pageShift).toBe(12);
  });

  it('never sets I/D on fetch faults and allows supervisor writes to read-only pages with WP clear', () => {
    const { mem, w } = two(false, false);
    put32(mem, 1, 0, pte(2, P));
    put32(mem, 2, 0, pte(0x33, P));
    expect(w.walk(0, 0, ACCESS.WRITE)).toBe(true);
    expect(w.walk(0, 0, ACCESS.FETCH | ACCESS.USER)).toBe(false);
    expect(w.errorCode).toBe(0x5);
    expect(w.walk(0x400000, 0, ACCESS.FETCH)).toBe(false);
    expect(w.errorCode).toBe(0);
  });
});
