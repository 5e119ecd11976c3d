/**
 * Data movement, stack and bit instructions: MOV (all forms), MOVZX/MOVSX/MOVSXD, MOVBE, LEA,
 * XCHG, CMOVcc, SETcc, LAHF/SAHF, XLAT, LDS/LES/LSS/LFS/LGS, PUSH/POP (all forms), PUSHA/POPA,
 * PUSHF/POPF, ENTER/LEAVE, BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT, BSWAP.
 * @see Intel SDM Vol. 2, the instruction pages of each mnemonic
 */
import { EFLAGS, SEG } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { CC_EFLAGS, CC_LOGIC, CC_POPCNT, getFlags, setFlags, testCond } from '../flags.ts';
import { maskOf } from './alu.ts';

const TWO32 = 4294967296;

/** @internal MOV Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev (88..8B). */
export function MOV_form(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 8 : cpu.osize;
  if (size === 32) {
    // 32-bit register side inline (DESIGN.md "Hot loop").
    const reg = cpu.reg;
    if (op < 0x8a) cpu.writeE(32, cpu.lo[reg], 0);
    else {
      cpu.lo[reg] = cpu.readE(32);
      cpu.hi[reg] = 0;
    }
    return;
  }
  if (op < 0x8a) {
    const v = cpu.getReg(size, cpu.reg);
    cpu.writeE(size, v, cpu.tmpHi);
  } else {
    const v = cpu.readE(size);
    cpu.setReg(size, cpu.reg, v, cpu.tmpHi);
  }
}

/** @internal MOV Eb,Ib / Ev,Iz (C6 /0, C7 /0). */
export function MOV_EI(cpu: X86Cpu): void {
  if ((cpu.reg & 7) !== 0) cpu.ud();
  const size = cpu.opcode === 0xc6 ? 8 : cpu.osize;
  cpu.writeE(size, cpu.imm, cpu.imm >> 31);
}

/** @internal MOV r8,Ib (B0..B7) and MOV r,Iv (B8..BF). */
export function MOV_ZI(cpu: X86Cpu): void {
  const r = (cpu.opcode & 7) | ((cpu.rex & 1) << 3);
  if (cpu.opcode < 0xb8) cpu.setReg(8, r, cpu.imm, 0);
  else cpu.setReg(cpu.osize, r, cpu.imm, cpu.immHi);
}

/** @internal MOV AL/eAX,moffs and moffs,AL/eAX (A0..A3). */
export function MOV_moffs(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 8 : cpu.osize;
  cpu.mod = 0;
  if (op < 0xa2) {
    const v = cpu.readE(size);
    cpu.setReg(size, 0, v, cpu.tmpHi);
  } else {
    const v = cpu.getReg(size, 0);
    cpu.writeE(size, v, cpu.tmpHi);
  }
}

/** @internal MOV Ew,Sreg (8C). */
export function MOV_EwSw(cpu: X86Cpu): void {
  const s = cpu.reg & 7;
  if (s > 5) cpu.ud();
  const v = cpu.segSel[s];
  if (cpu.mod === 3) cpu.setReg(cpu.osize === 16 ? 16 : cpu.osize, cpu.rm, v, 0);
  else cpu.writeE(16, v, 0);
}

/** @internal MOV Sreg,Ew (8E); loading CS is #UD; loading SS blocks interrupts for one instruction. */
export function MOV_SwEw(cpu: X86Cpu): void {
  const s = cpu.reg & 7;
  if (s > 5 || s === SEG.CS) cpu.ud();
  const v = cpu.readE(16);
  cpu.loadSeg(s, v);
  if (s === SEG.SS) cpu.interruptShadow = true;
}

/** @internal LEA Gv,M (8D). */
export function LEA(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  if (cpu.asize === 16) cpu.setReg(cpu.osize, cpu.reg, cpu.ea, 0);
  else cpu.setReg(cpu.osize, cpu.reg, cpu.eaLo, cpu.eaHi);
}

/** @internal XCHG Eb,Gb / Ev,Gv (86/87). */
export function XCHG_EG(cpu: X86Cpu): void {
  const size = cpu.opcode === 0x86 ? 8 : cpu.osize;
  const a = cpu.readE(size);
  const ahi = cpu.tmpHi;
  const b = cpu.getReg(size, cpu.reg);
  cpu.writeE(size, b, cpu.tmpHi);
  cpu.setReg(size, cpu.reg, a, ahi);
}

