/**
 * SHUTDOWN_suspend on the 32-bit PAE PV ABI, at run time: a 32-bit kernel (the repository's
 * nasm-built pv32-hello, booted by tests/pv-boot32/boot-domain32.ts) calls
 * `HYPERVISOR_sched_op(SCHEDOP_shutdown, {SHUTDOWN_suspend})` through `int $0x82`; the vCPU
 * stops with reason suspend and EAX 0, and after the hypervisor's fast resume the same
 * instruction stream goes on with EAX 1, as libxc's xc_domain_resume leaves a 32-bit guest.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN, RESUME_HOW, resumeSuspendedDomain, SHUTDOWN_suspend } from '@typevisor/hypervisor';
import { beforeAll, describe, expect, it } from 'vitest';
import { boot32, DOMID } from '../pv-boot32/boot-domain32.ts';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot32/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable page of the guest image (pv32-hostile.test.ts uses it too). */
const PROBE_VA = 0x107800;
const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const HYPERCALL_SCHED_OP = 29;
const SCHEDOP_shutdown = 2;

describe.skipIf(!haveNasm && !process.env.CI)('SHUTDOWN_suspend from a 32-bit PV kernel', () => {
  let kernel = '';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'pv32-suspend-'));
    execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    kernel = join(dir, 'pv32-hello.elf');
  });

  /** Boots the kernel with `int $0x82; inc %esi; jmp .-1` at the probe and the suspend call set up. */
  function suspendingKernel() {
    const d = boot32(kernel);
    const { cpu } = d;
    const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
    // int $0x82 ; 1: inc %esi ; jmp 1b
    d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0xcd, 0x82, 0x46, 0xeb, 0xfd));
    d.machine.memory.write32(mfn, (PROBE_VA % 4096) + 0x100, SHUTDOWN_suspend); // sched_shutdown
    cpu.rip = PROBE_VA;
    cpu.lo[EAX] = HYPERCALL_SCHED_OP;
    cpu.lo[EBX] = SCHEDOP_shutdown;
    cpu.lo[ECX] = PROBE_VA + 0x100;
    cpu.lo[EDX] = 0x1234; // start_info's MFN, as Linux passes it; not needed by the hypervisor
    cpu.lo[6] = 0; // ESI counts loop iterations after the hypercall
    return d;
  }

  it('stops the vCPU with reason suspend and EAX 0; nothing runs until it is resumed', () => {
    const d = suspendingKernel();
    expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
    expect(d.vcpu.shutdownReason).toBe(SHUTDOWN_suspend);
    expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_suspend]]);
    expect(d.cpu.lo[EAX]).toBe(0);
    expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
    expect(d.cpu.lo[6]).toBe(0);
  });

  it('a fast resume makes the hypercall return 1 and the kernel goes on after it', () => {
    const d = suspendingKernel();
    expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
    const rip = d.cpu.rip;
    expect(resumeSuspendedDomain([d.vcpu], RESUME_HOW.CANCELLED)).toBe(0);
    expect(d.cpu.lo[EAX]).toBe(1);
    expect(d.vcpu.shutdownReason).toBe(-1);
    expect(d.vcpu.run(1000)).toBe(PV_RUN.BUDGET);
    expect(rip).toBe(PROBE_VA + 2);
    expect(d.cpu.lo[6]).toBeGreaterThan(100); // the loop after the hypercall ran
    expect(d.cpu.lo[EAX]).toBe(1);
  });

  it('a resume into a new domain leaves EAX 0 (what the saved context holds)', () => {
    const d = suspendingKernel();
    expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
    expect(resumeSuspendedDomain([d.vcpu], RESUME_HOW.NEW_DOMAIN)).toBe(0);
    expect(d.vcpu.run(1000)).toBe(PV_RUN.BUDGET);
    expect(d.cpu.lo[EAX]).toBe(0);
    expect(d.cpu.lo[6]).toBeGreaterThan(100);
  });
});
