/**
 * The cost of a PV vCPU's descriptor-table window (`PvDescriptorTables`), which sits in front of
 * the CPU's page walker: a TLB-miss walk of an ordinary guest address through the window (one
 * range check, then the CPU's own walker) against the CPU's walker called directly, and a walk
 * that the window resolves itself (Xen's reserved GDT page, for a selector load after a flush).
 * Walks happen only on TLB misses, so the first two should be within noise of each other.
 */
import { fileURLToPath } from 'node:url';
import { GDT_WINDOW_64, type PvWalkerPort, type PvWalkRequest } from '@typevisor/hypervisor';
import { bootPvDomain } from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

const ELF = fileURLToPath(
  new URL('../../packages/hypervisor/test/abi-ref/abi-ref-x86_64.elf', import.meta.url),
);
/** The kernel's entry page, mapped by the builder's boot page tables. */
const KERNEL_VA = 0x100000;

let window: PvWalkerPort | null = null;
let inner: PvWalkerPort | null = null;
let req: PvWalkRequest | null = null;

/** Walks `linear` `iters` times with `walker`; returns a checksum of the frames found. */
function walk(walker: PvWalkerPort | null, linear: number, iters: number): number {
  const r = req as PvWalkRequest;
  const w = walker as PvWalkerPort;
  let sum = 0;
  for (let i = 0; i < iters; i++) {
    r.linear = linear;
    w.walk(r);
    sum = (sum + (r.frame >>> 12) + r.fault) | 0;
  }
  return sum;
}

export default defineSuite({
  name: 'hypervisor/descriptor-window',
  description:
    "Page walks of a booted 64-bit PV guest through the GDT/LDT window placed in front of the CPU's walker, vs the CPU's walker called directly, and a walk the window resolves itself (Xen's reserved GDT page).",
  unit: 'M walks/s',
  divisor: 1e6,
  setup() {
    const d = bootPvDomain(ELF, 16);
    window = d.vcpu.descriptors;
    inner = d.vcpu.descriptors.inner;
    req = {
      linear: 0,
      access: 0,
      user: true,
      cr0: d.cpu.cr0,
      cr3: d.cpu.cr3,
      cr4: d.cpu.cr4,
      efer: d.cpu.efer,
      frame: 0,
      userOk: false,
      writable: false,
      noExec: false,
      fault: -1,
    };
  },
  cases: [
    { name: 'guest-address-through-window', run: (iters) => walk(window, KERNEL_VA, iters) },
    { name: 'guest-address-cpu-walker', run: (iters) => walk(inner, KERNEL_VA, iters) },
    {
      name: 'xen-gdt-page-in-window',
      run: (iters) => walk(window, GDT_WINDOW_64 + 14 * 4096, iters),
    },
  ],
});
