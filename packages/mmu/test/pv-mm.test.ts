import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  DOMID,
  Machine,
  MMUEXT,
  PAGING_MODE,
  PGT,
  PvMm,
  Translator,
  UVMF,
  VMASST,
  XEN_ERRNO,
} from '../src/index.ts';
import { buildTables, guest64, NX, op, P, pte, ptr, RW, rawWrite, reqs, US } from './pv-helpers.ts';

const { EINVAL, EBUSY, EPERM, ENOSYS, EACCES, EOPNOTSUPP } = XEN_ERRNO;

describe('PV direct paging: validation and types', () => {
  it('pinning an L4 validates the whole tree and takes types and references bottom-up', () => {
    const g = guest64();
    const { machine, f } = g;
    const ft = machine.frames;
    expect(buildTables(g)).toBe(0);
    expect([ft.type[f(0)], ft.type[f(1)], ft.type[f(2)], ft.type[f(3)]]).toEqual([
      PGT.PGT_l4_page_table,
      PGT.PGT_l3_page_table,
      PGT.PGT_l2_page_table,
      PGT.PGT_l1_page_table,
    ]);
    expect(ft.typeCount[f(0)]).toBe(2); // pin + base pointer
    expect(ft.refCount[f(0)]).toBe(2);
    expect(ft.pinned[f(0)]).toBe(1);
    expect(ft.type[f(8)]).toBe(PGT.PGT_writable_page);
    expect(ft.typeCount[f(8)]).toBe(1);
    expect(ft.refCount[f(9)]).toBe(1);
    expect(ft.typeCount[f(9)]).toBe(0);
  });

  it('lets the walker translate through validated tables', () => {
    const g = guest64();
    expect(buildTables(g)).toBe(0);
    const t = new Translator(g.machine.memory);
    g.mm.attachTlb(1, 0, t);
    const base = g.d.vcpus[0].baseMfn;
    t.setPaging({
      mode: PAGING_MODE.LONG,
      cr3Lo: base << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(t.translate(0x4000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(g.f(8));
    expect(t.translate(0x5000, 0, ACCESS.WRITE)).toBe(-1);
    expect(t.faultCode).toBe(0x3);
  });

  it('never maps a page-table frame writable', () => {
    const g = guest64();
    const { mm, f } = g;
    expect(buildTables(g)).toBe(0);
    for (const target of [0, 1, 2, 3]) {
      const rc = mm.mmuUpdate(1, reqs([ptr(f(3), 10), pte(f(target), P | RW)]), 1);
      expect(rc).toBe(-EBUSY);
      expect(mm.done).toBe(0);
      expect(mm.mmuUpdate(1, reqs([ptr(f(3), 10), pte(f(target), P)]), 1)).toBe(0);
    }
  });

  it('refuses to turn a writably mapped frame into a page table', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, f(8))])).toBe(-EINVAL);
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 1), pte(f(8), P | RW)]), 1)).toBe(-EINVAL);
    expect(machine.frames.type[f(8)]).toBe(PGT.PGT_writable_page);
    // Once unmapped, the frame may become a page table.
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 4), 0]), 1)).toBe(0);
    expect(machine.frames.typeCount[f(8)]).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 1), pte(f(8), P | RW)]), 1)).toBe(0);
    expect(machine.frames.type[f(8)]).toBe(PGT.PGT_l1_page_table);
  });

  it('refuses to map frames the domain does not own unless a grant allows it', () => {
    const g = guest64();
    expect(buildTables(g)).toBe(0);
    expect(g.mm.mmuUpdate(1, reqs([ptr(g.f(3), 6), pte(g.v(0), P)]), 1)).toBe(-EBUSY);
    const granted = guest64(16, {
      grants: {
        mayMap: (mapper, mfn, writable) => mapper === 1 && mfn === granted.v(1) && !writable,
      },
    });
    expect(buildTables(granted)).toBe(0);
    const { mm, v, f, machine } = granted;
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 6), pte(v(1), P)]), 1)).toBe(0);
    expect(machine.frames.refCount[v(1)]).toBe(1);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 7), pte(v(1), P | RW)]), 1)).toBe(-EBUSY);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 7), pte(v(2), P)]), 1)).toBe(-EBUSY);
  });

  it('rejects disallowed flags per level and MMIO frames', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    for (const bad of [0x8, 0x10, 0x80]) {
      expect(mm.mmuUpdate(1, reqs([ptr(f(3), 6), pte(f(10), P | bad)]), 1)).toBe(-EINVAL);
    }
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 6), pte(f(10), P | 0x100 | 0xe00 | 0x60), NX]), 1)).toBe(
      0,
    );
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 7), pte(machine.frames.frames + 5, P)]), 1)).toBe(
      -EPERM,
    );
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 7), P, 0x10]), 1)).toBe(-EPERM);
    // L2: PSE, G, PWT and PCD are rejected.
    rawWrite(mm, 1, [[f(11), 0, 0]]);
    for (const bad of [0x8, 0x10, 0x80, 0x100]) {
      expect(mm.mmuUpdate(1, reqs([ptr(f(2), 2), pte(f(11), P | bad)]), 1)).toBe(-EINVAL);
    }
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 2), pte(f(11), P)]), 1)).toBe(0);
  });

  it('protects Xen L4 slots 256-271 and fills them with Xen entries on validation', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    mm.xenL4Entries[0] = 0x1234067;
    rawWrite(mm, 1, [[f(12), 256, pte(f(13), P | RW)]]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(12))])).toBe(0);
    expect(machine.memory.read32(f(12), 256 * 8)).toBe(0x1234067);
    expect(machine.frames.typeCount[f(13)]).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(12), 260), 0]), 1)).toBe(-EINVAL);
    expect(mm.mmuUpdate(1, reqs([ptr(f(12), 255), 0]), 1)).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(12), 272), 0]), 1)).toBe(0);
  });

  it('rejects linear page tables (a table referencing itself at another level)', () => {
    const g = guest64();
    const { mm, f } = g;
    expect(buildTables(g)).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(0), 5), pte(f(0), P)]), 1)).toBe(-EINVAL);
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 5), pte(f(2), P)]), 1)).toBe(-EINVAL);
  });

  it('pins, refuses double pins and unpins back to zero counts', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    const ft = machine.frames;
    expect(buildTables(g)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_UNPIN_TABLE, f(1))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L2_TABLE, f(0))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_UNPIN_TABLE, f(0))])).toBe(0);
    expect(ft.typeCount[f(0)]).toBe(1); // still the base pointer
    mm.relinquish(1);
    for (let pfn = 0; pfn < 16; pfn++) {
      expect([ft.typeCount[f(pfn)], ft.refCount[f(pfn)]]).toEqual([0, 0]);
    }
  });

  it('returns every count to zero when the guest itself unmaps, unpins and switches away', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    const ft = machine.frames;
    expect(buildTables(g)).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 4), 0], [ptr(f(3), 5), 0]), 2)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_UNPIN_TABLE, f(0))])).toBe(0);
    rawWrite(mm, 1, [[f(15), 0, 0]]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(15))])).toBe(0);
    for (let pfn = 0; pfn < 15; pfn++) {
      expect([pfn, ft.type[f(pfn)], ft.typeCount[f(pfn)], ft.refCount[f(pfn)]]).toEqual([
        pfn,
        0,
        0,
        0,
      ]);
    }
    expect([ft.typeCount[f(15)], ft.refCount[f(15)]]).toEqual([1, 1]);
    // Nothing pins the old frames any more: they can be ballooned out.
    expect(machine.depopulate(1, 3)).toBe(0);
    expect(machine.depopulate(1, 15)).toBe(-EBUSY);
  });

  it('switches base pointers, releasing the old one and flushing the TLB', () => {
    const g = guest64();
    const { mm, f, machine, d } = g;
    expect(buildTables(g)).toBe(0);
    let flushes = 0;
    mm.attachTlb(1, 0, { flush: () => flushes++, invlpg: () => {} });
    rawWrite(mm, 1, [[f(14), 0, pte(f(1), P | RW | US)]]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(14))])).toBe(0);
    expect(d.vcpus[0].baseMfn).toBe(f(14));
    expect(machine.frames.typeCount[f(0)]).toBe(1);
    expect(machine.frames.typeCount[f(1)]).toBe(2);
    expect(flushes).toBe(1);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(8))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, f(14))])).toBe(0);
    expect(machine.frames.typeCount[f(14)]).toBe(2);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, 0)])).toBe(0);
    expect(machine.frames.typeCount[f(14)]).toBe(1);
  });

  it('update_va_mapping validates, writes the L1 entry and flushes as asked', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    const t = new Translator(machine.memory);
    mm.attachTlb(1, 0, t);
    t.setPaging({
      mode: PAGING_MODE.LONG,
      cr3Lo: f(0) << 12,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(t.translate(0x4000, 0, ACCESS.READ)).toBe(f(8));
    expect(mm.updateVaMapping(1, 0, 0x4000, 0, pte(f(10), P), 0, UVMF.UVMF_NONE)).toBe(0);
    expect(t.translate(0x4000, 0, ACCESS.READ)).toBe(f(8)); // stale until flushed
    expect(mm.updateVaMapping(1, 0, 0x4000, 0, pte(f(11), P), 0, UVMF.UVMF_INVLPG)).toBe(0);
    expect(t.translate(0x4000, 0, ACCESS.READ)).toBe(f(11));
    expect(machine.frames.typeCount[f(8)]).toBe(0);
    expect(mm.updateVaMapping(1, 0, 0x4000, 0, pte(f(3), P | RW), 0, 0)).toBe(-EBUSY);
    expect(mm.updateVaMapping(1, 0, 0x200000, 0, pte(f(11), P), 0, 0)).toBe(-EINVAL); // no L1
    expect(mm.updateVaMapping(1, 0, 0, 0xffff8000 | 0, pte(f(11), P), 0, 0)).toBe(-EINVAL); // Xen
    expect(mm.updateVaMapping(1, 0, 0, 0x00010000, pte(f(11), P), 0, 0)).toBe(-EINVAL); // non-canonical
    expect(mm.updateVaMapping(1, 1, 0x4000, 0, 0, 0, 0)).toBe(-EINVAL); // vCPU 1 has no base
  });

  it('MMU_MACHPHYS_UPDATE sets the M2P only for own frames', () => {
    const g = guest64();
    const { mm, f, v, machine } = g;
    expect(mm.mmuUpdate(1, reqs([ptr(f(5), 0, 1), 77]), 1)).toBe(0);
    expect(machine.frames.m2p[f(5)]).toBe(77);
    expect(mm.mmuUpdate(1, reqs([ptr(v(0), 0, 1), 77]), 1)).toBe(-EINVAL);
    expect(machine.frames.m2p[v(0)]).toBe(0);
  });

  it('stops a batch at the first failure and reports how many were done', () => {
    const g = guest64();
    const { mm, f } = g;
    const batch = reqs(
      [ptr(f(5), 0), 1],
      [ptr(f(5), 1), 2],
      [ptr(f(5), 2, 5), 3],
      [ptr(f(5), 3), 4],
    );
    expect(mm.mmuUpdate(1, batch, 4)).toBe(-ENOSYS);
    expect(mm.done).toBe(2);
    expect(g.machine.memory.read32(f(5), 24)).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(g.v(0), 0), 1]), 1)).toBe(-EINVAL);
  });

  it('refuses foreign page owners for unprivileged domains', () => {
    const g = guest64();
    expect(g.mm.mmuUpdate(1, reqs([ptr(g.v(0), 0), 1]), 1, 2)).toBe(-EPERM);
    expect(g.mm.mmuUpdate(1, reqs([ptr(g.f(0), 0), 1]), 1, DOMID.DOMID_SELF)).toBe(0);
    expect(g.mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, g.v(0))], 2)).toBe(-EPERM);
  });

  it('lets a privileged domain build and pin another domain tables through foreigndom', () => {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(0, 0, 4);
    machine.populate(5, 0, 4);
    const mm = new PvMm(machine);
    mm.addDomain(0, { guestWidth: 64, privileged: true });
    mm.addDomain(5, { guestWidth: 64 });
    const u = (pfn: number) => machine.p2m(5).get(pfn);
    expect(mm.mmuUpdate(0, reqs([ptr(u(0), 1), pte(u(1), P | RW)]), 1, 5 | (6 << 16))).toBe(0);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, u(0))], 5)).toBe(0);
    expect(machine.frames.type[u(1)]).toBe(PGT.PGT_writable_page);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, u(0))], 9)).toBe(-XEN_ERRNO.ESRCH);
  });

  it('implements the remaining mmuext_op commands with Xen error codes', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    const seen: string[] = [];
    mm.attachTlb(1, 0, {
      flush: (gl) => seen.push(`f0${gl}`),
      invlpg: (lo) => seen.push(`i0:${lo}`),
    });
    mm.attachTlb(1, 1, {
      flush: (gl) => seen.push(`f1${gl}`),
      invlpg: (lo) => seen.push(`i1:${lo}`),
    });
    expect(
      mm.mmuextOp(1, 0, [
        op(MMUEXT.MMUEXT_TLB_FLUSH_LOCAL),
        op(MMUEXT.MMUEXT_INVLPG_LOCAL, 0x5000),
        op(MMUEXT.MMUEXT_TLB_FLUSH_ALL),
        op(MMUEXT.MMUEXT_INVLPG_MULTI, 0x6000, 0b10),
        op(MMUEXT.MMUEXT_TLB_FLUSH_MULTI, 0, 0b01),
      ]),
    ).toBe(0);
    expect(seen).toEqual(['f0false', 'i0:20480', 'f0false', 'f1false', 'i1:24576', 'f0false']);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x10000, 16)])).toBe(0);
    expect(g.d.vcpus[0].ldtEnts).toBe(16);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x10010, 16)])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x10000, 8193)])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0, 1, 0xffff8000 | 0)])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_FLUSH_CACHE)])).toBe(-EACCES);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_MARK_SUPER, f(5))])).toBe(-EOPNOTSUPP);
    expect(mm.mmuextOp(1, 0, [op(99)])).toBe(-ENOSYS);
    machine.memory.write32(f(5), 0, 42);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_COPY_PAGE, f(6), f(5))])).toBe(0);
    expect(machine.memory.read32(f(6), 0)).toBe(42);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_CLEAR_PAGE, f(6))])).toBe(0);
    expect(machine.memory.read32(f(6), 0)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_CLEAR_PAGE, f(3))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_COPY_PAGE, f(2), f(5))])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_COPY_PAGE, f(6), g.v(0))])).toBe(-EINVAL);
    expect(machine.frames.refCount[f(5)]).toBe(0);
  });
});

