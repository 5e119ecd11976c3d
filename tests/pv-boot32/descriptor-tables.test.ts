import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import { bootPvDomain, PV_GUEST_DOMID } from '@typevisor/toolstack';
import { beforeAll, describe, expect, it } from 'vitest';
import { boot32 } from './boot-domain32.ts';

const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const GUEST32 = fileURLToPath(new URL('./guest/', import.meta.url));
const GUEST64 = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
let dir = '';

/**
 * Writes, in the guest's own page 0 (linear 0, where a reset CPU's GDTR and IDTR point), a
 * ring-0 code descriptor at selector 0x08 and an `int 0x80` gate with DPL 3 to `handler`
 * through it — the two ingredients of a ring-0 escape if the CPU ever used guest memory as its
 * descriptor tables.
 */
function plantGate(
  memory: { write32(mfn: number, off: number, v: number): void },
  page0: number,
  handler: number,
  long: boolean,
): void {
  memory.write32(page0, 0x08, 0x0000ffff);
  memory.write32(page0, 0x0c, long ? 0x00209a00 : 0x00cf9a00);
  const at = long ? 0x80 * 16 : 0x80 * 8;
  memory.write32(page0, at, (handler & 0xffff) | (0x08 << 16));
  memory.write32(page0, at + 4, (handler & 0xffff0000) | (long ? 0xee00 : 0xee00));
  // A TSS-shaped ring-0 stack pointer at linear 4 (where a null TR would point).
  memory.write32(page0, 4, 0x1ff0);
}

describe.skipIf(!haveNasm && !process.env.CI)(
  "PV vCPUs never use guest memory as the CPU's descriptor tables",
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pv-desc-'));
      execFileSync('sh', [join(GUEST32, 'build.sh'), dir]);
      execFileSync('sh', [join(GUEST64, 'build.sh'), dir]);
    });

    it('a 64-bit PV kernel that plants an IDT gate and a ring-0 descriptor at linear 0 gets #GP for int 0x80, not ring 0', () => {
      const d = bootPvDomain(join(dir, 'pv-hello.elf'));
      const mem = d.machine.memory;
      const p2m = d.machine.p2m(PV_GUEST_DOMID);
      plantGate(mem, p2m.get(0), 0x103f80, true);
      // int 0x80; jmp $ — and at the "handler": mov %cr3,%rax; jmp $
      mem.writeBytes(p2m.get(0x103), 0xf00, Uint8Array.of(0xcd, 0x80, 0xeb, 0xfe));
      mem.writeBytes(p2m.get(0x103), 0xf80, Uint8Array.of(0x0f, 0x20, 0xd8, 0xeb, 0xfe));
      d.cpu.rip = 0x103f00;
      expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
      expect(d.cpu.cpl).toBe(3);
      expect(d.vcpu.crash?.code).toBe(13);
      expect(d.vcpu.crash?.errorCode).toBe((0x80 << 3) | 2);
    });

    it('a 32-bit PV kernel that plants the same gate gets no ring 0 either (int n is intercepted, the GDT is Xen’s)', () => {
      const d = boot32(join(dir, 'pv32-hello.elf'));
      const mem = d.machine.memory;
      const p2m = d.machine.p2m(PV_GUEST_DOMID);
      plantGate(mem, p2m.get(0), 0x107880, false);
      mem.writeBytes(p2m.get(0x107), 0x800, Uint8Array.of(0xcd, 0x80, 0xeb, 0xfe));
      mem.writeBytes(p2m.get(0x107), 0x880, Uint8Array.of(0x0f, 0x20, 0xd8, 0xeb, 0xfe));
      // ljmp $0x08, $handler: a far jump through the planted descriptor.
      mem.writeBytes(
        p2m.get(0x107),
        0x900,
        Uint8Array.of(0xea, 0x80, 0x78, 0x10, 0x00, 0x08, 0x00),
      );
      d.cpu.rip = 0x107800;
      expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN); // no trap table yet: #GP(0x402) crashes
      expect(d.cpu.cpl).toBe(1);
      expect(d.vcpu.crash?.errorCode).toBe((0x80 << 3) | 2);
      const e = boot32(join(dir, 'pv32-hello.elf'));
      const ep = e.machine.p2m(PV_GUEST_DOMID);
      plantGate(e.machine.memory, ep.get(0), 0x107880, false);
      e.machine.memory.writeBytes(
        ep.get(0x107),
        0x900,
        Uint8Array.of(0xea, 0x80, 0x78, 0x10, 0x00, 0x08, 0x00),
      );
      e.cpu.rip = 0x107900;
      expect(e.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
      expect(e.cpu.cpl).toBe(1);
      expect(e.vcpu.crash?.code).toBe(13);
      expect(e.vcpu.crash?.errorCode).toBe(0x08); // not one of Xen's selectors
    });
  },
);
