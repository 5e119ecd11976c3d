/**
 * Guest user mode of a 32-bit PAE PV vCPU against the 64-bit golden recorded under Xen 4.17: the
 * compat build of the user-mode reference guest (`packages/hypervisor/test/abi-ref/user32.c`,
 * gcc -m32, kernel in ring 1) enters ring 3 with a compat HYPERVISOR_iret and prints what its
 * kernel sees of ring-3 system calls, a ring-1 and a ring-3 #PF, `int $0x80` through a DPL-3
 * trap_info onto the `stack_switch` stack, `int $0x81` (#GP), an event upcall interrupting a
 * ring-3 loop and an iret frame with a null CS, with user.c's line names. xen-reference runs
 * 64-bit PV guests only, so the expected output is `golden-user-x86_64.txt` with every compat
 * difference below, each with its reason. A property test then fires `int n` from ring 3 with
 * random trap_info entries at the booted kernel, against Xen 4.17's rules (do_general_protection's
 * permit_softint, the DPL-3 gate of int80_direct_trap).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

const REF = fileURLToPath(new URL('../../packages/hypervisor/test/abi-ref/', import.meta.url));
const SHUTDOWN_poweroff = 0;
const VIRQ_TIMER = 0;

/**
 * Golden sections the compat guest does not run: they have no compat counterpart.
 * - `d.`: which mode an iret picks by CS RPL (64-bit kernel and user both run in ring 3; a
 *   compat frame's RPL is the ring itself) — and `e.rpl0.`: compat_iret crashes the domain for
 *   a ring-0 CS (`ring_0(regs)`), checked in iret-faults32.test.ts.
 * - `ptwr.`: writable page tables of a compat guest are ptwr32.test.ts's.
 * - `f.`: compatibility-mode user code of a 64-bit guest (the whole compat guest is that).
 * - `g.`: SEGBASE_GS_USER_SEL (set_segment_base is not in the compat hypercall table; the
 *   header's two set_segment_base lines show its -ENOSYS).
 */
const NOT_RUN = ['d.', 'e.rpl0.', 'ptwr.', 'f.', 'g.'];

/** The compat frame's CS slot carries saved_upcall_mask in bits 16-23 (64-bit: bits 32-39). */
const CS_MASKED = '0x000000000001e02b';
/** Xen's compat user selectors: FLAT_RING3_CS 0xe02b, FLAT_RING3_DS 0xe033 (64-bit: FLAT_USER_CS 0xe033, FLAT_USER_SS 0xe02b). */
const CS = '0x000000000000e02b';
const SS = '0x000000000000e033';

