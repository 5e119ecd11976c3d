/** The differential program kinds, their dump layouts and committed vector files. */
import { buildProgram, type DiffProgram, DUMP_BYTES } from './program.ts';
import { buildProgram64, DUMP_BYTES_64 } from './program64.ts';

/** One program kind. */
export interface DiffKind {
  /** Vector file name under test/vectors. */
  file: string;
  /** Program builder. */
  build: (seed: number, perTemplate: number) => DiffProgram;
  /** Bytes dumped per case. */
  dump: number;
  /** Register names of the dump, in order. */
  names: string[];
  /** Register width in bytes. */
  width: 4 | 8;
  /** Seeds and cases per template to record. */
  seeds: number[];
  /** Cases per template. */
  perTemplate: number;
}

export const KINDS: DiffKind[] = [
  {
    file: 'real16-alu.json',
    build: buildProgram,
    dump: DUMP_BYTES,
    names: ['EDI', 'ESI', 'EBP', 'ESP', 'EBX', 'EDX', 'ECX', 'EAX', 'EFLAGS'],
    width: 4,
    seeds: [1, 2, 3, 4],
    perTemplate: 2,
  },
  {
    file: 'long64-alu.json',
    build: buildProgram64,
    dump: DUMP_BYTES_64,
    names: [
      'RSP',
      'R15',
      'R14',
      'R13',
      'R12',
      'R11',
      'R10',
      'R9',
      'R8',
      'RBP',
      'RDI',
      'RSI',
      'RDX',
      'RCX',
      'RBX',
      'RAX',
      'RFLAGS',
    ],
    width: 8,
    seeds: [1, 2, 3, 4, 5, 6],
    perTemplate: 1,
  },
];

/** Describes the registers that differ between two dumps of one case. */
export function describeMismatch(
  kind: DiffKind,
  insn: string,
  want: Uint8Array,
  got: Uint8Array,
): string {
  const read = (b: Uint8Array, i: number) =>
    kind.width === 4
      ? Buffer.from(b)
          .readUInt32LE(i * 4)
          .toString(16)
      : Buffer.from(b)
          .readBigUInt64LE(i * 8)
          .toString(16);
  const diffs: string[] = [];
  for (let i = 0; i < kind.names.length; i++) {
    if (read(want, i) !== read(got, i))
      diffs.push(`${kind.names[i]} qemu=${read(want, i)} model=${read(got, i)}`);
  }
  return `${insn}: ${diffs.join(', ')}`;
}

/** Compares whole outputs case by case; returns the mismatch descriptions. */
export function compareOutputs(
  kind: DiffKind,
  p: DiffProgram,
  want: Uint8Array,
  got: Uint8Array,
): string[] {
  const out: string[] = [];
  if (want.length !== got.length) out.push(`output length qemu=${want.length} model=${got.length}`);
  for (let i = 0; i < p.cases.length; i++) {
    const a = want.subarray(i * kind.dump, (i + 1) * kind.dump);
    const b = got.subarray(i * kind.dump, (i + 1) * kind.dump);
    if (Buffer.compare(a, b) !== 0) out.push(describeMismatch(kind, p.cases[i].insn, a, b));
  }
  return out;
}
