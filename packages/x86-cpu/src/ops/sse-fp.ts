/**
 * SSE/SSE2 floating point: ADD/SUB/MUL/DIV/SQRT/MIN/MAX (PS/PD/SS/SD), CMPccPS/PD/SS/SD,
 * (U)COMISS/SD, RCPPS/RSQRTPS (SS), and the CVT* family, on the exact soft-float of
 * `src/fpu/softfloat.ts`. Masked exceptions set MXCSR flags; an unmasked one leaves the
 * destination unchanged and raises #XM (CR4.OSXMMEXCPT) or #UD.
 * @see Intel SDM Vol. 2 (each mnemonic); Vol. 1 §11.5 (SIMD floating-point exceptions)
 */
import { CR4, EFLAGS, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags } from '../flags.ts';
import { srcD, srcQ, srcW } from '../fpu/access.ts';
import { FAST_OUT, fastArith } from '../fpu/fast-float.ts';
import {
  arith,
  compare,
  convert,
  F32,
  F64,
  FLAGS,
  type FloatFormat,
  fromInt,
  minMax,
  OP,
  toInt,
} from '../fpu/softfloat.ts';

/** Result staging slot (16-byte register units). */
const TMP = 17;

function lane(cpu: X86Cpu, fmt: FloatFormat, r: number, i: number): bigint {
  const u = cpu.fpu.u32;
  if (fmt === F32) return BigInt(u[(r << 2) + i]);
  const k = (r << 2) + i * 2;
  return (BigInt(u[k + 1]) << 32n) | BigInt(u[k]);
}

function setLane(cpu: X86Cpu, fmt: FloatFormat, r: number, i: number, v: bigint): void {
  const x = cpu.fpu.x;
  if (fmt === F32) x[(r << 2) + i] = Number(v & 0xffffffffn) | 0;
  else {
    const k = (r << 2) + i * 2;
    x[k] = Number(v & 0xffffffffn) | 0;
    x[k + 1] = Number(v >> 32n) | 0;
  }
}

/**
 * Ends an operation: merges {@link FLAGS} into MXCSR; an unmasked exception raises #XM (or #UD
 * without CR4.OSXMMEXCPT) before the destination is written. Returns normally otherwise.
 */
function finish(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const fl = FLAGS[0] & 0x3f;
  f.mxcsr |= fl;
  if ((fl & ~(f.mxcsr >> 7) & 0x3f) !== 0) {
    cpu.fault((cpu.cr4 & CR4.OSXMMEXCPT) !== 0 ? VECTOR.XM : VECTOR.UD, -1);
  }
}

/** Copies `n` dwords of the staging slot to register `r` from dword `from`. */
function commit(cpu: X86Cpu, r: number, from: number, n: number): void {
  const x = cpu.fpu.x;
  for (let i = from; i < from + n; i++) x[(r << 2) + i] = x[(TMP << 2) + i];
}

/** The format and shape of the current instruction from its mandatory prefix. */
function shape(cpu: X86Cpu): { fmt: FloatFormat; lanes: number; scalar: boolean } {
  switch (cpu.rep) {
    case 0:
      return PS;
    case 1:
      return PD;
    case 2:
      return SD;
    default:
      return SS;
  }
}

const PS = { fmt: F32, lanes: 4, scalar: false };
const PD = { fmt: F64, lanes: 2, scalar: false };
const SS = { fmt: F32, lanes: 1, scalar: true };
const SD = { fmt: F64, lanes: 1, scalar: true };

/** Reads the source operand by shape: xmm/m128 (aligned) for packed, xmm/m32 or m64 for scalar. */
function source(cpu: X86Cpu, fmt: FloatFormat, scalar: boolean): number {
  if (!scalar) return srcW(cpu, true);
  return fmt === F32 ? srcD(cpu) : srcQ(cpu);
}

