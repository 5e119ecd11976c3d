import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootPvDomain, DOMID } from './boot-domain.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable spot in the guest image for the probe: `syscall; jmp .-2`. */
const PROBE_VA = 0x103f00;
const RAX = 0;
const RCX = 1;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const R8 = 8;
const R10 = 10;

let kernel = '';

const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 0x7ff0n, 0x100000n, 0x103f00n, 0xffff800000000000n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: 0x200000n }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

function set(cpu: { lo: Int32Array; hi: Int32Array }, r: number, v: bigint): void {
  cpu.lo[r] = Number(v & 0xffffffffn) | 0;
  cpu.hi[r] = Number((v >> 32n) & 0xffffffffn) | 0;
}

describe.skipIf(!haveNasm && !process.env.CI)('hostile hypercalls from a 64-bit PV kernel', () => {
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-hostile-'));
    execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    kernel = join(dir, 'pv-hello.elf');
  });

  it('any hypercall number and arguments give an errno or a result in RAX, never an exception or a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 64 }),
          fc.constant(23),
          fc.integer({ min: 0, max: 0xffffffff }),
        ),
        fc.boolean(),
        fc.array(u64, { minLength: 5, maxLength: 5 }),
        (nr, highRax, args) => {
          const d = bootPvDomain(kernel);
          const { cpu, vcpu } = d;
          const pfn = Math.floor(PROBE_VA / 4096);
          const mfn = d.machine.p2m(DOMID).get(pfn);
          d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfc));
          cpu.rip = PROBE_VA;
          set(cpu, RAX, BigInt(nr) | (highRax ? 1n << 40n : 0n));
          for (const [i, r] of [RDI, RSI, RDX, R10, R8].entries()) set(cpu, r, args[i] ?? 0n);
          let result = vcpu.run(1);
          // A long batch (multicall, mmu_update, mmuext_op, memory_op) is preempted with Xen's
          // continuation: RIP stays on the `syscall` with RAX = the hypercall number and the
          // arguments updated, and the next run re-executes it with the work that is left.
          let executions = 1;
          while (
            !(nr === 23 && !highRax) &&
            vcpu.crash === null &&
            result !== PV_RUN.SHUTDOWN &&
            cpu.rip === PROBE_VA &&
            executions < 10_000
          ) {
            expect(cpu.lo[RAX]).toBe(nr | 0);
            result = vcpu.run(1);
            executions++;
          }
          if (nr === 23 && !highRax) {
            // HYPERVISOR_iret takes its frame from the guest stack: it may return anywhere, or
            // crash the domain on a bad frame (as Xen does) — but it reports and never throws.
            expect(vcpu.hypercalls).toBe(1);
            if (vcpu.crash !== null) expect(d.shutdowns).toEqual([[DOMID, 3]]);
            return;
          }
          expect(vcpu.crash).toBeNull();
          if (result === PV_RUN.SHUTDOWN) {
            expect(d.shutdowns.length).toBe(1);
            return;
          }
          expect(vcpu.hypercalls).toBe(executions);
          expect(cpu.rip).toBe(PROBE_VA + 2);
          expect(cpu.lo[RCX]).toBe(PROBE_VA + 2); // as `syscall` leaves it
          const rax = (BigInt(cpu.hi[RAX] ?? 0) << 32n) | BigInt((cpu.lo[RAX] ?? 0) >>> 0);
          const signed = BigInt.asIntN(64, rax);
          // Either a non-negative result or -errno (Xen's errno values are below 4096).
          expect(signed >= 0n || signed >= -4095n).toBe(true);
          if (highRax) expect(signed).toBe(-38n); // no such hypercall: -ENOSYS
        },
      ),
      { numRuns: 200 },
    );
  });

  it('random kernel code never throws out of the vCPU loop and cannot touch another domain', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 96 }), (code) => {
        const d = bootPvDomain(kernel);
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
      { numRuns: 150 },
    );
  });
});
