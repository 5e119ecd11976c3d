/**
 * Turns a table row and form into concrete cases: an nasm instruction line plus the full
 * initial state (GPRs, EFLAGS, memory window). Operands are placed first (registers, memory
 * offsets inside the window, immediates), then every register and byte gets a random value,
 * then each operand gets an "interesting" value of its width, then the row's hook shapes inputs
 * that need it (shift counts, divisors, bit offsets, string pointers, BCD digits).
 */
import {
  type CpuState,
  FLAGS_FIXED,
  gprBits,
  gprCount,
  RANDOM_FLAGS,
  regName,
  sizeKeyword,
  stackTop,
  WINDOW_SIZE,
  windowBase,
} from './machine.ts';
import type { Rng } from './rng.ts';
import { flagMask, type InstructionRow, type Mode } from './table.ts';

/** One generated case, before it has been run. */
export interface GeneratedCase {
  /** Processor mode. */
  mode: Mode;
  /** Table mnemonic (file name). */
  mnemonic: string;
  /** SDM operand form. */
  form: string;
  /** The nasm source line of the instruction. */
  asm: string;
  /** Initial state. */
  init: CpuState;
  /** EFLAGS bits the SDM leaves undefined for this instruction. */
  undefinedFlags: number;
}

type Location =
  | { kind: 'reg'; index: number; bits: number; high: boolean }
  | { kind: 'mem'; offset: number; bits: number };

interface Operand {
  spec: string;
  bits: number;
  text: string;
  loc?: Location;
  imm?: bigint;
}

const mask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

/** Whether a form can be generated in a mode (64-bit operand letters need long mode). */
export function formValidIn(form: string, mode: Mode): boolean {
  if (mode === 64) return true;
  return !form.split(',').some((spec) => /^[EGXYZ]q$/.test(spec) || spec === 'Mdq');
}

/**
 * An "interesting" value of a width: edge values (0, 1, -1, sign boundaries, carry-out and
 * half-carry producers) a third of the time, single bits and small numbers, else uniform.
 */
export function interesting(rng: Rng, bits: number): bigint {
  const m = mask(bits);
  const sign = 1n << BigInt(bits - 1);
  const r = rng.int(100);
  if (r < 30) {
    const edges = [0n, 1n, 2n, m, m - 1n, sign, sign - 1n, sign + 1n, 0xfn, 0x10n, 0x8n, 0x7fn];
    return rng.pick(edges) & m;
  }
  if (r < 40) return rng.bits(5) & m;
  if (r < 48) return (1n << BigInt(rng.int(bits))) & m;
  if (r < 54) return m ^ (1n << BigInt(rng.int(bits)));
  if (r < 60) return (rng.bits(bits) & ~0xfn & m) | 0xfn; // low nibble 0xF: AF producers
  return rng.bits(bits);
}

function sizeOf(letter: string, opSize: number, mode: Mode): number {
  switch (letter) {
    case 'b':
      return 8;
    case 'w':
      return 16;
    case 'd':
      return 32;
    case 'q':
      return 64;
    case 'dq':
      return 128;
    case 'v':
      return opSize;
    case 'y':
      return opSize === 16 ? (mode === 64 ? 64 : 32) : opSize;
    case 'z':
      return opSize;
    default:
      throw new Error(`unknown size letter ${letter}`);
  }
}

function signedText(value: bigint, bits: number): string {
  const v = value & mask(bits);
  return (v & (1n << BigInt(bits - 1)) ? v - (1n << BigInt(bits)) : v).toString();
}

function memText(mode: Mode, offset: number, bits: number | undefined): string {
  const address = `0x${(windowBase(mode) + offset).toString(16)}`;
  const sized = bits === undefined ? '' : `${sizeKeyword(bits)} `;
  return `${sized}[${mode === 64 ? 'abs ' : ''}${address}]`;
}