describe('vm_assist and update_va_mapping_otherdomain', () => {
  it('accepts the assist types valid for the guest width and rejects the rest', () => {
    const g = guest64();
    const { mm, d } = g;
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_enable, VMASST.VMASST_TYPE_pae_extended_cr3)).toBe(0);
    expect(d.vmAssist).toBe(1 << 3);
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_enable, VMASST.VMASST_TYPE_m2p_strict)).toBe(0);
    expect(d.m2pStrict).toBe(true);
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_disable, VMASST.VMASST_TYPE_pae_extended_cr3)).toBe(0);
    expect(d.vmAssist).toBe(0);
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_enable, 6)).toBe(-EINVAL);
    expect(mm.vmAssist(1, 2, 0)).toBe(-ENOSYS);
    const m = new Machine({ bytes: 2 * 1024 * 1024 });
    const mm32 = new PvMm(m);
    mm32.addDomain(3, { guestWidth: 32 });
    expect(mm32.vmAssist(3, VMASST.VMASST_CMD_enable, VMASST.VMASST_TYPE_m2p_strict)).toBe(-EINVAL);
  });

  it('requires pae_extended_cr3 for a 32-bit L3 above 4 GiB', () => {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 * 1024 + 2 * 1024 * 1024 });
    machine.populate(9, 0, 0x100000); // fill the low 4 GiB with someone else's frames (lazily)
    machine.populate(1, 0, 4);
    const f = (pfn: number) => machine.p2m(1).get(pfn);
    expect(f(0)).toBeGreaterThanOrEqual(0x100000);
    const mm = new PvMm(machine);
    mm.addDomain(1, { guestWidth: 32 });
    rawWrite(mm, 1, [[f(0), 3, pte(f(1), P), f(1) >>> 20]]); // frame above 4 GiB: high half
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(-XEN_ERRNO.ERANGE);
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_enable, VMASST.VMASST_TYPE_pae_extended_cr3)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
  });

  it('lets only privileged domains map foreign frames with update_va_mapping_otherdomain', () => {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(0, 0, 8);
    machine.populate(5, 0, 2);
    const mm = new PvMm(machine);
    mm.addDomain(0, { guestWidth: 64, privileged: true });
    mm.addDomain(5, { guestWidth: 64 });
    const f = (pfn: number) => machine.p2m(0).get(pfn);
    const u = machine.p2m(5).get(1);
    rawWrite(mm, 0, [
      [f(2), 0, pte(f(3), P | RW)],
      [f(1), 0, pte(f(2), P | RW)],
      [f(0), 0, pte(f(1), P | RW)],
    ]);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    expect(mm.updateVaMapping(0, 0, 0x1000, 0, pte(u, P | RW), 0, 0)).toBe(-EBUSY);
    expect(mm.updateVaMappingOtherdomain(0, 0, 0x1000, 0, pte(u, P | RW), 0, 0, 5)).toBe(0);
    expect(machine.frames.type[u]).toBe(PGT.PGT_writable_page);
    expect(mm.updateVaMappingOtherdomain(0, 0, 0x2000, 0, pte(u, P), 0, 0, 77)).toBe(
      -XEN_ERRNO.ESRCH,
    );
    expect(mm.updateVaMappingOtherdomain(5, 0, 0x2000, 0, pte(f(5), P), 0, 0, 0)).toBe(-EPERM);
  });
});

