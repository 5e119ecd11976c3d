import { describe, expect, it } from 'vitest';
import { checkDescriptor, MMUEXT, PGT, XEN_ERRNO } from '../src/index.ts';
import { buildTables, guest64, op, P, pte, ptr, RW, rawWrite, reqs } from './pv-helpers.ts';

const out = new Int32Array(2);
const check = (is32: boolean, lo: number, hi: number) =>
  checkDescriptor(is32, lo | 0, hi | 0, out) ? [out[0] >>> 0, out[1] >>> 0] : null;

describe('segment descriptor validation', () => {
  it('accepts not-present descriptors untouched', () => {
    expect(check(false, 0x12345678, 0x00cf1a00)).toEqual([0x12345678, 0x00cf1a00]);
  });

  it('raises DPL 0 code/data segments to the guest kernel ring', () => {
    expect(check(false, 0x0000ffff, 0x00af9b00)).toEqual([0x0000ffff, 0x00affb00]); // 64-bit: DPL 3
    expect(check(true, 0x0000ffff, 0x00cf9b00)).toEqual([0x0000ffff, 0x00cfbb00]); // 32-bit: DPL 1
    expect(check(true, 0x0000ffff, 0x00cffb00)).toEqual([0x0000ffff, 0x00cffb00]);
  });

  it('refuses long-mode code segments for 32-bit guests and widens flat segments over the hole', () => {
    expect(check(true, 0x0000ffff, 0x00affb00)).toBeNull();
    // Flat 4 GiB minus the hole (limit 0xf67ff pages) becomes a full 4 GiB segment.
    expect(check(true, 0x0000f67f, 0x00cff300 | 0x0)).toEqual([0x0000ffff, 0x00cff300]);
    // A non-zero base is left alone.
    expect(check(true, 0x0010f67f, 0x00cff300)).toEqual([0x0010f67f, 0x00cff300]);
  });

  it('refuses TSS, LDT and interrupt/trap gate descriptors', () => {
    for (const type of [0x100, 0x200, 0x300, 0x900, 0xb00, 0xe00, 0xf00]) {
      expect(check(false, 0, 0x8000 | type)).toBeNull();
    }
  });

  it('accepts call gates to guest or Xen kernel selectors with DPL forced to 0 and RPL = old DPL', () => {
    expect(check(false, 0x00101000, 0x0000ec00)).toEqual([0x00131000, 0x00008c00]);
    expect(check(false, 0xe0331000 | 0, 0x0000ec00)).toEqual([0xe0331000, 0x00008c00]);
    expect(check(false, 0xe0081000 | 0, 0x0000ec00)).toBeNull(); // Xen's ring-0 CS
    expect(check(false, 0xe00c1000 | 0, 0x0000ec00)).not.toBeNull(); // an LDT selector
    expect(check(false, 0x00101000, 0x0000ec01)).toBeNull(); // reserved bits
    expect(check(true, 0x00101000, 0x0000ec01)).not.toBeNull(); // param count allowed for 32-bit
    expect(check(false, 0, 0)).toEqual([0, 0]);
  });
});

describe('set_gdt and update_descriptor', () => {
  it('types GDT frames as descriptor pages so they can never be mapped writable', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    rawWrite(mm, 1, [[f(12), 1, 0x0000ffff, 0x00af9b00]]);
    expect(mm.setGdt(1, 0, [f(12)], 16)).toBe(0);
    expect(machine.frames.type[f(12)]).toBe(PGT.PGT_seg_desc_page);
    expect(machine.memory.read32(f(12), 12) >>> 0).toBe(0x00affb00); // DPL fixed up
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 9), pte(f(12), P | RW)]), 1)).toBe(-XEN_ERRNO.EBUSY);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 9), pte(f(12), P)]), 1)).toBe(0);
    expect(mm.setGdt(1, 0, [f(8)], 16)).toBe(-XEN_ERRNO.EINVAL); // mapped writable
    expect(mm.setGdt(1, 0, [f(13)], 7169)).toBe(-XEN_ERRNO.EINVAL);
    expect(mm.setGdt(1, 0, [g.v(0)], 16)).toBe(-XEN_ERRNO.EINVAL);
    rawWrite(mm, 1, [[f(13), 0, 0, 0x00008900]]); // a TSS descriptor
    expect(mm.setGdt(1, 0, [f(13)], 16)).toBe(-XEN_ERRNO.EINVAL);
    expect(machine.frames.typeCount[f(13)]).toBe(0);
    expect(mm.updateDescriptor(1, f(12) * 4096 + 16, 0x0000ffff, 0x00cf9300)).toBe(0);
    expect(machine.memory.read32(f(12), 20) >>> 0).toBe(0x00cff300);
    expect(mm.updateDescriptor(1, f(12) * 4096 + 16, 0, 0x00008900)).toBe(-XEN_ERRNO.EINVAL);
    expect(mm.updateDescriptor(1, f(12) * 4096 + 12, 0, 0)).toBe(-XEN_ERRNO.EINVAL);
    expect(mm.updateDescriptor(1, f(3) * 4096, 0, 0)).toBe(-XEN_ERRNO.EINVAL); // an L1 table
    expect(mm.updateDescriptor(1, f(14) * 4096, 0x0000ffff, 0x00cf9300)).toBe(0); // plain page
    expect(mm.setGdt(1, 0, [], 0)).toBe(0);
    expect(machine.frames.typeCount[f(12)]).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 10), pte(f(12), P | RW)]), 1)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, f(14))])).toBe(-XEN_ERRNO.EINVAL);
  });
});
