/**
 * Hostile GDT/LDT traffic against a booted 64-bit PV domain: random set_gdt frame lists and
 * counts, update_descriptor addresses and values, MMUEXT_SET_LDT bases and counts, and selector
 * loads by the guest's CPU. Every call returns one of Xen's answers, nothing throws, and no
 * descriptor the CPU can reach is one `check_descriptor` would not have produced.
 */
import { fileURLToPath } from 'node:url';
import { PagedGuestMemory, VirtualGuestBytes } from '@typevisor/hypervisor';
import { checkDescriptor, PGT } from '@typevisor/mmu';
import { bootPvDomain, PV_GUEST_DOMID } from '@typevisor/toolstack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const ELF = fileURLToPath(
  new URL('../../packages/hypervisor/test/abi-ref/abi-ref-x86_64.elf', import.meta.url),
);
const EINVAL = -22;
const EFAULT = -14;
const MMUEXT_SET_LDT = 13;
const SEG_DS = 3;
const CPU_EXIT_EXCEPTION = 11;
/** Where the test writes `mov %eax, %ds` (the kernel's entry page, mapped writable). */
const CODE_VA = 0x100000;
const LIST = 0x100;
/** Eight of the guest's data pages, mapped at their pfn × 4096 by the boot page tables. */
const LOW_PFN = 0x180;

/** Descriptors worth trying: present code/data of every DPL, gates to every kind of selector, junk. */
const descriptor = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc
    .record({ dpl: fc.integer({ min: 0, max: 3 }), type: fc.integer({ min: 0, max: 15 }) })
    .map(
      ({ dpl, type }) => 0x00cf80000000ffffn | (BigInt(dpl) << 45n) | (BigInt(type | 16) << 40n),
    ),
  fc
    .record({
      sel: fc.constantFrom(0x08, 0x1b, 0x1c, 0xe008, 0xe010, 0xe02b, 0xe033, 0xfff8),
      dpl: fc.integer({ min: 0, max: 3 }),
      type: fc.constantFrom(0x4, 0xc, 0x5, 0x9, 0x2),
    })
    .map(
      ({ sel, dpl, type }) =>
        0x1234n | (BigInt(sel) << 16n) | ((0x80n | (BigInt(dpl) << 5n) | BigInt(type)) << 40n),
    ),
);

