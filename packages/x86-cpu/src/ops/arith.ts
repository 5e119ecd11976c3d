/**
 * Integer arithmetic: the eight ALU forms and Grp1, INC/DEC, Grp3 (TEST/NOT/NEG/MUL/IMUL/
 * DIV/IDIV), IMUL two/three-operand, CMPXCHG/CMPXCHG8B/16B, XADD, BCD (DAA/DAS/AAA/AAS/AAM/
 * AAD), CBW/CWDE/CDQE and CWD/CDQ/CQO.
 * @see Intel SDM Vol. 2A/2B, the instruction pages of each mnemonic
 */
import { VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import {
  CC_DEC,
  CC_EFLAGS,
  CC_INC,
  CC_LOGIC,
  CC_MUL,
  CC_SUB,
  computeArith,
  getCf,
  getFlags,
  PARITY,
} from '../flags.ts';
import { divU64by32, mulS32, mulS64, mulU32, mulU64, W } from '../internal/wide.ts';
import { alu, alu64, aluE, aluG, big, maskOf, setFlags64i, unbig } from './alu.ts';

/** @internal `op Eb,Gb` … `op eAX,Iz` for opcodes 00..3D (kind = opcode bits 5..3). */
export function ALU_form(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const kind = (op >> 3) & 7;
  const osize = cpu.osize;
  switch (op & 7) {
    case 0: {
      const b = cpu.getReg(8, cpu.reg);
      aluE(cpu, kind, 8, b, 0);
      return;
    }
    case 1: {
      if (osize === 32) {
        aluE(cpu, kind, 32, cpu.lo[cpu.reg], 0);
        return;
      }
      const b = cpu.getReg(osize, cpu.reg);
      aluE(cpu, kind, osize, b, cpu.tmpHi);
      return;
    }
    case 2: {
      const b = cpu.readE(8);
      aluG(cpu, kind, 8, cpu.reg, b, 0);
      return;
    }
    case 3: {
      const b = cpu.readE(osize);
      aluG(cpu, kind, osize, cpu.reg, b, cpu.tmpHi);
      return;
    }
    case 4:
      aluG(cpu, kind, 8, 0, cpu.imm, 0);
      return;
    default:
      aluG(cpu, kind, osize, 0, cpu.imm, cpu.imm >> 31);
  }
}

/** @internal Grp1 `op Eb,Ib` (80, 82). */
export function GRP1_EbIb(cpu: X86Cpu): void {
  aluE(cpu, cpu.reg & 7, 8, cpu.imm, 0);
}

/** @internal Grp1 `op Ev,Iz` (81) and `op Ev,Ib` (83, sign-extended). */
export function GRP1_EvI(cpu: X86Cpu): void {
  aluE(cpu, cpu.reg & 7, cpu.osize, cpu.imm, cpu.imm >> 31);
}

/** @internal TEST Eb,Gb / Ev,Gv / AL,Ib / eAX,Iz. */
export function TEST_form(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 8 : cpu.osize;
  let alo: number;
  let ahi = 0;
  let blo: number;
  let bhi = 0;
  if (op === 0x84 || op === 0x85) {
    alo = cpu.readE(size);
    ahi = cpu.tmpHi;
    blo = cpu.getReg(size, cpu.reg);
    bhi = cpu.tmpHi;
  } else {
    alo = cpu.getReg(size, 0);
    ahi = cpu.tmpHi;
    blo = cpu.imm;
    bhi = cpu.imm >> 31;
  }
  if (size === 64) alu64(cpu, 4, alo, ahi, blo, bhi);
  else alu(cpu, 4, size, alo, blo);
}

function incDec(cpu: X86Cpu, size: number, v: number, vhi: number, dec: boolean): number {
  if (size === 64) {
    const cf = getCf(cpu);
    const r = alu64(cpu, dec ? 5 : 0, v, vhi, 1, 0);
    cpu.eflags = (cpu.eflags & ~1) | cf;
    return r;
  }
  const cf = getCf(cpu);
  const r = (dec ? v - 1 : v + 1) & maskOf(size);
  cpu.ccOp = dec ? CC_DEC : CC_INC;
  cpu.ccDst = r;
  cpu.ccSrc = cf;
  cpu.ccSize = size;
  return r;
}

/** @internal INC/DEC r16/r32 (40..4F outside 64-bit mode). */
export function INCDEC_Zv(cpu: X86Cpu): void {
  const r = cpu.opcode & 7;
  const size = cpu.osize;
  const v = incDec(cpu, size, cpu.getReg(size, r), 0, cpu.opcode >= 0x48);
  cpu.setReg(size, r, v, 0);
}

/** @internal Grp4 (FE): INC/DEC Eb. */
export function GRP4_Eb(cpu: X86Cpu): void {
  const r = cpu.reg & 7;
  if (r > 1) cpu.ud();
  const v = incDec(cpu, 8, cpu.readE(8), 0, r === 1);
  cpu.writeE(8, v, 0);
}

/** @internal Grp5 /0 /1: INC/DEC Ev. */
export function INCDEC_Ev(cpu: X86Cpu): void {
  const size = cpu.osize;
  const v = cpu.readE(size);
  const r = incDec(cpu, size, v, cpu.tmpHi, (cpu.reg & 7) === 1);
  cpu.writeE(size, r, cpu.tmpHi);
}

/** @internal Grp3 (F6/F7): TEST, NOT, NEG, MUL, IMUL, DIV, IDIV. */
export function GRP3(cpu: X86Cpu): void {
  const size = (cpu.opcode & 1) === 0 ? 8 : cpu.osize;
  const r = cpu.reg & 7;
  const v = cpu.readE(size);
  const vhi = cpu.tmpHi;
  switch (r) {
    case 0:
    case 1:
      if (size === 64) alu64(cpu, 4, v, vhi, cpu.imm, cpu.imm >> 31);
      else alu(cpu, 4, size, v, cpu.imm);
      return;
    case 2:
      if (size === 64) cpu.writeE(64, ~v, ~vhi);
      else cpu.writeE(size, ~v & maskOf(size), 0);
      return;
    case 3:
      if (size === 64) {
        const res = alu64(cpu, 5, 0, 0, v, vhi);
        cpu.writeE(64, res, cpu.tmpHi);
      } else {
        const res = alu(cpu, 5, size, 0, v);
        cpu.writeE(size, res, 0);
      }
      return;
    case 4:
    case 5:
      mulAcc(cpu, size, v, vhi, r === 5);
      return;
    default:
      divAcc(cpu, size, v, vhi, r === 7);
  }
}

/** MUL/IMUL with the accumulator (one-operand forms). */
function mulAcc(cpu: X86Cpu, size: number, v: number, vhi: number, signed: boolean): void {
  if (size === 8) {
    const a = cpu.lo[0] & 0xff;
    const res = signed ? ((a << 24) >> 24) * ((v << 24) >> 24) : a * v;
    cpu.lo[0] = (cpu.lo[0] & ~0xffff) | (res & 0xffff);
    cpu.ccDst = res & 0xff;
    cpu.ccSrc = signed ? (res !== (res << 24) >> 24 ? 1 : 0) : res & 0xff00;
  } else if (size === 16) {
    const a = cpu.lo[0] & 0xffff;
    const res = signed ? ((a << 16) >> 16) * ((v << 16) >> 16) : a * v;
    cpu.lo[0] = (cpu.lo[0] & ~0xffff) | (res & 0xffff);
    cpu.lo[2] = (cpu.lo[2] & ~0xffff) | ((res >> 16) & 0xffff);
    cpu.ccDst = res & 0xffff;
    cpu.ccSrc = signed ? (res !== (res << 16) >> 16 ? 1 : 0) : (res >> 16) & 0xffff;
  } else if (size === 32) {
    // 32 x 32 -> 64 on int32 halves (src/internal/wide.ts), no BigInt.
    if (signed) mulS32(cpu.lo[0], v);
    else mulU32(cpu.lo[0], v);
    const lo = W[0];
    const hi = W[1];
    cpu.setReg(32, 0, lo, 0);
    cpu.setReg(32, 2, hi, 0);
    cpu.ccDst = lo;
    cpu.ccSrc = signed ? (hi !== lo >> 31 ? 1 : 0) : hi;
  } else {
    if (signed) mulS64(cpu.lo[0], cpu.hi[0], v, vhi);
    else mulU64(cpu.lo[0], cpu.hi[0], v, vhi);
    const lo = W[0];
    const hi = W[1];
    const hlo = W[2];
    const hhi = W[3];
    cpu.setReg(64, 0, lo, hi);
    cpu.setReg(64, 2, hlo, hhi);
    const overflow = signed ? hlo !== hi >> 31 || hhi !== hi >> 31 : (hlo | hhi) !== 0;
    setFlags64i(cpu, lo, hi, overflow ? 1 : 0);
    return;
  }
  cpu.ccOp = CC_MUL;
  cpu.ccSize = size;
}

/** DIV/IDIV of the accumulator pair; #DE on divide by zero or quotient overflow. Flags unchanged (as QEMU). */
function divAcc(cpu: X86Cpu, size: number, v: number, vhi: number, signed: boolean): void {
  if (size === 32 && !signed) {
    // Unsigned EDX:EAX / r32 on doubles (src/internal/wide.ts), no BigInt.
    if (v === 0 || cpu.lo[2] >>> 0 >= v >>> 0) cpu.fault(VECTOR.DE, -1);
    divU64by32(cpu.lo[0], cpu.lo[2], v);
    cpu.setReg(32, 0, W[0], 0);
    cpu.setReg(32, 2, W[1], 0);
    return;
  }
  if (size === 64 && !signed && cpu.hi[2] === 0 && vhi === 0 && cpu.lo[2] >>> 0 < v >>> 0) {
    // RDX:RAX / r64 with a divisor below 2^32 and RDX < divisor: two 64/32 steps.
    divU64by32(cpu.hi[0], cpu.lo[2], v);
    const qhi = W[0];
    divU64by32(cpu.lo[0], W[1], v);
    cpu.setReg(64, 0, W[0], qhi);
    cpu.setReg(64, 2, W[1], 0);
    return;
  }
  let dividend: bigint;
  let divisor: bigint;
  if (size === 8) {
    dividend = BigInt(cpu.lo[0] & 0xffff);
    divisor = BigInt(v & 0xff);
    if (signed) {
      dividend = BigInt.asIntN(16, dividend);
      divisor = BigInt.asIntN(8, divisor);
    }
  } else if (size === 16) {
    dividend = BigInt((((cpu.lo[2] & 0xffff) << 16) | (cpu.lo[0] & 0xffff)) >>> 0);
    divisor = BigInt(v & 0xffff);
    if (signed) {
      dividend = BigInt.asIntN(32, dividend);
      divisor = BigInt.asIntN(16, divisor);
    }
  } else if (size === 32) {
    dividend = big(cpu.lo[0], cpu.lo[2]);
    divisor = BigInt(v >>> 0);
    if (signed) {
      dividend = BigInt.asIntN(64, dividend);
      divisor = BigInt.asIntN(32, divisor);
    }
  } else {
    dividend = (big(cpu.lo[2], cpu.hi[2]) << 64n) | big(cpu.lo[0], cpu.hi[0]);
    divisor = big(v, vhi);
    if (signed) {
      dividend = BigInt.asIntN(128, dividend);
      divisor = BigInt.asIntN(64, divisor);
    }
  }
  if (divisor === 0n) cpu.fault(VECTOR.DE, -1);
  const q = dividend / divisor;
  const rem = dividend % divisor;
  const fits = signed ? BigInt.asIntN(size, q) === q : BigInt.asUintN(size, q) === q;
  if (!fits) cpu.fault(VECTOR.DE, -1);
  if (size === 8) {
    cpu.lo[0] =
      (cpu.lo[0] & ~0xffff) |
      (Number(BigInt.asUintN(8, q)) | (Number(BigInt.asUintN(8, rem)) << 8));
  } else if (size === 16) {
    cpu.setReg(16, 0, Number(BigInt.asUintN(16, q)), 0);
    cpu.setReg(16, 2, Number(BigInt.asUintN(16, rem)), 0);
  } else if (size === 32) {
    cpu.setReg(32, 0, Number(BigInt.asIntN(32, q)), 0);
    cpu.setReg(32, 2, Number(BigInt.asIntN(32, rem)), 0);
  } else {
    const ql = unbig(cpu, q);
    cpu.setReg(64, 0, ql, cpu.tmpHi);
    const rl = unbig(cpu, rem);
    cpu.setReg(64, 2, rl, cpu.tmpHi);
  }
}

function imulCommon(
  cpu: X86Cpu,
  size: number,
  a: number,
  ahi: number,
  b: number,
  bhi: number,
): void {
  if (size === 64) {
    mulS64(a, ahi, b, bhi);
    const lo = W[0];
    const hi = W[1];
    const overflow = W[2] !== hi >> 31 || W[3] !== hi >> 31;
    setFlags64i(cpu, lo, hi, overflow ? 1 : 0);
    cpu.setReg(64, cpu.reg, lo, hi);
    return;
  }
  let lo: number;
  let ovf: number;
  if (size === 16) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    lo = p & 0xffff;
    ovf = p !== (p << 16) >> 16 ? 1 : 0;
  } else {
    lo = Math.imul(a, b);
    // The double product is exact near the int32 range, so this overflow test is exact.
    const p = (a | 0) * (b | 0);
    ovf = p > 2147483647 || p < -2147483648 ? 1 : 0;
  }
  cpu.setReg(size, cpu.reg, lo, 0);
  cpu.ccOp = CC_MUL;
  cpu.ccDst = lo;
  cpu.ccSrc = ovf;
  cpu.ccSize = size;
}

