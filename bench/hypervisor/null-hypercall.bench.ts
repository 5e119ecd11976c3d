/**
 * Null hypercall round trip from a booted PV guest kernel: a loop in the guest calls
 * `xen_version(XENVER_version)` and the PV vCPU takes the CPU exit, decodes the arguments,
 * dispatches, writes the result register and resumes the guest. Measured for a 32-bit PAE guest
 * (ring 1, `int $0x82`, on `Pv32Vcpu`) and a 64-bit guest (ring 3, `syscall`, on `PvVcpu`),
 * both booted from the repository's nasm test guests through the toolstack's builder. The third
 * case runs the same 32-bit loop with the `int $0x82` replaced by a two-byte register move: the
 * interpreter alone, so the difference is what the exit and hypercall path cost.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootPv32Domain, bootPvDomain, PV_GUEST_DOMID } from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A spare, mapped, writable page of each test guest (its last image page) for the loop. */
const LOOP32_VA = 0x107800;
const LOOP64_VA = 0x103f00;

type Runner = { run(budget: number): number; readonly hypercalls: number };
let pv32: Runner | null = null;
let pv64: Runner | null = null;
let base32: Runner | null = null;

/** Boots the 32-bit guest and points it at `code`, looping forever. */
function boot32(dir: string, code: number[]): Runner {
  const d = bootPv32Domain(join(dir, 'pv32-hello.elf'));
  const mfn = d.machine.p2m(PV_GUEST_DOMID).get(LOOP32_VA >> 12);
  d.machine.memory.writeBytes(mfn, LOOP32_VA % 4096, Uint8Array.from(code));
  d.cpu.rip = LOOP32_VA;
  return d.vcpu;
}

export default defineSuite({
  name: 'hypervisor/null-hypercall',
  description:
    'Guest-to-hypervisor round trips of xen_version(XENVER_version) from a booted PV kernel loop: 32-bit PAE (int $0x82, ring 1) and 64-bit (syscall, ring 3), vs the same 4-instruction loop without the hypercall (interpreter only).',
  unit: 'k hypercalls/s',
  divisor: 1e3,
  setup() {
    const dir = mkdtempSync(join(tmpdir(), 'bench-null-hc-'));
    execFileSync('sh', [join(ROOT, 'tests/pv-boot32/guest/build.sh'), dir]);
    execFileSync('sh', [join(ROOT, 'tests/pv-boot/guest/build.sh'), dir]);
    // mov $17,%eax; xor %ebx,%ebx; int $0x82; jmp .-11
    pv32 = boot32(dir, [0xb8, 17, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x82, 0xeb, 0xf5]);
    // mov $17,%eax; xor %ebx,%ebx; mov %eax,%ecx (2 bytes, as int is); jmp .-11
    base32 = boot32(dir, [0xb8, 17, 0, 0, 0, 0x31, 0xdb, 0x89, 0xc1, 0xeb, 0xf5]);
    const d64 = bootPvDomain(join(dir, 'pv-hello.elf'));
    const mfn = d64.machine.p2m(PV_GUEST_DOMID).get(LOOP64_VA >> 12);
    // mov $17,%eax; xor %edi,%edi; syscall; jmp .-11
    d64.machine.memory.writeBytes(
      mfn,
      LOOP64_VA % 4096,
      Uint8Array.of(0xb8, 17, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05, 0xeb, 0xf5),
    );
    d64.cpu.rip = LOOP64_VA;
    pv64 = d64.vcpu;
  },
  cases: [
    {
      name: 'pv32-int82',
      run(iters) {
        const v = pv32 as Runner;
        const before = v.hypercalls;
        v.run(iters * 4);
        return v.hypercalls - before;
      },
    },
    {
      name: 'pv64-syscall',
      run(iters) {
        const v = pv64 as Runner;
        const before = v.hypercalls;
        v.run(iters * 4);
        return v.hypercalls - before;
      },
    },
    {
      name: 'pv32-loop-without-hypercall',
      run(iters) {
        const v = base32 as Runner;
        return v.run(iters * 4);
      },
    },
  ],
});
