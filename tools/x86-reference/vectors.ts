/**
 * The committed vector format (`vectors/<mode>/<MNEMONIC>.json`: an array of cases, one per
 * line) and conversions between it and the generator's and runner's in-memory shapes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeneratedCase } from './cases.ts';
import {
  bytesHex,
  type CpuState,
  execSlot,
  GPR_NAMES,
  gprBits,
  gprCount,
  hex,
  WINDOW_SIZE,
} from './machine.ts';
import type { CaseResult, Outcome } from './runner.ts';
import type { Mode } from './table.ts';

/** Register/flag/memory state as written in the vector files (all values hex strings). */
export type StateJson = Record<string, string>;

/** An exception outcome as written in the vector files. */
export interface ExceptionJson {
  /** Exception vector. */
  exception: number;
  /** Error code, for vectors that push one. */
  errorCode?: number;
}

/** One committed case. */
export interface VectorCase {
  /** 16 (real mode), 32 (protected mode, flat) or 64 (long mode). */
  mode: Mode;
  /** SDM operand form the case was generated from. */
  form: string;
  /** nasm source line of the instruction. */
  asm: string;
  /** The instruction's bytes as nasm assembled them. */
  bytes: string;
  /** Initial `rip`, GPRs, `rflags` and `mem` (the window). */
  init: StateJson;
  /** Final GPRs, `rflags`, `mem`; or the exception raised. */
  expect: StateJson | ExceptionJson;
  /** RFLAGS bits the SDM leaves undefined for this instruction (QEMU's values are recorded). */
  undefinedFlags?: string;
  /** Set where QEMU TCG is known to deviate from the SDM: why. */
  qemuDeviation?: string;
}

/** Default location of the committed vectors. */
export const VECTORS_DIR: string = fileURLToPath(new URL('./vectors/', import.meta.url));

/** A state as JSON (`rip` included when given). */
export function stateToJson(mode: Mode, state: CpuState, rip?: number): StateJson {
  const digits = gprBits(mode) / 4;
  const out: StateJson = {};
  if (rip !== undefined) out.rip = hex(BigInt(rip), digits);
  for (let i = 0; i < gprCount(mode); i++)
    out[GPR_NAMES[i] ?? ''] = hex(state.regs[i] ?? 0n, digits);
  out.rflags = hex(state.rflags, digits);
  out.mem = bytesHex(state.mem);
  return out;
}

/** A JSON state back to a CpuState. */
export function stateFromJson(mode: Mode, json: StateJson): CpuState {
  const regs: bigint[] = [];
  for (let i = 0; i < gprCount(mode); i++)
    regs.push(BigInt(`0x${json[GPR_NAMES[i] ?? ''] ?? '0'}`));
  const mem = new Uint8Array(Buffer.from(json.mem ?? '', 'hex'));
  if (mem.length !== WINDOW_SIZE) throw new Error(`mem is ${mem.length} bytes, not ${WINDOW_SIZE}`);
  return { regs, rflags: BigInt(`0x${json.rflags ?? '2'}`), mem };
}

/** An outcome as JSON. */
export function outcomeToJson(mode: Mode, outcome: Outcome): StateJson | ExceptionJson {
  if (outcome.kind === 'state') return stateToJson(mode, outcome.state);
  return outcome.errorCode === undefined
    ? { exception: outcome.vector }
    : { exception: outcome.vector, errorCode: outcome.errorCode };
}

/** Builds the committed case from a generated case and its QEMU result. */
export function toVector(c: GeneratedCase, result: CaseResult): VectorCase {
  const v: VectorCase = {
    mode: c.mode,
    form: c.form,
    asm: c.asm,
    bytes: bytesHex(result.bytes),
    init: stateToJson(c.mode, c.init, execSlot(c.mode)),
    expect: outcomeToJson(c.mode, result.outcome),
  };
  if (c.undefinedFlags !== 0) v.undefinedFlags = c.undefinedFlags.toString(16);
  return v;
}

/** Whether an expectation is an exception. */
export function isException(e: StateJson | ExceptionJson): e is ExceptionJson {
  return typeof (e as ExceptionJson).exception === 'number';
}

/**
 * Differences between two expectations as readable lines (empty when equal). `ignoreFlags`
 * masks RFLAGS bits out of the comparison.
 */
export function diffExpect(
  want: StateJson | ExceptionJson,
  got: StateJson | ExceptionJson,
  ignoreFlags = 0,
): string[] {
  if (isException(want) || isException(got)) {
    const a = JSON.stringify(want);
    const b = JSON.stringify(got);
    return a === b ? [] : [`expected ${a}, got ${b}`];
  }
  const out: string[] = [];
  for (const key of Object.keys(want)) {
    const a = want[key] ?? '';
    const b = got[key] ?? '';
    if (key === 'rflags') {
      const mask = ~BigInt(ignoreFlags);
      if ((BigInt(`0x${a}`) & mask) !== (BigInt(`0x${b}`) & mask)) {
        out.push(`rflags: expected ${a}, got ${b}`);
      }
    } else if (a !== b) {
      out.push(`${key}: expected ${a}, got ${b}`);
    }
  }
  return out;
}

/** A vector file's text: a JSON array with one case per line. */
export function formatVectorFile(cases: readonly VectorCase[]): string {
  return `[\n${cases.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`;
}

/** Reads every committed vector file of a mode, keyed by mnemonic. */
export async function readVectors(
  mode: Mode,
  dir = VECTORS_DIR,
): Promise<Map<string, VectorCase[]>> {
  const out = new Map<string, VectorCase[]>();
  const modeDir = join(dir, String(mode));
  for (const file of (await readdir(modeDir)).sort()) {
    if (!file.endsWith('.json')) continue;
    const cases = JSON.parse(await readFile(join(modeDir, file), 'utf8')) as VectorCase[];
    out.set(file.slice(0, -'.json'.length), cases);
  }
  return out;
}