/** @internal XCHG r,eAX (90..97); 90 without REX.B is NOP (and F3 90 is PAUSE). */
export function XCHG_Z(cpu: X86Cpu): void {
  const r = (cpu.opcode & 7) | ((cpu.rex & 1) << 3);
  if (r === 0) return;
  const size = cpu.osize;
  const a = cpu.getReg(size, 0);
  const ahi = cpu.tmpHi;
  const b = cpu.getReg(size, r);
  cpu.setReg(size, 0, b, cpu.tmpHi);
  cpu.setReg(size, r, a, ahi);
}

/** @internal MOVZX/MOVSX Gv,Eb|Ew (0F B6/B7/BE/BF). */
export function MOVX(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const src = (op & 1) === 0 ? 8 : 16;
  let v = cpu.readE(src);
  const signed = op >= 0x1be;
  if (signed) v = src === 8 ? (v << 24) >> 24 : (v << 16) >> 16;
  cpu.setReg(cpu.osize, cpu.reg, v, signed ? v >> 31 : 0);
}

/** @internal MOVSXD Gv,Ed (63 in 64-bit mode). */
export function MOVSXD(cpu: X86Cpu): void {
  const v = cpu.readE(32);
  if (cpu.osize === 64) cpu.setReg(64, cpu.reg, v, v >> 31);
  else cpu.setReg(cpu.osize, cpu.reg, v, 0);
}

function bswap32(v: number): number {
  return (v >>> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24) | 0;
}

/** @internal MOVBE Gv,Mv / Mv,Gv (0F 38 F0/F1). */
export function MOVBE(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  const size = cpu.osize;
  if (cpu.opcode === 0x2f0) {
    const v = cpu.readE(size);
    if (size === 16) cpu.setReg(16, cpu.reg, ((v & 0xff) << 8) | ((v >> 8) & 0xff), 0);
    else if (size === 32) cpu.setReg(32, cpu.reg, bswap32(v), 0);
    else cpu.setReg(64, cpu.reg, bswap32(cpu.tmpHi), bswap32(v));
  } else {
    const v = cpu.getReg(size, cpu.reg);
    if (size === 16) cpu.writeE(16, ((v & 0xff) << 8) | ((v >> 8) & 0xff), 0);
    else if (size === 32) cpu.writeE(32, bswap32(v), 0);
    else cpu.writeE(64, bswap32(cpu.tmpHi), bswap32(v));
  }
}

/** @internal BSWAP r (0F C8..CF). 16-bit operand size clears the low word (as QEMU). */
export function BSWAP(cpu: X86Cpu): void {
  const r = (cpu.opcode & 7) | ((cpu.rex & 1) << 3);
  if (cpu.osize === 64) cpu.setReg(64, r, bswap32(cpu.hi[r]), bswap32(cpu.lo[r]));
  else if (cpu.osize === 32) cpu.setReg(32, r, bswap32(cpu.lo[r]), 0);
  else cpu.setReg(16, r, 0, 0);
}

/** @internal CMOVcc Gv,Ev (0F 40..4F): the source is always read; 32-bit forms always zero-extend. */
export function CMOVcc(cpu: X86Cpu): void {
  const size = cpu.osize;
  const v = cpu.readE(size);
  const vhi = cpu.tmpHi;
  if (testCond(cpu, cpu.opcode & 0xf)) cpu.setReg(size, cpu.reg, v, vhi);
  else if (size === 32) cpu.hi[cpu.reg] = 0;
}

/** @internal SETcc Eb (0F 90..9F). */
export function SETcc(cpu: X86Cpu): void {
  cpu.writeE(8, testCond(cpu, cpu.opcode & 0xf) ? 1 : 0, 0);
}

/** @internal LAHF (9F). */
export function LAHF(cpu: X86Cpu): void {
  cpu.lo[0] = (cpu.lo[0] & ~0xff00) | (((getFlags(cpu) & 0xd7) | 2) << 8);
}

/** @internal SAHF (9E). */
export function SAHF(cpu: X86Cpu): void {
  const ah = (cpu.lo[0] >> 8) & 0xd5;
  setFlags(cpu, (getFlags(cpu) & ~0xd5) | ah);
}

