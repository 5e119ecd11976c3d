/**
 * An independent model of the SDM's definitions for every instruction in the table, used to validate
 * QEMU's recorded results (and so the harness) and to find where QEMU deviates. It recomputes a
 * case from its `asm` text and `init` state and compares every defined bit of `expect`: GPRs,
 * the memory window, and the SDM-defined flags. Undefined flags (`undefinedFlags`) and undefined
 * results (BSF/BSR of 0, SHLD/SHRD counts above the operand size) are not compared.
 *
 * @see Intel SDM Vol. 2 instruction pages ("Operation" and "Flags Affected") for each mnemonic
 */
import { type CpuState, GPR_NAMES, gprBits, gprCount, windowBase } from './machine.ts';
import type { Mode } from './table.ts';
import { isException, stateFromJson, type VectorCase } from './vectors.ts';

type Loc =
  | { kind: 'reg'; index: number; bits: number; shift: number }
  | { kind: 'mem'; offset: number; bits: number }
  | { kind: 'imm'; value: bigint };

const SIZES: Readonly<Record<string, number>> = {
  byte: 8,
  word: 16,
  dword: 32,
  qword: 64,
  oword: 128,
};
const REGS: ReadonlyMap<string, { index: number; bits: number; shift: number }> = (() => {
  const m = new Map<string, { index: number; bits: number; shift: number }>();
  ['a', 'c', 'd', 'b'].forEach((l, i) => {
    m.set(`r${l}x`, { index: i, bits: 64, shift: 0 });
    m.set(`e${l}x`, { index: i, bits: 32, shift: 0 });
    m.set(`${l}x`, { index: i, bits: 16, shift: 0 });
    m.set(`${l}l`, { index: i, bits: 8, shift: 0 });
    m.set(`${l}h`, { index: i, bits: 8, shift: 8 });
  });
  ['sp', 'bp', 'si', 'di'].forEach((n, i) => {
    m.set(`r${n}`, { index: 4 + i, bits: 64, shift: 0 });
    m.set(`e${n}`, { index: 4 + i, bits: 32, shift: 0 });
    m.set(n, { index: 4 + i, bits: 16, shift: 0 });
    m.set(`${n}l`, { index: 4 + i, bits: 8, shift: 0 });
  });
  for (let i = 8; i < 16; i++) {
    m.set(`r${i}`, { index: i, bits: 64, shift: 0 });
    m.set(`r${i}d`, { index: i, bits: 32, shift: 0 });
    m.set(`r${i}w`, { index: i, bits: 16, shift: 0 });
    m.set(`r${i}b`, { index: i, bits: 8, shift: 0 });
  }
  return m;
})();

const C = 0x1;
const P = 0x4;
const A = 0x10;
const Z = 0x40;
const S = 0x80;
const O = 0x800;

const mask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;
const signed = (v: bigint, bits: number): bigint =>
  v >> BigInt(bits - 1) ? v - (1n << BigInt(bits)) : v;
const parity = (v: bigint): number => {
  let x = Number(v & 0xffn);
  x ^= x >> 4;
  x ^= x >> 2;
  x ^= x >> 1;
  return x & 1 ? 0 : P;
};

class Machine {
  readonly mode: Mode;
  readonly state: CpuState;
  /** Flag bits this instruction defines, and their values. */
  defined = 0;
  values = 0;
  /** Set when the SDM leaves the destination undefined (registers and memory are not compared). */
  undefinedResult = false;

  constructor(mode: Mode, state: CpuState) {
    this.mode = mode;
    this.state = state;
  }

  get(loc: Loc, bits: number): bigint {
    if (loc.kind === 'imm') return loc.value & mask(bits);
    if (loc.kind === 'mem') {
      let v = 0n;
      for (let i = bits / 8 - 1; i >= 0; i--)
        v = (v << 8n) | BigInt(this.state.mem[loc.offset + i] ?? 0);
      return v;
    }
    return ((this.state.regs[loc.index] ?? 0n) >> BigInt(loc.shift)) & mask(bits);
  }

