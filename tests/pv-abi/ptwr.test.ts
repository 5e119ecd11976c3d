/**
 * Writable page-table emulation (Xen's ptwr) under hostile stores: a 64-bit PV kernel with
 * VMASST_TYPE_writable_pagetables stores random values into random entries of one of its own
 * (read-only) L1 tables. Each store is either applied as a validated update (RIP past it) or
 * turned into the guest's #PF (nothing changed) — and never yields a writable mapping of a page
 * table, a mapping of a frame the domain does not own, or an exception out of the vCPU. The
 * golden comparison (`ptwr.*` lines of the user-mode reference guest against Xen 4.17) is in
 * user-ref.test.ts.
 */
import { fileURLToPath } from 'node:url';
import { PGT, PGT_TYPE_MASK } from '@typevisor/mmu';
import { bootPvDomain, machineReservations } from '@typevisor/toolstack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const ELF = fileURLToPath(
  new URL('../../packages/hypervisor/test/abi-ref/user-ref-x86_64.elf', import.meta.url),
);
const DOMID = 1;
const RAX = 0;
const RDI = 7;
/** `_start`, never run again once the kernel is in guest_main: `mov %rax,(%rdi); jmp .`. */
const PROBE_VA = 0x100000;
/** The L1 table that maps the kernel image (virtual 0 .. 2 MiB). */
const MAPPED_VA = 0x100000;

function set(cpu: { lo: Int32Array; hi: Int32Array }, r: number, v: bigint): void {
  cpu.lo[r] = Number(v & 0xffffffffn) | 0;
  cpu.hi[r] = Number((v >> 32n) & 0xffffffffn) | 0;
}

describe('hostile stores into a 64-bit PV guest L1 page table (ptwr)', () => {
  it('apply as validated updates or become the guest #PF; never a writable page-table or foreign mapping', () => {
    const probe = bootPvDomain(ELF, 64, { memory: machineReservations });
    let slices = 0;
    while (!probe.console().includes('user_l4.new_user_baseptr 0\n') && slices < 400) {
      probe.vcpu.run(20_000);
      probe.drainConsoleRing();
      slices++;
    }
    expect(probe.vcpu.crash).toBeNull();
    const frames = probe.machine.frames.frames;
    const value = fc.oneof(
      // A frame of the domain (or just past the machine) with random low flags.
      fc.record({
        pfn: fc.integer({ min: 0, max: 16383 }),
        flags: fc.integer({ min: 0, max: 0xfff }),
        nx: fc.boolean(),
      }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    );
    let applied = 0;
    let refused = 0;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 511 }), (v, index) => {
        const d = bootPvDomain(ELF, 64, { memory: machineReservations });
        for (let i = 0; i < slices; i++) {
          d.vcpu.run(20_000);
          d.drainConsoleRing();
        }
        expect(d.mm.vmAssist(DOMID, 0, 2)).toBe(0); // VMASST_TYPE_writable_pagetables
        const { cpu, vcpu, machine } = d;
        const p2m = machine.p2m(DOMID);
        const mem = machine.memory;
        // Walk to the L1 table mapping MAPPED_VA (the kernel's page tables are identity-mapped).
        let table = Math.floor(cpu.cr3 / 4096);
        for (const shift of [39, 30, 21]) {
          const i = Math.floor(MAPPED_VA / 2 ** shift) % 512;
          table =
            (mem.read32(table, i * 8) >>> 12) + (mem.read32(table, i * 8 + 4) & 0xfffff) * 0x100000;
        }
        const l1 = table;
        let l1Va = -1;
        for (let pfn = 0; pfn < 16384 && l1Va < 0; pfn++)
          if (p2m.get(pfn) === l1) l1Va = pfn * 4096;
        expect(l1Va).toBeGreaterThan(0);
        const raw =
          typeof v === 'bigint'
            ? v
            : (BigInt(p2m.get(v.pfn) ?? frames) << 12n) | BigInt(v.flags) | (v.nx ? 1n << 63n : 0n);
        const before = [mem.read32(l1, index * 8), mem.read32(l1, index * 8 + 4)];
        const mfn = p2m.get(PROBE_VA / 4096);
        mem.writeBytes(mfn, 0, Uint8Array.of(0x48, 0x89, 0x07, 0xeb, 0xfe));
        cpu.rip = PROBE_VA;
        set(cpu, RDI, BigInt(l1Va + index * 8));
        set(cpu, RAX, raw);
        const emulatedBefore = vcpu.ptwr.emulated;
        expect(() => vcpu.run(1)).not.toThrow();
        expect(vcpu.crash).toBeNull();
        const after = [mem.read32(l1, index * 8), mem.read32(l1, index * 8 + 4)];
        if (vcpu.ptwr.emulated === emulatedBefore) {
          // Refused: the entry is as it was and the guest took the #PF at the store.
          expect(after).toEqual(before);
          expect(cpu.rip).not.toBe(PROBE_VA + 3);
          refused++;
        } else {
          expect(cpu.rip).toBe(PROBE_VA + 3);
          applied++;
        }
        // Whatever happened: every present writable entry maps a frame of the domain that is
        // not a page table or descriptor page.
        const ft = machine.frames;
        for (let i = 0; i < 512; i++) {
          const lo = mem.read32(l1, i * 8);
          const hi = mem.read32(l1, i * 8 + 4);
          if ((lo & 1) === 0) continue;
          const target = (lo >>> 12) + (hi & 0xfffff) * 0x100000;
          expect(target).toBeLessThan(frames);
          expect(ft.owner[target]).toBe(DOMID);
          if ((lo & 2) !== 0 && (ft.typeCount[target] ?? 0) > 0) {
            const type = (ft.type[target] ?? 0) & PGT_TYPE_MASK;
            expect(type).not.toBe(PGT.PGT_l1_page_table);
            expect([
              PGT.PGT_l2_page_table,
              PGT.PGT_l3_page_table,
              PGT.PGT_l4_page_table,
              PGT.PGT_seg_desc_page,
            ]).not.toContain(type);
          }
        }
      }),
      { numRuns: 60 },
    );
    // Both outcomes were exercised.
    expect(applied).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
