/**
 * ALU cores shared by the instruction handlers: add, or, adc, sbb, and, sub, xor, cmp on
 * 8/16/32-bit operands (lazy flags) and on 64-bit operands (lo/hi halves, eager flags).
 * @see Intel SDM Vol. 2 (ADD, ADC, SUB, SBB, AND, OR, XOR, CMP)
 */
import type { X86Cpu } from '../cpu.ts';
import {
  ARITH_FLAGS,
  CC_ADC,
  CC_ADD,
  CC_EFLAGS,
  CC_LOGIC,
  CC_SBB,
  CC_SUB,
  getCf,
  getFlags,
  PARITY,
} from '../flags.ts';

/** @internal Operand mask for 8/16/32 bits. */
export function maskOf(size: number): number {
  return size === 8 ? 0xff : size === 16 ? 0xffff : -1;
}

/** @internal One ALU operation on 8/16/32-bit operands; returns the result (masked). */
export function alu(cpu: X86Cpu, kind: number, size: number, a: number, b: number): number {
  const m = maskOf(size);
  let r: number;
  let op: number;
  switch (kind) {
    case 0:
      r = (a + b) & m;
      op = CC_ADD;
      break;
    case 1:
      r = (a | b) & m;
      op = CC_LOGIC;
      break;
    case 2: {
      const c = getCf(cpu);
      r = (a + b + c) & m;
      cpu.ccSrc2 = c;
      op = CC_ADC;
      break;
    }
    case 3: {
      const c = getCf(cpu);
      r = (a - b - c) & m;
      cpu.ccSrc2 = c;
      op = CC_SBB;
      break;
    }
    case 4:
      r = a & b & m;
      op = CC_LOGIC;
      break;
    case 6:
      r = (a ^ b) & m;
      op = CC_LOGIC;
      break;
    default:
      r = (a - b) & m;
      op = CC_SUB;
      break;
  }
  cpu.ccOp = op;
  cpu.ccDst = r;
  cpu.ccSrc = b;
  cpu.ccSize = size;
  return r;
}

const M64 = 0xffffffffffffffffn;

/** @internal Joins halves into an unsigned BigInt. */
export function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** @internal Splits an unsigned/signed BigInt: returns the low half, high half in `cpu.tmpHi`. */
export function unbig(cpu: X86Cpu, v: bigint): number {
  const u = v & M64;
  cpu.tmpHi = Number(u >> 32n) | 0;
  return Number(u & 0xffffffffn) | 0;
}

/** @internal Sets eager flags for a 64-bit result. */
export function setFlags64(cpu: X86Cpu, res: bigint, cf: number, of: number, af: number): void {
  const flags = getFlags(cpu) & ~ARITH_FLAGS;
  const r = res & M64;
  cpu.eflags =
    flags |
    cf |
    PARITY[Number(r & 0xffn)] |
    (af !== 0 ? 0x10 : 0) |
    (r === 0n ? 0x40 : 0) |
    (r >> 63n !== 0n ? 0x80 : 0) |
    (of !== 0 ? 0x800 : 0);
  cpu.ccOp = CC_EFLAGS;
}

/** @internal Eager flags of a 64-bit multiply result (int32 halves): CF = OF = `ovf`, AF cleared. */
export function setFlags64i(cpu: X86Cpu, lo: number, hi: number, ovf: number): void {
  cpu.eflags =
    (getFlags(cpu) & ~ARITH_FLAGS) |
    ovf |
    PARITY[lo & 0xff] |
    ((lo | hi) === 0 ? 0x40 : 0) |
    (hi < 0 ? 0x80 : 0) |
    (ovf << 11);
  cpu.ccOp = CC_EFLAGS;
}

/**
 * @internal One ALU operation on 64-bit operands as int32 halves (no BigInt; flags eager);
 * returns the low half, high half in `tmpHi`.
 */
