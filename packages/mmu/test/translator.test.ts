import { describe, expect, it } from 'vitest';
import { ACCESS, MachineMemory, PAGING_MODE, Translator } from '../src/index.ts';
import { get64lo, pte, put64 } from './helpers.ts';

const MiB = 1024 * 1024;
const P = 1;
const RW = 2;
const US = 4;
const D = 0x40;
const PS = 0x80;
const G = 0x100;

/** Long-mode tables: PML4 1 → PDPT 2 → PD 3 → PT 4 covering VA 0..2 MiB. */
function setup(pge = true) {
  const mem = new MachineMemory({ bytes: 64 * MiB });
  put64(mem, 1, 0, pte(2, P | RW | US));
  put64(mem, 2, 0, pte(3, P | RW | US));
  put64(mem, 3, 0, pte(4, P | RW | US));
  const t = new Translator(mem);
  t.setPaging({
    mode: PAGING_MODE.LONG,
    cr3Lo: 0x1000,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
    pge,
  });
  return { mem, t };
}

describe('Translator (TLB in front of the walker)', () => {
  it('serves repeated accesses from the TLB without walking', () => {
    const { mem, t } = setup();
    put64(mem, 4, 5, pte(0x123, P | RW | US | D));
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x123);
    expect(t.translate(0x5fff, 0, ACCESS.USER)).toBe(0x123);
    expect(t.translate(0x5004, 0, ACCESS.WRITE)).toBe(0x123);
    expect(t.misses).toBe(1);
  });

  it('walks again for the first write to a clean page so the dirty bit gets set', () => {
    const { mem, t } = setup();
    put64(mem, 4, 5, pte(0x123, P | RW));
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x123);
    expect(get64lo(mem, 4, 5) & D).toBe(0);
    expect(t.translate(0x5000, 0, ACCESS.WRITE)).toBe(0x123);
    expect(get64lo(mem, 4, 5) & D).toBe(D);
    expect(t.misses).toBe(2);
  });

  it('keeps a stale translation until INVLPG drops it', () => {
    const { mem, t } = setup();
    put64(mem, 4, 5, pte(0x123, P));
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x123);
    put64(mem, 4, 5, pte(0x456, P));
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x123);
    t.invlpg(0x5abc, 0);
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x456);
  });

  it('reports the walker fault code on a miss and does not cache faults', () => {
    const { mem, t } = setup();
    put64(mem, 4, 5, pte(0x123, P));
    expect(t.translate(0x5000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(-1);
    expect(t.faultCode).toBe(0x7);
    expect(t.translate(0x6000, 0, ACCESS.READ)).toBe(-1);
    expect(t.faultCode).toBe(0);
    put64(mem, 4, 6, pte(0x124, P));
    expect(t.translate(0x6000, 0, ACCESS.READ)).toBe(0x124);
  });

  it('keeps global entries across a CR3 reload with CR4.PGE and drops them on a full flush', () => {
    const { mem, t } = setup(true);
    put64(mem, 4, 1, pte(0x10, P | G));
    put64(mem, 4, 2, pte(0x20, P));
    t.translate(0x1000, 0, ACCESS.READ);
    t.translate(0x2000, 0, ACCESS.READ);
    put64(mem, 4, 1, pte(0x11, P | G));
    put64(mem, 4, 2, pte(0x21, P));
    t.setCr3(0x1000, 0);
    expect(t.translate(0x1000, 0, ACCESS.READ)).toBe(0x10);
    expect(t.translate(0x2000, 0, ACCESS.READ)).toBe(0x21);
    t.flush(true);
    expect(t.translate(0x1000, 0, ACCESS.READ)).toBe(0x11);
  });

  it('drops global entries on CR3 reload when CR4.PGE is clear', () => {
    const { mem, t } = setup(false);
    put64(mem, 4, 1, pte(0x10, P | G));
    t.translate(0x1000, 0, ACCESS.READ);
    put64(mem, 4, 1, pte(0x11, P | G));
    t.setCr3(0x1000, 0);
    expect(t.translate(0x1000, 0, ACCESS.READ)).toBe(0x11);
  });

  it('drops every 4 KiB slot of a large page on INVLPG of any address inside it', () => {
    const { mem, t } = setup();
    put64(mem, 3, 1, pte(0x400, P | PS));
    expect(t.translate(0x200000, 0, ACCESS.READ)).toBe(0x400);
    expect(t.translate(0x3ff000, 0, ACCESS.READ)).toBe(0x5ff);
    put64(mem, 3, 1, pte(0x600, P | PS));
    t.invlpg(0x250000, 0);
    expect(t.translate(0x200000, 0, ACCESS.READ)).toBe(0x600);
    expect(t.translate(0x3ff000, 0, ACCESS.READ)).toBe(0x7ff);
  });

  it('does not alias addresses that differ only in the high half', () => {
    const { mem, t } = setup();
    put64(mem, 4, 5, pte(0x123, P));
    put64(mem, 1, 1, pte(2, P)); // PML4 slot 1 (hi = 0x80) reuses the same lower tables
    put64(mem, 2, 0, pte(3, P | RW | US));
    expect(t.translate(0x5000, 0, ACCESS.READ)).toBe(0x123);
    expect(t.translate(0x5000, 0x80, ACCESS.USER)).toBe(-1);
    expect(t.translate(0x5000, 0, ACCESS.USER)).toBe(-1);
    expect(t.translate(0x5000, 0x80, ACCESS.READ)).toBe(0x123);
  });

  it('flushes correctly after the flush list overflows', () => {
    const mem = new MachineMemory({ bytes: 256 * MiB });
    const t = new Translator(mem);
    t.setPaging({ mode: PAGING_MODE.NONE, cr3Lo: 0, cr3Hi: 0, wp: true, pse: false, nxe: false });
    for (let p = 0; p < 20000; p++) t.translate(p << 12, 0, ACCESS.READ);
    expect(t.tlb.size).toBe(20000);
    t.flush(false);
    expect(t.tlb.size).toBe(0);
    for (let p = 0; p < 100; p++) t.translate(p << 12, 0, ACCESS.READ);
    expect(t.tlb.size).toBe(100);
  });
});
