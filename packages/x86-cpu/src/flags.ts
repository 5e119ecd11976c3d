/**
 * Lazy EFLAGS. Arithmetic instructions on 8/16/32-bit operands record an operation kind and
 * its operands (`ccOp`, `ccDst`, `ccSrc`, `ccSrc2`, `ccSize`) instead of computing six flags;
 * the flags are materialized only when something reads them. The formulas, and the values
 * of the flags the SDM leaves undefined, follow QEMU TCG (target/i386/tcg/cc_helper_template.h).
 * 64-bit operations compute flags eagerly and set `ccOp = CC_EFLAGS`.
 */
import type { X86Cpu } from './cpu.ts';

/** The arithmetic flags (CF, PF, AF, ZF, SF, OF) that lazy evaluation can produce. */
export const ARITH_FLAGS = 0x8d5;

/** @internal Flags are all in `cpu.eflags`. */
export const CC_EFLAGS = 0;
/** @internal ADD-like: dst = result, src = second operand. */
export const CC_ADD = 1;
/** @internal ADC: src2 = carry in. */
export const CC_ADC = 2;
/** @internal SUB/CMP/NEG. */
export const CC_SUB = 3;
/** @internal SBB: src2 = borrow in. */
export const CC_SBB = 4;
/** @internal AND/OR/XOR/TEST: CF = OF = AF = 0. */
export const CC_LOGIC = 5;
/** @internal INC: src = previous CF. */
export const CC_INC = 6;
/** @internal DEC: src = previous CF. */
export const CC_DEC = 7;
/** @internal SHL/SAL: src = operand shifted by count - 1. */
export const CC_SHL = 8;
/** @internal SHR/SAR: src = operand shifted by count - 1. */
export const CC_SAR = 9;
/** @internal MUL/IMUL: src != 0 means CF = OF = 1. */
export const CC_MUL = 10;
/** @internal POPCNT: ZF from src (the input), all others clear. */
export const CC_POPCNT = 11;

/** @internal Parity flag (PF bit) for each byte value. */
export const PARITY: Uint8Array = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let b = i;
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    t[i] = (b & 1) === 0 ? 4 : 0;
  }
  return t;
})();

