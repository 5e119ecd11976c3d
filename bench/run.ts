/**
 * `pnpm bench [filter...]`: runs the suites under `bench/` whose name contains a filter (all
 * suites when none is given), prints a table with ratios, saves `bench/results/<suite>.json`,
 * and regenerates `docs/benchmarks.md` from every saved result.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchSuite, CaseResult, SuiteResult } from './harness.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, 'results');
const docsFile = join(benchDir, '..', 'docs', 'benchmarks.md');

function findSuites(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'results') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...findSuites(path));
    else if (entry.endsWith('.bench.ts')) out.push(path);
  }
  return out.sort();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Finds an iteration count whose run takes about `targetMs`. */
async function calibrate(
  run: (n: number) => number | Promise<number>,
  targetMs: number,
): Promise<number> {
  let iters = 1;
  for (;;) {
    const t0 = performance.now();
    await run(iters);
    const ms = performance.now() - t0;
    if (ms >= targetMs / 4 || iters >= 2 ** 40) {
      return Math.max(1, Math.round((iters * targetMs) / Math.max(ms, 1e-3)));
    }
    iters *= ms < 1 ? 16 : 2;
  }
}

async function runSuite(suite: BenchSuite): Promise<SuiteResult> {
  const unit = suite.unit ?? 'ops/s';
  const opsPerIter = suite.opsPerIter ?? 1;
  const divisor = suite.divisor ?? 1;
  const sampleMs = suite.sampleMs ?? 250;
  const rounds = suite.rounds ?? 5;
  const samples: number[][] = suite.cases.map(() => []);
  const errors: (string | undefined)[] = suite.cases.map(() => undefined);
  await suite.setup?.();
  try {
    const iters: number[] = [];
    for (const [i, c] of suite.cases.entries()) {
      try {
        // Calibrating a `run` case warms it up; a `measure` case gets one discarded run, so
        // that one-time costs (module loading, wasm compilation, page cache) stay out of it.
        if (c.run) iters[i] = await calibrate(c.run, sampleMs);
        else await (c.measure as () => Promise<number>)();
      } catch (err) {
        errors[i] = (err as Error).message;
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of suite.cases.entries()) {
        if (errors[i] !== undefined) continue;
        try {
          let rate: number;
          if (c.run) {
            const n = iters[i] as number;
            const t0 = performance.now();
            await c.run(n);
            const s = (performance.now() - t0) / 1000;
            rate = (n * opsPerIter) / s / divisor;
          } else {
            rate = await (c.measure as () => Promise<number>)();
          }
          (samples[i] as number[]).push(rate);
        } catch (err) {
          errors[i] = (err as Error).message;
        }
      }
    }
  } finally {
    await suite.teardown?.();
  }
  const medians = samples.map((s) => (s.length > 0 ? median(s) : Number.NaN));
  const first = medians[0] as number;
  const cases: CaseResult[] = suite.cases.map((c, i) => {
    const s = samples[i] as number[];
    const result: CaseResult = {
      name: c.name,
      peer: c.peer === true,
      samples: s,
      median: medians[i] as number,
      best: s.length > 0 ? (suite.lowerIsBetter ? Math.min(...s) : Math.max(...s)) : Number.NaN,
      ratioToFirst: (medians[i] as number) / first,
    };
    const err = errors[i];
    if (err !== undefined) result.error = err;
    return result;
  });
  const cpu = cpus();
  return {
    suite: suite.name,
    description: suite.description,
    unit,
    date: new Date().toISOString(),
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      os: `${platform()} ${release()}`,
    },
    cases,
  };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toPrecision(3);
}

function table(result: SuiteResult): string {
  const rows = result.cases.map(
    (c) =>
      `| ${c.name}${c.peer ? ' (peer)' : ''} | ${c.error ? `not run: ${c.error}` : fmt(c.median)} | ${fmt(c.best)} | ${c.error ? '—' : `${fmt(c.ratioToFirst)}×`} |`,
  );
  return [
    `| case | median ${result.unit} | best ${result.unit} | ratio to ${result.cases[0]?.name} |`,
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

function writeDocs(): void {
  const files = readdirSync(resultsDir).filter(
    (f) => f.endsWith('.json') && !f.endsWith('.tmp.json'),
  );
  const results = files
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as SuiteResult)
    .sort((a, b) => a.suite.localeCompare(b.suite));
  const sections = results.map(
    (r) =>
      `## ${r.suite}\n\n${r.description}\n\nMeasured ${r.date.slice(0, 10)} on ${r.machine.cpu} (${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.os}) with \`pnpm bench ${r.suite}\`; median of ${r.cases[0]?.samples.length ?? 0} interleaved samples.\n\n${table(r)}\n`,
  );
  writeFileSync(
    docsFile,
    `# Benchmarks\n\nWhat was measured, on which machine, with which command. This file is generated by\n\`pnpm bench\` from \`bench/results/*.json\`; do not edit it by hand. Cases are run interleaved\nin one process run, so ratios compare like with like; absolute numbers vary between machines.\n\n${sections.join('\n')}`,
  );
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = findSuites(benchDir).filter((f) => {
    const name = relative(benchDir, f).replace(/\.bench\.ts$/, '');
    return filters.length === 0 || filters.some((flt) => name.includes(flt));
  });
  if (files.length === 0) {
    process.stderr.write(`bench: no suite matches ${filters.join(' ')}\n`);
    process.exitCode = 2;
    return;
  }
  mkdirSync(resultsDir, { recursive: true });
  for (const file of files) {
    const suite = (await import(pathToFileURL(file).href)).default as BenchSuite;
    process.stdout.write(`\n${suite.name}: ${suite.description}\n`);
    const result = await runSuite(suite);
    process.stdout.write(`${table(result)}\n`);
    writeFileSync(
      join(resultsDir, `${suite.name.replaceAll('/', '__')}.json`),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  }
  writeDocs();
  process.stdout.write(`\nwrote ${relative(process.cwd(), docsFile)}\n`);
}

await main();