/** @internal XLAT (D7). */
export function XLAT(cpu: X86Cpu): void {
  const seg = cpu.segOv >= 0 ? cpu.segOv : SEG.DS;
  let base: number;
  if (cpu.asize === 64) base = cpu.getReg64(3);
  else base = cpu.asize === 32 ? cpu.lo[3] >>> 0 : cpu.lo[3] & 0xffff;
  const v = cpu.read(seg, cpu.wrapAddr(base + (cpu.lo[0] & 0xff)), 8);
  cpu.lo[0] = (cpu.lo[0] & ~0xff) | v;
}

/** @internal LES/LDS (C4/C5, not in 64-bit mode), LSS/LFS/LGS (0F B2/B4/B5). */
export function LFP(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  const op = cpu.opcode;
  const seg =
    op === 0xc4
      ? SEG.ES
      : op === 0xc5
        ? SEG.DS
        : op === 0x1b2
          ? SEG.SS
          : op === 0x1b4
            ? SEG.FS
            : SEG.GS;
  const size = cpu.osize;
  const off = size === 64 ? cpu.read64(cpu.eaSeg, cpu.ea) : cpu.read(cpu.eaSeg, cpu.ea, size);
  const offHi = cpu.tmpHi;
  const sel = cpu.read(cpu.eaSeg, cpu.eaPlus(size >> 3), 16);
  cpu.loadSeg(seg, sel);
  cpu.setReg(size, cpu.reg, off, offHi);
}

// ---------------------------------------------------------------------------------------
// Stack
// ---------------------------------------------------------------------------------------

/** @internal PUSH r (50..57, REX.B extends). */
export function PUSH_Z(cpu: X86Cpu): void {
  const r = (cpu.opcode & 7) | ((cpu.rex & 1) << 3);
  const v = cpu.getReg(cpu.osize, r);
  cpu.push(cpu.osize, v, cpu.tmpHi);
}

/** @internal POP r (58..5F). */
export function POP_Z(cpu: X86Cpu): void {
  const r = (cpu.opcode & 7) | ((cpu.rex & 1) << 3);
  const v = cpu.pop(cpu.osize);
  cpu.setReg(cpu.osize, r, v, cpu.tmpHi);
}

/** @internal PUSH Iz (68) / PUSH Ib (6A). */
export function PUSH_I(cpu: X86Cpu): void {
  cpu.push(cpu.osize, cpu.imm, cpu.imm >> 31);
}

/** @internal PUSH Ev (FF /6). */
export function PUSH_Ev(cpu: X86Cpu): void {
  const v = cpu.readE(cpu.osize);
  cpu.push(cpu.osize, v, cpu.tmpHi);
}

/** @internal POP Ev (8F /0). */
export function POP_Ev(cpu: X86Cpu): void {
  if ((cpu.reg & 7) !== 0) cpu.ud();
  const size = cpu.osize;
  const v = cpu.peek(size, 0);
  const vhi = cpu.tmpHi;
  cpu.writeE(size, v, vhi);
  cpu.setSp(cpu.getSp() + (size >> 3));
}

/** @internal PUSH Sreg (06, 0E, 16, 1E, 0F A0, 0F A8). */
export function PUSH_S(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const s = op === 0x1a0 ? SEG.FS : op === 0x1a8 ? SEG.GS : (op >> 3) & 3;
  cpu.push(cpu.osize, cpu.segSel[s], 0);
}

/** @internal POP Sreg (07, 17, 1F, 0F A1, 0F A9). */
export function POP_S(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const s = op === 0x1a1 ? SEG.FS : op === 0x1a9 ? SEG.GS : (op >> 3) & 3;
  const v = cpu.peek(cpu.osize, 0);
  cpu.loadSeg(s, v & 0xffff);
  cpu.setSp(cpu.getSp() + (cpu.osize >> 3));
  if (s === SEG.SS) cpu.interruptShadow = true;
}

/** @internal PUSHA/PUSHAD (60). */
export function PUSHA(cpu: X86Cpu): void {
  const size = cpu.osize;
  const sp = cpu.getReg(size, 4);
  for (let r = 0; r < 8; r++) cpu.push(size, r === 4 ? sp : cpu.getReg(size, r), 0);
}

/** @internal POPA/POPAD (61); the saved SP is discarded. */
export function POPA(cpu: X86Cpu): void {
  const size = cpu.osize;
  for (let r = 7; r >= 0; r--) {
    const v = cpu.pop(size);
    if (r !== 4) cpu.setReg(size, r, v, 0);
  }
}

