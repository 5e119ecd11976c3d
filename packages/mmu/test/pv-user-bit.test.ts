import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine, MMUEXT, PvMm } from '../src/index.ts';
import { guest64, NX, op, P, pte, ptr, RW, reqs, US } from './pv-helpers.ts';

/** `_PAGE_GUEST_KERNEL` (bit 52) as it appears in an entry's high half. */
const GUEST_KERNEL_HI = 0x100000;

/** A 32-bit PV guest (domid 1) whose PAE tables the tests build by hand. */
function guest32() {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 });
  machine.populate(1, 0, 16);
  const mm = new PvMm(machine);
  mm.addDomain(1, { guestWidth: 32 });
  const f = (pfn: number) => machine.p2m(1).get(pfn);
  return { machine, mm, f };
}

describe('_PAGE_USER on 64-bit PV page tables (adjust_guest_lNe)', () => {
  it('adds _PAGE_USER to every level and tags kernel-only L1 entries _PAGE_GUEST_KERNEL when a table is validated', () => {
    const { mm, f, machine } = guest64();
    // Builder-style tables: directory entries with U, L1 entries without (0x23 / 0x21).
    const raw: [number, number, number][] = [
      [ptr(f(3), 4), pte(f(8), P | RW | 0x20), 0],
      [ptr(f(3), 5), pte(f(9), P | 0x20), NX],
      [ptr(f(3), 6), pte(f(10), P | RW | US), 0],
      [ptr(f(2), 0), pte(f(3), P | RW), 0],
      [ptr(f(1), 0), pte(f(2), P | RW), 0],
      [ptr(f(0), 0), pte(f(1), P | RW), 0],
    ];
    expect(mm.mmuUpdate(1, reqs(...raw), raw.length)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0))])).toBe(0);
    const lo = (mfn: number, i: number) => machine.memory.read32(mfn, i * 8);
    const hi = (mfn: number, i: number) => machine.memory.read32(mfn, i * 8 + 4);
    expect(lo(f(3), 4)).toBe(pte(f(8), P | RW | US | 0x20));
    expect(hi(f(3), 4)).toBe(GUEST_KERNEL_HI);
    expect(lo(f(3), 5)).toBe(pte(f(9), P | US | 0x20));
    expect(hi(f(3), 5)).toBe(NX | GUEST_KERNEL_HI);
    // Already a user page: left alone (no guest-kernel tag).
    expect(lo(f(3), 6)).toBe(pte(f(10), P | RW | US));
    expect(hi(f(3), 6)).toBe(0);
    expect(lo(f(2), 0)).toBe(pte(f(3), P | RW | US));
    expect(lo(f(1), 0)).toBe(pte(f(2), P | RW | US));
    expect(lo(f(0), 0)).toBe(pte(f(1), P | RW | US));
    // Not-present entries stay zero.
    expect(lo(f(3), 7)).toBe(0);
    expect(hi(f(3), 7)).toBe(0);
  });

  it('adjusts entries written into live tables by mmu_update', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    const raw: [number, number, number][] = [
      [ptr(f(2), 0), pte(f(3), P | RW), 0],
      [ptr(f(1), 0), pte(f(2), P | RW), 0],
      [ptr(f(0), 0), pte(f(1), P | RW), 0],
    ];
    expect(mm.mmuUpdate(1, reqs(...raw), raw.length)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0))])).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 9), pte(f(11), P | RW)]), 1)).toBe(0);
    expect(machine.memory.read32(f(3), 9 * 8)).toBe(pte(f(11), P | RW | US));
    expect(machine.memory.read32(f(3), 9 * 8 + 4)).toBe(GUEST_KERNEL_HI);
    // Clearing the entry writes a plain zero.
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 9), 0]), 1)).toBe(0);
    expect(machine.memory.read32(f(3), 9 * 8)).toBe(0);
    expect(machine.memory.read32(f(3), 9 * 8 + 4)).toBe(0);
  });

  it('leaves 32-bit PV guests (ring 1 kernels) unchanged', () => {
    const { mm, f, machine } = guest32();
    const raw: [number, number, number][] = [
      [ptr(f(3), 4), pte(f(8), P | RW), 0],
      [ptr(f(2), 0), pte(f(3), P | RW), 0],
      [ptr(f(1), 3), pte(f(2), P), 0],
    ];
    expect(mm.mmuUpdate(1, reqs(...raw), raw.length)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L3_TABLE, f(1))])).toBe(0);
    expect(machine.memory.read32(f(3), 4 * 8)).toBe(pte(f(8), P | RW));
    expect(machine.memory.read32(f(3), 4 * 8 + 4)).toBe(0);
    expect(machine.memory.read32(f(2), 0)).toBe(pte(f(3), P | RW));
  });

  it('for any flags a 64-bit guest writes to an L1, a stored present entry has U, keeps the frame and requested rights, and is tagged iff U was missing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfff }),
        fc.boolean(),
        fc.integer({ min: 8, max: 15 }),
        (flags, nx, pfn) => {
          const g = guest64();
          const { mm, f, machine } = g;
          const raw: [number, number, number][] = [
            [ptr(f(2), 0), pte(f(3), P | RW), 0],
            [ptr(f(1), 0), pte(f(2), P | RW), 0],
            [ptr(f(0), 0), pte(f(1), P | RW), 0],
          ];
          expect(mm.mmuUpdate(1, reqs(...raw), raw.length)).toBe(0);
          expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0))])).toBe(0);
          const hiIn = nx ? NX : 0;
          const rc = mm.mmuUpdate(1, reqs([ptr(f(3), 1), pte(f(pfn), flags), hiIn]), 1);
          const lo = machine.memory.read32(f(3), 8);
          const hi = machine.memory.read32(f(3), 12);
          if (rc !== 0) {
            expect(rc).toBeLessThan(0);
            expect(lo).toBe(0);
            return;
          }
          if ((flags & P) === 0) {
            expect(lo).toBe(pte(f(pfn), flags));
            expect(hi).toBe(hiIn);
            return;
          }
          expect(lo).toBe(pte(f(pfn), flags | US));
          expect(hi).toBe((flags & US) === 0 ? hiIn | GUEST_KERNEL_HI : hiIn);
        },
      ),
      { numRuns: 200 },
    );
  });
});
