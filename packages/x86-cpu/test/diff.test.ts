import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram, DUMP_BYTES } from './diff/program.ts';
import { assemble, runModel, runQemu } from './diff/run.ts';

interface Vectors {
  results: { seed: number; perTemplate: number; cases: number; qemu: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('./vectors/real16-alu.json', import.meta.url), 'utf8'),
) as Vectors;

const NAMES = ['EDI', 'ESI', 'EBP', 'ESP', 'EBX', 'EDX', 'ECX', 'EAX', 'EFLAGS'];

function describeMismatch(insn: string, want: Uint8Array, got: Uint8Array): string {
  const dv = (b: Uint8Array, i: number) =>
    new DataView(b.buffer, b.byteOffset).getUint32(i * 4, true);
  const diffs: string[] = [];
  for (let i = 0; i < NAMES.length; i++) {
    const w = dv(want, i);
    const g = dv(got, i);
    if (w !== g) diffs.push(`${NAMES[i]} qemu=${w.toString(16)} model=${g.toString(16)}`);
  }
  return `${insn}: ${diffs.join(', ')}`;
}

function haveQemu(): boolean {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('differential tests against QEMU TCG (committed reference results)', () => {
  for (const r of vectors.results) {
    it(`matches QEMU on every case of seed ${r.seed} (${r.cases} instruction cases, registers and all EFLAGS)`, () => {
      const p = buildProgram(r.seed, r.perTemplate);
      expect(p.cases.length).toBe(r.cases);
      const got = runModel(assemble(p.source));
      const want = Uint8Array.from(Buffer.from(r.qemu, 'hex'));
      expect(got.length).toBe(want.length);
      const mismatches: string[] = [];
      for (let i = 0; i < p.cases.length; i++) {
        const a = want.subarray(i * DUMP_BYTES, (i + 1) * DUMP_BYTES);
        const b = got.subarray(i * DUMP_BYTES, (i + 1) * DUMP_BYTES);
        if (Buffer.compare(a, b) !== 0) mismatches.push(describeMismatch(p.cases[i].insn, a, b));
      }
      expect(mismatches).toEqual([]);
    });
  }
});

describe.skipIf(!haveQemu() && !process.env.CI)('live differential run on QEMU', () => {
  it('a freshly generated sample matches QEMU byte for byte', () => {
    const p = buildProgram(0x5eed + (Date.now() % 1000), 1);
    const image = assemble(p.source);
    const want = runQemu(image);
    const got = runModel(image);
    const mismatches: string[] = [];
    for (let i = 0; i < p.cases.length; i++) {
      const a = want.subarray(i * DUMP_BYTES, (i + 1) * DUMP_BYTES);
      const b = got.subarray(i * DUMP_BYTES, (i + 1) * DUMP_BYTES);
      if (Buffer.compare(a, b) !== 0) mismatches.push(describeMismatch(p.cases[i].insn, a, b));
    }
    expect(mismatches).toEqual([]);
  });
});
