import { describe, expect, it } from 'vitest';
import { Machine, MMUEXT, PGT, PvMm, UVMF, VMASST, XEN_ERRNO } from '../src/index.ts';
import { buildTables, guest64, op, P, pte, ptr, RW, rawWrite, reqs, US } from './pv-helpers.ts';

const { EINVAL, EBUSY, EPERM, ERANGE } = XEN_ERRNO;
/** A present 32-bit TSS descriptor (high word): a system type no guest may install. */
const TSS_HI = 0x00008900;

describe('LDT pages are typed as segment-descriptor pages when mapped', () => {
  it('maps an LDT page through the kernel tables, typed PGT_seg_desc_page, at most once', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0); // VA 0x5000 → pfn 9, read-only
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x5000, 16)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(9));
    expect(machine.frames.type[f(9)]).toBe(PGT.PGT_seg_desc_page);
    expect(machine.frames.typeCount[f(9)]).toBe(1);
    expect(mm.mapLdtPage(1, 0, 8)).toBe(f(9));
    expect(machine.frames.typeCount[f(9)]).toBe(1);
    // Beyond the LDT limit: no mapping.
    expect(mm.mapLdtPage(1, 0, 16 * 8)).toBe(-1);
    // While typed, the frame cannot gain a writable mapping.
    expect(mm.updateVaMapping(1, 0, 0x6000, 0, pte(f(9), P | RW), 0, 0)).toBe(-EBUSY);
  });

  it('refuses pages that are mapped writable, hold unsafe descriptors or are not mapped', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    // VA 0x4000 maps pfn 8 writable: it cannot become a descriptor page.
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x4000, 512)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(-1);
    expect(machine.frames.type[f(8)]).toBe(PGT.PGT_writable_page);
    // A TSS descriptor in the page: validation fails and the type is dropped again.
    machine.memory.write32(f(10), 8 * 3 + 4, TSS_HI);
    expect(mm.updateVaMapping(1, 0, 0x6000, 0, pte(f(10), P), 0, 0)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x6000, 512)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(-1);
    expect(machine.frames.typeCount[f(10)]).toBe(0);
    // Nothing mapped at the LDT's address.
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x9000, 512)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(-1);
  });

  it('drops the LDT mappings on SET_LDT with new arguments, NEW_BASEPTR, unmapping and relinquish', () => {
    const g = guest64();
    const { mm, f, machine } = g;
    expect(buildTables(g)).toBe(0);
    const typed = () => machine.frames.typeCount[f(9)];
    const ldt = (ents: number) => mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x5000, ents)]);
    expect(ldt(16)).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(9));
    expect(ldt(16)).toBe(0); // same arguments: kept
    expect(typed()).toBe(1);
    expect(ldt(32)).toBe(0);
    expect(typed()).toBe(0);
    expect(g.d.vcpus[0].ldtFrames).toEqual([]);

    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(9));
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    expect(typed()).toBe(0);

    // Unmapping the page (a read-only L1 entry) blows every vCPU's mapped LDT pages.
    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(9));
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 5), 0]), 1)).toBe(0);
    expect(typed()).toBe(0);
    expect(machine.frames.refCount[f(9)]).toBe(0);
    // ...after which the frame may be mapped writable again.
    expect(mm.updateVaMapping(1, 0, 0x5000, 0, pte(f(9), P | RW), 0, 0)).toBe(0);

    expect(mm.updateVaMapping(1, 0, 0x6000, 0, pte(f(11), P), 0, 0)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x6000, 16)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(11));
    const saved = JSON.parse(JSON.stringify(mm.getState()));
    expect(saved.domains[0].vcpus[0].ldtFrames).toEqual([f(11)]);
    mm.relinquish(1);
    expect(machine.frames.typeCount[f(11)]).toBe(0);
  });

  it('checks SET_LDT arguments as Xen: base ignored without entries, __addr_ok, 8192 entries', () => {
    const g = guest64();
    const { mm } = g;
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x1234, 0)])).toBe(0);
    expect(g.d.vcpus[0].ldtBaseLo).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x1234, 1)])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x1000, 8193)])).toBe(-EINVAL);
    // Upper canonical half above Xen's range is a guest address; Xen's range is not.
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0, 1, 0xffff8800 | 0)])).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0, 1, 0xffff8000 | 0)])).toBe(-EINVAL);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0, 1, 0x8000)])).toBe(-EINVAL);
  });
});