/** @internal IMUL Gv,Ev (0F AF). */
export function IMUL_GvEv(cpu: X86Cpu): void {
  const size = cpu.osize;
  const b = cpu.readE(size);
  const bhi = cpu.tmpHi;
  const a = cpu.getReg(size, cpu.reg);
  imulCommon(cpu, size, a, cpu.tmpHi, b, bhi);
}

/** @internal IMUL Gv,Ev,Iz (69) and IMUL Gv,Ev,Ib (6B). */
export function IMUL_GvEvI(cpu: X86Cpu): void {
  const size = cpu.osize;
  const a = cpu.readE(size);
  imulCommon(cpu, size, a, cpu.tmpHi, cpu.imm, cpu.imm >> 31);
}

/** @internal CMPXCHG Eb,Gb / Ev,Gv (0F B0/B1). */
export function CMPXCHG_EG(cpu: X86Cpu): void {
  const size = cpu.opcode === 0x1b0 ? 8 : cpu.osize;
  const dst = cpu.readE(size);
  const dhi = cpu.tmpHi;
  const acc = cpu.getReg(size, 0);
  const ahi = cpu.tmpHi;
  if (size === 64) alu64(cpu, 7, acc, ahi, dst, dhi);
  else alu(cpu, 7, size, acc, dst);
  const equal = size === 64 ? acc === dst && ahi === dhi : acc === dst;
  if (equal) {
    const s = cpu.getReg(size, cpu.reg);
    cpu.writeE(size, s, cpu.tmpHi);
  } else {
    // The destination is written back unchanged (a locked RMW), then the accumulator loaded.
    cpu.writeE(size, dst, dhi);
    cpu.setReg(size, 0, dst, dhi);
  }
}

