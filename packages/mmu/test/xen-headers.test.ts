/**
 * Checks the ABI constants against Xen's own public headers (Debian's libxen-dev, Xen 4.17),
 * by compiling a C program that prints every constant this package exports under Xen's name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOMID, MMU_CMD, MMUEXT, UVMF, XEN_ERRNO } from '../src/index.ts';

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
});