  put(loc: Loc, value: bigint, bits: number): void {
    const v = value & mask(bits);
    if (loc.kind === 'imm') throw new Error('write to an immediate');
    if (loc.kind === 'mem') {
      for (let i = 0; i < bits / 8; i++)
        this.state.mem[loc.offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
      return;
    }
    const old = this.state.regs[loc.index] ?? 0n;
    // 32-bit writes zero-extend into 64-bit registers (SDM Vol. 1, 3.4.1.1)
    this.state.regs[loc.index] =
      bits >= 32 ? v : (old & ~(mask(bits) << BigInt(loc.shift))) | (v << BigInt(loc.shift));
  }

  reg(index: number, bits: number): Loc {
    return { kind: 'reg', index, bits, shift: 0 };
  }

  flag(bit: number, on: boolean | number | bigint): void {
    this.defined |= bit;
    if (on) this.values |= bit;
    else this.values &= ~bit;
  }

  szp(r: bigint, bits: number): void {
    this.flag(S, (r >> BigInt(bits - 1)) & 1n);
    this.flag(Z, r === 0n);
    this.flag(P, parity(r));
  }

  get cf(): number {
    return Number(this.state.rflags & 1n);
  }
}

function parseOperand(text: string, mode: Mode): Loc {
  const mem = /^(?:(byte|word|dword|qword|oword) )?\[(?:abs )?0x([0-9a-f]+)\]$/.exec(text);
  if (mem) {
    return {
      kind: 'mem',
      offset: Number.parseInt(mem[2] ?? '0', 16) - windowBase(mode),
      bits: SIZES[mem[1] ?? ''] ?? 0,
    };
  }
  const reg = REGS.get(text);
  if (reg) return { kind: 'reg', ...reg };
  const imm = /^(?:strict )?(?:(?:byte|word|dword|qword) )?(-?(?:0x[0-9a-f]+|\d+))$/.exec(text);
  if (imm) {
    const t = imm[1] ?? '0';
    return { kind: 'imm', value: t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t) };
  }
  throw new Error(`cannot parse operand ${text}`);
}

const ALU = new Set(['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor', 'test']);
const SHIFTS = new Set(['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']);