/** @internal Grp9 /1: CMPXCHG8B / CMPXCHG16B Mq/Mdq (0F C7 /1). */
export function CMPXCHG8B(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  const seg = cpu.eaSeg;
  const ea = cpu.ea;
  const flags = getFlags(cpu);
  if (cpu.osize === 64) {
    if (ea % 16 !== 0) cpu.gp(0);
    const l0 = cpu.read64(seg, ea);
    const h0 = cpu.tmpHi;
    const l1 = cpu.read64(seg, cpu.eaPlus(8));
    const h1 = cpu.tmpHi;
    cpu.probeWrite(seg, ea, 16);
    if (l0 === cpu.lo[0] && h0 === cpu.hi[0] && l1 === cpu.lo[2] && h1 === cpu.hi[2]) {
      cpu.write64(seg, ea, cpu.lo[3], cpu.hi[3]);
      cpu.write64(seg, cpu.eaPlus(8), cpu.lo[1], cpu.hi[1]);
      cpu.eflags = flags | 0x40;
    } else {
      cpu.write64(seg, ea, l0, h0);
      cpu.write64(seg, cpu.eaPlus(8), l1, h1);
      cpu.setReg(64, 0, l0, h0);
      cpu.setReg(64, 2, l1, h1);
      cpu.eflags = flags & ~0x40;
    }
  } else {
    const lo = cpu.read(seg, ea, 32);
    const hi = cpu.read(seg, cpu.eaPlus(4), 32);
    cpu.probeWrite(seg, ea, 8);
    if (lo === cpu.lo[0] && hi === cpu.lo[2]) {
      cpu.write(seg, ea, 32, cpu.lo[3]);
      cpu.write(seg, cpu.eaPlus(4), 32, cpu.lo[1]);
      cpu.eflags = flags | 0x40;
    } else {
      cpu.write(seg, ea, 32, lo);
      cpu.write(seg, cpu.eaPlus(4), 32, hi);
      cpu.setReg(32, 0, lo, 0);
      cpu.setReg(32, 2, hi, 0);
      cpu.eflags = flags & ~0x40;
    }
  }
  cpu.ccOp = CC_EFLAGS;
}