/** 64-bit golden line → the compat guest's lines instead ([] = no such line for compat). */
const COMPAT_DIFFERENCES: ReadonlyMap<string, readonly string[]> = new Map([
  // set_segment_base (#25) is in the 64-bit hypercall table only.
  ['set_segment_base.gs_kernel 0', ['set_segment_base.gs_kernel -38']],
  ['set_segment_base.gs_user 0', ['set_segment_base.gs_user -38']],
  // A compat domain has no user page table: MMUEXT_NEW_USER_BASEPTR is -EINVAL even for a valid
  // table (the other three calls are -EINVAL on both ABIs). Ring 3 is kept out of the kernel by
  // the PTEs' user bit instead, so there is no alias that only user mode sees.
  ['user_l4.new_user_baseptr 0', ['user_l4.new_user_baseptr -22']],
  ['a.user.alias_read 1', []],
  // The ring-1 #PF (a read of an unmapped page; cr2_is_alias checks cr2 against the address
  // read): the frame's CS is FLAT_RING1_CS with saved_upcall_mask 1 in bits 16-23, and a bounce
  // within ring 1 pushes no ESP/SS.
  ['kpf.cs 0x000000010000e030', ['kpf.cs 0x000000000001e019']],
  ['kpf.rsp_is_kernel 1', []],
  ['kpf.ss 0x000000000000e02b', []],
  // No syscall instruction or callback for compat (CALLBACKTYPE_syscall is -ENOSYS in
  // compat_register_guest_callback): ring-3 system calls are `int $0x85` through a DPL-3
  // trap_info with the event-masking flag, so the syscall callback's RCX/R11, the sysret
  // registers and the GS bases have nothing to print. The frame is 5 dwords (eip, cs, eflags,
  // esp, ss) where the 64-bit one is 7 quadwords (rcx, r11 first).
  ['a.syscall.entry_rcx_is_handler 1', []],
  ['a.syscall.entry_r11_if 1', []],
  ['a.syscall.kernel_gs0 1', []],
  ['a.syscall.frame_below_kstack_top 56', ['a.syscall.frame_below_kstack_top 20']],
  ['a.syscall.frame.rcx_is_rip 1', []],
  ['a.syscall.frame.cs 0x000000010000e033', [`a.syscall.frame.cs ${CS_MASKED}`]],
  ['a.syscall.frame.ss 0x000000000000e02b', [`a.syscall.frame.ss ${SS}`]],
  ['a.user.sysret.rcx_is_rip 1', []],
  ['a.user.sysret.r11_if 1', []],
  ['a.user.gs0_is_user 1', []],
  ['a.kernel_gs0_after 1', []],
  ['b.callback_op.syscall_mask_events 0', ['b.callback_op.syscall_mask_events -38']],
  ['b.syscall.entry_rcx_is_handler 1', []],
  ['b.syscall.entry_r11_if 1', []],
  ['b.syscall.kernel_gs0 1', []],
  ['b.syscall.frame_below_kstack_top 56', ['b.syscall.frame_below_kstack_top 20']],
  ['b.syscall.frame.rcx_is_rip 1', []],
  ['b.syscall.frame.cs 0x000000000000e033', [`b.syscall.frame.cs ${CS}`]],
  ['b.syscall.frame.ss 0x000000000000e02b', [`b.syscall.frame.ss ${SS}`]],
  // The ring-3 #PF, int $0x80, int $0x81 and upcall frames: compat widths and selectors.
  ['a.upf.cs 0x000000010000e033', [`a.upf.cs ${CS_MASKED}`]],
  ['a.upf.frame_below_kstack_top 64', ['a.upf.frame_below_kstack_top 24']],
  ['a.upf.ss 0x000000000000e02b', [`a.upf.ss ${SS}`]],
  ['a.int80.entry_rcx_is_handler 1', []],
  ['a.int80.frame.rcx 21845', []],
  ['a.int80.frame.cs 0x000000010000e033', [`a.int80.frame.cs ${CS_MASKED}`]],
  ['a.int80.frame_below_kstack_top 56', ['a.int80.frame_below_kstack_top 20']],
  ['a.gp.cs 0x000000010000e033', [`a.gp.cs ${CS_MASKED}`]],
  ['a.gp.frame_at 64', ['a.gp.frame_at 24']],
  ['c.upcall.frame.cs 0x000000000000e033', [`c.upcall.frame.cs ${CS}`]],
  ['c.upcall.frame_below_kstack_top 56', ['c.upcall.frame_below_kstack_top 20']],
  ['e.rpl3.gp.cs 0x0000000100000003', ['e.rpl3.gp.cs 0x0000000000010003']],
  ['e.rpl3.gp.frame_at 64', ['e.rpl3.gp.frame_at 24']],
  ['e.rpl3.gp.ss 0x000000000000e02b', [`e.rpl3.gp.ss ${SS}`]],
  // Not an ABI difference: the golden's CPU (QEMU 7.2 TCG) reports `int $0x81`'s IDT error code
  // as vector * 16 + 2; hardware and Typevisor give vector << 3 | 2 (tests/pv-abi/user-ref).
  ['a.gp.error_code 2066', ['a.gp.error_code 1034']],
]);

