import { describe, expect, it } from 'vitest';
import {
  DOMID,
  INVALID_MFN,
  INVALID_P2M_ENTRY,
  Machine,
  MachineMemory,
  MmuError,
  XEN_ERRNO,
} from '../src/index.ts';

const GiB = 1024 ** 3;

describe('MachineMemory', () => {
  it('addresses 8 GiB of machine memory without allocating it up front', () => {
    const mem = new MachineMemory({ bytes: 8 * GiB });
    expect(mem.frames).toBe(2 * 1024 * 1024);
    expect(mem.allocatedChunks).toBe(0);
    expect(mem.read32(mem.frames - 1, 4092)).toBe(0);
    expect(mem.allocatedChunks).toBe(0);
    mem.write32(mem.frames - 1, 4092, -2);
    expect(mem.allocatedChunks).toBe(1);
    expect(mem.read32(mem.frames - 1, 4092)).toBe(-2);
    expect(mem.readMa32(8 * GiB - 4)).toBe(-2);
    expect(mem.readMa8(8 * GiB - 1)).toBe(0xff);
  });

  it('handles unaligned machine-address accesses across a frame boundary', () => {
    const mem = new MachineMemory({ bytes: 2 * 1024 * 1024 });
    mem.writeMa32(4094, 0x11223344);
    expect(mem.read8(0, 4094)).toBe(0x44);
    expect(mem.read8(1, 1)).toBe(0x11);
    expect(mem.readMa32(4094)).toBe(0x11223344);
  });

  it('copies and clears frames', () => {
    const mem = new MachineMemory({ bytes: 4 * 1024 * 1024 });
    mem.writeBytes(3, 100, new Uint8Array([1, 2, 3]));
    mem.copyFrame(600, 3);
    expect(Array.from(mem.readFrame(600).subarray(100, 103))).toEqual([1, 2, 3]);
    mem.clearFrame(600);
    expect(mem.read8(600, 101)).toBe(0);
  });

  it('rejects sizes that are not multiples of 2 MiB', () => {
    expect(() => new MachineMemory({ bytes: 4096 })).toThrow(MmuError);
  });
});

describe('Machine: allocation, P2M and M2P', () => {
  it('populates a domain with contiguous PFNs and consistent P2M/M2P', () => {
    const m = new Machine({ bytes: 64 * 1024 * 1024 });
    expect(m.populate(1, 0, 4)).toBe(0);
    expect(m.populate(2, 0, 3)).toBe(0);
    expect(m.populate(1, 4, 2)).toBe(0);
    const p = m.p2m(1);
    expect(p.size).toBe(6);
    for (let pfn = 0; pfn < 6; pfn++) {
      const mfn = p.get(pfn);
      expect(m.frames.owner[mfn]).toBe(1);
      expect(m.frames.m2p[mfn]).toBe(pfn);
    }
    expect(p.get(6)).toBe(INVALID_MFN);
    expect(m.frames.domainPages(1)).toBe(6);
    expect(m.populate(1, 2, 1)).toBe(-XEN_ERRNO.EEXIST);
  });

  it('refuses to populate beyond free memory and to free referenced frames', () => {
    const m = new Machine({ bytes: 2 * 1024 * 1024 });
    expect(m.populate(1, 0, 513)).toBe(-XEN_ERRNO.ENOMEM);
    expect(m.frames.domainPages(1)).toBe(0);
    expect(m.populate(1, 0, 512)).toBe(0);
    const mfn = m.p2m(1).get(7);
    m.frames.refCount[mfn] = 1;
    expect(m.depopulate(1, 7)).toBe(-XEN_ERRNO.EBUSY);
    m.frames.refCount[mfn] = 0;
    expect(m.depopulate(1, 7)).toBe(0);
    expect(m.frames.owner[mfn]).toBe(DOMID.DOMID_INVALID);
    expect(m.frames.m2p[mfn]).toBe(INVALID_P2M_ENTRY);
    expect(m.p2m(1).get(7)).toBe(INVALID_MFN);
    expect(m.depopulate(1, 7)).toBe(-XEN_ERRNO.EINVAL);
    expect(m.populate(2, 0, 1)).toBe(0);
    expect(m.p2m(2).get(0)).toBe(mfn);
  });

  it('round-trips ownership, types, P2M and M2P through JSON state', () => {
    const m = new Machine({ bytes: 8 * 1024 * 1024 });
    m.populate(1, 0, 10);
    m.populate(3, 5, 2);
    m.depopulate(1, 4);
    const mfn = m.p2m(1).get(2);
    m.frames.type[mfn] = 1;
    m.frames.typeCount[mfn] = 2;
    m.frames.refCount[mfn] = 3;
    m.frames.pinned[mfn] = 1;
    const state = JSON.parse(JSON.stringify(m.getState()));
    const r = Machine.fromState(state);
    expect(r.getState()).toEqual(m.getState());
    expect(r.frames.freeFrames).toBe(m.frames.freeFrames);
    expect(r.populate(4, 0, 1)).toBe(0);
    expect(m.populate(4, 0, 1)).toBe(0);
    expect(r.p2m(4).get(0)).toBe(m.p2m(4).get(0));
  });
});