function write(state: CpuState, mode: Mode, loc: Location, value: bigint): void {
  const v = value & mask(loc.bits);
  if (loc.kind === 'mem') {
    for (let i = 0; i < loc.bits / 8; i++) {
      state.mem[loc.offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    }
    return;
  }
  const full = mask(gprBits(mode));
  const index = loc.high ? loc.index - 4 : loc.index;
  const shift = loc.high ? 8n : 0n;
  const old = state.regs[index] ?? 0n;
  state.regs[index] = ((old & ~(mask(loc.bits) << shift)) | (v << shift)) & full;
}

function read(state: CpuState, loc: Location): bigint {
  if (loc.kind === 'mem') {
    let v = 0n;
    for (let i = loc.bits / 8 - 1; i >= 0; i--)
      v = (v << 8n) | BigInt(state.mem[loc.offset + i] ?? 0);
    return v;
  }
  const index = loc.high ? loc.index - 4 : loc.index;
  const shift = loc.high ? 8n : 0n;
  return ((state.regs[index] ?? 0n) >> shift) & mask(loc.bits);
}

function randomState(rng: Rng, mode: Mode): CpuState {
  const regs: bigint[] = [];
  for (let i = 0; i < gprCount(mode); i++) regs.push(interesting(rng, gprBits(mode)));
  regs[4] = BigInt(stackTop(mode));
  const mem = new Uint8Array(WINDOW_SIZE);
  for (let i = 0; i < WINDOW_SIZE; i++) mem[i] = rng.int(256);
  const rflags = BigInt((rng.next32() & RANDOM_FLAGS) | FLAGS_FIXED);
  return { regs, rflags, mem };
}

/** Generates one case for `row`/`form` in `mode`. */
export function generateCase(
  rng: Rng,
  row: InstructionRow,
  form: string,
  mode: Mode,
): GeneratedCase {
  const name = rng.pick(row.asm ?? [row.mnemonic.toLowerCase()]);
  const init = randomState(rng, mode);
  const undefinedFlags = flagMask(row.flags.undefined);
  const base = { mode, mnemonic: row.mnemonic, form, init, undefinedFlags };
  if (row.hook === 'string') return { ...base, asm: stringCase(rng, row, form, mode, init) };

  const specs = form === '' ? [] : form.split(',');
  const sizes = row.d64 && mode === 64 ? [16, 64] : mode === 64 ? [16, 32, 64] : [16, 32];
  const opSize = rng.pick(sizes);
  const reversed = new Set(
    row.forms.filter((f) => f !== form).map((f) => f.split(',').reverse().join(',')),
  );
  const memOnlyE = specs[0]?.startsWith('G') === true && reversed.has(form);
  const hasShortAcc = (bits: number): boolean =>
    row.forms.includes(bits === 8 ? 'AL,Ib' : 'rAX,Iz') && specs[1] === (bits === 8 ? 'Ib' : 'Iz');

  // 1. place operands; 8-bit registers are chosen last because AH..BH exclude REX
  const ops: Operand[] = specs.map((spec) => ({ spec, bits: 0, text: '' }));
  const regOps: Operand[] = [];
  for (const op of ops) {
    const s = op.spec;
    if (s === 'AL' || s === 'CL') {
      op.bits = 8;
      op.text = s.toLowerCase();
      op.loc = { kind: 'reg', index: s === 'AL' ? 0 : 1, bits: 8, high: false };
    } else if (s === 'rAX') {
      op.bits = opSize;
      op.text = regName(0, opSize, false);
      op.loc = { kind: 'reg', index: 0, bits: opSize, high: false };
    } else if (s === '1') {
      op.bits = 8;
      op.text = '1';
    } else if (s === 'M') {
      op.bits = 0;
    } else if (s[0] === 'I') {
      op.bits = s === 'Ib' ? 8 : s === 'Iw' ? 16 : Math.min(opSize, 32);
      if (row.mnemonic === 'PUSH' && s === 'Iz') op.bits = mode === 16 ? 16 : 32;
    } else {
      const kind = s[0] ?? '';
      op.bits = sizeOf(s.slice(1), opSize, mode);
      const mem = kind === 'M' || (kind === 'E' && (memOnlyE || rng.chance(0.5)));
      if (mem) {
        const width = op.bits / 8;
        // CMPXCHG16B needs a 16-byte aligned operand (#GP(0) otherwise): mostly aligned
        const aligned = width === 16 && rng.chance(0.85);
        const offset =
          row.hook === 'bt'
            ? 24 + rng.int(9)
            : aligned
              ? 16 * rng.int(WINDOW_SIZE / 16)
              : rng.int(WINDOW_SIZE - width + 1);
        op.loc = { kind: 'mem', offset, bits: op.bits };
        op.text = memText(mode, offset, op.bits);
      } else {
        regOps.push(op);
      }
    }
  }
  const wide = regOps.filter((op) => op.bits !== 8);
  for (const op of wide) {
    let index = rng.int(gprCount(mode));
    if (op === ops[0] && hasShortAcc(op.bits)) while (index === 0) index = rng.int(gprCount(mode));
    op.loc = { kind: 'reg', index, bits: op.bits, high: false };
    op.text = regName(index, op.bits, false);
  }
  const narrow = regOps.filter((op) => op.bits === 8);
  if (narrow.length > 0) {
    const rexForced =
      mode === 64 &&
      (ops.some((op) => op.bits === 64) ||
        wide.some((op) => op.loc?.kind === 'reg' && op.loc.index >= 8));
    const legacy = mode !== 64 || (!rexForced && rng.chance(0.5));
    for (const op of narrow) {
      let index = rng.int(legacy ? 8 : 16);
      if (op === ops[0] && hasShortAcc(8)) while (index === 0) index = rng.int(legacy ? 8 : 16);
      const high = legacy && index >= 4;
      op.loc = { kind: 'reg', index, bits: 8, high };
      op.text = regName(index, 8, legacy);
    }
  }

  // 2. operand values (destination first so a repeated register ends with the source's value)
  for (const op of ops)
    if (op.loc && op.spec !== 'CL') write(init, mode, op.loc, interesting(rng, op.bits));

  // 3. immediates
  const dest = ops[0];
  for (const op of ops) {
    if (op.spec[0] !== 'I') continue;
    const value = interesting(rng, op.bits);
    op.imm = value;
    const firstWide = ops.find((o) => o.bits > 8 && o.spec[0] !== 'I');
    if (op.spec === 'Ib' && (firstWide !== undefined || row.mnemonic === 'PUSH')) {
      op.text = `byte ${signedText(value, 8)}`;
    } else if (op.spec === 'Ib') {
      op.text = `0x${value.toString(16)}`;
    } else {
      const width = row.mnemonic === 'PUSH' ? Math.max(mode, op.bits) : (dest?.bits ?? opSize);
      op.text = `strict ${sizeKeyword(width)} ${signedText(value, op.bits)}`;
    }
  }
  // 4. hooks
  switch (row.hook) {
    case 'shift':
      shiftHook(rng, ops, init, mode);
      break;
    case 'div':
      if (dest?.loc) divHook(rng, row.mnemonic === 'IDIV', dest.loc, init, mode);
      break;
    case 'bt':
      btHook(rng, ops, init, mode);
      break;
    case 'cmpxchg':
      if (dest?.loc && rng.chance(0.5)) {
        write(
          init,
          mode,
          { kind: 'reg', index: 0, bits: dest.bits, high: false },
          read(init, dest.loc),
        );
      }
      break;
    case 'cmpxchg8b':
      if (dest?.loc && rng.chance(0.5)) {
        // EDX:EAX (RDX:RAX) equal to the memory operand, so the exchange happens
        const half = dest.bits / 2;
        const value = read(init, dest.loc);
        write(init, mode, { kind: 'reg', index: 0, bits: half, high: false }, value);
        write(
          init,
          mode,
          { kind: 'reg', index: 2, bits: half, high: false },
          value >> BigInt(half),
        );
      }
      break;
    case 'bitscan':
      if (ops[1]?.loc && rng.chance(0.2)) write(init, mode, ops[1].loc, 0n);
      break;
    case 'bcd':
      bcdHook(rng, init, mode);
      break;
    case 'bcd-imm': {
      const imm = ops[0];
      if (imm) {
        const r = rng.int(10);
        imm.imm = r < 7 ? 10n : r < 8 ? 0n : BigInt(rng.int(256));
        imm.text = `0x${imm.imm.toString(16)}`;
      }
      break;
    }
    case 'lea':
      if (ops[1]) ops[1].text = leaAddress(rng, mode);
      break;
    default:
      break;
  }
  const operands = ops.map((op) => op.text).join(', ');
  const exact = row.hook === 'shift' ? shiftUndefinedFlags(row.mnemonic, ops, init) : undefined;
  return {
    ...base,
    undefinedFlags: exact ?? undefinedFlags,
    asm: operands === '' ? name : `${name} ${operands}`,
  };
}

/**
 * The exact undefined-flag mask of a shift or rotate, from its masked count (SDM Vol. 2 "SAL/SAR/
 * SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD"): count 0 leaves every flag alone; OF is defined
 * only for count 1; AF is undefined for any non-zero shift; SHL/SHR leave CF undefined for counts
 * of at least the operand size; SHLD/SHRD with a count above the operand size leave the result
 * and every flag undefined.
 */
function shiftUndefinedFlags(mnemonic: string, ops: Operand[], init: CpuState): number {
  const dest = ops[0];
  const count = ops[ops.length - 1];
  if (!dest || !count) return 0;
  const raw =
    count.spec === '1'
      ? 1
      : count.spec === 'CL'
        ? Number((init.regs[1] ?? 0n) & 0xffn)
        : Number(count.imm ?? 0n);
  const masked = raw & (dest.bits === 64 ? 0x3f : 0x1f);
  if (masked === 0) return 0;
  const rotate = mnemonic[0] === 'R';
  if ((mnemonic === 'SHLD' || mnemonic === 'SHRD') && masked > dest.bits) return flagMask('OSZAPC');
  if (rotate) return masked === 1 ? 0 : flagMask('O');
  // SHL/SHR: CF is undefined when the count is at least the operand size
  const cf = (mnemonic === 'SHL' || mnemonic === 'SHR') && masked >= dest.bits ? flagMask('C') : 0;
  return cf | (masked === 1 ? flagMask('A') : flagMask('OA'));
}

function shiftHook(rng: Rng, ops: Operand[], init: CpuState, mode: Mode): void {
  const width = ops[0]?.bits ?? 32;
  const count = ops[ops.length - 1];
  if (!count || count.spec === '1') return;
  const r = rng.int(10);
  const special = [0, 1, width - 1, width, width + 1, 31, 32, 33, 63, 64, 65];
  const n = r < 6 ? rng.int(2 * width + 1) : r < 8 ? rng.pick(special) : rng.int(256);
  if (count.spec === 'CL') {
    write(init, mode, { kind: 'reg', index: 1, bits: 8, high: false }, BigInt(n));
  } else {
    count.imm = BigInt(n);
    // `byte` forces C0/C1 even for a count of 1 (nasm would pick D0/D1); SHLD/SHRD take a bare imm8
    count.text = ops.length === 3 ? String(n) : `byte ${n}`;
  }
}

function divHook(rng: Rng, signed: boolean, divisor: Location, init: CpuState, mode: Mode): void {
  const bits = divisor.bits;
  const m = mask(bits);
  const d = rng.chance(0.1) ? 0n : interesting(rng, bits);
  let lo = interesting(rng, bits);
  let hi: bigint;
  const r = rng.int(100);
  if (signed) {
    if (r < 70) hi = lo & (1n << BigInt(bits - 1)) ? m : 0n;
    else if (r < 85) hi = rng.bits(2) === 0n ? m : 0n;
    else hi = interesting(rng, bits);
  } else if (r < 75 && d > 1n) {
    hi = rng.bits(bits) % d;
  } else {
    hi = interesting(rng, bits);
  }
  lo &= m;
  if (bits === 8) {
    write(init, mode, { kind: 'reg', index: 0, bits: 16, high: false }, (hi << 8n) | lo);
  } else {
    write(init, mode, { kind: 'reg', index: 0, bits, high: false }, lo);
    write(init, mode, { kind: 'reg', index: 2, bits, high: false }, hi);
  }
  // A divisor in ESP/RSP (SP in real mode) stays a valid stack pointer: #DE is delivered there.
  const onStack =
    divisor.kind === 'reg' &&
    divisor.index === 4 &&
    !divisor.high &&
    bits >= (mode === 16 ? 16 : 32);
  write(init, mode, divisor, onStack ? BigInt(stackTop(mode)) : d);
}

function btHook(rng: Rng, ops: Operand[], init: CpuState, mode: Mode): void {
  const base = ops[0];
  const offset = ops[1];
  if (!base || !offset) return;
  if (offset.spec === 'Ib') {
    const n = rng.chance(0.7) ? rng.int(base.bits) : rng.int(256);
    offset.imm = BigInt(n);
    offset.text = `byte ${n}`;
  } else if (base.loc?.kind === 'mem' && offset.loc) {
    // A register bit offset reaches +-2^63 bits away from a memory operand: keep it in the window.
    const bitOffset = BigInt(rng.int(256) - 128);
    write(init, mode, offset.loc, bitOffset & mask(offset.bits));
  }
}

function bcdHook(rng: Rng, init: CpuState, mode: Mode): void {
  const r = rng.int(10);
  const al =
    r < 5
      ? rng.int(10) * 16 + rng.int(10)
      : r < 8
        ? rng.int(256)
        : rng.pick([0x00, 0x09, 0x0a, 0x0f, 0x90, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xfa, 0xff]);
  write(init, mode, { kind: 'reg', index: 0, bits: 8, high: false }, BigInt(al));
}

function leaAddress(rng: Rng, mode: Mode): string {
  const disp = (): string => {
    const r = rng.int(3);
    const v = r === 0 ? 0 : r === 1 ? rng.int(256) - 128 : rng.next32() | 0;
    return v === 0 ? '' : v < 0 ? ` - 0x${(-v).toString(16)}` : ` + 0x${v.toString(16)}`;
  };
  if (mode === 64 && rng.chance(0.1)) return `[rel $ + 0x${rng.int(0x100000).toString(16)}]`;
  if ((mode === 32 && rng.chance(0.2)) || (mode === 16 && rng.chance(0.8))) {
    const base = rng.pick(['bx + si', 'bx + di', 'bp + si', 'bp + di', 'si', 'di', 'bp', 'bx']);
    const d = rng.int(3);
    const v =
      d === 0 ? '' : d === 1 ? ` + ${rng.int(256) - 128}` : ` + 0x${rng.int(0x10000).toString(16)}`;
    return `[${base}${base === 'bp' && v === '' ? ' + 0' : v}]`;
  }
  const addrBits = mode === 64 && rng.chance(0.25) ? 32 : gprBits(mode);
  const count = gprCount(mode);
  const parts: string[] = [];
  if (rng.chance(0.85)) parts.push(regName(rng.int(count), addrBits, false));
  if (rng.chance(0.7) || parts.length === 0) {
    let index = rng.int(count);
    while (index === 4) index = rng.int(count);
    parts.push(`${regName(index, addrBits, false)} * ${rng.pick([1, 2, 4, 8])}`);
  }
  return `[${parts.join(' + ')}${disp()}]`;
}

function stringCase(
  rng: Rng,
  row: InstructionRow,
  form: string,
  mode: Mode,
  init: CpuState,
): string {
  const letter = (form.split(',')[0] ?? '').slice(1);
  const size = sizeOf(letter, 32, mode) / 8;
  const prefix = rng.pick(row.prefixes ?? ['']);
  const full = gprBits(mode);
  const pointer = (): bigint => BigInt(windowBase(mode) + 16 + rng.int(33 - size));
  init.regs[6] = pointer();
  init.regs[7] = pointer();
  if (prefix !== '') init.regs[1] = BigInt(rng.int(Math.min(5, 16 / size) + 1));
  init.rflags = (init.rflags & ~0x400n) | (rng.chance(0.5) ? 0x400n : 0n);
  if (row.mnemonic === 'CMPS' || row.mnemonic === 'SCAS') {
    if (rng.chance(0.6)) {
      const fill = rng.int(256);
      for (let i = 0; i < WINDOW_SIZE; i++) init.mem[i] = rng.chance(0.15) ? rng.int(256) : fill;
      let acc = init.regs[0] ?? 0n;
      for (let i = 0; i < size; i++)
        acc = (acc & ~(0xffn << BigInt(8 * i))) | (BigInt(fill) << BigInt(8 * i));
      init.regs[0] = acc & mask(full);
    }
  }
  const mnemonic = `${row.mnemonic.toLowerCase()}${letter}`;
  return prefix === '' ? mnemonic : `${prefix} ${mnemonic}`;
}