describe('writable page-table emulation (ptwr)', () => {
  it('applies faulting writes to a live L1 as validated updates, merging 4-byte halves', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    expect(mm.ptwrWrite(1, f(3), 6 * 8, pte(f(10), P | RW), 0, 8)).toBe(0);
    expect(machine.frames.type[f(10)]).toBe(PGT.PGT_writable_page);
    expect(mm.ptwrWrite(1, f(3), 6 * 8, pte(f(11), P), 0, 4)).toBe(0);
    // Stored as Xen's adjust_guest_l1e leaves it: a 64-bit kernel page gains _PAGE_USER.
    expect(machine.memory.read32(f(3), 6 * 8)).toBe(pte(f(11), P) | 0x4);
    expect(machine.frames.typeCount[f(10)]).toBe(0);
    expect(mm.ptwrWrite(1, f(3), 6 * 8 + 4, NX, 0, 4)).toBe(0);
    expect(machine.memory.read32(f(3), 6 * 8 + 4)).toBe(NX);
    expect(mm.ptwrWrite(1, f(3), 7 * 8, pte(f(2), P | RW), 0, 8)).toBe(-EBUSY);
    expect(mm.ptwrWrite(1, f(2), 0, 0, 0, 8)).toBe(-XEN_ERRNO.EFAULT); // an L2: not ptwr
    expect(mm.ptwrWrite(1, f(3), 3, 0, 0, 4)).toBe(-XEN_ERRNO.EFAULT); // misaligned
    expect(mm.ptwrWrite(1, g.v(0), 0, 0, 0, 8)).toBe(-XEN_ERRNO.EFAULT); // foreign
  });

  it('supports cmpxchg and only writes when the old value matches', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    const old = machine.memory.read32(f(3), 4 * 8);
    expect(mm.ptwrWrite(1, f(3), 4 * 8, 0, 0, 8, true, old ^ 0x20, 0)).toBe(0);
    expect(mm.lastCompareOk).toBe(false);
    expect(machine.memory.read32(f(3), 4 * 8)).toBe(old);
    expect(mm.ptwrWrite(1, f(3), 4 * 8, 0, 0, 8, true, old, 0)).toBe(0);
    expect(mm.lastCompareOk).toBe(true);
    expect(machine.frames.typeCount[f(8)]).toBe(0);
  });
});

