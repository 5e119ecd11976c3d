/**
 * Checks the ABI constants against Xen's own public headers (Debian's libxen-dev, Xen 4.17),
 * by compiling a C program that prints every constant this package exports under Xen's name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  COMPAT_L2_FIRST_XEN_SLOT,
  DOMID,
  HYPERVISOR_COMPAT_VIRT_START,
  M2pMapping,
  Machine,
  MMU_CMD,
  MMUEXT,
  PAGING_MODE,
  PvMm,
  Translator,
  UVMF,
  XEN_ERRNO,
} from '../src/index.ts';

const haveTool = existsSync('/usr/include/xen/xen.h') && existsSync('/usr/bin/gcc');

function fromHeaders(names: string[]): Map<string, bigint> {
  const dir = mkdtempSync(join(tmpdir(), 'mmu-xen-h-'));
  try {
    const lines = names.map((n) => `  printf("%s=%lld\\n", "${n}", (long long)(${n}));`);
    const src = [
      '#include <stdio.h>',
      '#include <stdint.h>',
      '#include <xen/xen.h>',
      '#include <xen/errno.h>',
      'int main(void) {',
      ...lines,
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'c.c'), src);
    execFileSync('gcc', ['-o', join(dir, 'c'), join(dir, 'c.c')]);
    const out = execFileSync(join(dir, 'c'), { encoding: 'utf8' });
    const m = new Map<string, bigint>();
    for (const line of out.trim().split('\n')) {
      const [k, v] = line.split('=') as [string, string];
      m.set(k, BigInt(v));
    }
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!haveTool && !process.env.CI)("ABI constants match Xen's public headers", () => {
  it('mmu_update commands, mmuext_op commands, UVMF flags, domain ids and errno values', () => {
    const ours = new Map<string, number>();
    for (const table of [MMU_CMD, MMUEXT, UVMF, DOMID]) {
      for (const [k, v] of Object.entries(table)) ours.set(k, v);
    }
    for (const [k, v] of Object.entries(XEN_ERRNO)) ours.set(`XEN_${k}`, v);
    const theirs = fromHeaders([
      ...ours.keys(),
      'sizeof(struct mmu_update)',
      'sizeof(struct mmuext_op)',
      'HYPERVISOR_VIRT_START',
      'MACH2PHYS_VIRT_START',
    ]);
    for (const [k, v] of ours) expect([k, theirs.get(k)]).toEqual([k, BigInt(v)]);
    expect(theirs.get('sizeof(struct mmu_update)')).toBe(16n);
    expect(theirs.get('sizeof(struct mmuext_op)')).toBe(24n);
    // 64-bit PV: Xen's area starts at L4 slot 256 (ROOT_PAGETABLE_FIRST_XEN_SLOT).
    expect(BigInt.asUintN(64, theirs.get('HYPERVISOR_VIRT_START') ?? 0n)).toBe(0xffff800000000000n);
    expect(BigInt.asUintN(64, theirs.get('MACH2PHYS_VIRT_START') ?? 0n)).toBe(0xffff800000000000n);
  });

  it('places the 32-bit PAE hypervisor hole and compat M2P where xen-x86_32.h says', () => {
    // The 32-bit header cannot be compiled for x86-64; its macro definitions are read instead.
    const defs = execFileSync('gcc', ['-E', '-dM', '-x', 'c', '-'], {
      input: '#include <xen/arch-x86/xen-x86_32.h>\n',
      encoding: 'utf8',
    });
    const def = (name: string): number => {
      const m = new RegExp(`^#define ${name} (0x[0-9A-Fa-f]+)$`, 'm').exec(defs);
      expect(m, name).not.toBeNull();
      return Number(m?.[1]);
    };
    const start = def('__HYPERVISOR_VIRT_START_PAE');
    const m2pStart = def('__MACH2PHYS_VIRT_START_PAE');
    const m2pEnd = def('__MACH2PHYS_VIRT_END_PAE');
    expect(HYPERVISOR_COMPAT_VIRT_START).toBe(start);
    expect(COMPAT_L2_FIRST_XEN_SLOT).toBe((start >>> 21) & 511); // slot in the L2 under L3[3]
    // M2pMapping's compat table: 4-byte entries from MACH2PHYS_VIRT_START_PAE, read through a
    // 32-bit guest's own tables; its last entry for a 4 Mi-frame machine ends at _END_PAE.
    expect((m2pEnd - m2pStart) / 4).toBe(4 * 1024 * 1024);
    const machine = new Machine({ bytes: 4 * 1024 * 1024 });
    machine.populate(1, 0, 4);
    const mm = new PvMm(machine);
    mm.addDomain(1, { guestWidth: 32 });
    new M2pMapping(mm);
    const f = (pfn: number) => machine.p2m(1).get(pfn);
    const w = (mfn: number, idx: number, lo: number) =>
      mm.mmuUpdate(1, Int32Array.of(mfn * 4096 + idx * 8, 0, lo, 0), 1);
    w(f(0), 3, (f(1) << 12) | 1);
    expect(
      mm.mmuextOp(1, 0, [{ cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: f(0), arg1Hi: 0, arg2: 0 }]),
    ).toBe(0);
    const cpu = new Translator(machine.memory);
    cpu.setPaging({
      mode: PAGING_MODE.PAE,
      cr3Lo: f(0) * 4096,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    const va = m2pStart + f(3) * 4;
    const frame = cpu.translate(va | 0, 0, ACCESS.USER);
    expect(frame).toBeGreaterThanOrEqual(0);
    expect(machine.memory.read32(frame, va & 0xfff)).toBe(3);
  });
});