/** Executes `op` on the machine per the SDM; returns false when the mnemonic is not modelled. */
function execute(m: Machine, op: string, ops: Loc[]): boolean | 'DE' | 'GP' {
  const first = ops[0];
  const width = (l: Loc | undefined): number => (l && l.kind !== 'imm' ? l.bits : 0);
  const size = width(ops.find((l) => l.kind !== 'imm' && l.bits > 0)) || 0;
  const M = mask(size || 8);
  const sign = 1n << BigInt((size || 8) - 1);
  if (ALU.has(op) && first && ops[1]) {
    const d = m.get(first, size);
    const s = m.get(ops[1], size);
    let r: bigint;
    if (op === 'add' || op === 'adc') {
      const raw = d + s + (op === 'adc' ? BigInt(m.cf) : 0n);
      r = raw & M;
      m.flag(C, raw >> BigInt(size));
      m.flag(O, ~(d ^ s) & (d ^ r) & sign);
      m.flag(A, (d ^ s ^ r) & 0x10n);
    } else if (op === 'sub' || op === 'sbb' || op === 'cmp') {
      const raw = d - s - (op === 'sbb' ? BigInt(m.cf) : 0n);
      r = raw & M;
      m.flag(C, raw < 0n);
      m.flag(O, (d ^ s) & (d ^ r) & sign);
      m.flag(A, (d ^ s ^ r) & 0x10n);
    } else {
      r = op === 'or' ? d | s : op === 'xor' ? d ^ s : d & s;
      m.flag(C, 0);
      m.flag(O, 0);
    }
    m.szp(r, size);
    if (op !== 'cmp' && op !== 'test') m.put(first, r, size);
    return true;
  }
  if (SHIFTS.has(op) && first && ops[1]) {
    const d = m.get(first, size);
    const raw = ops[1].kind === 'imm' ? Number(ops[1].value & 0xffn) : Number(m.get(ops[1], 8));
    let n = raw & (size === 64 ? 0x3f : 0x1f);
    if (n === 0) {
      // flags untouched, but the destination is still written: a 32-bit one is zero-extended
      m.put(first, d, size);
      return true;
    }
    const N = BigInt(n);
    const W = BigInt(size);
    let r: bigint;
    if (op === 'shl') {
      r = (d << N) & M;
      if (n < size) m.flag(C, (d >> (W - N)) & 1n); // undefined for counts >= the operand size
      m.szp(r, size);
      if (n === 1) m.flag(O, ((r >> (W - 1n)) & 1n) ^ ((d >> (W - 1n)) & 1n));
    } else if (op === 'shr') {
      r = d >> N;
      if (n < size) m.flag(C, (d >> (N - 1n)) & 1n);
      m.szp(r, size);
      if (n === 1) m.flag(O, (d >> (W - 1n)) & 1n);
    } else if (op === 'sar') {
      const sd = signed(d, size);
      r = (sd >> N) & M;
      m.flag(C, (sd >> (N - 1n)) & 1n);
      m.szp(r, size);
      if (n === 1) m.flag(O, 0);
    } else if (op === 'rol' || op === 'ror') {
      const k = BigInt(n % size);
      r =
        k === 0n
          ? d
          : op === 'rol'
            ? ((d << k) | (d >> (W - k))) & M
            : ((d >> k) | (d << (W - k))) & M;
      const msb = (r >> (W - 1n)) & 1n;
      m.flag(C, op === 'rol' ? r & 1n : msb);
      if (n === 1) m.flag(O, op === 'rol' ? msb ^ (r & 1n) : msb ^ ((r >> (W - 2n)) & 1n));
    } else {
      n %= size + 1;
      const v = (BigInt(m.cf) << W) | d;
      const VM = mask(size + 1);
      const k = BigInt(n);
      const rot =
        n === 0
          ? v
          : op === 'rcl'
            ? ((v << k) | (v >> (W + 1n - k))) & VM
            : ((v >> k) | (v << (W + 1n - k))) & VM;
      r = rot & M;
      if (n !== 0) m.flag(C, rot >> W);
      if ((raw & (size === 64 ? 0x3f : 0x1f)) === 1) {
        m.flag(
          O,
          op === 'rcl'
            ? ((r >> (W - 1n)) & 1n) ^ (rot >> W)
            : ((d >> (W - 1n)) & 1n) ^ BigInt(m.cf),
        );
      }
    }
    m.put(first, r, size);
    return true;
  }
  if ((op === 'shld' || op === 'shrd') && first && ops[1] && ops[2]) {
    const d = m.get(first, size);
    const s = m.get(ops[1], size);
    const raw = ops[2].kind === 'imm' ? Number(ops[2].value & 0xffn) : Number(m.get(ops[2], 8));
    const n = raw & (size === 64 ? 0x3f : 0x1f);
    if (n === 0) {
      m.put(first, d, size);
      return true;
    }
    if (n > size) {
      m.undefinedResult = true;
      return true;
    }
    const N = BigInt(n);
    const W = BigInt(size);
    const r = op === 'shld' ? ((((d << W) | s) << N) >> W) & M : (((s << W) | d) >> N) & M;
    m.flag(C, op === 'shld' ? (d >> (W - N)) & 1n : (d >> (N - 1n)) & 1n);
    m.szp(r, size);
    if (n === 1) m.flag(O, ((r ^ d) >> (W - 1n)) & 1n);
    m.put(first, r, size);
    return true;
  }
  if ((op === 'inc' || op === 'dec' || op === 'neg' || op === 'not') && first && ops.length === 1) {
    const d = m.get(first, size);
    let r: bigint;
    if (op === 'inc') {
      r = (d + 1n) & M;
      m.flag(O, r === sign);
      m.flag(A, (d & 0xfn) === 0xfn);
    } else if (op === 'dec') {
      r = (d - 1n) & M;
      m.flag(O, d === sign);
      m.flag(A, (d & 0xfn) === 0n);
    } else if (op === 'neg') {
      r = -d & M;
      m.flag(C, d !== 0n);
      m.flag(O, d === sign);
      m.flag(A, (d & 0xfn) !== 0n);
    } else {
      m.put(first, ~d, size);
      return true;
    }
    m.szp(r, size);
    m.put(first, r, size);
    return true;
  }
  if ((op === 'mul' || op === 'imul') && first && ops.length === 1) {
    const d = m.get(first, size);
    const acc = m.get(m.reg(0, size), size);
    const product = op === 'mul' ? d * acc : signed(d, size) * signed(acc, size);
    const lo = product & M;
    const fits = op === 'mul' ? product >> BigInt(size) === 0n : signed(lo, size) === product;
    m.flag(C, !fits);
    m.flag(O, !fits);
    if (size === 8) m.put(m.reg(0, 16), product, 16);
    else {
      m.put(m.reg(0, size), lo, size);
      m.put(m.reg(2, size), (product & mask(2 * size)) >> BigInt(size), size);
    }
    return true;
  }
  if (op === 'imul' && first && ops[1]) {
    const a = m.get(ops[1], size);
    const b = ops[2]
      ? ops[2].kind === 'imm'
        ? ops[2].value & M
        : m.get(ops[2], size)
      : m.get(first, size);
    const full = signed(a, size) * signed(b & M, size);
    const r = full & M;
    m.flag(C, signed(r, size) !== full);
    m.flag(O, signed(r, size) !== full);
    m.put(first, r, size);
    return true;
  }
  if ((op === 'div' || op === 'idiv') && first) {
    const divisor = m.get(first, size);
    const dividend =
      size === 8
        ? m.get(m.reg(0, 16), 16)
        : (m.get(m.reg(2, size), size) << BigInt(size)) | m.get(m.reg(0, size), size);
    if (divisor === 0n) return 'DE';
    let q: bigint;
    let rem: bigint;
    if (op === 'div') {
      q = dividend / divisor;
      rem = dividend % divisor;
      if (q > M) return 'DE';
    } else {
      const n = signed(dividend, 2 * size);
      const dv = signed(divisor, size);
      q = n / dv; // BigInt division truncates toward zero, as IDIV does
      rem = n - q * dv;
      if (q < -sign || q >= sign) return 'DE';
    }
    if (size === 8) m.put(m.reg(0, 16), ((rem & 0xffn) << 8n) | (q & 0xffn), 16);
    else {
      m.put(m.reg(0, size), q, size);
      m.put(m.reg(2, size), rem, size);
    }
    return true;
  }
  if ((op === 'xadd' || op === 'cmpxchg') && first && ops[1]) {
    const d = m.get(first, size);
    const s = m.get(ops[1], size);
    if (op === 'xadd') {
      const raw = d + s;
      const r = raw & M;
      m.flag(C, raw >> BigInt(size));
      m.flag(O, ~(d ^ s) & (d ^ r) & sign);
      m.flag(A, (d ^ s ^ r) & 0x10n);
      m.szp(r, size);
      m.put(ops[1], d, size);
      m.put(first, r, size);
      return true;
    }
    const acc = m.get(m.reg(0, size), size);
    const r = (acc - d) & M;
    m.flag(C, acc < d);
    m.flag(O, (acc ^ d) & (acc ^ r) & sign);
    m.flag(A, (acc ^ d ^ r) & 0x10n);
    m.szp(r, size);
    if (acc === d) m.put(first, s, size);
    else {
      m.put(m.reg(0, size), d, size);
      m.put(first, d, size); // "the destination operand is written back"
    }
    return true;
  }
  if ((op === 'cmpxchg8b' || op === 'cmpxchg16b') && first && first.kind === 'mem') {
    const bits = op === 'cmpxchg8b' ? 64 : 128;
    if (bits === 128 && first.offset % 16 !== 0) return 'GP';
    const half = bits / 2;
    const t = m.get(first, bits);
    const cmp = (m.get(m.reg(2, half), half) << BigInt(half)) | m.get(m.reg(0, half), half);
    m.flag(Z, cmp === t);
    if (cmp === t)
      m.put(
        first,
        (m.get(m.reg(1, half), half) << BigInt(half)) | m.get(m.reg(3, half), half),
        bits,
      );
    else {
      m.put(m.reg(0, half), t, half);
      m.put(m.reg(2, half), t >> BigInt(half), half);
    }
    return true;
  }
  if (['bt', 'bts', 'btr', 'btc'].includes(op) && first && ops[1]) {
    const base = first;
    let offset = ops[1].kind === 'imm' ? ops[1].value & 0xffn : m.get(ops[1], size);
    let loc: Loc = base;
    if (base.kind === 'mem' && ops[1].kind !== 'imm') {
      const so = signed(offset, size);
      loc = { kind: 'mem', offset: base.offset + Number(so >> 3n), bits: 8 };
      offset = so & 7n;
    }
    const bits = loc.kind === 'mem' && loc !== base ? 8 : size;
    const bit = offset % BigInt(bits);
    const v = m.get(loc, bits);
    m.flag(C, (v >> bit) & 1n);
    const one = 1n << bit;
    if (op === 'bts') m.put(loc, v | one, bits);
    if (op === 'btr') m.put(loc, v & ~one, bits);
    if (op === 'btc') m.put(loc, v ^ one, bits);
    return true;
  }
  if (['bsf', 'bsr', 'popcnt', 'lzcnt', 'tzcnt'].includes(op) && first && ops[1]) {
    const s = m.get(ops[1], size);
    const len = s.toString(2).length - (s === 0n ? 1 : 0);
    const trailing = s === 0n ? size : (s & -s).toString(2).length - 1;
    if (op === 'popcnt') {
      const count = BigInt([...s.toString(2)].filter((c) => c === '1').length);
      for (const f of [C, P, A, S, O]) m.flag(f, 0);
      m.flag(Z, s === 0n);
      m.put(first, count, size);
    } else if (op === 'lzcnt' || op === 'tzcnt') {
      const r = BigInt(op === 'lzcnt' ? size - len : trailing);
      m.flag(C, s === 0n);
      m.flag(Z, r === 0n);
      m.put(first, r, size);
    } else {
      m.flag(Z, s === 0n);
      if (s === 0n) m.undefinedResult = true;
      else m.put(first, BigInt(op === 'bsf' ? trailing : len - 1), size);
    }
    return true;
  }
  if (['daa', 'das', 'aaa', 'aas', 'aam', 'aad'].includes(op)) {
    const ax = m.get(m.reg(0, 16), 16);
    const al = ax & 0xffn;
    const ah = ax >> 8n;
    const af = (m.state.rflags & 0x10n) !== 0n;
    const low = al & 0xfn;
    if (op === 'daa' || op === 'das') {
      let r = al;
      let cf = 0;
      if (low > 9n || af) {
        cf = m.cf | Number(op === 'daa' ? al + 6n > 0xffn : al < 6n);
        r = (op === 'daa' ? r + 6n : r - 6n) & 0xffn;
        m.flag(A, 1);
      } else m.flag(A, 0);
      if (al > 0x99n || m.cf) {
        r = (op === 'daa' ? r + 0x60n : r - 0x60n) & 0xffn;
        cf = 1;
      } else if (op === 'daa') cf = 0;
      m.flag(C, cf);
      m.szp(r, 8);
      m.put(m.reg(0, 8), r, 8);
    } else if (op === 'aaa' || op === 'aas') {
      let r = ax;
      const adjust = low > 9n || af;
      if (adjust) r = op === 'aaa' ? r + 0x106n : r - 0x106n; // AX +- 6, then AH +- 1
      m.flag(A, adjust);
      m.flag(C, adjust);
      m.put(m.reg(0, 16), r & 0xff0fn, 16);
    } else {
      const imm = ops[0]?.kind === 'imm' ? ops[0].value & 0xffn : 10n;
      if (op === 'aam') {
        if (imm === 0n) return 'DE';
        m.put(m.reg(0, 16), ((al / imm) << 8n) | (al % imm), 16);
        m.szp(al % imm, 8);
      } else {
        const r = (al + ah * imm) & 0xffn;
        m.put(m.reg(0, 16), r, 16);
        m.szp(r, 8);
      }
    }
    return true;
  }
  return false;
}