describe('Xen error codes for privileged and foreign mmuext operations', () => {
  it('refuses foreign base pointers with -EPERM and unprivileged global cache flushes with -EINVAL', () => {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(0, 0, 4);
    machine.populate(5, 0, 4);
    const mm = new PvMm(machine);
    mm.addDomain(0, { guestWidth: 64, privileged: true });
    mm.addDomain(5, { guestWidth: 64 });
    const u = machine.p2m(5).get(0);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, u)], 5)).toBe(-EPERM);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, u)], 5)).toBe(-EPERM);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_FLUSH_CACHE_GLOBAL)])).toBe(0);
    expect(mm.mmuextOp(5, 0, [op(MMUEXT.MMUEXT_FLUSH_CACHE_GLOBAL)])).toBe(-EINVAL);
    expect(mm.mmuextOp(5, 0, [op(MMUEXT.MMUEXT_FLUSH_CACHE)])).toBe(-XEN_ERRNO.EACCES);
    // CLEAR_PAGE acts on the foreign domain's frame for a privileged caller.
    machine.memory.write32(u, 0, 7);
    expect(mm.mmuextOp(0, 0, [op(MMUEXT.MMUEXT_CLEAR_PAGE, u)], 5)).toBe(0);
    expect(machine.memory.read32(u, 0)).toBe(0);
    // MMU_MACHPHYS_UPDATE is refused when the page-table owner is another domain.
    expect(mm.mmuUpdate(0, reqs([u * 4096 + 1, 3]), 1, 5 | ((5 + 1) << 16))).toBe(-EPERM);
    expect(mm.mmuUpdate(0, reqs([u * 4096 + 1, 3]), 1, 5)).toBe(0);
    expect(machine.frames.m2p[u]).toBe(3);
  });
});

/** A 32-bit PAE guest (domid 1) on a machine whose frames lie above 4 GiB. */
function guest32High(options: { initialised?: boolean } = {}) {
  const machine = new Machine({ bytes: 4 * 1024 * 1024 * 1024 + 2 * 1024 * 1024 });
  machine.populate(9, 0, 0x100000); // the low 4 GiB belong to someone else (allocated lazily)
  machine.populate(1, 0, 8);
  const f = (pfn: number) => machine.p2m(1).get(pfn);
  const mm = new PvMm(machine);
  const d = mm.addDomain(1, { guestWidth: 32, ...options });
  // L3 (pfn 0) with slot 3 → the PAE Xen L2 (pfn 1); the entry's frame needs the high half.
  rawWrite(mm, 1, [[f(0), 3, pte(f(1), P), f(1) >>> 20]]);
  return { machine, mm, d, f };
}

describe('32-bit PAE PV guests: L3 placement', () => {
  it('refuses to pin an L3 above 4 GiB with -ERANGE without pae_extended_cr3', () => {
    const { mm, f, machine } = guest32High();
    expect(f(0)).toBeGreaterThanOrEqual(0x100000);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L3_TABLE, f(0))])).toBe(-ERANGE);
    expect(machine.frames.typeCount[f(0)]).toBe(0);
    expect(machine.frames.refCount[f(0)]).toBe(0);
    expect(machine.frames.typeCount[f(1)]).toBe(0);
    expect(mm.vmAssist(1, VMASST.VMASST_CMD_enable, VMASST.VMASST_TYPE_pae_extended_cr3)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L3_TABLE, f(0))])).toBe(0);
    expect(machine.frames.type[f(1)]).toBe(PGT.PGT_l2_page_table | PGT.PGT_pae_xen_l2);
  });

  it('lets the toolstack validate a high L3 before vCPU 0 is initialised, then uses it', () => {
    const { mm, f, d } = guest32High({ initialised: false });
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L3_TABLE, f(0))])).toBe(0);
    d.initialised = true;
    // Already validated: becoming the base pointer takes a reference, no new validation.
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    // A second, unvalidated high L3 is refused now.
    rawWrite(mm, 1, [[f(2), 3, pte(f(3), P), f(3) >>> 20]]);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(2))])).toBe(-ERANGE);
    expect(mm.getState().domains[0]?.initialised).toBe(true);
  });
});