/** ADD/SUB/MUL/DIV/SQRT/MIN/MAX PS/PD/SS/SD (0F 58/5C/59/5E/51/5D/5F). */
function binary(cpu: X86Cpu, op: number): void {
  const { fmt, lanes, scalar } = shape(cpu);
  const s = source(cpu, fmt, scalar);
  const d = cpu.reg;
  const mx = cpu.fpu.mxcsr;
  FLAGS[0] = 0;
  const f = cpu.fpu;
  const single = fmt === F32;
  for (let i = 0; i < lanes; i++) {
    if (op <= OP.SQRT && (mx & 0x6000) === 0) {
      // Round to nearest on ordinary operands: doubles with exact error terms (fast-float.ts).
      const av = single ? f.f32[(d << 2) + i] : f.f64[(d << 1) + i];
      const bv = single ? f.f32[(s << 2) + i] : f.f64[(s << 1) + i];
      if (fastArith(op, av, bv, single)) {
        if (single) f.f32[(TMP << 2) + i] = FAST_OUT[0];
        else f.f64[(TMP << 1) + i] = FAST_OUT[0];
        if (FAST_OUT[1] !== 0) FLAGS[0] |= 0x20;
        continue;
      }
    }
    const a = lane(cpu, fmt, d, i);
    const b = lane(cpu, fmt, s, i);
    const r = op <= OP.SQRT ? arith(fmt, op, a, b, mx) : minMax(fmt, a, b, op === 6, mx);
    setLane(cpu, fmt, TMP, i, r);
  }
  finish(cpu);
  commit(cpu, d, 0, fmt === F32 ? lanes : lanes * 2);
}

/** @internal ADDPS/ADDPD/ADDSS/ADDSD (0F 58). */ export const ADD = (c: X86Cpu): void =>
  binary(c, OP.ADD);
/** @internal SUBPS/SUBPD/SUBSS/SUBSD (0F 5C). */ export const SUB = (c: X86Cpu): void =>
  binary(c, OP.SUB);
/** @internal MULPS/MULPD/MULSS/MULSD (0F 59). */ export const MUL = (c: X86Cpu): void =>
  binary(c, OP.MUL);
/** @internal DIVPS/DIVPD/DIVSS/DIVSD (0F 5E). */ export const DIV = (c: X86Cpu): void =>
  binary(c, OP.DIV);
/** @internal SQRTPS/SQRTPD/SQRTSS/SQRTSD (0F 51). */ export const SQRT = (c: X86Cpu): void =>
  binary(c, OP.SQRT);
/** @internal MINPS/MINPD/MINSS/MINSD (0F 5D). */ export const MIN = (c: X86Cpu): void =>
  binary(c, 5);
/** @internal MAXPS/MAXPD/MAXSS/MAXSD (0F 5F). */ export const MAX = (c: X86Cpu): void =>
  binary(c, 6);

/** @internal CMPccPS/PD/SS/SD (0F C2 ib): predicates 0..7 (EQ LT LE UNORD NEQ NLT NLE ORD). */
export function CMP(cpu: X86Cpu): void {
  const { fmt, lanes, scalar } = shape(cpu);
  const s = source(cpu, fmt, scalar);
  const d = cpu.reg;
  const pred = cpu.imm & 7;
  const mx = cpu.fpu.mxcsr;
  // LT, LE, NLT, NLE signal on QNaN operands too.
  const signal = pred === 1 || pred === 2 || pred === 5 || pred === 6;
  FLAGS[0] = 0;
  for (let i = 0; i < lanes; i++) {
    const c = compare(fmt, lane(cpu, fmt, d, i), lane(cpu, fmt, s, i), mx, signal);
    let t: boolean;
    switch (pred) {
      case 0:
        t = c === 1;
        break;
      case 1:
        t = c === 0;
        break;
      case 2:
        t = c === 0 || c === 1;
        break;
      case 3:
        t = c === 3;
        break;
      case 4:
        t = c !== 1;
        break;
      case 5:
        t = c !== 0;
        break;
      case 6:
        t = c === 2 || c === 3;
        break;
      default:
        t = c !== 3;
    }
    setLane(cpu, fmt, TMP, i, t ? (fmt === F32 ? 0xffffffffn : 0xffffffffffffffffn) : 0n);
  }
  finish(cpu);
  commit(cpu, d, 0, fmt === F32 ? lanes : lanes * 2);
}

