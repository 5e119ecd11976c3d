import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareOutputs, KINDS } from './diff/kinds.ts';
import { assemble, runModel, runQemu } from './diff/run.ts';
import { buildSystemProgram } from './diff/system-program.ts';

interface Vectors {
  results: { seed: number; perTemplate: number; cases: number; qemu: string }[];
}

function haveQemu(): boolean {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

for (const kind of KINDS) {
  const vectors = JSON.parse(
    readFileSync(new URL(`./vectors/${kind.file}`, import.meta.url), 'utf8'),
  ) as Vectors;

  describe(`differential tests against QEMU TCG: ${kind.file}`, () => {
    for (const r of vectors.results) {
      it(`matches QEMU on all ${r.cases} cases of seed ${r.seed} (every GPR and all of EFLAGS)`, () => {
        const p = kind.build(r.seed, r.perTemplate);
        expect(p.cases.length).toBe(r.cases);
        const got = runModel(assemble(p.source));
        const want = Uint8Array.from(Buffer.from(r.qemu, 'hex'));
        expect(compareOutputs(kind, p, want, got)).toEqual([]);
      });
    }
  });

  describe.skipIf(!haveQemu() && !process.env.CI)(`live QEMU run: ${kind.file}`, () => {
    it('a freshly seeded sample matches QEMU byte for byte', () => {
      const p = kind.build(0x5eed + (Date.now() % 1000), 1);
      const image = assemble(p.source);
      expect(compareOutputs(kind, p, runQemu(image), runModel(image))).toEqual([]);
    });
  });
}

describe('system-level differential test against QEMU TCG', () => {
  const kind = KINDS[0];
  const recorded = JSON.parse(
    readFileSync(new URL('./vectors/system32.json', import.meta.url), 'utf8'),
  ) as {
    qemuOutput: string;
  };

  it('protected-mode entry, paging, ring 3 via IRET, INT 0x80 stack switch, #PF restart and #GP match QEMU', () => {
    const p = buildSystemProgram();
    const got = runModel(assemble(p.source));
    const want = Uint8Array.from(Buffer.from(recorded.qemuOutput, 'hex'));
    expect(want.length).toBe(3 * kind.dump);
    expect(compareOutputs(kind, p, want, got)).toEqual([]);
  });

  it.skipIf(!haveQemu() && !process.env.CI)('and the same program on a live QEMU', () => {
    const p = buildSystemProgram();
    const image = assemble(p.source);
    expect(compareOutputs(kind, p, runQemu(image), runModel(image))).toEqual([]);
  });
});