describe('the guest GDT and LDT under hostile hypercalls', () => {
  it('answers every set_gdt, update_descriptor, SET_LDT and selector load as Xen would allow, and only checked descriptors are reachable', () => {
    const d = bootPvDomain(ELF, 16);
    expect(d.pinRc).toBe(0);
    const { cpu, vcpu, mm, machine } = d;
    const p2m = machine.p2m(PV_GUEST_DOMID);
    const nrPages = p2m.size;
    const dt = vcpu.descriptors;
    const frameList = new PagedGuestMemory(1);
    const listView = new DataView(frameList.bytes.buffer);
    const code = new VirtualGuestBytes(cpu, machine.memory);
    expect(code.write(CODE_VA, Uint8Array.of(0x8e, 0xd8))).toBe(true); // mov %eax, %ds
    const ft = machine.frames;

    // A frame for each kind: the guest's own (RAM, page tables, its mapped kernel), others'.
    const frame = fc.oneof(
      fc.integer({ min: 0, max: nrPages - 1 }).map((pfn) => p2m.get(pfn)),
      fc.integer({ min: 0, max: 15 }).map((i) => p2m.get(i < 8 ? LOW_PFN + i : nrPages - 1 - i)),
      fc.integer({ min: 0, max: ft.frames + 10 }),
      fc.constantFrom(-1, 0x7fffffff),
    );
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set_gdt' as const),
        frames: fc.array(frame, { minLength: 0, maxLength: 15 }),
        entries: fc.oneof(
          fc.integer({ min: 0, max: 600 }),
          fc.integer({ min: 0, max: 7200 }),
          fc.integer(),
        ),
        listOk: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('update' as const),
        frame,
        offset: fc.oneof(
          fc.integer({ min: 0, max: 511 }).map((i) => i * 8),
          fc.integer({ min: 0, max: 4095 }),
        ),
        desc: descriptor,
        wild: fc.oneof(
          { weight: 6, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
        ),
      }),
      fc.record({
        kind: fc.constant('set_ldt' as const),
        pfn: fc.oneof(
          fc.integer({ min: LOW_PFN, max: LOW_PFN + 7 }),
          fc.integer({ min: 0, max: nrPages + 16 }),
        ),
        offset: fc.constantFrom(0, 8),
        ents: fc.oneof(fc.integer({ min: 0, max: 9000 }), fc.integer()),
      }),
      fc.record({
        kind: fc.constant('load' as const),
        sel: fc.oneof(
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 0x80 }),
          fc.integer({ min: 0xe000, max: 0xe07f }),
          fc.integer({ min: 0x1000, max: 0x1080 }),
        ),
      }),
      fc.record({
        kind: fc.constant('remap' as const),
        pfn: fc.integer({ min: LOW_PFN, max: LOW_PFN + 7 }),
        writable: fc.boolean(),
      }),
    );

    const seen = { gdt: 0, update: 0, ldt: 0, loaded: 0, faulted: 0, remap: 0 };
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        for (const o of ops) {
          if (o.kind === 'set_gdt') {
            for (let i = 0; i < 15; i++)
              listView.setBigUint64(
                LIST + i * 8,
                BigInt.asUintN(64, BigInt(o.frames[i] ?? 0)),
                true,
              );
            const rc = dt.setGdt(frameList, o.listOk ? LIST : -1, o.entries);
            if (rc === 0 && o.entries > 0) seen.gdt++;
            const ents = o.entries >>> 0;
            if (ents > 7168) expect(rc).toBe(EINVAL);
            else if (!o.listOk && ents > 0) expect(rc).toBe(EFAULT);
            else expect([0, EINVAL]).toContain(rc);
          } else if (o.kind === 'update') {
            const ma = o.wild ?? BigInt(o.frame) * 4096n + BigInt(o.offset);
            const rc = dt.updateDescriptor(ma, o.desc);
            if (rc === 0) seen.update++;
            expect([0, EINVAL]).toContain(rc);
            if ((ma & 7n) !== 0n) expect(rc).toBe(EINVAL);
          } else if (o.kind === 'set_ldt') {
            const base = o.pfn * 4096 + o.offset;
            const rc = mm.mmuextOp(PV_GUEST_DOMID, 0, [
              { cmd: MMUEXT_SET_LDT, arg1Lo: base, arg1Hi: 0, arg2: o.ents | 0 },
            ]);
            cpu.flushTlb();
            dt.loadLdtr();
            if (rc === 0 && (o.ents | 0) > 0) seen.ldt++;
            expect([0, EINVAL]).toContain(rc);
          } else if (o.kind === 'remap') {
            // The guest's mapping of one of its data pages, read-only or writable (update_va_mapping).
            const mfn = p2m.get(o.pfn);
            const flags = o.writable ? 0x67 : 0x25;
            const rc = mm.updateVaMapping(
              PV_GUEST_DOMID,
              0,
              o.pfn * 4096,
              0,
              mfn * 4096 + flags,
              0,
              2,
            );
            cpu.flushTlb();
            expect([0, EINVAL, -16]).toContain(rc); // -EBUSY: writable while a GDT/LDT page
            if (rc === 0) seen.remap++;
          } else {
            cpu.rip = CODE_VA;
            cpu.lo[0] = o.sel;
            const reason = cpu.run(1);
            if (reason === CPU_EXIT_EXCEPTION) {
              seen.faulted++;
              expect([11, 12, 13, 14]).toContain(cpu.exit.vector);
            } else if ((o.sel & 0xfffc) !== 0) {
              seen.loaded++;
              expect(cpu.segSel[SEG_DS]).toBe(o.sel);
              const attr = cpu.segAttr[SEG_DS] ?? 0;
              expect((attr >> 5) & 3).toBe(3); // nothing below the guest kernel's ring
              expect(attr & 0x10).toBe(0x10); // a code or data segment
            }
          }
        }
        // Every frame typed as a descriptor page holds only what check_descriptor leaves alone.
        const out = new Int32Array(2);
        for (let mfn = 0; mfn < ft.frames; mfn++) {
          if (ft.type[mfn] !== PGT.PGT_seg_desc_page || ft.typeCount[mfn] === 0) continue;
          expect(ft.owner[mfn]).toBe(PV_GUEST_DOMID);
          for (let i = 0; i < 512; i++) {
            const lo = machine.memory.read32(mfn, i * 8);
            const hi = machine.memory.read32(mfn, i * 8 + 4);
            expect(checkDescriptor(false, lo, hi, out)).toBe(true);
            expect([out[0], out[1]]).toEqual([lo, hi]);
          }
        }
      }),
      // A fixed seed, so that the counts below (each kind of call succeeds somewhere) are stable.
      { numRuns: 150, seed: 0x6d7 },
    );
    expect(vcpu.crash).toBeNull();
    for (const [kind, n] of Object.entries(seen)) expect(n, kind).toBeGreaterThan(0);
  });
});
