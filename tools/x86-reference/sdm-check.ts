/**
 * Checks the committed vectors against the independent SDM model (sdm-oracle.ts), no QEMU
 * needed:
 *
 *   pnpm exec tsx tools/x86-reference/sdm-check.ts [--dir DIR]
 *
 * Every modelled case must agree with the SDM in every defined bit, unless it is marked
 * `qemuDeviation`; a marked case must disagree (else the mark is stale). Exits 1 otherwise.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { sdmCheck } from './sdm-oracle.ts';
import { flagMask, TABLE } from './table.ts';
import { isException, readVectors, VECTORS_DIR, type VectorCase } from './vectors.ts';

/**
 * RFLAGS bits the table says the instruction never writes must come back unchanged (bit 1, IF,
 * TF and every flag outside the row's `written` letters).
 */
function untouchedFlags(mnemonic: string, v: VectorCase): string[] {
  const row = TABLE.find((r) => r.mnemonic === mnemonic);
  if (!row || isException(v.expect)) return [];
  const keep = 0xffffffff & ~flagMask(row.flags.written);
  const before = Number.parseInt(v.init.rflags ?? '0', 16) & keep;
  const after = Number.parseInt(v.expect.rflags ?? '0', 16) & keep;
  return before === after
    ? []
    : [`rflags bits ${(before ^ after).toString(16)} changed but are not written`];
}

/** Counts and problems of one run over a vectors directory. */
export interface SdmReport {
  /** Cases the oracle models. */
  modelled: number;
  /** Modelled cases marked `qemuDeviation` (and disagreeing, as they should). */
  deviations: number;
  /** Cases the oracle does not model. */
  skipped: number;
  /** Disagreements that are not marked, and marks that no longer disagree. */
  problems: string[];
}

/** Runs the SDM oracle over every committed case. */
export async function sdmCheckAll(dir: string): Promise<SdmReport> {
  const report: SdmReport = { modelled: 0, deviations: 0, skipped: 0, problems: [] };
  for (const mode of [16, 32, 64] as const) {
    for (const [mnemonic, cases] of await readVectors(mode, dir)) {
      cases.forEach((v, i) => {
        const checked = sdmCheck(v);
        if (checked === undefined) {
          report.skipped++;
          return;
        }
        const diff = [...checked, ...untouchedFlags(mnemonic, v)];
        report.modelled++;
        const where = `${mode}/${mnemonic}.json case ${i} (${v.asm})`;
        if (v.qemuDeviation !== undefined) {
          if (diff.length === 0)
            report.problems.push(`${where}: marked qemuDeviation but agrees with the SDM`);
          else report.deviations++;
        } else if (diff.length > 0) {
          report.problems.push(`${where}: ${diff.join('; ')}`);
        }
      });
    }
  }
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string', default: VECTORS_DIR } } });
  const r = await sdmCheckAll(values.dir);
  console.log(
    `sdm-check: ${r.modelled} cases modelled (${r.deviations} marked qemuDeviation), ${r.skipped} not modelled`,
  );
  if (r.problems.length > 0) {
    console.error(`sdm-check: ${r.problems.length} problem(s):`);
    for (const p of r.problems.slice(0, 50)) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log('sdm-check: QEMU agrees with the SDM wherever not marked');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`sdm-check: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  });
}
