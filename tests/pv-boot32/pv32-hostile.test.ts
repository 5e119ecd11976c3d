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
/** A spare, mapped, writable page of the guest image (`alias_page`) for the probe. */
const PROBE_VA = 0x107800;
const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESI = 6;
const EDI = 7;
const HYPERCALL_MULTICALL = 13;
const HYPERCALL_IRET = 23;

let kernel = '';

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 0x7ff0, 0x100000, PROBE_VA, 0xf5800000, 0xffffffff),
  fc.integer({ min: 0, max: 0x200000 }),
  fc.integer({ min: 0, max: 0xffffffff }),
);

describe.skipIf(!haveNasm && !process.env.CI)(
  'hostile hypercalls from a 32-bit PAE PV kernel',
  () => {
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'pv32-hostile-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      kernel = join(dir, 'pv32-hello.elf');
    });

    it('any hypercall number and arguments give a result or -errno in EAX, never an exception or a crash', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0xffffffff })),
          fc.array(u32, { minLength: 5, maxLength: 5 }),
          (nr, args) => {
            const d = boot32(kernel);
            const { cpu, vcpu } = d;
            const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
            // int $0x82; jmp .-2
            d.machine.memory.writeBytes(
              mfn,
              PROBE_VA % 4096,
              Uint8Array.of(0xcd, 0x82, 0xeb, 0xfc),
            );
            cpu.rip = PROBE_VA;
            cpu.lo[EAX] = nr | 0;
            for (const [i, r] of [EBX, ECX, EDX, ESI, EDI].entries())
              cpu.lo[r] = (args[i] ?? 0) | 0;
            const result = vcpu.run(1);
            expect(vcpu.hypercalls).toBe(1);
            if (nr === HYPERCALL_IRET) {
              // The frame comes from the guest stack: it may return anywhere, or crash the domain
              // on a frame Xen refuses — but it reports and never throws.
              if (vcpu.crash !== null) expect(d.shutdowns).toEqual([[DOMID, 3]]);
              return;
            }
            if (nr === HYPERCALL_MULTICALL) {
              // A batch may hold an iret entry: it returns anywhere, or crashes the domain on a
              // frame Xen refuses (see the regression case below) — reported, never thrown.
              if (vcpu.crash !== null) {
                expect(vcpu.crash.message).toContain('iret');
                expect(d.shutdowns).toEqual([[DOMID, 3]]);
              }
              return;
            }
            expect(vcpu.crash).toBeNull();
            if (result === PV_RUN.SHUTDOWN) {
              expect(d.shutdowns.length).toBe(1);
              return;
            }
            expect(cpu.rip).toBe(PROBE_VA + 2);
            expect(cpu.cpl).toBe(1);
            const eax = cpu.lo[EAX] ?? 0;
            // Either a non-negative result or -errno (Xen's errno values are below 4096).
            expect(eax >= 0 || eax >= -4095).toBe(true);
            if (nr > 64) expect(eax).toBe(-38); // -ENOSYS
          },
        ),
        { numRuns: 150 },
      );
    });

    it('a multicall whose batch holds an iret entry with a frame Xen refuses crashes only that domain', () => {
      const d = boot32(kernel);
      const { cpu, vcpu } = d;
      const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
      const list = PROBE_VA + 0x100;
      d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0xcd, 0x82, 0xeb, 0xfc));
      // One entry: op = __HYPERVISOR_iret; the "frame" at ESP returns to ring 0 (CS 0xe018).
      d.machine.memory.writeBytes(mfn, list % 4096, Uint8Array.of(23, 0, 0, 0));
      const esp = PROBE_VA + 0x200;
      d.machine.memory.write32(mfn, (esp % 4096) + 8, 0xe018);
      cpu.lo[4] = esp;
      cpu.rip = PROBE_VA;
      cpu.lo[EAX] = HYPERCALL_MULTICALL;
      cpu.lo[EBX] = list;
      cpu.lo[ECX] = 1;
      expect(vcpu.run(1)).toBe(PV_RUN.SHUTDOWN);
      expect(vcpu.crash?.message).toContain('iret');
      expect(d.shutdowns).toEqual([[DOMID, 3]]);
    });

    it('random ring-1 kernel code never throws out of the vCPU loop and cannot touch another domain', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 96 }), (code) => {
          const d = boot32(kernel);
          const dom0 = d.machine.p2m(0);
          const before = [dom0.get(0), dom0.get(1)].map((m) => d.machine.memory.readFrame(m));
          const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
          d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, code);
          d.cpu.rip = PROBE_VA;
          const results: number[] = [];
          for (let i = 0; i < 4; i++) results.push(d.vcpu.run(500));
          for (const r of results) expect([0, 1, 2, 3]).toContain(r);
          if (results.includes(PV_RUN.SHUTDOWN)) expect(d.shutdowns.length).toBe(1);
          else expect(d.shutdowns).toEqual([]);
          const after = [dom0.get(0), dom0.get(1)].map((m) => d.machine.memory.readFrame(m));
          expect(after).toEqual(before);
        }),
        { numRuns: 80 },
      );
    });
  },
);
