/**
 * The compat build of the ABI reference guest (`packages/hypervisor/test/abi-ref/guest32.c`,
 * gcc -m32, ring 1, `int $0x82`): its xen_version, multicall, vm_assist, fpu_taskswitch,
 * stack_switch, memory_op balloon round trip (compat reservations, 4-byte extents, the compat
 * M2P kept in step), physdev_op, SCHEDOP_poll and descriptor-table checks against the 64-bit golden
 * recorded under Xen 4.17. xen-reference runs 64-bit PV guests only, so the expected compat
 * output is the golden's lines of those families with the differences below, each explained
 * (physdev_op, poll, fpu_taskswitch and stack_switch have none: their compat structs and
 * arguments carry the same values).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import { machineReservations } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

const REF = fileURLToPath(new URL('../../packages/hypervisor/test/abi-ref/', import.meta.url));
const SHUTDOWN_poweroff = 0;

/** The families the compat guest runs. */
const FAMILIES = [
  'xen_version.',
  'multicall',
  'vm_assist.',
  'fpu_taskswitch.',
  'stack_switch.',
  'physdev.',
  'poll.',
  'desc.',
];

/** memory_op's balloon round trip (decrease, populate back, increase, decrease that frame). */
const BALLOON = [
  'mem.decrease ',
  'mem.decrease.cur_delta ',
  'mem.decrease.again ',
  'mem.populate ',
  'mem.populate.m2p_is_pfn ',
  'mem.populate.cur_delta ',
  'mem.increase ',
  'mem.increase.mfn_nonzero ',
  'mem.increase.cur_delta ',
  'mem.decrease.increased ',
  'mem.decrease.increased.cur_delta ',
];

function compared(line: string): boolean {
  return FAMILIES.some((f) => line.startsWith(f)) || BALLOON.some((b) => line.startsWith(b));
}

/**
 * 64-bit golden line → the compat guest's lines instead ([] = no such line for compat). The same
 * selectors and descriptor values are used on both ABIs; what differs is what Xen's compat ABI
 * makes of them.
 */
const COMPAT_DIFFERENCES: ReadonlyMap<string, readonly string[]> = new Map([
  // XENVER_platform_parameters: a 4-byte virt_start, HYPERVISOR_COMPAT_VIRT_START.
  [
    'xen_version.platform_parameters.virt_start 0xffff800000000000',
    ['xen_version.platform_parameters.virt_start 0x00000000f5800000'],
  ],
  // VMASST_TYPE_m2p_strict (32) is native only: the compat valid mask is the native one cut to
  // 32 bits; and a 32-bit cmd register cannot carry the 64-bit guest's bit 32.
  ['vm_assist.enable.32 0', ['vm_assist.enable.32 -22']],
  ['vm_assist.disable.32 0', ['vm_assist.disable.32 -22']],
  ['vm_assist.cmd_high 0', []],
  // Not an ABI-width difference: Typevisor lets every domain write its console (see
  // tests/pv-abi/abi-ref.test.ts), where Xen's default policy refuses a domU.
  ['multicall.1.console_io -1', ['multicall.1.console_io 0']],
  // A compat multicall entry's op is 32 bits: no op at or above 2^32 to refuse.
  ['multicall.7.op_high -38', []],
  // Xen's compat GDT has FLAT_RING1_DS (DPL 1) at 0xe020 where the 64-bit one has
  // FLAT_RING3_CS32, so selector 0xe023 (RPL 3) is #GP(0xe020) from ring 1.
  ['desc.xen.flat_cs32 0 0', ['desc.xen.flat_cs32 13 57376']],
  ['desc.xen.flat_cs32.ds 0x000000000000e023', []],
  // check_descriptor raises DPL 0 to the guest kernel's ring: 1 for compat (0xb3), 3 for 64-bit.
  [
    'desc.gdt.entry2_dpl_raised 0x00cff3000000ffff',
    ['desc.gdt.entry2_dpl_raised 0x00cfb3000000ffff'],
  ],
  ['desc.update.data0.value 0x00cff3000000ffff', ['desc.update.data0.value 0x00cfb3000000ffff']],
  [
    'desc.update.writable_page.value 0x00cff3000000ffff',
    ['desc.update.writable_page.value 0x00cfb3000000ffff'],
  ],
  [
    'desc.ldt.entry1_dpl_raised 0x00cff3000000ffff',
    ['desc.ldt.entry1_dpl_raised 0x00cfb3000000ffff'],
  ],
  // ... so loading those DPL 1 entries with an RPL 3 selector is #GP(selector) (DPL < RPL).
  ['desc.gdt.data0 0 0', ['desc.gdt.data0 13 16']],
  ['desc.gdt.data0.ds 0x0000000000000013', []],
  ['desc.update.load 0 0', ['desc.update.load 13 72']],
  ['desc.update.load.ds 0x000000000000004b', []],
  ['desc.ldt.data0 0 0', ['desc.ldt.data0 13 12']],
  ['desc.ldt.data0.ds 0x000000000000000f', []],
  // The gate's offset is gate_target's address: low 16 bits 0x00b5 in the 64-bit build, 0x100000
  // (first in the image) in the compat one; the rest is the same (DPL 0, RPL 3 in the selector).
  [
    'desc.update.gate_guest_cs.value 0x00008c00001b00b5',
    ['desc.update.gate_guest_cs.value 0x00008c00001b0000'],
  ],
  // Compat call gates may carry a parameter count: check_descriptor tests reserved bits
  // b & 0xe0 for compat, b & 0xff for 64-bit.
  ['desc.update.gate_reserved_bits -22', ['desc.update.gate_reserved_bits 0']],
  // A compat guest may not install a 64-bit (L) code segment: -EINVAL, the entry keeps the
  // previous value (the compat gate to FLAT_RING1_CS 0xe019, offset 0x100000).
  ['desc.update.code64_dpl0 0', ['desc.update.code64_dpl0 -22']],
  [
    'desc.update.code64_dpl0.value 0x00affb000000ffff',
    ['desc.update.code64_dpl0.value 0x00008c00e0190000'],
  ],
  // A 32-bit linear_addr cannot name Xen's 64-bit area or a non-canonical address.
  ['desc.set_ldt.xen_area -22', []],
  ['desc.set_ldt.noncanonical -22', []],
]);