/** @internal COMISS/COMISD (0F 2F) and UCOMISS/UCOMISD (0F 2E): ZF/PF/CF from the comparison. */
export function COMIS(cpu: X86Cpu): void {
  if (cpu.rep >= 2) cpu.ud();
  const fmt = cpu.rep === 1 ? F64 : F32;
  const s = source(cpu, fmt, true);
  FLAGS[0] = 0;
  const c = compare(
    fmt,
    lane(cpu, fmt, cpu.reg, 0),
    lane(cpu, fmt, s, 0),
    cpu.fpu.mxcsr,
    (cpu.opcode & 0xff) === 0x2f,
  );
  finish(cpu);
  const bits =
    c === 3 ? EFLAGS.ZF | EFLAGS.PF | EFLAGS.CF : c === 0 ? EFLAGS.CF : c === 1 ? EFLAGS.ZF : 0;
  const fl =
    getFlags(cpu) & ~(EFLAGS.ZF | EFLAGS.PF | EFLAGS.CF | EFLAGS.OF | EFLAGS.SF | EFLAGS.AF);
  setFlags(cpu, fl | bits);
}

/** @internal CVTSI2SS/CVTSI2SD xmm, r/m32 or r/m64 (F3/F2 0F 2A). */
export function CVTSI2S(cpu: X86Cpu): void {
  if (cpu.rep < 2) cpu.ud();
  const fmt = cpu.rep === 3 ? F32 : F64;
  let v: bigint;
  if ((cpu.rex & 8) !== 0) {
    const lo = cpu.readE(64);
    v = BigInt.asIntN(64, (BigInt(cpu.tmpHi >>> 0) << 32n) | BigInt(lo >>> 0));
  } else v = BigInt(cpu.readE(32));
  FLAGS[0] = 0;
  const r = fromInt(fmt, v, cpu.fpu.mxcsr);
  finish(cpu);
  setLane(cpu, fmt, cpu.reg, 0, r);
}

/** @internal CVT(T)SS2SI/CVT(T)SD2SI r32/r64, xmm/m (F3/F2 0F 2C truncating, 2D rounding). */
export function CVTS2SI(cpu: X86Cpu): void {
  if (cpu.rep < 2) cpu.ud();
  const fmt = cpu.rep === 3 ? F32 : F64;
  const s = source(cpu, fmt, true);
  const width = (cpu.rex & 8) !== 0 ? 64 : 32;
  FLAGS[0] = 0;
  const r = toInt(fmt, lane(cpu, fmt, s, 0), width, (cpu.opcode & 0xff) === 0x2c, cpu.fpu.mxcsr);
  finish(cpu);
  cpu.setReg(width, cpu.reg, Number(r & 0xffffffffn) | 0, Number(r >> 32n) | 0);
}

