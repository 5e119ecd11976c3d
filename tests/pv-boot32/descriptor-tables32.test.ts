/**
 * Hostile GDT/LDT traffic against a booted 32-bit PAE PV domain (ring 1): random set_gdt frame
 * lists (4-byte entries) and counts, update_descriptor addresses and values, MMUEXT_SET_LDT,
 * read-only/writable remaps, selector loads, and ring-1 writes straight into the descriptor
 * window (readable to a ring-1 kernel here). Nothing throws, the domain never crashes, the
 * kernel never writes a descriptor through the window (at most the CPU's accessed bit is set),
 * and every descriptor page holds only what `check_descriptor` leaves alone.
 */
import { fileURLToPath } from 'node:url';
import { loadCompatFlatSegment, PagedGuestMemory, PV_RUN } from '@typevisor/hypervisor';
import { checkDescriptor, PGT } from '@typevisor/mmu';
import { bootPv32Domain, PV_GUEST_DOMID } from '@typevisor/toolstack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const ELF = fileURLToPath(
  new URL('../../packages/hypervisor/test/abi-ref/abi-ref-x86_32.elf', import.meta.url),
);
const EINVAL = -22;
const MMUEXT_SET_LDT = 13;
const WINDOW = 0xffe00000;
/** `mov %eax, %ds; jmp .` and `mov %eax, (%ebx); jmp .` in the kernel's first page. */
const LOAD_VA = 0x100010;
const STORE_VA = 0x100020;
/** A #GP/#NP/#SS/#PF handler that spins. */
const HANDLER_VA = 0x100030;
const LOW_PFN = 0x180;
const LIST = 0x100;
const EAX = 0;
const EBX = 3;

