/**
 * Records QEMU reference results for the legacy/16-bit TSS system program:
 * `node --import tsx packages/x86-cpu/test/diff/record-system16.ts`.
 */
import { writeFileSync } from 'node:fs';
import { assemble, runQemu } from './run.ts';
import { buildSystem16Program, SYSTEM16_SEEDS } from './system16-program.ts';

const results = SYSTEM16_SEEDS.map((seed) => {
  const p = buildSystem16Program(seed);
  const out = runQemu(assemble(p.source));
  return { seed, cases: p.cases.length, qemu: Buffer.from(out).toString('hex') };
});
writeFileSync(
  new URL('../vectors/system16.json', import.meta.url),
  `${JSON.stringify({ generator: 'test/diff/system16-program.ts', qemu: 'qemu-system-x86_64 7.2 TCG -cpu max', results }, null, 1)}\n`,
);
for (const r of results)
  console.log(`seed ${r.seed}: ${r.cases} dumps, ${r.qemu.length / 2} bytes`);
