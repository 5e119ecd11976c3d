/**
 * Regenerates the committed reference vectors from the table:
 *
 *   pnpm exec tsx tools/x86-reference/generate.ts [--mode 32|64] [--only ADD,SHL] [--cases N]
 *     [--seed S] [--out DIR] [--kvm-check]
 *
 * Per mode and mnemonic, one nasm program runs every case of every form on QEMU TCG; the
 * results become `vectors/<mode>/<MNEMONIC>.json`. With `--kvm-check`, the same programs also
 * run under KVM on the host CPU and every difference outside the row's undefined flags is printed
 * (a diagnostic only: see vectors/README.md). Known QEMU deviations are marked by deviations.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formValidIn, type GeneratedCase, generateCase } from './cases.ts';
import { markDeviation } from './deviations.ts';
import { Rng } from './rng.ts';
import { type CaseResult, runBatch } from './runner.ts';
import { type InstructionRow, type Mode, TABLE } from './table.ts';
import { diffExpect, formatVectorFile, outcomeToJson, toVector, VECTORS_DIR } from './vectors.ts';

/** Default cases per form and mode. */
export const DEFAULT_CASES = 22;

/** Generates the cases of one mnemonic in one mode (deterministic in `seed`). */
export function generateGroup(
  rows: readonly InstructionRow[],
  mode: Mode,
  seed: string,
  casesPerForm: number,
): GeneratedCase[] {
  const out: GeneratedCase[] = [];
  rows.forEach((row, rowIndex) => {
    for (const form of row.forms) {
      if (!formValidIn(form, mode)) continue;
      const rng = new Rng(`${seed}:${mode}:${row.mnemonic}:${rowIndex}:${form}`);
      const count = row.cases ?? casesPerForm;
      for (let i = 0; i < count; i++) out.push(generateCase(rng, row, form, mode));
    }
  });
  return out;
}

/** Rows of the table grouped by mnemonic, for one mode. */
export function groups(mode: Mode, only?: ReadonlySet<string>): Map<string, InstructionRow[]> {
  const out = new Map<string, InstructionRow[]>();
  for (const row of TABLE) {
    if (!row.modes.includes(mode)) continue;
    if (only && !only.has(row.mnemonic.toUpperCase())) continue;
    const list = out.get(row.mnemonic) ?? [];
    list.push(row);
    out.set(row.mnemonic, list);
  }
  return out;
}

async function pool<T>(jobs: readonly (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i];
      if (job) results[i] = await job();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      only: { type: 'string' },
      cases: { type: 'string', default: String(DEFAULT_CASES) },
      seed: { type: 'string', default: 'typevisor' },
      out: { type: 'string', default: VECTORS_DIR },
      'kvm-check': { type: 'boolean', default: false },
      jobs: { type: 'string', default: '2' },
    },
  });
  const modes: Mode[] = values.mode === undefined ? [16, 32, 64] : [Number(values.mode) as Mode];
  const only = values.only ? new Set(values.only.toUpperCase().split(',')) : undefined;
  const casesPerForm = Number(values.cases);
  let total = 0;
  let kvmDiffs = 0;
  let deviations = 0;
  const jobs: (() => Promise<void>)[] = [];
  for (const mode of modes) {
    await mkdir(join(values.out, String(mode)), { recursive: true });
    for (const [mnemonic, rows] of groups(mode, only)) {
      jobs.push(async () => {
        const cases = generateGroup(rows, mode, values.seed, casesPerForm);
        const results = await runBatch(mode, cases);
        let kvm: CaseResult[] | undefined;
        if (values['kvm-check']) {
          kvm = await runBatch(mode, cases, { accel: 'kvm' }).catch((error: unknown) => {
            console.log(`kvm check of ${mode}/${mnemonic} failed: ${String(error)}`);
            return undefined;
          });
        }
        const vectors = cases.map((c, i) => {
          const result = results[i];
          if (!result) throw new Error(`missing result ${i}`);
          const v = toVector(c, result);
          const deviation = markDeviation(v);
          if (deviation !== undefined) {
            v.qemuDeviation = deviation;
            deviations++;
          }
          const hw = kvm?.[i];
          if (hw) {
            const diff = diffExpect(v.expect, outcomeToJson(mode, hw.outcome), c.undefinedFlags);
            if (diff.length > 0) {
              kvmDiffs++;
              console.log(`kvm differs: ${mode} ${v.asm}: ${diff.join('; ')}`);
            }
          }
          return v;
        });
        await writeFile(
          join(values.out, String(mode), `${mnemonic}.json`),
          formatVectorFile(vectors),
        );
        total += vectors.length;
        console.log(`${mode}/${mnemonic}: ${vectors.length} cases`);
      });
    }
  }
  await pool(jobs, Number(values.jobs));
  console.log(`${total} cases written to ${values.out}, ${deviations} marked qemuDeviation`);
  if (values['kvm-check']) console.log(`${kvmDiffs} cases differ between TCG and KVM`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