const STRING = /^(movs|cmps|stos|lods|scas)[bwdq]$/;
const CC: Readonly<Record<string, (f: number) => boolean>> = {
  o: (f) => (f & O) !== 0,
  no: (f) => (f & O) === 0,
  b: (f) => (f & C) !== 0,
  ae: (f) => (f & C) === 0,
  e: (f) => (f & Z) !== 0,
  ne: (f) => (f & Z) === 0,
  be: (f) => (f & (C | Z)) !== 0,
  a: (f) => (f & (C | Z)) === 0,
  s: (f) => (f & S) !== 0,
  ns: (f) => (f & S) === 0,
  p: (f) => (f & P) !== 0,
  np: (f) => (f & P) === 0,
  l: (f) => ((f & S) !== 0) !== ((f & O) !== 0),
  ge: (f) => ((f & S) !== 0) === ((f & O) !== 0),
  le: (f) => (f & Z) !== 0 || ((f & S) !== 0) !== ((f & O) !== 0),
  g: (f) => (f & Z) === 0 && ((f & S) !== 0) === ((f & O) !== 0),
};

function bswap(v: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits / 8; i++) r = (r << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return r;
}

/** Data movement, conversions, conditions, stack and flag instructions. */
function moves(m: Machine, op: string, ops: Loc[]): boolean {
  const [a, b] = ops;
  const bitsOf = (l: Loc | undefined): number => (l && l.kind !== 'imm' ? l.bits : 0);
  const flags = Number(m.state.rflags);
  const stackBits = m.mode === 64 ? 64 : m.mode === 32 ? 32 : 16;
  const sp = (): bigint => m.get(m.reg(4, stackBits), stackBits);
  const mem = (address: bigint, bits: number): Loc => ({
    kind: 'mem',
    offset: Number(address) - windowBase(m.mode),
    bits,
  });
  if ((op === 'movzx' || op === 'movsx' || op === 'movsxd') && a && b) {
    const v = m.get(b, bitsOf(b));
    m.put(a, op === 'movzx' ? v : signed(v, bitsOf(b)), bitsOf(a));
    return true;
  }
  const widen: Record<string, [number, number, boolean]> = {
    cbw: [8, 16, false],
    cwde: [16, 32, false],
    cdqe: [32, 64, false],
    cwd: [16, 16, true],
    cdq: [32, 32, true],
    cqo: [64, 64, true],
  };
  const w = widen[op];
  if (w && ops.length === 0) {
    const [from, to, split] = w;
    const v = signed(m.get(m.reg(0, from), from), from);
    if (split) m.put(m.reg(2, to), v < 0n ? -1n : 0n, to);
    else m.put(m.reg(0, to), v, to);
    return true;
  }
  if (op === 'bswap' && a) {
    m.put(a, bswap(m.get(a, bitsOf(a)), bitsOf(a)), bitsOf(a));
    return true;
  }
  if (op === 'movbe' && a && b) {
    m.put(a, bswap(m.get(b, bitsOf(a)), bitsOf(a)), bitsOf(a));
    return true;
  }
  if (op === 'xchg' && a && b) {
    const size = bitsOf(a);
    const x = m.get(a, size);
    const y = m.get(b, size);
    m.put(a, y, size);
    m.put(b, x, size);
    return true;
  }
  if (op.startsWith('cmov') && a && b) {
    const cc = CC[op.slice(4)];
    if (!cc) return false;
    // In 64-bit mode a 32-bit CMOVcc writes (zero-extends) its destination even when false.
    m.put(a, cc(flags) ? m.get(b, bitsOf(a)) : m.get(a, bitsOf(a)), bitsOf(a));
    return true;
  }
  if (op.startsWith('set') && a) {
    const cc = CC[op.slice(3)];
    if (!cc) return false;
    m.put(a, cc(flags) ? 1n : 0n, 8);
    return true;
  }
  if (op === 'push' && a) {
    const size = a.kind === 'imm' ? (ops.length === 1 ? stackBits : stackBits) : bitsOf(a);
    const value = a.kind === 'imm' ? a.value : m.get(a, size);
    const next = (sp() - BigInt(size / 8)) & mask(stackBits);
    m.put(mem(next, size), value, size);
    m.put(m.reg(4, stackBits), next, stackBits);
    return true;
  }
  if (op === 'pop' && a) {
    const size = bitsOf(a);
    const value = m.get(mem(sp(), size), size);
    m.put(m.reg(4, stackBits), sp() + BigInt(size / 8), stackBits);
    m.put(a, value, size);
    return true;
  }
  const flagOps: Record<string, () => void> = {
    clc: () => m.flag(C, 0),
    stc: () => m.flag(C, 1),
    cmc: () => m.flag(C, !(flags & C)),
    cld: () => m.flag(0x400, 0),
    std: () => m.flag(0x400, 1),
    lahf: () => m.put({ kind: 'reg', index: 0, bits: 8, shift: 8 }, BigInt((flags & 0xd5) | 2), 8),
    sahf: () => {
      const ah = Number(m.get({ kind: 'reg', index: 0, bits: 8, shift: 8 }, 8));
      for (const f of [S, Z, A, P, C]) m.flag(f, ah & f);
    },
  };
  const f = flagOps[op];
  if (f && ops.length === 0) {
    f();
    return true;
  }
  return false;
}