/** @internal CVTPS2PD/CVTPD2PS/CVTSS2SD/CVTSD2SS (0F 5A by prefix). */
export function CVT5A(cpu: X86Cpu): void {
  const mx = cpu.fpu.mxcsr;
  const d = cpu.reg;
  FLAGS[0] = 0;
  switch (cpu.rep) {
    case 0: {
      const s = cpu.mod === 3 ? cpu.rm : srcQ(cpu);
      for (let i = 0; i < 2; i++)
        setLane(cpu, F64, TMP, i, convert(F32, F64, lane(cpu, F32, s, i), mx));
      finish(cpu);
      commit(cpu, d, 0, 4);
      return;
    }
    case 1: {
      const s = srcW(cpu, true);
      for (let i = 0; i < 2; i++)
        setLane(cpu, F32, TMP, i, convert(F64, F32, lane(cpu, F64, s, i), mx));
      setLane(cpu, F64, TMP, 1, 0n);
      finish(cpu);
      commit(cpu, d, 0, 4);
      return;
    }
    case 2: {
      const s = srcQ(cpu);
      setLane(cpu, F32, TMP, 0, convert(F64, F32, lane(cpu, F64, s, 0), mx));
      finish(cpu);
      commit(cpu, d, 0, 1);
      return;
    }
    default: {
      const s = srcD(cpu);
      setLane(cpu, F64, TMP, 0, convert(F32, F64, lane(cpu, F32, s, 0), mx));
      finish(cpu);
      commit(cpu, d, 0, 2);
    }
  }
}

/** @internal CVTDQ2PS (0F 5B), CVTPS2DQ (66 0F 5B), CVTTPS2DQ (F3 0F 5B). */
export function CVT5B(cpu: X86Cpu): void {
  if (cpu.rep === 2) cpu.ud();
  const s = srcW(cpu, true);
  const mx = cpu.fpu.mxcsr;
  FLAGS[0] = 0;
  for (let i = 0; i < 4; i++) {
    if (cpu.rep === 0) setLane(cpu, F32, TMP, i, fromInt(F32, BigInt(cpu.fpu.x[(s << 2) + i]), mx));
    else setLane(cpu, F32, TMP, i, toInt(F32, lane(cpu, F32, s, i), 32, cpu.rep === 3, mx));
  }
  finish(cpu);
  commit(cpu, cpu.reg, 0, 4);
}

/** @internal CVTTPD2DQ (66 0F E6), CVTPD2DQ (F2 0F E6), CVTDQ2PD (F3 0F E6). */
export function CVTE6(cpu: X86Cpu): void {
  if (cpu.rep === 0) cpu.ud();
  const mx = cpu.fpu.mxcsr;
  FLAGS[0] = 0;
  if (cpu.rep === 3) {
    const s = cpu.mod === 3 ? cpu.rm : srcQ(cpu);
    for (let i = 0; i < 2; i++)
      setLane(cpu, F64, TMP, i, fromInt(F64, BigInt(cpu.fpu.x[(s << 2) + i]), mx));
  } else {
    const s = srcW(cpu, true);
    for (let i = 0; i < 2; i++)
      setLane(cpu, F32, TMP, i, toInt(F64, lane(cpu, F64, s, i), 32, cpu.rep === 1, mx));
    setLane(cpu, F64, TMP, 1, 0n);
  }
  finish(cpu);
  commit(cpu, cpu.reg, 0, 4);
}

/**
 * @internal RCPPS/RCPSS (0F 53, F3 0F 53) and RSQRTPS/RSQRTSS (0F 52, F3 0F 52): the correctly
 * rounded 1/x and 1/√x in the current rounding mode (within the SDM's 1.5 × 2^-12 bound; real
 * processors return a table approximation), no MXCSR flags, as QEMU.
 */
export function RCP(cpu: X86Cpu): void {
  if (cpu.rep === 1 || cpu.rep === 2) cpu.ud();
  const scalar = cpu.rep === 3;
  const s = source(cpu, F32, scalar);
  const lanes = scalar ? 1 : 4;
  const mx = cpu.fpu.mxcsr | 0x1f80;
  const sqrt = (cpu.opcode & 0xff) === 0x52;
  for (let i = 0; i < lanes; i++) {
    let b = lane(cpu, F32, s, i);
    if (sqrt) b = arith(F32, OP.SQRT, 0n, b, mx);
    setLane(cpu, F32, TMP, i, arith(F32, OP.DIV, 0x3f800000n, b, mx));
  }
  commit(cpu, cpu.reg, 0, lanes);
}