describe('the compat guest GDT and LDT under hostile hypercalls and ring-1 writes', () => {
  it('never throws or crashes, never lets the kernel write a descriptor, and keeps every descriptor page checked', () => {
    const d = bootPv32Domain(ELF);
    const { cpu, vcpu, mm, machine } = d;
    const p2m = machine.p2m(PV_GUEST_DOMID);
    const code = p2m.get(0x100);
    machine.memory.writeBytes(code, 0x10, Uint8Array.of(0x8e, 0xd8, 0xeb, 0xfe));
    machine.memory.writeBytes(code, 0x20, Uint8Array.of(0x89, 0x03, 0xeb, 0xfe));
    machine.memory.writeBytes(code, 0x30, Uint8Array.of(0xeb, 0xfe));
    for (const v of [11, 12, 13, 14]) {
      vcpu.traps.address[v] = HANDLER_VA;
      vcpu.traps.cs[v] = 0xe019;
    }
    const dt = vcpu.descriptors;
    const frameList = new PagedGuestMemory(1);
    const listView = new DataView(frameList.bytes.buffer);
    const ft = machine.frames;
    const nrPages = p2m.size;
    const esp = (cpu.lo[4] ?? 0) >>> 0;
    const stack = cpu.segSel[2] ?? 0;

    const frame = fc.oneof(
      fc.integer({ min: 0, max: 7 }).map((i) => p2m.get(LOW_PFN + i)),
      fc.integer({ min: 0, max: nrPages - 1 }).map((pfn) => p2m.get(pfn)),
      fc.integer({ min: 0, max: ft.frames + 10 }),
    );
    const descriptor = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc
        .record({ dpl: fc.integer({ min: 0, max: 3 }), type: fc.integer({ min: 0, max: 15 }) })
        .map(
          ({ dpl, type }) =>
            0x00cf00000000ffffn | ((0x90n | (BigInt(dpl) << 5n) | BigInt(type)) << 40n),
        ),
    );
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set_gdt' as const),
        frames: fc.array(frame, { maxLength: 15 }),
        entries: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer()),
      }),
      fc.record({
        kind: fc.constant('update' as const),
        frame,
        index: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 511 })),
        desc: descriptor,
      }),
      fc.record({
        kind: fc.constant('set_ldt' as const),
        pfn: fc.integer({ min: LOW_PFN, max: LOW_PFN + 7 }),
        ents: fc.integer({ min: 0, max: 1024 }),
      }),
      fc.record({
        kind: fc.constant('remap' as const),
        pfn: fc.integer({ min: LOW_PFN, max: LOW_PFN + 7 }),
        writable: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('load' as const),
        sel: fc.oneof(
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 15 }).map((i) => i * 8 + 1 + (i & 2)),
          fc.constantFrom(0xe019, 0xe021, 0xe02b, 0xe033, 0x0007, 0x000f),
        ),
      }),
      fc.record({
        kind: fc.constant('far' as const),
        call: fc.boolean(),
        sel: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0x7f })),
      }),
      fc.record({
        kind: fc.constant('store' as const),
        offset: fc.oneof(
          fc.integer({ min: 0, max: 0x1ffff }),
          fc.integer({ min: 0, max: 15 }).map((i) => i * 8 + 4),
        ),
        value: fc.integer(),
      }),
    );

    const out = new Int32Array(2);
    const snapshot = () => {
      const pages = new Map<number, Int32Array>();
      for (let mfn = 0; mfn < ft.frames; mfn++) {
        if (ft.type[mfn] !== PGT.PGT_seg_desc_page || ft.typeCount[mfn] === 0) continue;
        const words = new Int32Array(1024);
        for (let i = 0; i < 1024; i++) words[i] = machine.memory.read32(mfn, i * 4);
        pages.set(mfn, words);
      }
      return pages;
    };

    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        for (const o of ops) {
          if (o.kind === 'set_gdt') {
            for (let i = 0; i < 15; i++) listView.setUint32(LIST + i * 4, o.frames[i] ?? 0, true);
            const rc = dt.setGdt(frameList, LIST, o.entries);
            if (o.entries >>> 0 > 7168) expect(rc).toBe(EINVAL);
            else expect([0, EINVAL]).toContain(rc);
          } else if (o.kind === 'update') {
            const rc = dt.updateDescriptor(BigInt(o.frame) * 4096n + BigInt(o.index * 8), o.desc);
            expect([0, EINVAL]).toContain(rc);
          } else if (o.kind === 'set_ldt') {
            const rc = mm.mmuextOp(PV_GUEST_DOMID, 0, [
              { cmd: MMUEXT_SET_LDT, arg1Lo: o.pfn * 4096, arg1Hi: 0, arg2: o.ents },
            ]);
            cpu.flushTlb();
            dt.loadLdtr();
            expect([0, EINVAL]).toContain(rc);
          } else if (o.kind === 'remap') {
            const mfn = p2m.get(o.pfn);
            const pte = mfn * 4096 + (o.writable ? 0x67 : 0x25);
            const rc = mm.updateVaMapping(PV_GUEST_DOMID, 0, o.pfn * 4096, 0, pte, 0, 2);
            cpu.flushTlb();
            expect([0, EINVAL, -16]).toContain(rc);
          } else if (o.kind === 'far') {
            // ljmp / lcall $sel, $0 (through a gate if sel names one: emulated as Xen does).
            const insn = [o.call ? 0x9a : 0xea, 0, 0, 0, 0, o.sel & 0xff, o.sel >> 8];
            machine.memory.writeBytes(code, 0x40, Uint8Array.from(insn));
            cpu.rip = 0x100040;
            cpu.lo[4] = esp | 0;
            vcpu.run(2);
            expect(cpu.cpl).toBe(1); // never ring 0, never a crash
            cpu.segSel[2] = stack;
            loadCompatFlatSegment(cpu, 1, 0xe019); // back on FLAT_RING1_CS for the next op
          } else {
            const before = o.kind === 'store' ? snapshot() : null;
            cpu.rip = o.kind === 'load' ? LOAD_VA : STORE_VA;
            cpu.lo[EAX] = o.kind === 'load' ? o.sel : o.value;
            if (o.kind === 'store') cpu.lo[EBX] = WINDOW + o.offset;
            cpu.lo[4] = esp | 0;
            expect(vcpu.run(3)).toBe(PV_RUN.BUDGET);
            expect(cpu.cpl).toBe(1);
            if (o.kind === 'load' && cpu.rip !== HANDLER_VA && (o.sel & 0xfffc) !== 0) {
              // Loaded: a present data or readable code segment the kernel's ring may use.
              const attr = cpu.segAttr[3] ?? 0;
              expect((attr >> 5) & 3).toBeGreaterThanOrEqual(1);
              expect(attr & 0x90).toBe(0x90);
            }
            if (o.kind === 'store') {
              expect(cpu.rip).toBe(HANDLER_VA); // the kernel's own write faults
              for (const [mfn, words] of before ?? []) {
                for (let i = 0; i < 1024; i++) {
                  const now = machine.memory.read32(mfn, i * 4);
                  const was = words[i] ?? 0;
                  // At most the accessed bit of a high dword, set for the CPU.
                  if (now !== was) expect([i & 1, now ^ was]).toEqual([1, 0x100]);
                }
              }
            }
            cpu.segSel[2] = stack;
          }
        }
        for (let mfn = 0; mfn < ft.frames; mfn++) {
          if (ft.type[mfn] !== PGT.PGT_seg_desc_page || ft.typeCount[mfn] === 0) continue;
          for (let i = 0; i < 512; i++) {
            const lo = machine.memory.read32(mfn, i * 8);
            const hi = machine.memory.read32(mfn, i * 8 + 4);
            expect(checkDescriptor(true, lo, hi, out)).toBe(true);
            expect([out[0], out[1]]).toEqual([lo, hi]);
          }
        }
      }),
      { numRuns: 100, seed: 0x6d8 },
    );
    expect(vcpu.crash).toBeNull();
  });
});
