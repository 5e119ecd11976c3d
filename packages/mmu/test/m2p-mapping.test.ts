import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  DOMID,
  INVALID_P2M_ENTRY,
  M2pMapping,
  Machine,
  MMU_CMD,
  MMUEXT,
  PAGING_MODE,
  PvMm,
  Translator,
  XEN_ERRNO,
} from '../src/index.ts';
import { op, P, pte, ptr, RW, rawWrite, reqs, US } from './pv-helpers.ts';

function setup(width: 32 | 64) {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 }); // 2048 frames: two compat pages
  machine.populate(7, 0, 1200); // someone else's frames, visible in the global M2P
  machine.populate(1, 0, 16);
  const mm = new PvMm(machine);
  mm.addDomain(1, { guestWidth: width });
  const m2p = new M2pMapping(mm);
  const f = (pfn: number) => machine.p2m(1).get(pfn);
  if (width === 64) {
    rawWrite(mm, 1, [
      [f(2), 0, pte(f(3), P | RW | US)],
      [f(1), 0, pte(f(2), P | RW | US)],
      [f(0), 0, pte(f(1), P | RW | US)],
    ]);
  } else {
    rawWrite(mm, 1, [
      [f(0), 0, pte(f(1), P)],
      [f(0), 3, pte(f(2), P)],
    ]);
  }
  expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
  const cpu = new Translator(machine.memory, { physAddrBits: 40 });
  cpu.setPaging({
    mode: width === 64 ? PAGING_MODE.LONG : PAGING_MODE.PAE,
    cr3Lo: f(0) * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  /** The guest's view of M2P entry `mfn` (low word; high word for 64-bit). */
  const read = (mfn: number): [number, number] | null => {
    if (width === 64) {
      const lo = mfn * 8;
      const frame = cpu.translate(lo & ~0xfff, 0xffff8000 | 0, ACCESS.USER);
      if (frame < 0) return null;
      return [
        machine.memory.read32(frame, lo & 0xfff),
        machine.memory.read32(frame, (lo & 0xfff) + 4),
      ];
    }
    const va = 0xf5800000 + mfn * 4;
    const frame = cpu.translate(va & ~0xfff, 0, ACCESS.USER);
    if (frame < 0) return null;
    return [machine.memory.read32(frame, va & 0xfff), 0];
  };
  return { machine, mm, m2p, f, cpu, read };
}

describe.each([64, 32] as const)('the read-only M2P of a %i-bit PV guest', (width) => {
  it('shows every frame’s PFN (all-ones for free frames) at Xen’s address', () => {
    const { machine, read } = setup(width);
    const ft = machine.frames;
    for (let mfn = 0; mfn < ft.frames; mfn++) {
      const got = read(mfn);
      expect(got).not.toBeNull();
      const [lo, hi] = got as [number, number];
      expect(lo >>> 0).toBe(ft.m2p[mfn]);
      if (width === 64) expect(hi).toBe(ft.m2p[mfn] === INVALID_P2M_ENTRY ? -1 : 0);
    }
  });

  it('follows MMU_MACHPHYS_UPDATE and refresh(), and stays read-only and out of the guest’s reach', () => {
    const { machine, mm, m2p, f, cpu, read } = setup(width);
    expect(mm.mmuUpdate(1, reqs([ptr(f(5), 0, MMU_CMD.MMU_MACHPHYS_UPDATE), 0x1234]), 1)).toBe(0);
    expect(read(f(5))?.[0]).toBe(0x1234);
    machine.populate(1, 16, 1);
    m2p.refresh();
    expect(read(f(16))?.[0]).toBe(16);
    // Read-only for the guest.
    const va = width === 64 ? [0, 0xffff8000 | 0] : [0xf5800000 | 0, 0];
    expect(cpu.translate(va[0] as number, va[1] as number, ACCESS.WRITE | ACCESS.USER)).toBe(-1);
    expect(cpu.faultCode & 1).toBe(1); // a protection fault: the page is present
    // The tables are Xen's.
    for (const t of m2p.frames()) expect(machine.frames.owner[t]).toBe(DOMID.DOMID_XEN);
    if (width === 64) {
      expect(mm.mmuUpdate(1, reqs([ptr(f(0), 256), pte(f(9), P)]), 1)).toBe(-XEN_ERRNO.EINVAL);
      expect(mm.updateVaMapping(1, 0, 0, 0xffff8000 | 0, pte(f(9), P), 0, 0)).toBe(
        -XEN_ERRNO.EINVAL,
      );
    } else {
      expect(mm.mmuUpdate(1, reqs([ptr(f(2), 428), pte(f(9), P)]), 1)).toBe(-XEN_ERRNO.EPERM);
      expect(mm.updateVaMapping(1, 0, 0xf5800000 | 0, 0, pte(f(9), P), 0, 0)).toBe(
        -XEN_ERRNO.EINVAL,
      );
    }
  });
});