describe('the compat (32-bit PAE) user-mode reference guest', () => {
  it("prints the 64-bit golden's user-mode lines under Xen 4.17 with the compat ABI's documented differences: ring-3 system calls, #PF, int $0x80/$0x81, an upcall in a ring-3 loop, a null-CS iret", () => {
    const d = boot32(`${REF}user-ref-x86_32.elf`);
    let last: number = PV_RUN.BUDGET;
    let fired = false;
    for (let i = 0; i < 2000 && last !== PV_RUN.SHUTDOWN; i++) {
      last = d.vcpu.run(200_000);
      // The boot helper does not drive its clock, so the one-shot timer the guest sets cannot
      // expire: the test raises VIRQ_TIMER itself once the guest waits in its ring-3 loop.
      if (!fired && d.console().includes('c.set_timer_op 0\n')) {
        d.evtchn.sendVirq(DOMID, 0, VIRQ_TIMER);
        fired = true;
      }
    }
    expect(d.vcpu.crash).toBeNull();
    expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
    const text = d.console();
    const got = text.slice(text.indexOf('TYPEVISOR-USER-REF begin')).split('\n');
    const golden = readFileSync(`${REF}golden-user-x86_64.txt`, 'utf8')
      .split('\n')
      .filter((l) => !NOT_RUN.some((p) => l.startsWith(p)));
    expect(golden.length).toBe(102); // 101 lines and the final newline
    const expected = golden.flatMap((line) => COMPAT_DIFFERENCES.get(line) ?? [line]);
    // Compat only, before the end line: `int $0x80` from ring 3 after set_trap_table gave it
    // DPL 0 still reaches the handler, on the stack_switch stack (Xen's IDT gate 0x80 has DPL 3
    // and int80_direct_trap ignores the trap_info DPL); every image page remapped with the user
    // bit (ring 3 runs the image); and the compat syscall32/sysenter callbacks, which Xen 4.17
    // registers (0) but this model refuses (-ENOSYS; see packages/hypervisor/src/pv/DESIGN.md).
    expected.splice(
      expected.indexOf('TYPEVISOR-USER-REF end'),
      0,
      'compat.int80_dpl0.set_trap_table 0',
      'compat.int80_dpl0.int80.frame.rip_is_after 1',
      `compat.int80_dpl0.int80.frame.cs ${CS_MASKED}`,
      'compat.int80_dpl0.int80.frame.rflags_if 0',
      'compat.int80_dpl0.int80.frame_below_kstack_top 20',
      'compat.int80_dpl0.int80.rdi 9',
      'compat.int80_dpl0.int80.vi_mask 1',
      'compat.int80_dpl0.user.int80.rax 137',
      'compat.int80_dpl0.exit 9',
      'compat.user_pages_mapped 1',
      'compat.callback_op.syscall32 -38',
      'compat.callback_op.sysenter -38',
    );
    expect(got).toEqual(expected);
    // The guest ends in ring 1.
    expect(d.cpu.cpl).toBe(1);
    // Every difference is used: none is stale.
    for (const line of COMPAT_DIFFERENCES.keys()) expect(golden).toContain(line);
  });

  it('int n from ring 3 with any trap_info reaches the handler exactly when Xen 4.17 would (DPL 3, or int $0x80 with any DPL), else #GP(n << 3 | 2) at the instruction', () => {
    const d = boot32(`${REF}user-ref-x86_32.elf`);
    // Up to where the kernel has its image mapped for ring 3, its traps and its kernel stack.
    for (let i = 0; i < 10_000 && !d.console().includes('stack_switch 0\n'); i++) d.vcpu.run(500);
    const t = d.vcpu.traps;
    const kstackTop = Number(t.kernelSp);
    // Code and frames on a page of the guest's user stack (ustack, 0x10b000).
    const PAGE = 0x10b000;
    const USER_CODE = PAGE; // int n; jmp .
    const HANDLER = PAGE + 0x10; // jmp .
    const GP_HANDLER = PAGE + 0x12; // jmp .
    const IRET = PAGE + 0x20; // int $0x82; jmp .
    const FRAME = PAGE + 0x100;
    const mem = d.machine.memory;
    const mfn = d.machine.p2m(DOMID).get(PAGE >> 12);
    const put = (va: number, bytes: number[]) =>
      mem.writeBytes(mfn, va % 4096, Uint8Array.from(bytes));
    put(HANDLER, [0xeb, 0xfe, 0xeb, 0xfe]);
    put(IRET, [0xcd, 0x82, 0xeb, 0xfe]);
    [0, USER_CODE, 0xe02b, 0x2, PAGE + 0xff0, 0xe033].forEach((w, i) => {
      mem.write32(mfn, (FRAME % 4096) + i * 4, w);
    });
    t.address[13] = GP_HANDLER;
    t.cs[13] = 0xe019;
    t.flags[13] = 0;
    const vectors = fc
      .integer({ min: 0, max: 255 })
      .filter((n) => n !== 3 && n !== 4 && n !== 0x82);
    fc.assert(
      fc.property(
        fc.oneof(vectors, fc.constant(0x80)),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (n, registered, dpl) => {
          if (n === 13) return; // the #GP handler itself
          t.address[n] = registered ? HANDLER : 0;
          t.cs[n] = registered ? 0xe019 : 0;
          t.flags[n] = registered ? dpl : 0;
          put(USER_CODE, [0xcd, n, 0xeb, 0xfe]);
          d.cpu.rip = IRET;
          d.cpu.lo[0] = 23; // EAX: HYPERVISOR_iret
          d.cpu.lo[4] = FRAME; // ESP
          d.vcpu.run(1); // the iret to ring 3
          expect([d.cpu.rip, d.cpu.cpl]).toEqual([USER_CODE, 3]);
          d.vcpu.run(1); // int n
          expect(d.vcpu.crash).toBeNull();
          const handled = registered && (n === 0x80 || dpl === 3);
          const esp = (d.cpu.lo[4] ?? 0) >>> 0;
          const p2m = d.machine.p2m(DOMID);
          const frame = Array.from({ length: 3 }, (_, k) => {
            const va = esp + k * 4;
            return mem.read32(p2m.get(va >> 12), va % 4096) >>> 0;
          });
          expect(d.cpu.cpl).toBe(1);
          if (handled) {
            expect([d.cpu.rip, kstackTop - esp]).toEqual([HANDLER, 20]);
            expect(frame.slice(0, 2)).toEqual([USER_CODE + 2, 0x1e02b]);
          } else {
            expect([d.cpu.rip, kstackTop - esp]).toEqual([GP_HANDLER, 24]);
            expect(frame.slice(0, 3)).toEqual([((n << 3) | 2) >>> 0, USER_CODE, 0x1e02b]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