/** LEA: the effective address of `[base + index * scale + disp]` / `[rel $ + k]`, truncated. */
function lea(m: Machine, operands: string[], rip: number): boolean {
  const dest = REGS.get(operands[0] ?? '');
  const expr = /^\[(.*)\]$/.exec(operands[1] ?? '')?.[1];
  if (!dest || expr === undefined) return false;
  let address = 0n;
  let addrBits = m.mode === 64 ? 64 : m.mode === 32 ? 32 : 16;
  const terms = expr
    .replace(/\s+/g, '')
    .replace(/-/g, '+-')
    .split('+')
    .filter((t) => t !== '');
  for (const term of terms) {
    if (term === 'rel$') {
      address += BigInt(rip);
      continue;
    }
    const [name, scale] = term.split('*');
    const reg = REGS.get(name ?? '');
    if (reg) {
      addrBits = reg.bits;
      address += m.get({ kind: 'reg', ...reg }, reg.bits) * BigInt(scale ?? '1');
    } else {
      const negative = term.startsWith('-');
      const n = BigInt(negative ? term.slice(1) : term);
      address += negative ? -n : n;
    }
  }
  const loc: Loc = { kind: 'reg', ...dest };
  m.put(loc, address & mask(addrBits), dest.bits);
  return true;
}

