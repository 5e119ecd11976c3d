/**
 * The Typevisor benchmark harness.
 *
 * A suite is a set of cases that measure the same kind of operation, usually Typevisor next
 * to one or more peers (v86, QEMU, the C xenstored, a raw memory copy). The runner calibrates
 * each case, then runs the cases interleaved round by round in one process run, so that
 * ratios compare like with like. Results go to `bench/results/<suite>.json` and the table in
 * `docs/benchmarks.md` is regenerated from all saved results.
 *
 * Benchmarks live in `bench/<area>/<name>.bench.ts` and default-export {@link defineSuite}.
 */

/** One measured case of a suite. */
export interface BenchCase {
  /** Short label, unique within the suite (`typevisor`, `v86-interpreter`, `dataview`, …). */
  name: string;
  /**
   * True for a reference implementation we compare against (not Typevisor's own code).
   * Ratios are reported against the first case, which should be Typevisor's.
   */
  peer?: boolean;
  /**
   * Performs `iters` operations and returns a checksum (so the work cannot be optimised
   * away). The runner times it and reports `iters × opsPerIter / seconds`.
   */
  run?: (iters: number) => number | Promise<number>;
  /**
   * Alternative to `run` for externally measured peers: performs one complete measurement
   * and resolves to a rate in the suite's unit (already scaled).
   */
  measure?: () => Promise<number>;
}

/** A benchmark suite, as default-exported by a `*.bench.ts` file. */
export interface BenchSuite {
  /** Suite name, `<area>/<name>`, matching its file path under `bench/`. */
  name: string;
  /** What is measured and why it matters (one or two sentences, shown in docs/benchmarks.md). */
  description: string;
  /** Display unit for rates; default `ops/s`. */
  unit?: string;
  /** Operations per iteration (e.g. guest instructions per loop turn); default 1. */
  opsPerIter?: number;
  /** Divides the rate for display (1e6 with unit `MIPS`); default 1. */
  divisor?: number;
  /** Target wall time of one sample in milliseconds; default 250. */
  sampleMs?: number;
  /** Whether smaller values are better (times, latencies): `best` is then the minimum. */
  lowerIsBetter?: boolean;
  /** Rounds of interleaved samples; default 5. */
  rounds?: number;
  /** Runs once before measuring (start a peer daemon, build a guest image, …). */
  setup?: () => void | Promise<void>;
  /** Runs once after measuring, even when a case failed. */
  teardown?: () => void | Promise<void>;
  /** The cases, Typevisor's first. */
  cases: BenchCase[];
}

/** Validates and returns a suite definition (the default export of a `*.bench.ts` file). */
export function defineSuite(suite: BenchSuite): BenchSuite {
  if (suite.cases.length === 0) throw new Error(`bench ${suite.name}: no cases`);
  const names = new Set<string>();
  for (const c of suite.cases) {
    if ((c.run === undefined) === (c.measure === undefined)) {
      throw new Error(`bench ${suite.name}/${c.name}: give exactly one of run or measure`);
    }
    if (names.has(c.name)) throw new Error(`bench ${suite.name}: duplicate case ${c.name}`);
    names.add(c.name);
  }
  return suite;
}

/** The saved result of one case. */
export interface CaseResult {
  /** The case name. */
  name: string;
  /** Whether the case is a peer. */
  peer: boolean;
  /** All samples, in the suite's display unit. */
  samples: number[];
  /** Median of the samples. */
  median: number;
  /** Best sample. */
  best: number;
  /** Median of this case divided by the median of the first case. */
  ratioToFirst: number;
  /** Set when the case could not run (a missing peer); the reason. */
  error?: string;
}

/** The saved result of a suite, as written to `bench/results/<suite>.json`. */
export interface SuiteResult {
  /** Suite name. */
  suite: string;
  /** Suite description. */
  description: string;
  /** Display unit. */
  unit: string;
  /** ISO date of the run. */
  date: string;
  /** The machine the run was on. */
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; os: string };
  /** One entry per case, in suite order. */
  cases: CaseResult[];
}
