import { describe, expect, it } from 'vitest';
import { ACCESS, Machine, PAGING_MODE, PageWalker } from '../src/index.ts';

/** An HVM-style guest whose page tables hold guest-physical frame numbers. */
function hvm() {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 });
  machine.populate(9, 0, 3); // someone else's frames first, so gfn != mfn
  machine.populate(1, 0, 32);
  const p2m = machine.p2m(1);
  const g = (gfn: number) => p2m.get(gfn);
  const put = (gfn: number, idx: number, lo: number, hi = 0) => {
    machine.memory.write32(g(gfn), idx * 8, lo);
    machine.memory.write32(g(gfn), idx * 8 + 4, hi);
  };
  const w = new PageWalker(machine.memory, 36);
  w.p2m = p2m;
  return { machine, p2m, g, put, w };
}

describe('two-dimensional (HAP-style) walks through the P2M', () => {
  it('translates guest tables holding guest frames and returns the machine frame', () => {
    const { g, put, w, machine } = hvm();
    put(1, 0, (2 << 12) | 7);
    put(2, 0, (3 << 12) | 7);
    put(3, 0, (4 << 12) | 7);
    put(4, 5, (20 << 12) | 7);
    w.configure({
      mode: PAGING_MODE.LONG,
      cr3Lo: 1 << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(w.walk(0x5000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(true);
    expect(w.frame).toBe(g(20));
    expect(g(20)).not.toBe(20);
    expect(machine.memory.read32(g(4), 5 * 8) & 0x60).toBe(0x60); // A/D land in the guest's table
  });

  it('reports a P2M hole as p2mMiss rather than a guest page fault', () => {
    const { put, w, p2m } = hvm();
    put(1, 0, (2 << 12) | 7);
    put(2, 0, (3 << 12) | 7);
    put(3, 0, (4 << 12) | 7);
    put(4, 5, (40 << 12) | 7); // gfn 40 is not populated
    put(4, 6, (9 << 12) | 7);
    w.configure({
      mode: PAGING_MODE.LONG,
      cr3Lo: 1 << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(w.walk(0x5000, 0, ACCESS.READ)).toBe(false);
    expect(w.p2mMiss).toBe(1);
    p2m.set(3, 0xffffffff);
    expect(w.walk(0x6000, 0, ACCESS.READ)).toBe(false);
    expect(w.p2mMiss).toBe(1);
    put(1, 1, 0);
    expect(w.walk(0, 0x80, ACCESS.READ)).toBe(false);
    expect(w.p2mMiss).toBe(0);
  });

  it('handles 2-level guests with 4 MiB pages and PAE guests', () => {
    const { g, w, machine } = hvm();
    machine.memory.write32(g(1), 0, (2 << 12) | 7);
    machine.memory.write32(g(2), 3 * 4, (7 << 12) | 7);
    machine.memory.write32(g(1), 4, (0 << 22) | 0x87); // PDE 1: 4 MiB page at gpa 0
    w.configure({
      mode: PAGING_MODE.TWO_LEVEL,
      cr3Lo: 1 << 12,
      cr3Hi: 0,
      wp: true,
      pse: true,
      nxe: false,
    });
    expect(w.walk(0x3000, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(g(7));
    expect(w.walk(0x400000 + 0x11000, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(g(0x11));
    machine.memory.write32(g(5), 0, (6 << 12) | 1);
    machine.memory.write32(g(6), 0, (2 << 12) | 7);
    machine.memory.write32(g(2), 3 * 8, (8 << 12) | 7);
    w.configure({
      mode: PAGING_MODE.PAE,
      cr3Lo: 5 << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(w.walk(0x3000, 0, ACCESS.READ)).toBe(true);
    expect(w.frame).toBe(g(8));
  });
});