/** String instructions with an optional REP/REPE/REPNE prefix, default address size. */
function stringOp(m: Machine, prefix: string, name: string): boolean {
  const match = STRING.exec(name);
  if (!match) return false;
  const kind = match[1] ?? '';
  const bits = { b: 8, w: 16, d: 32, q: 64 }[name.slice(-1)] ?? 8;
  const bytes = BigInt(bits / 8);
  const addrBits = m.mode === 64 ? 64 : m.mode === 32 ? 32 : 16;
  const step = m.state.rflags & 0x400n ? -bytes : bytes;
  const reg = (i: number): bigint => m.get(m.reg(i, addrBits), addrBits);
  const at = (i: number): Loc => ({
    kind: 'mem',
    offset: Number(reg(i)) - windowBase(m.mode),
    bits,
  });
  const acc = m.reg(0, bits);
  for (;;) {
    if (prefix !== '' && reg(1) === 0n) break;
    if (kind === 'movs') m.put(at(7), m.get(at(6), bits), bits);
    if (kind === 'stos') m.put(at(7), m.get(acc, bits), bits);
    if (kind === 'lods') m.put(acc, m.get(at(6), bits), bits);
    if (kind === 'cmps' || kind === 'scas') {
      const x = kind === 'cmps' ? m.get(at(6), bits) : m.get(acc, bits);
      const y = m.get(at(7), bits);
      const r = (x - y) & mask(bits);
      const sign = 1n << BigInt(bits - 1);
      m.flag(C, x < y);
      m.flag(O, (x ^ y) & (x ^ r) & sign);
      m.flag(A, (x ^ y ^ r) & 0x10n);
      m.szp(r, bits);
    }
    if (kind === 'movs' || kind === 'cmps' || kind === 'lods')
      m.put(m.reg(6, addrBits), reg(6) + step, addrBits);
    if (kind !== 'lods') m.put(m.reg(7, addrBits), reg(7) + step, addrBits);
    if (prefix === '') break;
    m.put(m.reg(1, addrBits), reg(1) - 1n, addrBits);
    const zf = (m.values & Z) !== 0;
    if (
      (prefix === 'repe' && (kind === 'cmps' || kind === 'scas') && !zf) ||
      (prefix === 'repne' && (kind === 'cmps' || kind === 'scas') && zf)
    )
      break;
  }
  return true;
}

