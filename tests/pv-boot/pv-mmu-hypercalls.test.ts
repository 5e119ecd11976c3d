import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootPvDomain, DOMID } from './boot-domain.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable spot in the guest image for the probe: `syscall; jmp .-2`. */
const PROBE_VA = 0x103f00;
/** Guest scratch memory for hypercall arguments (inside the image's zeroed room). */
const ARGS_VA = 0x103800;
const HC = { mmu_update: 1, mmuext_op: 26 };

let kernel = '';

type Domain = ReturnType<typeof bootPvDomain>;

function probe(): Domain {
  const d = bootPvDomain(kernel);
  const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
  d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfc));
  return d;
}

/** Makes hypercall `nr` from the guest kernel with the given RDI, RSI, RDX, R10; returns RAX. */
function call(d: Domain, nr: number, ...args: number[]): number {
  const regs = [7, 6, 2, 10];
  d.cpu.rip = PROBE_VA;
  d.cpu.lo[0] = nr;
  d.cpu.hi[0] = 0;
  regs.forEach((r, i) => {
    const v = args[i] ?? 0;
    d.cpu.lo[r] = (v % 2 ** 32) | 0;
    d.cpu.hi[r] = Math.floor(v / 2 ** 32) | 0;
  });
  expect(d.vcpu.run(1)).toBe(PV_RUN.BUDGET);
  return d.cpu.lo[0] ?? 0;
}

/** Writes bytes into guest memory at a virtual address of the 1:1-mapped image. */
function poke(d: Domain, va: number, bytes: Uint8Array): void {
  d.machine.memory.writeBytes(d.machine.p2m(DOMID).get(Math.floor(va / 4096)), va % 4096, bytes);
}

function peek32(d: Domain, va: number): number {
  return d.machine.memory.read32(d.machine.p2m(DOMID).get(Math.floor(va / 4096)), va % 4096);
}

/** MFN of the L1 table mapping `va` (below 2 MiB), walked from the pinned L4. */
function l1Of(d: Domain): number {
  const mem = d.machine.memory;
  const next = (mfn: number) =>
    (mem.read32(mfn, 0) >>> 12) | ((mem.read32(mfn, 4) & 0xfffff) << 20);
  return next(next(next(d.layout.vcpu.topLevelMfn)));
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'mmu_update and mmuext_op from a 64-bit PV kernel',
  () => {
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'pv-mmu-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      kernel = join(dir, 'pv-hello.elf');
    });

    it('remaps a page through a validated L1 update (with _PAGE_USER added) and reports pdone', () => {
      const d = probe();
      const l1 = l1Of(d);
      const target = 0x105000; // an image page, remapped to the frame of pfn 0x200
      const newMfn = d.machine.p2m(DOMID).get(0x200);
      const req = new DataView(new ArrayBuffer(16));
      req.setBigUint64(0, BigInt(l1) * 4096n + BigInt((target >> 12) * 8), true);
      req.setBigUint64(8, BigInt(newMfn) * 4096n + 0x23n, true);
      poke(d, ARGS_VA, new Uint8Array(req.buffer));
      poke(d, ARGS_VA + 16, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
      expect(call(d, HC.mmu_update, ARGS_VA, 1, ARGS_VA + 16, 0x7ff0)).toBe(0);
      expect(peek32(d, ARGS_VA + 16)).toBe(1); // pdone
      expect(d.machine.memory.read32(l1, (target >> 12) * 8)).toBe(newMfn * 4096 + 0x27);
    });

    it('refuses to map a page table writable, stops at the failing request, and faults on bad pointers', () => {
      const d = probe();
      const l1 = l1Of(d);
      const target = 0x105000;
      const req = new DataView(new ArrayBuffer(32));
      // Request 0: harmless (rewrite the same entry). Request 1: map the L4 itself writable.
      const entry = d.machine.memory.read32(l1, (target >> 12) * 8);
      req.setBigUint64(0, BigInt(l1) * 4096n + BigInt((target >> 12) * 8), true);
      req.setBigUint64(8, BigInt(entry >>> 0), true);
      req.setBigUint64(16, BigInt(l1) * 4096n + BigInt((target >> 12) * 8), true);
      req.setBigUint64(24, BigInt(d.layout.vcpu.topLevelMfn) * 4096n + 0x23n, true);
      poke(d, ARGS_VA, new Uint8Array(req.buffer));
      const rc = call(d, HC.mmu_update, ARGS_VA, 2, ARGS_VA + 64, 0x7ff0);
      expect(rc).toBeLessThan(0);
      expect(peek32(d, ARGS_VA + 64)).toBe(1);
      expect(d.machine.memory.read32(l1, (target >> 12) * 8)).toBe(entry);
      expect(call(d, HC.mmu_update, 0x7fff0000, 1, 0, 0x7ff0)).toBe(-14);
      expect(call(d, HC.mmuext_op, 0x7fff0000, 1, 0, 0x7ff0)).toBe(-14);
      expect(d.vcpu.crash).toBeNull();
    });

    it('runs mmuext_op: flushes, re-pinning a pinned L4 fails, NEW_BASEPTR moves CR3', () => {
      const d = probe();
      const l4 = d.layout.vcpu.topLevelMfn;
      const ops = new DataView(new ArrayBuffer(48));
      ops.setUint32(0, 6, true); // MMUEXT_TLB_FLUSH_LOCAL
      ops.setUint32(24, 3, true); // MMUEXT_PIN_L4_TABLE of the already pinned L4
      ops.setBigUint64(32, BigInt(l4), true);
      poke(d, ARGS_VA, new Uint8Array(ops.buffer));
      const rc = call(d, HC.mmuext_op, ARGS_VA, 2, ARGS_VA + 64, 0x7ff0);
      expect(rc).toBeLessThan(0);
      expect(peek32(d, ARGS_VA + 64)).toBe(1);
      // NEW_BASEPTR to an unmapped, zeroed frame: it validates as an (empty) L4 and CR3 follows,
      // so the kernel's next instruction fetch faults and only this domain crashes.
      const empty = d.machine.p2m(DOMID).get(0xff0);
      const base = new DataView(new ArrayBuffer(24));
      base.setUint32(0, 5, true); // MMUEXT_NEW_BASEPTR
      base.setBigUint64(8, BigInt(empty), true);
      poke(d, ARGS_VA, new Uint8Array(base.buffer));
      expect(call(d, HC.mmuext_op, ARGS_VA, 1, 0, 0x7ff0)).toBe(0);
      expect(d.cpu.cr3).toBe(empty * 4096);
      expect(d.vcpu.run(10)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.code).toBe(14);
      expect(d.shutdowns).toEqual([[DOMID, 3]]);
    });
  },
);