describe('PV direct paging: 32-bit PAE guests', () => {
  function guest32() {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(1, 0, 12);
    const mm = new PvMm(machine);
    const d = mm.addDomain(1, { guestWidth: 32 });
    const f = (pfn: number) => machine.p2m(1).get(pfn);
    return { machine, mm, d, f };
  }

  it('requires L3 slot 3, types its L2 as the PAE Xen L2 and protects Xen slots', () => {
    const { machine, mm, f } = guest32();
    mm.xenL2Entries[0] = 0x5063;
    rawWrite(mm, 1, [
      [f(0), 0, pte(f(1), P)],
      [f(2), 0, pte(f(4), P | RW | US)],
      [f(2), 430, pte(f(5), P | RW)],
      [f(4), 0, pte(f(6), P | RW | US)],
      [f(0), 7, pte(f(9), P)],
    ]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(-EINVAL);
    rawWrite(mm, 1, [[f(0), 3, pte(f(2), P)]]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    expect(machine.frames.type[f(2)]).toBe(PGT.PGT_l2_page_table | PGT.PGT_pae_xen_l2);
    expect(machine.frames.type[f(1)]).toBe(PGT.PGT_l2_page_table);
    expect(machine.memory.read32(f(0), 7 * 8)).toBe(0); // entries 4..511 zeroed
    expect(machine.memory.read32(f(2), 428 * 8)).toBe(0x5063);
    expect(machine.frames.typeCount[f(5)]).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 430), pte(f(7), P)]), 1)).toBe(-EPERM); // mod_l2_entry
    expect(mm.mmuUpdate(1, reqs([ptr(f(2), 427), pte(f(4), P)]), 1)).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(0), 3), pte(f(3), P)]), 1)).toBe(-EINVAL);
    expect(mm.mmuUpdate(1, reqs([ptr(f(0), 2), pte(f(2), P)]), 1)).toBe(-EINVAL); // shared Xen L2
    expect(mm.mmuUpdate(1, reqs([ptr(f(0), 2), pte(f(3), P), NX]), 1)).toBe(-EINVAL);
    expect(mm.mmuUpdate(1, reqs([ptr(f(0), 2), pte(f(3), P | RW | US)]), 1)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(8))])).toBe(0);
    expect(machine.frames.typeCount[f(8)]).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, f(0))])).toBe(-EINVAL);
  });

  it('update_va_mapping walks the PAE tables and refuses the hypervisor hole', () => {
    const { machine, mm, f } = guest32();
    rawWrite(mm, 1, [
      [f(0), 3, pte(f(2), P)],
      [f(0), 0, pte(f(1), P)],
      [f(1), 1, pte(f(3), P)],
    ]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    // ptwr: an upper-half write that leaves the entry present gets P cleared (wrong order).
    expect(mm.ptwrWrite(1, f(3), 6 * 8, pte(f(9), P), 0, 4)).toBe(0);
    expect(mm.ptwrWrite(1, f(3), 6 * 8 + 4, 0, 0, 4)).toBe(0);
    expect(machine.memory.read32(f(3), 6 * 8)).toBe(pte(f(9), 0));
    expect(mm.updateVaMapping(1, 0, 0x00205000, 0, pte(f(9), P | RW), 0, 0)).toBe(0);
    expect(machine.memory.read32(f(3), 5 * 8)).toBe(pte(f(9), P | RW));
    expect(mm.updateVaMapping(1, 0, 0xf5800000 | 0, 0, pte(f(9), P), 0, 0)).toBe(-EINVAL);
    expect(mm.updateVaMapping(1, 0, 0x00205000, 1, pte(f(9), P), 0, 0)).toBe(-EINVAL);
  });
});

describe('PV paging state', () => {
  it('round-trips through JSON and keeps reference counting consistent after restore', () => {
    const g = guest64();
    expect(buildTables(g)).toBe(0);
    const saved = JSON.parse(JSON.stringify({ m: g.machine.getState(), p: g.mm.getState() }));
    const machine = Machine.fromState(saved.m);
    // RAM contents travel separately; copy the frames the tables live in.
    for (let mfn = 0; mfn < g.machine.frames.frames; mfn++) {
      if (g.machine.frames.owner[mfn] !== DOMID.DOMID_INVALID) {
        machine.memory.writeBytes(mfn, 0, g.machine.memory.readFrame(mfn));
      }
    }
    const mm = PvMm.fromState(saved.p, machine);
    expect(mm.getState()).toEqual(g.mm.getState());
    expect(machine.getState()).toEqual(g.machine.getState());
    mm.relinquish(1);
    for (let mfn = 0; mfn < machine.frames.frames; mfn++) {
      expect(machine.frames.refCount[mfn]).toBe(0);
      expect(machine.frames.typeCount[mfn]).toBe(0);
    }
  });
});
