/**
 * Live drift check for CI:
 *
 *   pnpm exec tsx tools/x86-reference/live-check.ts --sample N [--seed S] [--dir DIR]
 *
 * 1. Generator drift: for every mnemonic the sample touches, regenerates the file's cases from
 *    the table (default seed and counts) and checks they have the committed `asm` and `init`.
 * 2. QEMU drift: re-runs a random sample of N committed cases on the installed
 *    `qemu-system-x86_64` (TCG) from their `asm` and `init`, and diffs the assembled bytes and
 *    the results against the committed ones (every bit, undefined flags included).
 *
 * Exits 0 when everything matches, 1 with a readable diff otherwise, 2 on a usage or tool error.
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CASES, generateGroup, groups } from './generate.ts';
import { bytesHex, execSlot, gprBits, hex } from './machine.ts';
import { Rng } from './rng.ts';
import { runBatch } from './runner.ts';
import type { Mode } from './table.ts';
import {
  diffExpect,
  outcomeToJson,
  readVectors,
  stateFromJson,
  stateToJson,
  VECTORS_DIR,
  type VectorCase,
} from './vectors.ts';

interface Sampled {
  mnemonic: string;
  index: number;
  v: VectorCase;
}

/** Checks a sample; returns the problems found (empty when there is no drift). */
export async function liveCheck(sample: number, seed: string, dir: string): Promise<string[]> {
  const rng = new Rng(seed);
  const problems: string[] = [];
  for (const mode of [16, 32, 64] as const) {
    const files = await readVectors(mode, dir);
    const all: Sampled[] = [];
    for (const [mnemonic, cases] of files) {
      cases.forEach((v, index) => {
        all.push({ mnemonic, index, v });
      });
    }
    const picked: Sampled[] = [];
    const want = Math.min(Math.ceil(sample / 3), all.length);
    const taken = new Set<number>();
    while (picked.length < want) {
      const i = rng.int(all.length);
      if (taken.has(i)) continue;
      taken.add(i);
      const s = all[i];
      if (s) picked.push(s);
    }
    problems.push(...checkGenerator(mode, files, new Set(picked.map((s) => s.mnemonic))));
    const results = await runBatch(
      mode,
      picked.map((s) => ({ asm: s.v.asm, init: stateFromJson(mode, s.v.init) })),
    );
    picked.forEach((s, i) => {
      const result = results[i];
      const where = `${mode}/${s.mnemonic}.json case ${s.index} (${s.v.asm})`;
      if (!result) {
        problems.push(`${where}: no result`);
        return;
      }
      const lines: string[] = [];
      if (s.v.init.rip !== hex(BigInt(execSlot(mode)), gprBits(mode) / 4))
        lines.push(`init.rip is ${s.v.init.rip}`);
      const bytes = bytesHex(result.bytes);
      if (bytes !== s.v.bytes) lines.push(`bytes: committed ${s.v.bytes}, nasm now ${bytes}`);
      lines.push(...diffExpect(s.v.expect, outcomeToJson(mode, result.outcome)));
      if (lines.length > 0) problems.push(`${where}:\n    ${lines.join('\n    ')}`);
    });
    console.log(`mode ${mode}: ${picked.length} cases re-run on QEMU`);
  }
  return problems;
}

function checkGenerator(
  mode: Mode,
  files: ReadonlyMap<string, VectorCase[]>,
  mnemonics: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const table = groups(mode);
  for (const mnemonic of mnemonics) {
    const rows = table.get(mnemonic);
    const committed = files.get(mnemonic) ?? [];
    if (!rows) {
      problems.push(`${mode}/${mnemonic}.json: no longer in the table`);
      continue;
    }
    const fresh = generateGroup(rows, mode, 'typevisor', DEFAULT_CASES);
    if (fresh.length !== committed.length) {
      problems.push(
        `${mode}/${mnemonic}.json: ${committed.length} cases, generator makes ${fresh.length}`,
      );
      continue;
    }
    fresh.forEach((c, i) => {
      const v = committed[i];
      if (!v) return;
      const init = stateToJson(mode, c.init, execSlot(mode));
      if (c.asm !== v.asm || JSON.stringify(init) !== JSON.stringify(v.init)) {
        problems.push(
          `${mode}/${mnemonic}.json case ${i}: generator now makes "${c.asm}" with different inputs ` +
            `than the committed "${v.asm}" (regenerate with generate.ts)`,
        );
      }
    });
  }
  return problems;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sample: { type: 'string', default: '200' },
      seed: { type: 'string' },
      dir: { type: 'string', default: VECTORS_DIR },
    },
  });
  const sample = Number(values.sample);
  if (!Number.isInteger(sample) || sample < 1) {
    console.error('live-check: --sample must be a positive integer');
    process.exit(2);
  }
  const seed = values.seed ?? String(Date.now());
  const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split(
    '\n',
  )[0];
  console.log(`live-check: ${qemu}; sample ${sample}, seed ${seed} (re-run with --seed ${seed})`);
  const problems = await liveCheck(sample, seed, values.dir);
  if (problems.length > 0) {
    console.error(`live-check: DRIFT in ${problems.length} case(s):`);
    for (const p of problems.slice(0, 50)) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log('live-check: no drift');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`live-check: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  });
}