/** @internal PUSHF/PUSHFD/PUSHFQ (9C); VM and RF are pushed clear. */
export function PUSHF(cpu: X86Cpu): void {
  if ((getFlags(cpu) & EFLAGS.VM) !== 0 && ((getFlags(cpu) >> 12) & 3) < 3) cpu.gp(0);
  cpu.push(cpu.osize, getFlags(cpu) & ~(EFLAGS.VM | EFLAGS.RF), 0);
}

/** @internal POPF/POPFD/POPFQ (9D) with the CPL/IOPL rules for IF and IOPL. */
export function POPF(cpu: X86Cpu): void {
  const f = getFlags(cpu);
  if ((f & EFLAGS.VM) !== 0 && ((f >> 12) & 3) < 3) cpu.gp(0);
  const size = cpu.osize;
  const v = cpu.pop(size);
  popFlags(cpu, v, size);
}

/** @internal Applies a popped flags image under the privilege rules of POPF/IRET. */
export function popFlags(cpu: X86Cpu, v: number, size: number): void {
  const old = getFlags(cpu);
  let mask = 0x3f7fd5 & ~(EFLAGS.VM | EFLAGS.RF | EFLAGS.VIF | EFLAGS.VIP);
  if (cpu.protectedMode) {
    if (cpu.cpl > 0) mask &= ~EFLAGS.IOPL;
    if (cpu.cpl > ((old >> 12) & 3)) mask &= ~EFLAGS.IF;
  }
  if (size === 16) mask &= 0xffff;
  setFlags(cpu, (old & ~mask) | (v & mask));
}

/** @internal ENTER Iw,Ib (C8). */
export function ENTER(cpu: X86Cpu): void {
  const size = cpu.osize;
  const level = cpu.imm2 & 31;
  const bp = cpu.getReg(size, 5);
  cpu.push(size, bp, cpu.tmpHi);
  const frame = cpu.getSp();
  const n = size >> 3;
  if (level > 0) {
    let p =
      cpu.stackSize === 64
        ? cpu.getReg64(5)
        : cpu.stackSize === 32
          ? cpu.lo[5] >>> 0
          : cpu.lo[5] & 0xffff;
    for (let i = 1; i < level; i++) {
      p -= n;
      const sp = cpu.stackSize === 16 ? p & 0xffff : cpu.stackSize === 32 ? p >>> 0 : p;
      const v = size === 64 ? cpu.read64(SEG.SS, sp) : cpu.read(SEG.SS, sp, size);
      cpu.push(size, v, cpu.tmpHi);
    }
    cpu.push(size, (frame % TWO32) | 0, Math.floor(frame / TWO32) | 0);
  }
  if (cpu.stackSize === 64) cpu.setReg64(5, frame);
  else if (cpu.stackSize === 32 && size !== 16) cpu.setReg(32, 5, frame, 0);
  else cpu.setReg(16, 5, frame, 0);
  cpu.setSp(cpu.getSp() - cpu.imm);
}

/** @internal LEAVE (C9). */
export function LEAVE(cpu: X86Cpu): void {
  if (cpu.stackSize === 64) cpu.setReg64(4, cpu.getReg64(5));
  else if (cpu.stackSize === 32) cpu.setReg(32, 4, cpu.lo[5], 0);
  else cpu.setReg(16, 4, cpu.lo[5], 0);
  const v = cpu.pop(cpu.osize);
  cpu.setReg(cpu.osize, 5, v, cpu.tmpHi);
}

// ---------------------------------------------------------------------------------------
// Bit operations
// ---------------------------------------------------------------------------------------

function bitOp(cpu: X86Cpu, kind: number, offset: number, fromReg: boolean): void {
  const size = cpu.osize;
  const bits = size;
  let bit: number;
  if (cpu.mod === 3) {
    bit = offset & (bits - 1);
    const v = cpu.getReg(size, cpu.rm);
    let lo = v;
    let hi = cpu.tmpHi;
    const inHi = bit >= 32;
    const w = inHi ? hi : lo;
    const m = 1 << (bit & 31);
    const cf = (w & m) !== 0 ? 1 : 0;
    cpu.eflags = (getFlags(cpu) & ~1) | cf;
    cpu.ccOp = CC_EFLAGS;
    if (kind === 0) return;
    const nw = kind === 1 ? w | m : kind === 2 ? w & ~m : w ^ m;
    if (inHi) hi = nw;
    else lo = nw;
    cpu.setReg(size, cpu.rm, size === 16 ? lo & 0xffff : lo, hi);
    return;
  }
  // Memory: a register offset is signed and may address outside the operand.
  let ea = cpu.ea;
  if (fromReg) {
    ea += Math.floor(offset / 8);
    bit = ((offset % 8) + 8) % 8;
  } else {
    bit = offset & (bits - 1);
    ea += bit >> 3;
    bit &= 7;
  }
  ea = cpu.wrapAddr(ea);
  const b = cpu.read(cpu.eaSeg, ea, 8);
  const cf = (b >> bit) & 1;
  cpu.eflags = (getFlags(cpu) & ~1) | cf;
  cpu.ccOp = CC_EFLAGS;
  if (kind === 0) return;
  const m = 1 << bit;
  cpu.write(cpu.eaSeg, ea, 8, kind === 1 ? b | m : kind === 2 ? b & ~m : b ^ m);
}