/** @internal XADD Eb,Gb / Ev,Gv (0F C0/C1). */
export function XADD_EG(cpu: X86Cpu): void {
  const size = cpu.opcode === 0x1c0 ? 8 : cpu.osize;
  const d = cpu.readE(size);
  const dhi = cpu.tmpHi;
  const s = cpu.getReg(size, cpu.reg);
  const shi = cpu.tmpHi;
  const r = size === 64 ? alu64(cpu, 0, d, dhi, s, shi) : alu(cpu, 0, size, d, s);
  const rhi = cpu.tmpHi;
  cpu.writeE(size, r, rhi);
  if (cpu.mod !== 3 || cpu.rm !== cpu.reg) cpu.setReg(size, cpu.reg, d, dhi);
  else cpu.setReg(size, cpu.rm, r, rhi);
}

function setArith(cpu: X86Cpu, arith: number): void {
  cpu.eflags = (getFlags(cpu) & ~0x8d5) | arith;
  cpu.ccOp = CC_EFLAGS;
}

/** @internal DAA (27) and DAS (2F), flags as QEMU's helper_daa/helper_das. */
export function DAA_DAS(cpu: X86Cpu): void {
  const f = computeArith(cpu);
  const cf0 = f & 1;
  const af0 = f & 0x10;
  const old = cpu.lo[0] & 0xff;
  let al = old;
  let cf = 0;
  let af = 0;
  if (cpu.opcode === 0x27) {
    if ((al & 0xf) > 9 || af0 !== 0) {
      al = (al + 6) & 0xff;
      af = 0x10;
    }
    if (old > 0x99 || cf0 !== 0) {
      al = (al + 0x60) & 0xff;
      cf = 1;
    }
  } else {
    if ((al & 0xf) > 9 || af0 !== 0) {
      cf = old < 6 || cf0 !== 0 ? 1 : 0;
      al = (al - 6) & 0xff;
      af = 0x10;
    }
    if (old > 0x99 || cf0 !== 0) {
      al = (al - 0x60) & 0xff;
      cf = 1;
    }
  }
  cpu.lo[0] = (cpu.lo[0] & ~0xff) | al;
  setArith(cpu, cf | af | PARITY[al] | (al === 0 ? 0x40 : 0) | (al & 0x80));
}

