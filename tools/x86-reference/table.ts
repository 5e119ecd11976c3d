/**
 * The instruction table: one row per mnemonic (or per mnemonic and mode), with operand forms in
 * Intel SDM Appendix A notation. Every consumer (case generator, live check, README) derives
 * from this table; nothing else lists instructions.
 *
 * Operand notation (SDM Vol. 2D, Appendix A.2, restricted to what the generator supports):
 * - `E` ModRM r/m operand (register or memory), `G` ModRM reg operand, `M` memory only
 *   (`M` alone: LEA's address expression), `I` immediate, `Z` register in the opcode's low bits.
 * - Sizes: `b` 8, `w` 16, `d` 32, `q` 64, `dq` 128, `v` 16/32/64 by operand size, `y` 32/64,
 *   `z` immediate of min(operand size, 32) bits (sign-extended to 64).
 * - `AL`, `rAX` (accumulator of operand size), `CL`, `1` (the constant 1 of the D0/D1 shifts).
 * - String forms `Xb,Yb` etc. name the element size; the row's `prefixes` lists the REP forms.
 *
 * @see Intel SDM Vol. 2D, Appendix A "Opcode map", A.2 "Key to abbreviations"
 */

/** A processor mode the generator can run cases in: real mode, 32-bit protected, long mode. */
export type Mode = 16 | 32 | 64;

/** Generator hooks for rows whose inputs need shaping beyond "interesting values". */
export type Hook =
  | 'shift'
  | 'div'
  | 'bt'
  | 'cmpxchg'
  | 'string'
  | 'lea'
  | 'bcd'
  | 'bcd-imm'
  | 'bitscan'
  | 'cmpxchg8b';

/** EFLAGS behaviour of a row, as SDM flag letters (O D S Z A P C). */
export interface FlagSpec {
  /** Flags the instruction reads. */
  read: string;
  /** Flags the instruction may write (defined or not). */
  written: string;
  /** Flags the SDM leaves undefined (a superset over all counts/inputs of the row). */
  undefined: string;
}

/** One table row. */
export interface InstructionRow {
  /** SDM mnemonic; names the output file (`vectors/<mode>/<mnemonic>.json`). */
  mnemonic: string;
  /** nasm spellings to draw from per case; defaults to the lower-cased mnemonic. */
  asm?: readonly string[];
  /** Operand forms; `''` means no explicit operands. */
  forms: readonly string[];
  /** Modes the row is valid in. */
  modes: readonly Mode[];
  /** EFLAGS behaviour. */
  flags: FlagSpec;
  /** Operand size defaults to 64 in long mode and cannot be 32 (SDM "d64"). */
  d64?: boolean;
  /** Input shaping. */
  hook?: Hook;
  /** REP prefixes to draw from for string rows (`''` = none). */
  prefixes?: readonly string[];
  /** Cases per form and mode; defaults to the generator's `--cases`. */
  cases?: number;
}

const BOTH: readonly Mode[] = [16, 32, 64];
const LEGACY: readonly Mode[] = [16, 32];
const ALU_FORMS = [
  'Eb,Gb',
  'Ev,Gv',
  'Gb,Eb',
  'Gv,Ev',
  'AL,Ib',
  'rAX,Iz',
  'Eb,Ib',
  'Ev,Iz',
  'Ev,Ib',
] as const;
const ARITH: FlagSpec = { read: '', written: 'OSZAPC', undefined: '' };
const ARITH_C: FlagSpec = { read: 'C', written: 'OSZAPC', undefined: '' };
const LOGIC: FlagSpec = { read: '', written: 'OSZAPC', undefined: 'A' };
const NONE: FlagSpec = { read: '', written: '', undefined: '' };
const SHIFT_FORMS = ['Eb,1', 'Ev,1', 'Eb,CL', 'Ev,CL', 'Eb,Ib', 'Ev,Ib'] as const;
const CC = [
  'o',
  'no',
  'b',
  'ae',
  'e',
  'ne',
  'be',
  'a',
  's',
  'ns',
  'p',
  'np',
  'l',
  'ge',
  'le',
  'g',
] as const;

function alu(mnemonic: string, flags: FlagSpec): InstructionRow {
  return { mnemonic, forms: ALU_FORMS, modes: BOTH, flags };
}

