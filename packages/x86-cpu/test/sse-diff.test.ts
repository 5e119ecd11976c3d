import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, runModel, runQemu } from './diff/run.ts';
import {
  buildCvt,
  buildMmx,
  buildSse,
  buildSseFp,
  buildSys64,
  buildTrans,
  buildX87,
  CVT_FILE,
  compareSse,
  MMX_FILE,
  SSE_FILE,
  SSE_FP_FILE,
  SYS64_FILE,
  SYS64_QEMU_CPU,
  TRANS_FILE,
  X87_FILE,
} from './diff/sse-kind.ts';

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

for (const [file, build, what] of [
  [SSE_FILE, buildSse, 'data movement, integer SIMD, FXSAVE/FXRSTOR'],
  [SSE_FP_FILE, buildSseFp, 'floating point in every rounding mode with DAZ/FTZ'],
  [X87_FILE, buildX87, 'x87 with every precision and rounding control'],
  [MMX_FILE, buildMmx, 'MMX on the x87 registers'],
  [CVT_FILE, buildCvt, 'conversions and moves between MMX and XMM registers'],
  [TRANS_FILE, buildTrans, 'x87 transcendentals in every rounding mode'],
  [SYS64_FILE, buildSys64, 'SYSEXIT (REX.W) to 64-bit ring 3 and SYSENTER back'],
] as const) {
  // The conversion group also runs x87 loads before its instructions (FIP/FDP, as x87).
  const x87 = file === X87_FILE || file === CVT_FILE || file === TRANS_FILE;
  const mmx = file === MMX_FILE || file === CVT_FILE;
  const vectors = JSON.parse(
    readFileSync(new URL(`./vectors/${file}`, import.meta.url), 'utf8'),
  ) as Vectors;

  describe(`SSE/SSE2 differential tests against QEMU TCG (${what}): ${file}`, () => {
    for (const r of vectors.results) {
      it(`matches QEMU on all ${r.cases} cases of seed ${r.seed} (GPRs, RFLAGS, MXCSR, FCW/FSW/FTW, ST0-7, XMM0-15)`, () => {
        const p = build(r.seed);
        expect(p.cases.length).toBe(r.cases);
        const got = runModel(assemble(p.source));
        const want = Uint8Array.from(Buffer.from(r.qemu, 'hex'));
        expect(compareSse(p, want, got, x87, mmx)).toEqual([]);
      });
    }
  });

  describe.skipIf(!haveQemu() && !process.env.CI)(`live QEMU run: ${what}`, () => {
    it('a freshly seeded sample matches QEMU byte for byte', () => {
      const p = build(0x5eed + (Date.now() % 1000));
      const image = assemble(p.source);
      const qemu = runQemu(image, file === SYS64_FILE ? SYS64_QEMU_CPU : 'max');
      expect(compareSse(p, qemu, runModel(image), x87, mmx)).toEqual([]);
    });
  });
}
