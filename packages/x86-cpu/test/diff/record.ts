/**
 * Records QEMU reference results: `node --import tsx packages/x86-cpu/test/diff/record.ts`.
 * Writes one file per program kind under test/vectors: the seed, the cases per template and
 * QEMU's port-0xE9 output as hex.
 */
import { writeFileSync } from 'node:fs';
import { KINDS } from './kinds.ts';
import { assemble, runQemu } from './run.ts';
import { buildSystemProgram } from './system-program.ts';

for (const kind of KINDS) {
  const results = kind.seeds.map((seed) => {
    const p = kind.build(seed, kind.perTemplate);
    const out = runQemu(assemble(p.source));
    return {
      seed,
      perTemplate: kind.perTemplate,
      cases: p.cases.length,
      qemu: Buffer.from(out).toString('hex'),
    };
  });
  const file = new URL(`../vectors/${kind.file}`, import.meta.url);
  const doc = {
    generator: 'test/diff/kinds.ts',
    qemu: 'qemu-system-x86_64 7.2 TCG -cpu max',
    results,
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 1)}\n`);
  for (const r of results)
    console.log(`${kind.file} seed ${r.seed}: ${r.cases} cases, ${r.qemu.length / 2} bytes`);
}

{
  const p = buildSystemProgram();
  const out = runQemu(assemble(p.source));
  const doc = {
    generator: 'test/diff/system-program.ts',
    qemu: 'qemu-system-x86_64 7.2 TCG -cpu max',
    qemuOutput: Buffer.from(out).toString('hex'),
  };
  writeFileSync(
    new URL('../vectors/system32.json', import.meta.url),
    `${JSON.stringify(doc, null, 1)}\n`,
  );
  console.log(`system32.json: ${out.length} bytes`);
}