describe('the compat (32-bit PAE) ABI reference guest', () => {
  it("prints the 64-bit golden's xen_version, multicall, vm_assist, fpu_taskswitch, stack_switch, memory_op balloon, physdev_op, SCHEDOP_poll and descriptor-table lines under Xen 4.17, with the compat ABI's documented differences", () => {
    // memory_op's frame owner as the Host gives it, keeping the compat M2P in step. 48 MiB (the
    // most this boot path takes; the golden ran with 64) puts the ballooned frame high enough
    // that a 64-bit M2P writer would miss the compat M2P's frames altogether.
    const d = boot32(`${REF}abi-ref-x86_32.elf`, { memoryMiB: 48, memory: machineReservations });
    let last: number = PV_RUN.BUDGET;
    for (let i = 0; i < 10_000 && last !== PV_RUN.SHUTDOWN; i++) last = d.vcpu.run(200_000);
    expect(d.vcpu.crash).toBeNull();
    expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
    const got = d.console().split('\n').filter(compared);
    const golden = readFileSync(`${REF}golden-x86_64.txt`, 'utf8').split('\n').filter(compared);
    expect(golden.length).toBe(205); // 9 xen_version, 12 multicall, 26 vm_assist, 6, 11 balloon, 35 physdev, 11 poll, 95 desc
    const expected = golden.flatMap((line) => COMPAT_DIFFERENCES.get(line) ?? [line]);
    expect(got).toEqual(expected);
    // Compat only (a 64-bit guest's handlers always run on FLAT_KERNEL_CS, and Xen emulates call
    // gates for compat guests only): a #GP bounced to a handler whose trap_info names the guest's
    // own ring-1 code segment (GDT entry 10) runs on it.
    const compatOnly = d
      .console()
      .split('\n')
      .filter((l) => l.startsWith('compat.'));
    expect(compatOnly).toEqual([
      'compat.stack_switch.restore 0',
      'compat.own_cs.update 0',
      'compat.own_cs.set_trap_table 0',
      'compat.own_cs.gp 13 57360',
      'compat.own_cs.handler_cs 0x0000000000000051',
      'compat.own_cs.restore 0',
      // Far transfers through call gates, emulated as Xen's pv_emulate_gate_op: a jump to
      // gate_target, a call (DPL 1 gate) to call_target returning with lret to the same ESP,
      // and a jump whose selector RPL 3 exceeds the gate's DPL 1: #GP(gate).
      'compat.gate.call_gate 0',
      'compat.gate.ljmp 0 0',
      'compat.gate.ljmp.reached 1',
      'compat.gate.lcall 0 0',
      'compat.gate.lcall.reached 2',
      'compat.gate.lcall.esp_back 1',
      'compat.gate.ljmp_rpl3_dpl1 13 88',
      'compat.gate.ljmp_rpl3_dpl1.reached 0',
    ]);
    // The compat M2P the guest reads at 0xF5800000 (DOMID_XEN's frames from PFN 1, 4-byte
    // entries) says the same as the frame table after the balloon round trip: the guest's frames
    // map to their PFNs, every other frame (the ballooned-out ones included) is all-ones.
    const xen = d.machine.p2m(0x7ff2);
    const ft = d.machine.frames;
    for (let mfn = 0; mfn < ft.frames; mfn++) {
      const entry = d.machine.memory.read32(xen.get(1 + Math.floor(mfn / 1024)), (mfn % 1024) * 4);
      expect(entry).toBe(ft.owner[mfn] === DOMID ? (ft.m2p[mfn] ?? -2) : -1);
    }
    // Every difference is used: none is stale.
    for (const line of COMPAT_DIFFERENCES.keys()) expect(golden).toContain(line);
  });
});