/** @internal AAA (37) and AAS (3F), flags as QEMU's helper_aaa/helper_aas. */
export function AAA_AAS(cpu: X86Cpu): void {
  const f = computeArith(cpu);
  let al = cpu.lo[0] & 0xff;
  let ah = (cpu.lo[0] >> 8) & 0xff;
  const adjust = (al & 0xf) > 9 || (f & 0x10) !== 0;
  if (adjust) {
    if (cpu.opcode === 0x37) {
      const icarry = al > 0xf9 ? 1 : 0;
      al = (al + 6) & 0xf;
      ah = (ah + 1 + icarry) & 0xff;
    } else {
      const icarry = al < 6 ? 1 : 0;
      al = (al - 6) & 0xf;
      ah = (ah - 1 - icarry) & 0xff;
    }
  } else al &= 0xf;
  cpu.lo[0] = (cpu.lo[0] & ~0xffff) | (ah << 8) | al;
  setArith(cpu, (f & ~0x11) | (adjust ? 0x11 : 0));
}

/** @internal AAM Ib (D4): #DE when the base is zero. */
export function AAM(cpu: X86Cpu): void {
  const base = cpu.imm & 0xff;
  if (base === 0) cpu.fault(VECTOR.DE, -1);
  const al0 = cpu.lo[0] & 0xff;
  const ah = (al0 / base) | 0;
  const al = al0 % base;
  cpu.lo[0] = (cpu.lo[0] & ~0xffff) | (ah << 8) | al;
  cpu.ccOp = CC_LOGIC;
  cpu.ccDst = al;
  cpu.ccSrc = 0;
  cpu.ccSize = 8;
}