function shift(mnemonic: string, flags: FlagSpec): InstructionRow {
  return { mnemonic, forms: SHIFT_FORMS, modes: BOTH, flags, hook: 'shift' };
}

/** The table. */
export const TABLE: readonly InstructionRow[] = [
  // Binary arithmetic and logic (SDM Vol. 2 "ADD", "ADC", ... ; opcode rows 00-3F, 80-83)
  alu('ADD', ARITH),
  alu('ADC', ARITH_C),
  alu('SUB', ARITH),
  alu('SBB', ARITH_C),
  alu('AND', LOGIC),
  alu('OR', LOGIC),
  alu('XOR', LOGIC),
  alu('CMP', ARITH),
  {
    mnemonic: 'TEST',
    forms: ['Eb,Gb', 'Ev,Gv', 'AL,Ib', 'rAX,Iz', 'Eb,Ib', 'Ev,Iz'],
    modes: BOTH,
    flags: LOGIC,
  },
  // Unary (FE/FF /0-1, F6/F7 /2-3, and 40-4F in 32-bit mode)
  {
    mnemonic: 'INC',
    forms: ['Eb', 'Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAP', undefined: '' },
  },
  {
    mnemonic: 'INC',
    forms: ['Zv'],
    modes: LEGACY,
    flags: { read: '', written: 'OSZAP', undefined: '' },
  },
  {
    mnemonic: 'DEC',
    forms: ['Eb', 'Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAP', undefined: '' },
  },
  {
    mnemonic: 'DEC',
    forms: ['Zv'],
    modes: LEGACY,
    flags: { read: '', written: 'OSZAP', undefined: '' },
  },
  { mnemonic: 'NEG', forms: ['Eb', 'Ev'], modes: BOTH, flags: ARITH },
  { mnemonic: 'NOT', forms: ['Eb', 'Ev'], modes: BOTH, flags: NONE },
  // Multiply and divide (F6/F7 /4-7, 0F AF, 69, 6B)
  {
    mnemonic: 'MUL',
    forms: ['Eb', 'Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'SZAP' },
  },
  {
    mnemonic: 'IMUL',
    forms: ['Eb', 'Ev', 'Gv,Ev', 'Gv,Ev,Ib', 'Gv,Ev,Iz'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'SZAP' },
  },
  {
    mnemonic: 'DIV',
    forms: ['Eb', 'Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSZAPC' },
    hook: 'div',
    cases: 64,
  },
  {
    mnemonic: 'IDIV',
    forms: ['Eb', 'Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSZAPC' },
    hook: 'div',
    cases: 64,
  },
  // Shifts and rotates (C0/C1/D0-D3); OF is undefined for counts > 1, AF for shifts
  shift('SHL', { read: '', written: 'OSZAPC', undefined: 'OA' }),
  shift('SHR', { read: '', written: 'OSZAPC', undefined: 'OA' }),
  shift('SAR', { read: '', written: 'OSZAPC', undefined: 'OA' }),
  shift('ROL', { read: '', written: 'OC', undefined: 'O' }),
  shift('ROR', { read: '', written: 'OC', undefined: 'O' }),
  shift('RCL', { read: 'C', written: 'OC', undefined: 'O' }),
  shift('RCR', { read: 'C', written: 'OC', undefined: 'O' }),
  {
    mnemonic: 'SHLD',
    forms: ['Ev,Gv,Ib', 'Ev,Gv,CL'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OA' },
    hook: 'shift',
  },
  {
    mnemonic: 'SHRD',
    forms: ['Ev,Gv,Ib', 'Ev,Gv,CL'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OA' },
    hook: 'shift',
  },
  // Bit test (0F A3/AB/B3/BB, 0F BA /4-7)
  ...['BT', 'BTS', 'BTR', 'BTC'].map(
    (mnemonic): InstructionRow => ({
      mnemonic,
      forms: ['Ev,Gv', 'Ev,Ib'],
      modes: BOTH,
      flags: { read: '', written: 'OSZAPC', undefined: 'OSAP' },
      hook: 'bt',
    }),
  ),
  // Bit scan and count (0F BC/BD, F3 0F B8/BC/BD)
  {
    mnemonic: 'BSF',
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSAPC' },
    hook: 'bitscan',
  },
  {
    mnemonic: 'BSR',
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSAPC' },
    hook: 'bitscan',
  },
  {
    mnemonic: 'POPCNT',
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: '' },
    hook: 'bitscan',
  },
  {
    mnemonic: 'LZCNT',
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSAP' },
    hook: 'bitscan',
  },
  {
    mnemonic: 'TZCNT',
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: '', written: 'OSZAPC', undefined: 'OSAP' },
    hook: 'bitscan',
  },
  // Data movement with a twist
  { mnemonic: 'BSWAP', forms: ['Zy'], modes: BOTH, flags: NONE },
  { mnemonic: 'XADD', forms: ['Eb,Gb', 'Ev,Gv'], modes: BOTH, flags: ARITH },
  {
    mnemonic: 'CMPXCHG',
    forms: ['Eb,Gb', 'Ev,Gv'],
    modes: BOTH,
    flags: ARITH,
    hook: 'cmpxchg',
    cases: 80,
  },
  {
    mnemonic: 'CMPXCHG8B',
    forms: ['Mq'],
    modes: BOTH,
    flags: { read: '', written: 'Z', undefined: '' },
    hook: 'cmpxchg8b',
    cases: 60,
  },
  {
    mnemonic: 'CMPXCHG16B',
    forms: ['Mdq'],
    modes: [64],
    flags: { read: '', written: 'Z', undefined: '' },
    hook: 'cmpxchg8b',
    cases: 60,
  },
  {
    mnemonic: 'CMOVcc',
    asm: CC.map((c) => `cmov${c}`),
    forms: ['Gv,Ev'],
    modes: BOTH,
    flags: { read: 'OSZPC', written: '', undefined: '' },
    cases: 128,
  },
  {
    mnemonic: 'SETcc',
    asm: CC.map((c) => `set${c}`),
    forms: ['Eb'],
    modes: BOTH,
    flags: { read: 'OSZPC', written: '', undefined: '' },
    cases: 128,
  },
  { mnemonic: 'MOVZX', forms: ['Gv,Eb', 'Gy,Ew'], modes: BOTH, flags: NONE },
  { mnemonic: 'MOVSX', forms: ['Gv,Eb', 'Gy,Ew'], modes: BOTH, flags: NONE },
  { mnemonic: 'MOVSXD', forms: ['Gq,Ed'], modes: [64], flags: NONE },
  { mnemonic: 'CBW', forms: [''], modes: BOTH, flags: NONE, cases: 16 },
  { mnemonic: 'CWDE', forms: [''], modes: BOTH, flags: NONE, cases: 16 },
  { mnemonic: 'CDQE', forms: [''], modes: [64], flags: NONE, cases: 16 },
  { mnemonic: 'CWD', forms: [''], modes: BOTH, flags: NONE, cases: 16 },
  { mnemonic: 'CDQ', forms: [''], modes: BOTH, flags: NONE, cases: 16 },
  { mnemonic: 'CQO', forms: [''], modes: [64], flags: NONE, cases: 16 },
  { mnemonic: 'LEA', forms: ['Gv,M'], modes: BOTH, flags: NONE, hook: 'lea', cases: 120 },
  { mnemonic: 'XCHG', forms: ['Eb,Gb', 'Ev,Gv', 'rAX,Zv'], modes: BOTH, flags: NONE },
  { mnemonic: 'MOVBE', forms: ['Gv,Mv', 'Mv,Gv'], modes: BOTH, flags: NONE },
  // Decimal arithmetic (invalid in 64-bit mode)
  {
    mnemonic: 'DAA',
    forms: [''],
    modes: LEGACY,
    flags: { read: 'AC', written: 'OSZAPC', undefined: 'O' },
    hook: 'bcd',
    cases: 120,
  },
  {
    mnemonic: 'DAS',
    forms: [''],
    modes: LEGACY,
    flags: { read: 'AC', written: 'OSZAPC', undefined: 'O' },
    hook: 'bcd',
    cases: 120,
  },
  {
    mnemonic: 'AAA',
    forms: [''],
    modes: LEGACY,
    flags: { read: 'A', written: 'OSZAPC', undefined: 'OSZP' },
    hook: 'bcd',
    cases: 120,
  },
  {
    mnemonic: 'AAS',
    forms: [''],
    modes: LEGACY,
    flags: { read: 'A', written: 'OSZAPC', undefined: 'OSZP' },
    hook: 'bcd',
    cases: 120,
  },
  {
    mnemonic: 'AAM',
    forms: ['Ib'],
    modes: LEGACY,
    flags: { read: '', written: 'OSZAPC', undefined: 'OAC' },
    hook: 'bcd-imm',
    cases: 120,
  },
  {
    mnemonic: 'AAD',
    forms: ['Ib'],
    modes: LEGACY,
    flags: { read: '', written: 'OSZAPC', undefined: 'OAC' },
    hook: 'bcd-imm',
    cases: 120,
  },
  // String instructions on small buffers inside the window
  {
    mnemonic: 'MOVS',
    forms: ['Yb,Xb', 'Yw,Xw', 'Yd,Xd', 'Yq,Xq'],
    modes: BOTH,
    flags: { read: 'D', written: '', undefined: '' },
    hook: 'string',
    prefixes: ['', 'rep'],
  },
  {
    mnemonic: 'CMPS',
    forms: ['Xb,Yb', 'Xw,Yw', 'Xd,Yd', 'Xq,Yq'],
    modes: BOTH,
    flags: { read: 'D', written: 'OSZAPC', undefined: '' },
    hook: 'string',
    prefixes: ['', 'repe', 'repne'],
  },
  {
    mnemonic: 'STOS',
    forms: ['Yb', 'Yw', 'Yd', 'Yq'],
    modes: BOTH,
    flags: { read: 'D', written: '', undefined: '' },
    hook: 'string',
    prefixes: ['', 'rep'],
  },
  {
    mnemonic: 'LODS',
    forms: ['Xb', 'Xw', 'Xd', 'Xq'],
    modes: BOTH,
    flags: { read: 'D', written: '', undefined: '' },
    hook: 'string',
    prefixes: ['', 'rep'],
  },
  {
    mnemonic: 'SCAS',
    forms: ['Yb', 'Yw', 'Yd', 'Yq'],
    modes: BOTH,
    flags: { read: 'D', written: 'OSZAPC', undefined: '' },
    hook: 'string',
    prefixes: ['', 'repe', 'repne'],
  },
  // Stack (50-5F, 68, 6A, 8F /0, FF /6); register forms of Ev assemble to Zv, so memory only
  { mnemonic: 'PUSH', forms: ['Zv', 'Mv', 'Ib', 'Iz'], modes: BOTH, flags: NONE, d64: true },
  { mnemonic: 'POP', forms: ['Zv', 'Mv'], modes: BOTH, flags: NONE, d64: true },
  // Flag operations
  {
    mnemonic: 'CLC',
    forms: [''],
    modes: BOTH,
    flags: { read: '', written: 'C', undefined: '' },
    cases: 16,
  },
  {
    mnemonic: 'STC',
    forms: [''],
    modes: BOTH,
    flags: { read: '', written: 'C', undefined: '' },
    cases: 16,
  },
  {
    mnemonic: 'CMC',
    forms: [''],
    modes: BOTH,
    flags: { read: 'C', written: 'C', undefined: '' },
    cases: 16,
  },
  {
    mnemonic: 'CLD',
    forms: [''],
    modes: BOTH,
    flags: { read: '', written: 'D', undefined: '' },
    cases: 16,
  },
  {
    mnemonic: 'STD',
    forms: [''],
    modes: BOTH,
    flags: { read: '', written: 'D', undefined: '' },
    cases: 16,
  },
  {
    mnemonic: 'LAHF',
    forms: [''],
    modes: BOTH,
    flags: { read: 'SZAPC', written: '', undefined: '' },
  },
  {
    mnemonic: 'SAHF',
    forms: [''],
    modes: BOTH,
    flags: { read: '', written: 'SZAPC', undefined: '' },
  },
];

/** EFLAGS bit for each SDM flag letter. */
export const FLAG_BITS: Readonly<Record<string, number>> = {
  C: 0x1,
  P: 0x4,
  A: 0x10,
  Z: 0x40,
  S: 0x80,
  D: 0x400,
  O: 0x800,
};

/** The EFLAGS mask for a string of flag letters such as `'OSZAPC'`. */
export function flagMask(letters: string): number {
  let mask = 0;
  for (const letter of letters) {
    const bit = FLAG_BITS[letter];
    if (bit === undefined) throw new Error(`unknown flag letter ${letter}`);
    mask |= bit;
  }
  return mask;
}
