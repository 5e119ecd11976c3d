/**
 * The x87 register stack: physical registers as 80-bit BigInt values, TOP, tags, stack
 * overflow/underflow (IE + SF with C1), condition codes and the merge of exception flags into
 * FSW (ES/B for unmasked ones, which #MF reports at the next waiting instruction).
 * @see Intel SDM Vol. 1 §8.1.3 (C0..C3), §8.1.7 (tags), §8.5.1.1 (stack fault), §8.7 (#MF)
 */
import type { X86Cpu } from '../cpu.ts';
import type { Fpu } from './fpu-state.ts';
import { defaultNan, F80, FLAGS, LAST_ROUND_UP } from './softfloat.ts';

/** @internal FSW condition-code bits. */
export const C0 = 0x100;
/** @internal C1. */
export const C1 = 0x200;
/** @internal C2. */
export const C2 = 0x400;
/** @internal C3. */
export const C3 = 0x4000;
/** @internal Stack fault. */
export const SF = 0x40;

/** @internal The x87 real indefinite (default QNaN). */
export const INDEFINITE: bigint = /* @__PURE__ */ defaultNan(F80);

/** @internal Physical register number of ST(i). */
export function phys(f: Fpu, i: number): number {
  return (f.top + i) & 7;
}

/** @internal True if ST(i) is empty. */
export function isEmpty(f: Fpu, i: number): boolean {
  return (f.ftw & (1 << phys(f, i))) === 0;
}

/** @internal The 80-bit value of physical register `p`. */
export function getPhys(f: Fpu, p: number): bigint {
  return (
    (BigInt(f.stSe[p] & 0xffff) << 64n) | (BigInt(f.stHi[p] >>> 0) << 32n) | BigInt(f.stLo[p] >>> 0)
  );
}

/** @internal Writes physical register `p` and tags it valid. */
export function setPhys(f: Fpu, p: number, v: bigint): void {
  f.stLo[p] = Number(v & 0xffffffffn) | 0;
  f.stHi[p] = Number((v >> 32n) & 0xffffffffn) | 0;
  f.stSe[p] = Number((v >> 64n) & 0xffffn);
  f.ftw |= 1 << p;
}

/** @internal ST(i) (the caller checked it is not empty). */
export function st(f: Fpu, i: number): bigint {
  return getPhys(f, phys(f, i));
}

/** @internal Writes ST(i). */
export function setSt(f: Fpu, i: number, v: bigint): void {
  setPhys(f, phys(f, i), v);
}

/** @internal Pops: tags ST(0) empty and increments TOP. */
export function pop(f: Fpu): void {
  f.ftw &= ~(1 << f.top);
  f.top = (f.top + 1) & 7;
}

/** @internal The pseudo-MXCSR that drives softfloat.ts for x87: rounding control and the underflow mask. */
export function x87Mode(f: Fpu): number {
  return (((f.fcw >> 10) & 3) << 13) | ((f.fcw & 0x10) !== 0 ? 0x800 : 0) | 0x1f80;
}

/**
 * @internal Merges {@link FLAGS} into FSW, sets C1 from the rounding direction when inexact,
 * and ES/B when an exception is unmasked. Returns false when an unmasked invalid, denormal or
 * divide-by-zero exception forbids writing the result.
 */
export function commitFlags(f: Fpu): boolean {
  const fl = FLAGS[0] & 0x3f;
  f.fsw |= fl;
  if ((fl & 0x20) !== 0) {
    if (LAST_ROUND_UP[0] !== 0) f.fsw |= C1;
    else f.fsw &= ~C1;
  }
  const unmasked = fl & ~f.fcw & 0x3f;
  if (unmasked !== 0) f.fsw |= 0x8080;
  return (unmasked & 0x7) === 0;
}

/**
 * @internal Stack underflow (an empty source register): IE + SF, C1 = 0. Returns true when
 * masked (the caller then delivers the indefinite), false when the instruction must stop.
 */
export function underflow(f: Fpu): boolean {
  f.fsw = (f.fsw | 0x1 | SF) & ~C1;
  if ((f.fcw & 0x1) === 0) {
    f.fsw |= 0x8080;
    return false;
  }
  return true;
}

/**
 * @internal Pushes `v`; a non-empty new ST(0) is a stack overflow (IE + SF, C1 = 1): masked,
 * the indefinite is pushed instead; unmasked, nothing changes. Returns false in that case.
 */
export function push(f: Fpu, v: bigint): boolean {
  const p = (f.top - 1) & 7;
  if ((f.ftw & (1 << p)) !== 0) {
    f.fsw |= 0x1 | SF | C1;
    if ((f.fcw & 0x1) === 0) {
      f.fsw |= 0x8080;
      return false;
    }
    v = INDEFINITE;
  }
  f.top = p;
  setPhys(f, p, v);
  return true;
}

/** @internal Clears FLAGS before an operation. */
export function beginOp(): void {
  FLAGS[0] = 0;
}

/** @internal Sets C3/C2/C0 from a comparison result (0 <, 1 =, 2 >, 3 unordered) and clears C1. */
export function setCompareCodes(f: Fpu, c: number): void {
  let v = f.fsw & ~(C0 | C1 | C2 | C3);
  if (c === 0) v |= C0;
  else if (c === 1) v |= C3;
  else if (c === 3) v |= C0 | C2 | C3;
  f.fsw = v;
}

/** @internal Reads the 80-bit memory operand at `off` bytes past the effective address. */
export function readM80(cpu: X86Cpu, off: number): bigint {
  const ea = off === 0 ? cpu.ea : cpu.eaPlus(off);
  const lo = cpu.read64(cpu.eaSeg, ea);
  const hi = cpu.tmpHi;
  const se = cpu.read(cpu.eaSeg, cpu.wrapAddr(ea + 8), 16);
  return (BigInt(se) << 64n) | (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** @internal Writes an 80-bit value at `off` bytes past the effective address. */
export function writeM80(cpu: X86Cpu, off: number, v: bigint): void {
  const ea = off === 0 ? cpu.ea : cpu.eaPlus(off);
  cpu.probeWrite(cpu.eaSeg, ea, 10);
  cpu.write64(cpu.eaSeg, ea, Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
  cpu.write(cpu.eaSeg, cpu.wrapAddr(ea + 8), 16, Number((v >> 64n) & 0xffffn));
}

/** @internal The full 2-bit tag of physical register `p` (valid, zero, special, empty). */
export function fullTag(f: Fpu, p: number): number {
  if ((f.ftw & (1 << p)) === 0) return 3;
  const exp = f.stSe[p] & 0x7fff;
  const j = f.stHi[p] >>> 31;
  if (exp === 0) return f.stHi[p] === 0 && f.stLo[p] === 0 ? 1 : 2;
  if (exp === 0x7fff || j === 0) return 2;
  return 0;
}
