/**
 * Hypercall continuations: a long mmu_update batch is preempted as Xen preempts it
 * (`hypercall_create_continuation`: the hypercall instruction runs again with the rest of the
 * list, the count left | MMU_UPDATE_PREEMPTED and `*pdone` so far), so the vCPU gives its
 * physical CPU back after `PV_PREEMPT_AFTER` requests and another domain runs in between.
 */
import { fileURLToPath } from 'node:url';
import { PV_PREEMPT_AFTER, PV_RUN, VirtualGuestBytes } from '@typevisor/hypervisor';
import {
  bootPv32Domain,
  bootPvDomain,
  machineReservations,
  PV_GUEST_DOMID,
} from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const REF = fileURLToPath(new URL('../../packages/hypervisor/test/abi-ref/', import.meta.url));
/** Guest virtual addresses inside the builder's boot mapping (it maps the first 4 MiB). */
const CODE_VA = 0x100000;
const PDONE_VA = 0x1ff000;
const REQS_VA = 0x200000;
const LIST_VA = 0x300000;
const MMU_MACHPHYS_UPDATE = 1;
const PREEMPTED = 0x80000000;
const DOMID_SELF = 0x7ff0;
const RAX = 0;
const RBX = 3;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const R10 = 10;
const ECX = 1;
const EDX = 2;
const ESI = 6;
const EBX = 3;

/** `count` MMU_MACHPHYS_UPDATE requests (each re-stating one M2P entry of the guest's own). */
function requests(count: number, mfn: number, pfn: number): Uint8Array {
  const buf = new Uint8Array(count * 16);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < count; i++) {
    view.setBigUint64(i * 16, (BigInt(mfn) << 12n) | BigInt(MMU_MACHPHYS_UPDATE), true);
    view.setBigUint64(i * 16 + 8, BigInt(pfn), true);
  }
  return buf;
}

function u32At(g: VirtualGuestBytes, va: number): number {
  const b = new Uint8Array(4);
  expect(g.read(va, b)).toBe(true);
  return new DataView(b.buffer).getUint32(0, true);
}