export function alu64(
  cpu: X86Cpu,
  kind: number,
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
): number {
  let rlo: number;
  let rhi: number;
  let cf = 0;
  let of = 0;
  let af = 0;
  switch (kind) {
    case 0:
    case 2: {
      const c = kind === 2 ? getCf(cpu) : 0;
      const lo = (alo >>> 0) + (blo >>> 0) + c;
      const carryLo = lo > 0xffffffff ? 1 : 0;
      const hi = (ahi >>> 0) + (bhi >>> 0) + carryLo;
      rlo = lo | 0;
      rhi = hi | 0;
      cf = hi > 0xffffffff ? 1 : 0;
      of = ((ahi ^ rhi) & (bhi ^ rhi)) < 0 ? 1 : 0;
      af = (alo ^ blo ^ rlo) & 0x10;
      break;
    }
    case 3:
    case 5:
    case 7: {
      const c = kind === 3 ? getCf(cpu) : 0;
      const lo = (alo >>> 0) - (blo >>> 0) - c;
      const borrowLo = lo < 0 ? 1 : 0;
      const hi = (ahi >>> 0) - (bhi >>> 0) - borrowLo;
      rlo = lo | 0;
      rhi = hi | 0;
      cf = hi < 0 ? 1 : 0;
      of = ((ahi ^ bhi) & (ahi ^ rhi)) < 0 ? 1 : 0;
      af = (alo ^ blo ^ rlo) & 0x10;
      break;
    }
    case 1:
      rlo = alo | blo;
      rhi = ahi | bhi;
      break;
    case 4:
      rlo = alo & blo;
      rhi = ahi & bhi;
      break;
    default:
      rlo = alo ^ blo;
      rhi = ahi ^ bhi;
      break;
  }
  // Non-arithmetic EFLAGS bits are always current in cpu.eflags, even while flags are lazy.
  cpu.eflags =
    (cpu.eflags & ~ARITH_FLAGS) |
    cf |
    PARITY[rlo & 0xff] |
    (af !== 0 ? 0x10 : 0) |
    ((rlo | rhi) === 0 ? 0x40 : 0) |
    (rhi < 0 ? 0x80 : 0) |
    (of !== 0 ? 0x800 : 0);
  cpu.ccOp = CC_EFLAGS;
  cpu.tmpHi = rhi;
  return rlo;
}

/** @internal Applies ALU `kind` to operand E with source (blo, bhi), writing back unless CMP. */
export function aluE(cpu: X86Cpu, kind: number, size: number, blo: number, bhi: number): void {
  if (size === 64) {
    const alo = cpu.readE(64);
    const r = alu64(cpu, kind, alo, cpu.tmpHi, blo, bhi);
    if (kind !== 7) cpu.writeE(64, r, cpu.tmpHi);
    return;
  }
  if (size === 32 && cpu.mod === 3) {
    // Register destination, 32 bits: no getReg/setReg calls (DESIGN.md "Hot loop").
    const rm = cpu.rm;
    const r = alu(cpu, kind, 32, cpu.lo[rm], blo);
    if (kind !== 7) {
      cpu.lo[rm] = r;
      cpu.hi[rm] = 0;
    }
    return;
  }
  const a = cpu.readE(size);
  const r = alu(cpu, kind, size, a, blo);
  if (kind !== 7) cpu.writeE(size, r, 0);
}

/** @internal Applies ALU `kind` to register `reg` with source (blo, bhi). */
export function aluG(
  cpu: X86Cpu,
  kind: number,
  size: number,
  reg: number,
  blo: number,
  bhi: number,
): void {
  if (size === 32) {
    const r = alu(cpu, kind, 32, cpu.lo[reg], blo);
    if (kind !== 7) {
      cpu.lo[reg] = r;
      cpu.hi[reg] = 0;
    }
    return;
  }
  const alo = cpu.getReg(size, reg);
  if (size === 64) {
    const r = alu64(cpu, kind, alo, cpu.tmpHi, blo, bhi);
    if (kind !== 7) cpu.setReg(64, reg, r, cpu.tmpHi);
    return;
  }
  const r = alu(cpu, kind, size, alo, blo);
  if (kind !== 7) cpu.setReg(size, reg, r, 0);
}
