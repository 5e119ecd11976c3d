import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, runModel, runQemu } from './diff/run.ts';
import { buildSystem16Program, compareSystem16 } from './diff/system16-program.ts';

interface Vectors {
  results: { seed: number; cases: number; qemu: string }[];
}

function haveQemu(): boolean {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const vectors = JSON.parse(
  readFileSync(new URL('./vectors/system16.json', import.meta.url), 'utf8'),
) as Vectors;

describe('ARPL, SALC, BOUND and 16-bit TSSs against QEMU TCG (test/vectors/system16.json)', () => {
  for (const r of vectors.results) {
    it(`matches QEMU on all ${r.cases} dumps of seed ${r.seed} (ARPL/SALC/BOUND/#BR, INT through 32- and 16-bit gates with the 16-bit TSS stack, CALL/IRET task switches to a 16-bit TSS)`, () => {
      const p = buildSystem16Program(r.seed);
      expect(p.cases.length).toBe(r.cases);
      const want = Uint8Array.from(Buffer.from(r.qemu, 'hex'));
      expect(compareSystem16(p, want, runModel(assemble(p.source)))).toEqual([]);
    });
  }
});

describe.skipIf(!haveQemu() && !process.env.CI)(
  'live QEMU run: ARPL, SALC, BOUND, 16-bit TSSs',
  () => {
    it('a freshly seeded program matches QEMU byte for byte', () => {
      const p = buildSystem16Program(0x16 + (Date.now() % 1000));
      const image = assemble(p.source);
      expect(compareSystem16(p, runQemu(image), runModel(image))).toEqual([]);
    });
  },
);
