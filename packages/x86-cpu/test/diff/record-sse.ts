/**
 * Records QEMU reference results for the SSE and x87 programs:
 * `node --import tsx packages/x86-cpu/test/diff/record-sse.ts`.
 */
import { writeFileSync } from 'node:fs';
import { assemble, runQemu } from './run.ts';
import {
  buildCvt,
  buildMmx,
  buildSse,
  buildSseFp,
  buildSys64,
  buildTrans,
  buildX87,
  CVT_FILE,
  CVT_SEEDS,
  MMX_FILE,
  MMX_SEEDS,
  SSE_FILE,
  SSE_FP_FILE,
  SSE_FP_SEEDS,
  SSE_SEEDS,
  SYS64_FILE,
  SYS64_QEMU_CPU,
  SYS64_SEEDS,
  TRANS_FILE,
  TRANS_SEEDS,
  X87_FILE,
  X87_SEEDS,
} from './sse-kind.ts';

for (const [file, seeds, build] of [
  [SSE_FILE, SSE_SEEDS, buildSse],
  [SSE_FP_FILE, SSE_FP_SEEDS, buildSseFp],
  [X87_FILE, X87_SEEDS, buildX87],
  [MMX_FILE, MMX_SEEDS, buildMmx],
  [CVT_FILE, CVT_SEEDS, buildCvt],
  [TRANS_FILE, TRANS_SEEDS, buildTrans],
  [SYS64_FILE, SYS64_SEEDS, buildSys64],
] as const) {
  // `record-sse.ts long64-mmxcvt.json` records only the files named.
  if (process.argv.length > 2 && !process.argv.slice(2).includes(file)) continue;
  const results = seeds.map((seed) => {
    const p = build(seed);
    const out = runQemu(assemble(p.source), file === SYS64_FILE ? SYS64_QEMU_CPU : 'max');
    return { seed, cases: p.cases.length, qemu: Buffer.from(out).toString('hex') };
  });
  const doc = {
    generator: 'test/diff/program-sse.ts',
    qemu: `qemu-system-x86_64 7.2 TCG -cpu ${file === SYS64_FILE ? SYS64_QEMU_CPU : 'max'}`,
    results,
  };
  writeFileSync(
    new URL(`../vectors/${file}`, import.meta.url),
    `${JSON.stringify(doc, null, 1)}\n`,
  );
  for (const r of results)
    console.log(`${file} seed ${r.seed}: ${r.cases} cases, ${r.qemu.length / 2} bytes`);
}
