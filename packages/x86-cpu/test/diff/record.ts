/**
 * Records QEMU reference results: `node --import tsx packages/x86-cpu/test/diff/record.ts`.
 * Writes test/vectors/real16-alu.json (seed, cases per template, QEMU's output as hex).
 */
import { writeFileSync } from 'node:fs';
import { buildProgram } from './program.ts';
import { assemble, runQemu } from './run.ts';

export const SEEDS = [1, 2, 3, 4];
export const PER_TEMPLATE = 2;

const results = SEEDS.map((seed) => {
  const p = buildProgram(seed, PER_TEMPLATE);
  const out = runQemu(assemble(p.source));
  return {
    seed,
    perTemplate: PER_TEMPLATE,
    cases: p.cases.length,
    qemu: Buffer.from(out).toString('hex'),
  };
});
const file = new URL('../vectors/real16-alu.json', import.meta.url);
writeFileSync(
  file,
  `${JSON.stringify({ generator: 'test/diff/program.ts', qemu: 'qemu-system-x86_64 7.2 TCG -cpu max', results }, null, 1)}\n`,
);
console.log(
  results.map((r) => `seed ${r.seed}: ${r.cases} cases, ${r.qemu.length / 2} bytes`).join('\n'),
);