/** @internal AAD Ib (D5). */
export function AAD(cpu: X86Cpu): void {
  const base = cpu.imm & 0xff;
  const al = ((cpu.lo[0] & 0xff) + ((cpu.lo[0] >> 8) & 0xff) * base) & 0xff;
  cpu.lo[0] = (cpu.lo[0] & ~0xffff) | al;
  cpu.ccOp = CC_LOGIC;
  cpu.ccDst = al;
  cpu.ccSrc = 0;
  cpu.ccSize = 8;
}

/** @internal CBW/CWDE/CDQE (98). */
export function CBW(cpu: X86Cpu): void {
  switch (cpu.osize) {
    case 16:
      cpu.setReg(16, 0, (cpu.lo[0] << 24) >> 24, 0);
      return;
    case 32:
      cpu.setReg(32, 0, (cpu.lo[0] << 16) >> 16, 0);
      return;
    default:
      cpu.setReg(64, 0, cpu.lo[0], cpu.lo[0] >> 31);
  }
}

/** @internal CWD/CDQ/CQO (99). */
export function CWD(cpu: X86Cpu): void {
  switch (cpu.osize) {
    case 16:
      cpu.setReg(16, 2, (cpu.lo[0] << 16) >> 31, 0);
      return;
    case 32:
      cpu.setReg(32, 2, cpu.lo[0] >> 31, 0);
      return;
    default: {
      const s = cpu.hi[0] >> 31;
      cpu.setReg(64, 2, s, s);
    }
  }
}

/** @internal CMP used by CMPS/SCAS (exported for the string unit). */
export function cmpFlags(
  cpu: X86Cpu,
  size: number,
  a: number,
  ahi: number,
  b: number,
  bhi: number,
): void {
  if (size === 64) alu64(cpu, 7, a, ahi, b, bhi);
  else {
    const m = maskOf(size);
    cpu.ccOp = CC_SUB;
    cpu.ccDst = (a - b) & m;
    cpu.ccSrc = b;
    cpu.ccSize = size;
  }
}
