/**
 * An event upcall for a 32-bit PAE PV vCPU in ring 3: HYPERVISOR_iret to ring 3 with IF set
 * unmasks events, and a pending upcall is delivered before the first user instruction, as Xen's
 * compat_test_all_events does on the way out of the hypercall — through
 * compat_create_bounce_frame from ring 3: on the `stack_switch` stack, with the user ESP and SS
 * in the frame, CPL 1 and events masked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable page of the guest image (`alias_page`): probe, frame, stack. */
const PROBE_VA = 0x107800;
const FRAME_VA = PROBE_VA + 0x200;
const KSTACK_TOP = PROBE_VA + 0x400;
const CALLBACK_VA = PROBE_VA + 0x600;
const EAX = 0;
const ESP = 4;
const FLAT_RING1_CS = 0xe019;
const FLAT_RING1_DS = 0xe021;
const FLAT_RING3_CS = 0xe02b;
const FLAT_RING3_DS = 0xe033;

let kernel = '';

describe.skipIf(!haveNasm && !process.env.CI)(
  'an event upcall to a 32-bit PV vCPU in ring 3',
  () => {
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'pv32-upcall3-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      kernel = join(dir, 'pv32-hello.elf');
    });

    it('is delivered as the iret to ring 3 unmasks events: ring 1 on the kernel stack, user ESP/SS in the frame, events masked', () => {
      const d = boot32(kernel);
      const mem = d.machine.memory;
      const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
      mem.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfc)); // int $0x82
      mem.writeBytes(mfn, CALLBACK_VA % 4096, Uint8Array.of(0xeb, 0xfe)); // jmp .
      // iret frame {eax, eip, cs, eflags, esp, ss}: to ring 3 with IF set.
      [0, 0x401000, FLAT_RING3_CS, 0x202, 0x8000f0, FLAT_RING3_DS].forEach((w, i) => {
        mem.write32(mfn, (FRAME_VA % 4096) + i * 4, w);
      });
      const t = d.vcpu.traps;
      t.eventCs = FLAT_RING1_CS;
      t.eventEip = CALLBACK_VA;
      t.kernelSs = FLAT_RING1_DS;
      t.kernelSp = KSTACK_TOP;
      // vcpu_info[0]: evtchn_upcall_pending = 1, evtchn_upcall_mask = 1 (the iret clears it).
      const siMfn = Math.floor(d.sharedInfoMa / 4096);
      mem.writeBytes(siMfn, d.sharedInfoMa % 4096, Uint8Array.of(1, 1));
      d.cpu.lo[ESP] = FRAME_VA;
      d.cpu.lo[EAX] = 23;
      d.cpu.rip = PROBE_VA;
      // The iret hypercall ends this run at the first user instruction; the next run delivers
      // the upcall before that instruction executes.
      d.vcpu.run(1);
      expect(d.vcpu.crash).toBeNull();
      expect([d.cpu.rip, d.cpu.cpl]).toEqual([0x401000, 3]);
      d.vcpu.run(1);
      expect(d.vcpu.crash).toBeNull();
      expect(d.cpu.rip).toBe(CALLBACK_VA);
      expect(d.cpu.cpl).toBe(1);
      expect(d.cpu.segSel[1]).toBe(FLAT_RING1_CS);
      expect(d.cpu.segSel[2]).toBe(FLAT_RING1_DS);
      const esp = (d.cpu.lo[ESP] ?? 0) >>> 0;
      expect(esp).toBe(KSTACK_TOP - 20);
      const frame = Array.from(
        { length: 5 },
        (_, i) => mem.read32(mfn, (esp % 4096) + i * 4) >>> 0,
      );
      // EIP (the first user instruction), CS | saved mask 0 << 16, EFLAGS with IF, ESP, SS.
      expect(frame[0]).toBe(0x401000);
      expect(frame[1]).toBe(FLAT_RING3_CS);
      expect((frame[2] ?? 0) & 0x200).toBe(0x200);
      expect(frame.slice(3)).toEqual([0x8000f0, FLAT_RING3_DS]);
      // The upcall masked events again.
      expect(mem.read8(siMfn, (d.sharedInfoMa % 4096) + 1)).toBe(1);
    });
  },
);