describe('hypercall continuations', () => {
  it('a 64-bit domain with an 8192-request mmu_update is preempted every 1024 requests and a second domain runs in between', () => {
    const count = 8 * PV_PREEMPT_AFTER;
    const a = bootPvDomain(`${REF}abi-ref-x86_64.elf`, 16);
    const b = bootPvDomain(`${REF}abi-ref-x86_64.elf`, 16);
    const ga = new VirtualGuestBytes(a.cpu, a.machine.memory);
    const gb = new VirtualGuestBytes(b.cpu, b.machine.memory);
    const pfn = REQS_VA / 4096;
    const mfn = a.machine.p2m(PV_GUEST_DOMID).get(pfn);
    expect(ga.write(REQS_VA, requests(count, mfn, pfn))).toBe(true);
    expect(ga.write(PDONE_VA, new Uint8Array(4))).toBe(true);
    // A: mmu_update(REQS_VA, count, PDONE_VA, DOMID_SELF), then spins. B: counts in RBX.
    expect(ga.write(CODE_VA, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfe))).toBe(true);
    expect(gb.write(CODE_VA, Uint8Array.of(0x48, 0xff, 0xc3, 0xeb, 0xfb))).toBe(true);
    a.cpu.rip = CODE_VA;
    a.cpu.lo[RAX] = 1; // __HYPERVISOR_mmu_update
    a.cpu.lo[RDI] = REQS_VA;
    a.cpu.lo[RSI] = count;
    a.cpu.lo[RDX] = PDONE_VA;
    a.cpu.lo[R10] = DOMID_SELF;
    b.cpu.rip = CODE_VA;

    const progress: { pdone: number; count: number; bCounter: number }[] = [];
    for (let round = 0; round < 20 && a.cpu.rip !== CODE_VA + 2; round++) {
      expect(a.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
      expect(b.vcpu.run(1_000)).toBe(PV_RUN.BUDGET);
      progress.push({
        pdone: u32At(ga, PDONE_VA),
        count: (a.cpu.lo[RSI] ?? 0) >>> 0,
        bCounter: b.cpu.lo[RBX] ?? 0,
      });
    }
    // Seven continuations, then the last 1024 requests and the result.
    expect(progress.length).toBe(8);
    progress.slice(0, 7).forEach((p, i) => {
      expect(p.pdone).toBe((i + 1) * PV_PREEMPT_AFTER);
      expect(p.count).toBe(((count - (i + 1) * PV_PREEMPT_AFTER) | PREEMPTED) >>> 0);
    });
    expect(progress[7]?.pdone).toBe(count);
    expect(a.cpu.rip).toBe(CODE_VA + 2);
    expect(a.cpu.lo[RAX]).toBe(0);
    expect(a.vcpu.hypercalls).toBe(8); // the syscall ran again for every continuation
    // B ran between every two invocations of A's hypercall.
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]?.bCounter ?? 0).toBeGreaterThan(progress[i - 1]?.bCounter ?? 0);
    }
    expect(a.vcpu.crash).toBeNull();
    expect(b.vcpu.crash).toBeNull();
  });

  it('a 64-bit multicall of 2500 entries is continued every 1024 entries, every result written once', () => {
    const count = 2500;
    const d = bootPvDomain(`${REF}abi-ref-x86_64.elf`, 16);
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory);
    const list = new Uint8Array(count * 64);
    const view = new DataView(list.buffer);
    for (let i = 0; i < count; i++) {
      view.setBigUint64(i * 64, 17n, true); // xen_version(XENVER_version)
      view.setBigInt64(i * 64 + 8, -1n, true);
    }
    expect(g.write(LIST_VA, list)).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfe))).toBe(true);
    d.cpu.rip = CODE_VA;
    d.cpu.lo[RAX] = 13; // __HYPERVISOR_multicall
    d.cpu.lo[RDI] = LIST_VA;
    d.cpu.lo[RSI] = count;
    const seen: [number, number][] = [];
    for (let i = 0; i < 5 && d.cpu.rip !== CODE_VA + 2; i++) {
      expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
      seen.push([(d.cpu.lo[RDI] ?? 0) - LIST_VA, d.cpu.lo[RSI] ?? 0]);
    }
    // Two continuations (entry 1024 with 1476 left, entry 2048 with 452 left), then done.
    expect(seen.slice(0, 2)).toEqual([
      [1024 * 64, count - 1024],
      [2048 * 64, count - 2048],
    ]);
    expect(seen.length).toBe(3);
    expect(d.cpu.lo[RAX]).toBe(0);
    expect(g.read(LIST_VA, list)).toBe(true);
    for (let i = 0; i < count; i++) expect(view.getBigInt64(i * 64 + 8, true)).toBe(0x40011n);
  });

  it("an mmu_update inside a multicall is preempted with its entry's arguments rewritten, and the batch resumes at that entry", () => {
    const n = 3000;
    const d = bootPvDomain(`${REF}abi-ref-x86_64.elf`, 16);
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory);
    const pfn = REQS_VA / 4096;
    expect(g.write(REQS_VA, requests(n, d.machine.p2m(PV_GUEST_DOMID).get(pfn), pfn))).toBe(true);
    expect(g.write(PDONE_VA, new Uint8Array(4))).toBe(true);
    const list = new Uint8Array(3 * 64);
    const view = new DataView(list.buffer);
    const entry = (i: number, op: bigint, args: bigint[]) => {
      view.setBigUint64(i * 64, op, true);
      view.setBigInt64(i * 64 + 8, -1n, true);
      for (const [k, a] of args.entries()) view.setBigUint64(i * 64 + 16 + k * 8, a, true);
    };
    entry(0, 17n, [0n]);
    entry(1, 1n, [BigInt(REQS_VA), BigInt(n), BigInt(PDONE_VA), BigInt(DOMID_SELF)]);
    entry(2, 17n, [0n]);
    expect(g.write(LIST_VA, list)).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfe))).toBe(true);
    d.cpu.rip = CODE_VA;
    d.cpu.lo[RAX] = 13;
    d.cpu.lo[RDI] = LIST_VA;
    d.cpu.lo[RSI] = 3;
    // First invocation: entries 0 and 1 count one unit each, then 1022 requests of entry 1.
    expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
    expect(d.cpu.rip).toBe(CODE_VA);
    expect([(d.cpu.lo[RDI] ?? 0) - LIST_VA, d.cpu.lo[RSI]]).toEqual([64, 2]);
    expect(g.read(LIST_VA, list)).toBe(true);
    expect(view.getBigInt64(8, true)).toBe(0x40011n); // entry 0's result
    expect(view.getBigInt64(64 + 8, true)).toBe(-1n); // entry 1 has no result yet ...
    expect(view.getBigUint64(64 + 16, true)).toBe(BigInt(REQS_VA + 1022 * 16)); // ... but its continuation
    expect(view.getBigUint64(64 + 24, true)).toBe(BigInt(((n - 1022) | PREEMPTED) >>> 0));
    expect(u32At(g, PDONE_VA)).toBe(1022);
    for (let i = 0; i < 4 && d.cpu.rip !== CODE_VA + 2; i++) d.vcpu.run(50_000);
    expect(d.cpu.rip).toBe(CODE_VA + 2);
    expect(d.cpu.lo[RAX]).toBe(0);
    expect(g.read(LIST_VA, list)).toBe(true);
    expect([view.getBigInt64(64 + 8, true), view.getBigInt64(128 + 8, true)]).toEqual([
      0n,
      0x40011n,
    ]);
    expect(u32At(g, PDONE_VA)).toBe(n);
    expect(d.vcpu.hypercalls).toBe(3); // 1022 + 1023 + 955 requests
    expect(d.vcpu.crash).toBeNull();
  });

  it("a 3000-extent decrease_reservation is continued with the extents done in cmd's upper bits", () => {
    const n = 3000;
    const d = bootPvDomain(`${REF}abi-ref-x86_64.elf`, 16, { memory: machineReservations });
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory);
    const p2m = d.machine.p2m(PV_GUEST_DOMID);
    const before = d.machine.frames.domainPages(PV_GUEST_DOMID);
    // Frames above the builder's 4 MiB boot mapping: the guest's, unmapped and untyped.
    const list = new DataView(new ArrayBuffer(n * 8));
    for (let i = 0; i < n; i++) list.setBigUint64(i * 8, BigInt(p2m.get(1024 + i)), true);
    expect(g.write(LIST_VA, new Uint8Array(list.buffer))).toBe(true);
    // struct xen_memory_reservation { extent_start, nr_extents, extent_order, mem_flags, domid }
    const r = new DataView(new ArrayBuffer(32));
    r.setBigUint64(0, BigInt(LIST_VA), true);
    r.setBigUint64(8, BigInt(n), true);
    r.setUint16(24, DOMID_SELF, true);
    expect(g.write(PDONE_VA, new Uint8Array(r.buffer))).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfe))).toBe(true);
    d.cpu.rip = CODE_VA;
    d.cpu.lo[RAX] = 12; // __HYPERVISOR_memory_op
    d.cpu.lo[RDI] = 1; // XENMEM_decrease_reservation
    d.cpu.lo[RSI] = PDONE_VA;
    const cmds: number[] = [];
    for (let i = 0; i < 5 && d.cpu.rip !== CODE_VA + 2; i++) {
      expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
      cmds.push(d.cpu.lo[RDI] ?? 0);
    }
    expect(cmds.slice(0, 2)).toEqual([1 | (1024 << 6), 1 | (2048 << 6)]);
    expect(cmds.length).toBe(3);
    expect(d.cpu.lo[RAX]).toBe(n); // extents done, counted across the continuations
    expect(d.machine.frames.domainPages(PV_GUEST_DOMID)).toBe(before - n);
    expect(d.vcpu.crash).toBeNull();
  });

  it('a compat multicall whose mmu_update entry is preempted resumes at that entry with its 32-bit arguments rewritten', () => {
    const n = 2000;
    const d = bootPv32Domain(`${REF}abi-ref-x86_32.elf`);
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory, { user: false, limit: 0xf5800000 });
    const pfn = REQS_VA / 4096;
    expect(g.write(REQS_VA, requests(n, d.machine.p2m(PV_GUEST_DOMID).get(pfn), pfn))).toBe(true);
    expect(g.write(PDONE_VA, new Uint8Array(4))).toBe(true);
    // struct multicall_entry (compat) { u32 op, result, args[6] }: mmu_update(reqs, n, pdone, SELF)
    const entry = new DataView(new ArrayBuffer(32));
    for (const [k, v] of [1, -1, REQS_VA, n, PDONE_VA, DOMID_SELF].entries())
      entry.setInt32(k * 4, v, true);
    expect(g.write(LIST_VA, new Uint8Array(entry.buffer))).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfe))).toBe(true);
    d.cpu.rip = CODE_VA;
    d.cpu.lo[EAX_32] = 13;
    d.cpu.lo[EBX] = LIST_VA;
    d.cpu.lo[ECX] = 1;
    expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
    expect([d.cpu.rip, d.cpu.lo[EBX], d.cpu.lo[ECX]]).toEqual([CODE_VA, LIST_VA, 1]);
    const back = new Uint8Array(32);
    expect(g.read(LIST_VA, back)).toBe(true);
    const v = new DataView(back.buffer);
    expect(v.getInt32(4, true)).toBe(-1); // no result yet
    expect(v.getUint32(8, true)).toBe(REQS_VA + 1023 * 16); // the entry counts one unit
    expect(v.getUint32(12, true)).toBe(((n - 1023) | PREEMPTED) >>> 0);
    expect(u32At(g, PDONE_VA)).toBe(1023);
    expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
    expect(d.cpu.rip).toBe(CODE_VA + 2);
    expect(d.cpu.lo[EAX_32]).toBe(0);
    expect(g.read(LIST_VA, back)).toBe(true);
    expect(v.getInt32(4, true)).toBe(0);
    expect(u32At(g, PDONE_VA)).toBe(n);
    expect(d.vcpu.crash).toBeNull();
  });

  it('a compat decrease_reservation of 2100 extents (4-byte list entries) is continued through cmd as well', () => {
    const n = 2100;
    const d = bootPv32Domain(`${REF}abi-ref-x86_32.elf`, { memory: machineReservations });
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory, { user: false, limit: 0xf5800000 });
    const p2m = d.machine.p2m(PV_GUEST_DOMID);
    const before = d.machine.frames.domainPages(PV_GUEST_DOMID);
    const list = new DataView(new ArrayBuffer(n * 4));
    for (let i = 0; i < n; i++) list.setUint32(i * 4, p2m.get(1024 + i), true);
    expect(g.write(LIST_VA, new Uint8Array(list.buffer))).toBe(true);
    // compat xen_memory_reservation { extent_start u32, nr_extents u32, order, flags, domid }
    const r = new DataView(new ArrayBuffer(20));
    r.setUint32(0, LIST_VA, true);
    r.setUint32(4, n, true);
    r.setUint16(16, DOMID_SELF, true);
    expect(g.write(PDONE_VA, new Uint8Array(r.buffer))).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfe))).toBe(true);
    d.cpu.rip = CODE_VA;
    d.cpu.lo[EAX_32] = 12;
    d.cpu.lo[EBX] = 1;
    d.cpu.lo[ECX] = PDONE_VA;
    const cmds: number[] = [];
    for (let i = 0; i < 5 && d.cpu.rip !== CODE_VA + 2; i++) {
      expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
      cmds.push(d.cpu.lo[EBX] ?? 0);
    }
    expect(cmds.slice(0, 2)).toEqual([1 | (1024 << 6), 1 | (2048 << 6)]);
    expect(cmds.length).toBe(3);
    expect(d.cpu.lo[EAX_32]).toBe(n);
    expect(d.machine.frames.domainPages(PV_GUEST_DOMID)).toBe(before - n);
  });

  it('a 32-bit domain resumes its preempted mmu_update through int $0x82 with the registers Xen leaves', () => {
    const count = 3 * PV_PREEMPT_AFTER + 5;
    const d = bootPv32Domain(`${REF}abi-ref-x86_32.elf`);
    const g = new VirtualGuestBytes(d.cpu, d.machine.memory, { user: false, limit: 0xf5800000 });
    const pfn = REQS_VA / 4096;
    const mfn = d.machine.p2m(PV_GUEST_DOMID).get(pfn);
    expect(g.write(REQS_VA, requests(count, mfn, pfn))).toBe(true);
    expect(g.write(PDONE_VA, new Uint8Array(4))).toBe(true);
    expect(g.write(CODE_VA, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfe))).toBe(true); // int $0x82; jmp .
    d.cpu.rip = CODE_VA;
    d.cpu.lo[RAX] = 1;
    d.cpu.lo[EBX] = REQS_VA;
    d.cpu.lo[ECX] = count;
    d.cpu.lo[EDX] = PDONE_VA;
    d.cpu.lo[ESI] = DOMID_SELF;
    expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
    expect(d.cpu.rip).toBe(CODE_VA); // back on the int $0x82
    expect(d.cpu.lo[EAX_32]).toBe(1); // still the hypercall number
    expect((d.cpu.lo[EBX] ?? 0) >>> 0).toBe(REQS_VA + PV_PREEMPT_AFTER * 16);
    expect((d.cpu.lo[ECX] ?? 0) >>> 0).toBe(((count - PV_PREEMPT_AFTER) | PREEMPTED) >>> 0);
    expect(u32At(g, PDONE_VA)).toBe(PV_PREEMPT_AFTER);
    for (let i = 0; i < 3; i++) expect(d.vcpu.run(50_000)).toBe(PV_RUN.BUDGET);
    expect(d.cpu.rip).toBe(CODE_VA + 2);
    expect(d.cpu.lo[EAX_32]).toBe(0);
    expect(u32At(g, PDONE_VA)).toBe(count);
    expect(d.vcpu.crash).toBeNull();
  });
});

const EAX_32 = 0;