/** @internal BT/BTS/BTR/BTC Ev,Gv (0F A3/AB/B3/BB). Only CF is defined; other flags are kept. */
export function BT_EvGv(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const kind = op === 0x1a3 ? 0 : op === 0x1ab ? 1 : op === 0x1b3 ? 2 : 3;
  const size = cpu.osize;
  let off = cpu.getReg(size, cpu.reg);
  if (size === 16) off = (off << 16) >> 16;
  bitOp(cpu, kind, off, true);
}

/** @internal Grp8 BT/BTS/BTR/BTC Ev,Ib (0F BA /4../7). */
export function GRP8(cpu: X86Cpu): void {
  const r = cpu.reg & 7;
  if (r < 4) cpu.ud();
  bitOp(cpu, r - 4, cpu.imm & 0xff, false);
}

function clz32(v: number): number {
  return Math.clz32(v);
}

function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

/**
 * @internal BSF/BSR Gv,Ev (0F BC/BD) and, with F3, TZCNT/LZCNT. BSF/BSR: only ZF is
 * defined (from the source), flags as QEMU (LOGIC on the source), destination kept when the
 * source is zero. TZCNT/LZCNT: CF = source was zero, ZF = result is zero.
 */
export function BSx(cpu: X86Cpu): void {
  const size = cpu.osize;
  const forward = cpu.opcode === 0x1bc;
  let lo = cpu.readE(size);
  const hi = size === 64 ? cpu.tmpHi : 0;
  if (size === 16) lo &= 0xffff;
  const zero = lo === 0 && hi === 0;
  let idx: number;
  if (forward) idx = lo !== 0 ? ctz32(lo) : hi !== 0 ? 32 + ctz32(hi) : size;
  else if (size === 64) idx = hi !== 0 ? 63 - clz32(hi) : lo !== 0 ? 31 - clz32(lo) : -1;
  else idx = lo !== 0 ? 31 - clz32(lo) : -1;
  if (cpu.rep === 3) {
    // TZCNT / LZCNT
    const res = forward ? idx : zero ? size : size - 1 - idx;
    cpu.setReg(size, cpu.reg, res, 0);
    const f = getFlags(cpu) & ~0x8d5;
    cpu.eflags = f | (zero ? 1 : 0) | (res === 0 ? 0x40 : 0);
    cpu.ccOp = CC_EFLAGS;
    return;
  }
  if (!zero) cpu.setReg(size, cpu.reg, idx, 0);
  if (size === 64) {
    cpu.eflags = (getFlags(cpu) & ~0x8d5) | (zero ? 0x40 : 0) | (hi < 0 ? 0x80 : 0) | parity(lo);
    cpu.ccOp = CC_EFLAGS;
    return;
  }
  cpu.ccOp = CC_LOGIC;
  cpu.ccDst = lo;
  cpu.ccSrc = 0;
  cpu.ccSize = size;
}

function parity(v: number): number {
  let b = v & 0xff;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  return (b & 1) === 0 ? 4 : 0;
}

/** @internal POPCNT Gv,Ev (F3 0F B8). */
export function POPCNT(cpu: X86Cpu): void {
  if (cpu.rep !== 3) cpu.ud();
  const size = cpu.osize;
  let lo = cpu.readE(size);
  const hi = size === 64 ? cpu.tmpHi : 0;
  lo &= maskOf(size === 64 ? 32 : size);
  const count = popcount(lo) + popcount(hi);
  cpu.setReg(size, cpu.reg, count, 0);
  cpu.ccOp = CC_POPCNT;
  cpu.ccSrc = lo | hi;
  cpu.ccDst = 0;
  cpu.ccSize = 32;
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