/** @internal Computes CF|PF|AF|ZF|SF|OF from the lazy state. */
export function computeArith(cpu: X86Cpu): number {
  const op = cpu.ccOp;
  if (op === CC_EFLAGS) return cpu.eflags & ARITH_FLAGS;
  const size = cpu.ccSize;
  const mask = size === 32 ? -1 : (1 << size) - 1;
  const sign = size === 32 ? -0x80000000 : 1 << (size - 1);
  const dst = cpu.ccDst & mask;
  const src = cpu.ccSrc;
  let cf = 0;
  let af = 0;
  let of = 0;
  switch (op) {
    case CC_ADD: {
      const s = src & mask;
      const src1 = (dst - s) & mask;
      cf = dst >>> 0 < src1 >>> 0 ? 1 : 0;
      af = (dst ^ s ^ src1) & 0x10;
      of = (~(src1 ^ s) & (src1 ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    }
    case CC_ADC: {
      const s = src & mask;
      const src1 = (dst - s - cpu.ccSrc2) & mask;
      cf = (cpu.ccSrc2 !== 0 ? dst >>> 0 <= src1 >>> 0 : dst >>> 0 < src1 >>> 0) ? 1 : 0;
      af = (dst ^ s ^ src1) & 0x10;
      of = (~(src1 ^ s) & (src1 ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    }
    case CC_SUB: {
      const s = src & mask;
      const src1 = (dst + s) & mask;
      cf = src1 >>> 0 < s >>> 0 ? 1 : 0;
      af = (dst ^ s ^ src1) & 0x10;
      of = ((src1 ^ s) & (src1 ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    }
    case CC_SBB: {
      const s = src & mask;
      const src1 = (dst + s + cpu.ccSrc2) & mask;
      cf = (cpu.ccSrc2 !== 0 ? src1 >>> 0 <= s >>> 0 : src1 >>> 0 < s >>> 0) ? 1 : 0;
      af = (dst ^ s ^ src1) & 0x10;
      of = ((src1 ^ s) & (src1 ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    }
    case CC_LOGIC:
      break;
    case CC_INC: {
      cf = src & 1;
      const src1 = (dst - 1) & mask;
      af = (dst ^ src1 ^ 1) & 0x10;
      of = dst === (sign & mask) ? 0x800 : 0;
      break;
    }
    case CC_DEC: {
      cf = src & 1;
      const src1 = (dst + 1) & mask;
      af = (dst ^ src1 ^ 1) & 0x10;
      of = dst === ((sign - 1) & mask) ? 0x800 : 0;
      break;
    }
    case CC_SHL:
      cf = (src >>> (size - 1)) & 1;
      of = ((src ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    case CC_SAR:
      cf = src & 1;
      of = ((src ^ dst) & sign) !== 0 ? 0x800 : 0;
      break;
    case CC_MUL:
      cf = src !== 0 ? 1 : 0;
      of = cf << 11;
      break;
    case CC_POPCNT:
      return (src & mask) === 0 ? 0x40 : 0;
  }
  return (
    cf | PARITY[dst & 0xff] | af | (dst === 0 ? 0x40 : 0) | ((dst & sign) !== 0 ? 0x80 : 0) | of
  );
}

/** @internal The full EFLAGS value (materializes the lazy arithmetic flags). */
export function getFlags(cpu: X86Cpu): number {
  if (cpu.ccOp === CC_EFLAGS) return cpu.eflags;
  return (cpu.eflags & ~ARITH_FLAGS) | computeArith(cpu);
}

/** @internal Replaces EFLAGS wholesale (bit 1 forced to one) and ends lazy evaluation. */
export function setFlags(cpu: X86Cpu, v: number): void {
  cpu.eflags = (v | 2) & ~0x28;
  cpu.ccOp = CC_EFLAGS;
}

/** @internal Reads CF without materializing the rest when possible. */
export function getCf(cpu: X86Cpu): number {
  // CF alone, without the other five flags: INC/DEC, ADC/SBB and CMC read it on every
  // execution (DESIGN.md "Hot loop": `inc ecx` 33 -> 45 MIPS on the micro-guest).
  switch (cpu.ccOp) {
    case CC_EFLAGS:
      return cpu.eflags & 1;
    case CC_INC:
    case CC_DEC:
    case CC_SAR:
      return cpu.ccSrc & 1;
    case CC_LOGIC:
    case CC_POPCNT:
      return 0;
    case CC_MUL:
      return cpu.ccSrc !== 0 ? 1 : 0;
    case CC_ADD: {
      const mask = cpu.ccSize === 32 ? -1 : (1 << cpu.ccSize) - 1;
      const dst = cpu.ccDst & mask;
      return dst >>> 0 < ((dst - (cpu.ccSrc & mask)) & mask) >>> 0 ? 1 : 0;
    }
    case CC_SUB: {
      const mask = cpu.ccSize === 32 ? -1 : (1 << cpu.ccSize) - 1;
      const s = cpu.ccSrc & mask;
      return ((cpu.ccDst + s) & mask) >>> 0 < s >>> 0 ? 1 : 0;
    }
    default:
      return computeArith(cpu) & 1;
  }
}

/**
 * @internal Evaluates condition code `cc` (0..15, the low nibble of Jcc/SETcc/CMOVcc).
 * @see Intel SDM Vol. 1 Appendix B
 */
export function testCond(cpu: X86Cpu, cc: number): boolean {
  const op = cpu.ccOp;
  // Fast paths (bench/x86-cpu/compute.bench.ts): ZF from the lazy result, and CMP/SUB
  // conditions straight from the operands, without materializing all six flags.
  if (op !== CC_EFLAGS && op !== CC_POPCNT && (cc === 4 || cc === 5)) {
    const size = cpu.ccSize;
    const zero = (size === 32 ? cpu.ccDst : cpu.ccDst & ((1 << size) - 1)) === 0;
    return cc === 4 ? zero : !zero;
  }
  if (op === CC_SUB && cpu.ccSize === 32) {
    const b = cpu.ccSrc;
    const a = (cpu.ccDst + b) | 0;
    switch (cc) {
      case 2:
        return a >>> 0 < b >>> 0;
      case 3:
        return a >>> 0 >= b >>> 0;
      case 6:
        return a >>> 0 <= b >>> 0;
      case 7:
        return a >>> 0 > b >>> 0;
      case 12:
        return a < b;
      case 13:
        return a >= b;
      case 14:
        return a <= b;
      case 15:
        return a > b;
    }
  }
  const f = computeArith(cpu);
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = (f & 0x800) !== 0;
      break;
    case 1:
      r = (f & 1) !== 0;
      break;
    case 2:
      r = (f & 0x40) !== 0;
      break;
    case 3:
      r = (f & 0x41) !== 0;
      break;
    case 4:
      r = (f & 0x80) !== 0;
      break;
    case 5:
      r = (f & 4) !== 0;
      break;
    case 6:
      r = ((f & 0x80) !== 0) !== ((f & 0x800) !== 0);
      break;
    default:
      r = (f & 0x40) !== 0 || ((f & 0x80) !== 0) !== ((f & 0x800) !== 0);
      break;
  }
  return (cc & 1) === 0 ? r : !r;
}