describe('32-bit PAE PV guests: validation as Xen', () => {
  function guest32() {
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(1, 0, 16);
    const mm = new PvMm(machine);
    mm.addDomain(1, { guestWidth: 32, vcpus: 2 });
    const f = (pfn: number) => machine.p2m(1).get(pfn);
    // L3 pfn 0: slot 0 → L2 pfn 1 → L1 pfn 2; slot 3 → Xen L2 pfn 3.
    rawWrite(mm, 1, [
      [f(2), 0, pte(f(8), P | RW | US)],
      [f(1), 0, pte(f(2), P | RW | US)],
      [f(0), 0, pte(f(1), P)],
      [f(0), 3, pte(f(3), P)],
    ]);
    return { machine, mm, f };
  }

  it('checks L3 entries with the 32-bit disallow mask (PWT, PCD, PS, G and bits 52–63)', () => {
    const { mm, f } = guest32();
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L3_TABLE, f(0))])).toBe(0);
    const l3 = (idx: number, lo: number, hi = 0) =>
      mm.mmuUpdate(1, reqs([ptr(f(0), idx), lo, hi]), 1);
    // RW and US are allowed in a Xen 4.17 PAE L3 (only the flags in 0xFFFFF198 are refused).
    expect(l3(1, pte(f(4), P | RW | US))).toBe(0);
    for (const bad of [0x8, 0x10, 0x80, 0x100]) expect(l3(2, pte(f(5), P | bad))).toBe(-EINVAL);
    expect(l3(2, pte(f(5), P), 0x00100000)).toBe(-EINVAL); // bit 52 (AVAIL_HIGH is fine in L1)
    expect(l3(2, pte(f(5), P), 0x80000000 | 0)).toBe(-EINVAL); // NX
    expect(l3(3, pte(f(5), P))).toBe(-EINVAL); // slot 3 is fixed while live
    expect(l3(4, pte(f(5), P))).toBe(-EINVAL); // slots 4–511 are not the guest's
    expect(l3(2, pte(f(3), P))).toBe(-EINVAL); // the PAE Xen L2 in another slot
    // Pinning the PAE Xen L2 as an ordinary L2 is a type conflict.
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L2_TABLE, f(3))])).toBe(-EINVAL);
  });

  it('ignores PIN_L4 and refuses NEW_USER_BASEPTR for 32-bit guests; update_va_mapping flushes', () => {
    const { mm, f, machine } = guest32();
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(9))])).toBe(0);
    expect(machine.frames.typeCount[f(9)]).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, f(9))])).toBe(-EINVAL);
    const seen: string[] = [];
    mm.attachTlb(1, 0, { flush: () => seen.push('f0'), invlpg: (lo) => seen.push(`i0:${lo}`) });
    mm.attachTlb(1, 1, { flush: () => seen.push('f1'), invlpg: (lo) => seen.push(`i1:${lo}`) });
    expect(
      mm.updateVaMapping(1, 0, 0x1000, 0, pte(f(10), P | RW), 0, UVMF.UVMF_INVLPG | UVMF.UVMF_ALL),
    ).toBe(0);
    expect(seen).toEqual(['i0:4096', 'i1:4096']);
    // 32-bit guests do not get _PAGE_USER added (their kernel runs in ring 1).
    expect(machine.memory.read32(f(2), 8)).toBe(pte(f(10), P | RW));
    // The compat M2P range at 0xF5800000 (L2 slots 428+ of the Xen L2) is Xen's.
    expect(mm.updateVaMapping(1, 0, 0xf5800000 | 0, 0, pte(f(10), P), 0, 0)).toBe(-EINVAL);
    expect(mm.updateVaMapping(1, 0, 0xffffe000 | 0, 0, pte(f(10), P), 0, 0)).toBe(-EINVAL);
  });
});