/**
 * Checks a case against the SDM model. Returns undefined when the instruction is not modelled,
 * else the differences (empty when QEMU's result agrees with the SDM in every defined bit).
 */
export function sdmCheck(v: VectorCase): string[] | undefined {
  const space = v.asm.indexOf(' ');
  const op = space < 0 ? v.asm : v.asm.slice(0, space);
  const text = space < 0 ? '' : v.asm.slice(space + 1);
  const operands = text === '' ? [] : text.split(/,(?![^[]*\])/).map((s) => s.trim());
  const m = new Machine(v.mode, stateFromJson(v.mode, v.init));
  let outcome: boolean | 'DE' | 'GP';
  if (op === 'lea') {
    outcome = lea(m, operands, Number.parseInt(v.init.rip ?? '0', 16));
  } else if (op === 'rep' || op === 'repe' || op === 'repne' || STRING.test(op)) {
    outcome = stringOp(
      m,
      op === 'rep' || op === 'repe' || op === 'repne' ? op : '',
      operands[0] ?? op,
    );
  } else {
    let ops: Loc[];
    try {
      ops = operands.map((o) => parseOperand(o, v.mode));
    } catch {
      return undefined;
    }
    outcome = execute(m, op, ops);
    if (outcome === false) outcome = moves(m, op, ops);
  }
  if (outcome === false) return undefined;
  if (outcome === 'DE' || outcome === 'GP') {
    const vector = outcome === 'DE' ? 0 : 13;
    return isException(v.expect) && v.expect.exception === vector
      ? []
      : [`SDM raises vector ${vector}`];
  }
  if (isException(v.expect)) return [`QEMU raised ${v.expect.exception}, the SDM does not`];
  const got = stateFromJson(v.mode, v.expect);
  const out: string[] = [];
  if (!m.undefinedResult) {
    for (let i = 0; i < gprCount(v.mode); i++) {
      const want = (m.state.regs[i] ?? 0n) & mask(gprBits(v.mode));
      if (want !== got.regs[i])
        out.push(`${GPR_NAMES[i]}: SDM ${want.toString(16)}, QEMU ${got.regs[i]?.toString(16)}`);
    }
    if (Buffer.compare(Buffer.from(m.state.mem), Buffer.from(got.mem)) !== 0)
      out.push('mem differs');
  }
  const compare = m.defined & ~Number.parseInt(v.undefinedFlags ?? '0', 16);
  const want = m.values & compare;
  const have = Number(got.rflags) & compare;
  if (want !== have)
    out.push(
      `rflags: SDM ${want.toString(16)}, QEMU ${have.toString(16)} (mask ${compare.toString(16)})`,
    );
  return out;
}
