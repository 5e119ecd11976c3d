/**
 * HYPERVISOR_iret (compat) frames whose CS or SS the hardware iret would fault on: Xen 4.17
 * gives the guest that fault (the pre-exception fixup of the `iretq` in
 * compat_restore_all_guest), with the frame's state, rather than crashing it — the 64-bit form
 * of the same path is checked against Xen 4.17 by `tests/pv-abi/user-ref.test.ts`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable page of the guest image (`alias_page`): probe, frame, stacks. */
const PROBE_VA = 0x107800;
const FRAME_VA = PROBE_VA + 0x200;
const KSTACK_TOP = PROBE_VA + 0x400;
const HANDLER_VA = PROBE_VA + 0x600;
const EAX = 0;
const ESP = 4;
const FLAT_RING1_CS = 0xe019;
const FLAT_RING1_DS = 0xe021;
/** Xen's compat ring-3 selectors (FLAT_RING3_CS/DS of xen-x86_32.h). */
const FLAT_RING3_CS = 0xe02b;
const FLAT_RING3_DS = 0xe033;

let kernel = '';

type Booted = ReturnType<typeof boot32>;

/** Boots, installs a #GP/#NP/#SS handler and a kernel stack, and puts `frame` at FRAME_VA. */
function setup(frame: readonly number[], handlers = true): Booted {
  const d = boot32(kernel);
  const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
  // int $0x82; jmp .-2 — and the handler: jmp . (so a bounce stays put)
  d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfc));
  d.machine.memory.writeBytes(mfn, HANDLER_VA % 4096, Uint8Array.of(0xeb, 0xfe));
  frame.forEach((w, i) => {
    d.machine.memory.write32(mfn, (FRAME_VA % 4096) + i * 4, w | 0);
  });
  const t = d.vcpu.traps;
  if (handlers)
    for (const v of [11, 12, 13, 14]) {
      t.address[v] = HANDLER_VA;
      t.cs[v] = FLAT_RING1_CS;
    }
  t.kernelSs = FLAT_RING1_DS;
  t.kernelSp = KSTACK_TOP;
  d.cpu.lo[ESP] = FRAME_VA;
  d.cpu.lo[EAX] = 23;
  d.cpu.rip = PROBE_VA;
  return d;
}

function words(d: Booted, va: number, n: number): number[] {
  const mfn = d.machine.p2m(DOMID).get(va >> 12);
  return Array.from(
    { length: n },
    (_, i) => d.machine.memory.read32(mfn, (va % 4096) + i * 4) >>> 0,
  );
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'compat iret frames the hardware iret faults on',
  () => {
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'pv32-iret-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      kernel = join(dir, 'pv32-hello.elf');
    });

    it('a null CS with RPL 3 is #GP(0) from ring 3: the handler runs in ring 1 on the stack_switch stack with the frame ESP and SS', () => {
      const d = setup([0x1234, 0x401000, 3, 0x202, 0x8000f0, FLAT_RING3_DS]);
      d.vcpu.run(1);
      expect(d.vcpu.crash).toBeNull();
      expect(d.cpu.rip).toBe(HANDLER_VA);
      expect(d.cpu.cpl).toBe(1);
      expect(d.cpu.segSel[1]).toBe(FLAT_RING1_CS);
      const esp = d.cpu.lo[ESP] ?? 0;
      expect(esp).toBe(KSTACK_TOP - 24);
      // error code, EIP, CS | saved mask << 16, EFLAGS (IF = !mask), ESP, SS
      const [code, eip, cs, eflags, uesp, uss] = words(d, esp, 6);
      expect([code, eip, (cs ?? 0) & 0xffff, uesp, uss]).toEqual([
        0,
        0x401000,
        3,
        0x8000f0,
        FLAT_RING3_DS,
      ]);
      expect((eflags ?? 0) & 0x200).toBe(0x200); // the frame's IF: events were unmasked by the iret
      expect(d.cpu.lo[EAX]).toBe(0x1234); // EAX came back from the frame
    });

    it('a ring-1 CS naming an empty GDT entry is #GP(selector) on the current stack, past the iret frame', () => {
      const d = setup([0, 0x401000, 0x29, 0x202]);
      d.vcpu.run(1);
      expect(d.vcpu.crash).toBeNull();
      expect(d.cpu.rip).toBe(HANDLER_VA);
      const esp = d.cpu.lo[ESP] ?? 0;
      expect(esp).toBe(FRAME_VA + 16 - 16);
      const [code, eip, cs] = words(d, esp, 3);
      expect([code, eip, (cs ?? 0) & 0xffff]).toEqual([0x28, 0x401000, 0x29]);
    });

    it('a ring-3 frame with a ring-1 SS is #GP(SS) from ring 3; a good ring-3 frame enters ring 3 with its ESP and SS', () => {
      const d = setup([0, 0x401000, FLAT_RING3_CS, 0x202, 0x8000f0, FLAT_RING1_DS]);
      d.vcpu.run(1);
      expect(d.vcpu.crash).toBeNull();
      expect(d.cpu.rip).toBe(HANDLER_VA);
      expect(words(d, d.cpu.lo[ESP] ?? 0, 1)).toEqual([FLAT_RING1_DS & 0xfffc]);
      // A good ring-3 frame enters ring 3 at the frame's EIP with its ESP, CS and SS (the iret
      // hypercall ends the run there, before the first user instruction).
      const ok = setup([0, 0x401000, FLAT_RING3_CS, 0x202, 0x8000f0, FLAT_RING3_DS]);
      ok.vcpu.run(1);
      expect(ok.vcpu.crash).toBeNull();
      expect([ok.cpu.rip, ok.cpu.cpl, ok.cpu.lo[ESP]]).toEqual([0x401000, 3, 0x8000f0]);
      expect([ok.cpu.segSel[1], ok.cpu.segSel[2]]).toEqual([FLAT_RING3_CS, FLAT_RING3_DS]);
    });

    it('without a handler for the fault the domain crashes (reported, not thrown)', () => {
      const d = setup([0, 0x401000, 3, 0x202, 0x8000f0, FLAT_RING3_DS], false);
      expect(d.vcpu.run(1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.message).toContain('iret');
      expect(d.shutdowns).toEqual([[DOMID, 3]]);
    });

    it('random frames return to ring 1 or 3 with a matching CS RPL, or crash only the domain', () => {
      const sel = fc.oneof(
        fc.constantFrom(
          0,
          3,
          0x29,
          FLAT_RING1_CS,
          FLAT_RING1_DS,
          FLAT_RING3_CS,
          FLAT_RING3_DS,
          0xe018,
        ),
        fc.integer({ min: 0, max: 0xffff }),
      );
      const u32 = fc.oneof(
        fc.constantFrom(0, 0x401000, 0xfffffffc),
        fc.integer({ min: 0, max: 0xffffffff }),
      );
      fc.assert(
        fc.property(u32, sel, u32, u32, sel, fc.boolean(), (eip, cs, eflags, esp, ss, handlers) => {
          const d = setup([7, eip, cs, eflags, esp, ss], handlers);
          let result: number = PV_RUN.BUDGET;
          expect(() => {
            result = d.vcpu.run(1);
          }).not.toThrow();
          if (d.vcpu.crash !== null) {
            expect(result).toBe(PV_RUN.SHUTDOWN);
            expect(d.shutdowns).toEqual([[DOMID, 3]]);
            return;
          }
          expect([1, 3]).toContain(d.cpu.cpl);
          expect((d.cpu.segSel[1] ?? 0) & 3).toBe(d.cpu.cpl);
        }),
        { numRuns: 150 },
      );
    });
  },
);
