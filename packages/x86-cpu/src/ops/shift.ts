/**
 * Shifts and rotates: Grp2 (ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR) by 1, CL or imm8, and
 * SHLD/SHRD. Flags and the values of undefined flags follow QEMU TCG (for count > 1, OF is
 * computed with the count-1 formula; AF is cleared).
 * @see Intel SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD"
 */
import type { X86Cpu } from '../cpu.ts';
import { ARITH_FLAGS, CC_EFLAGS, CC_SAR, CC_SHL, getFlags, PARITY } from '../flags.ts';
import { sar64, shl64, shr64, W } from '../internal/wide.ts';
import { big, maskOf, setFlags64, unbig } from './alu.ts';

function setCfOf(cpu: X86Cpu, cf: number, of: number): void {
  cpu.eflags = (getFlags(cpu) & ~0x801) | (cf & 1) | ((of & 1) << 11);
  cpu.ccOp = CC_EFLAGS;
}

/** @internal Shift/rotate `kind` (Grp2 reg field) of an 8/16/32-bit value by `count` (unmasked). */
export function shift(cpu: X86Cpu, kind: number, size: number, v: number, count: number): number {
  const c = count & 0x1f;
  if (c === 0) return v;
  const m = maskOf(size);
  v &= m;
  switch (kind) {
    case 0:
    case 1: {
      const rc = c % size;
      let r = v;
      if (rc !== 0) {
        r = kind === 0 ? (v << rc) | (v >>> (size - rc)) : (v >>> rc) | (v << (size - rc));
        r &= m;
      }
      const msb = (r >>> (size - 1)) & 1;
      if (kind === 0) setCfOf(cpu, r & 1, msb ^ (r & 1));
      else setCfOf(cpu, msb, msb ^ ((r >>> (size - 2)) & 1));
      return r;
    }
    case 2:
    case 3: {
      const n = size === 8 ? c % 9 : size === 16 ? c % 17 : c;
      if (n === 0) return v;
      let cf = getFlags(cpu) & 1;
      let r = v;
      for (let i = 0; i < n; i++) {
        if (kind === 2) {
          const out = (r >>> (size - 1)) & 1;
          r = ((r << 1) | cf) & m;
          cf = out;
        } else {
          const out = r & 1;
          r = ((r >>> 1) | (cf << (size - 1))) & m;
          cf = out;
        }
      }
      setCfOf(cpu, cf, ((v ^ r) >>> (size - 1)) & 1);
      return r;
    }
    case 4:
    case 6: {
      const r = (v << c) & m;
      cpu.ccOp = CC_SHL;
      cpu.ccDst = r;
      cpu.ccSrc = v << (c - 1);
      cpu.ccSize = size;
      return r;
    }
    case 5: {
      const r = (v >>> c) & m;
      cpu.ccOp = CC_SAR;
      cpu.ccDst = r;
      cpu.ccSrc = v >>> (c - 1);
      cpu.ccSize = size;
      return r;
    }
    default: {
      const sv = (v << (32 - size)) >> (32 - size);
      const r = (sv >> c) & m;
      cpu.ccOp = CC_SAR;
      cpu.ccDst = r;
      cpu.ccSrc = sv >> (c - 1);
      cpu.ccSize = size;
      return r;
    }
  }
}

/** Eager flags of a 64-bit shift result (int32 halves): CF and OF given, AF cleared. */
function setShiftFlags64(cpu: X86Cpu, rlo: number, rhi: number, cf: number, of: number): void {
  cpu.eflags =
    (getFlags(cpu) & ~ARITH_FLAGS) |
    (cf & 1) |
    PARITY[rlo & 0xff] |
    ((rlo | rhi) === 0 ? 0x40 : 0) |
    (rhi < 0 ? 0x80 : 0) |
    ((of & 1) << 11);
  cpu.ccOp = CC_EFLAGS;
}

/**
 * @internal The 64-bit form of {@link shift} on int32 halves (no BigInt; DESIGN.md "Hot
 * loop"): returns the low half, high half in `tmpHi`.
 */
export function shift64(cpu: X86Cpu, kind: number, lo: number, hi: number, count: number): number {
  const c = count & 0x3f;
  cpu.tmpHi = hi;
  if (c === 0) return lo;
  switch (kind) {
    case 0:
    case 1: {
      // Rotate: (v << c) | (v >>> (64 - c)) for ROL, the mirror for ROR.
      if (kind === 0) shl64(lo, hi, c);
      else shr64(lo, hi, c);
      const alo = W[0];
      const ahi = W[1];
      if (kind === 0) shr64(lo, hi, 64 - c);
      else shl64(lo, hi, 64 - c);
      const rlo = alo | W[0];
      const rhi = ahi | W[1];
      const msb = rhi >>> 31;
      if (kind === 0) setCfOf(cpu, rlo & 1, msb ^ (rlo & 1));
      else setCfOf(cpu, msb, msb ^ ((rhi >>> 30) & 1));
      cpu.tmpHi = rhi;
      return rlo;
    }
    case 2:
    case 3: {
      let cf = getFlags(cpu) & 1;
      let rlo = lo;
      let rhi = hi;
      for (let i = 0; i < c; i++) {
        if (kind === 2) {
          const out = rhi >>> 31;
          rhi = (rhi << 1) | (rlo >>> 31);
          rlo = (rlo << 1) | cf;
          cf = out;
        } else {
          const out = rlo & 1;
          rlo = (rlo >>> 1) | (rhi << 31);
          rhi = (rhi >>> 1) | (cf << 31);
          cf = out;
        }
      }
      setCfOf(cpu, cf, ((hi ^ rhi) >>> 31) & 1);
      cpu.tmpHi = rhi;
      return rlo;
    }
    case 4:
    case 6: {
      shl64(lo, hi, c - 1);
      const shi = W[1];
      shl64(lo, hi, c);
      const rlo = W[0];
      const rhi = W[1];
      setShiftFlags64(cpu, rlo, rhi, shi >>> 31, (shi ^ rhi) >>> 31);
      cpu.tmpHi = rhi;
      return rlo;
    }
    case 5: {
      shr64(lo, hi, c - 1);
      const slo = W[0];
      const shi = W[1];
      shr64(lo, hi, c);
      const rlo = W[0];
      const rhi = W[1];
      setShiftFlags64(cpu, rlo, rhi, slo & 1, (shi ^ rhi) >>> 31);
      cpu.tmpHi = rhi;
      return rlo;
    }
    default: {
      sar64(lo, hi, c - 1);
      const slo = W[0];
      const shi = W[1];
      sar64(lo, hi, c);
      const rlo = W[0];
      const rhi = W[1];
      setShiftFlags64(cpu, rlo, rhi, slo & 1, (shi ^ rhi) >>> 31);
      cpu.tmpHi = rhi;
      return rlo;
    }
  }
}

/** @internal Grp2 Eb/Ev by Ib (C0/C1), by 1 (D0/D1) or by CL (D2/D3). */
export function GRP2(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 8 : cpu.osize;
  const count = op <= 0xc1 ? cpu.imm & 0xff : op <= 0xd1 ? 1 : cpu.lo[1] & 0xff;
  const kind = cpu.reg & 7;
  const v = cpu.readE(size);
  if (size === 64) {
    const r = shift64(cpu, kind, v, cpu.tmpHi, count);
    cpu.writeE(64, r, cpu.tmpHi);
  } else cpu.writeE(size, shift(cpu, kind, size, v, count), 0);
}

/** @internal SHLD/SHRD Ev,Gv,Ib|CL (0F A4/A5/AC/AD). */
export function SHxD(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = cpu.osize;
  const left = op < 0x1a8;
  const count = ((op & 1) === 0 ? cpu.imm : cpu.lo[1]) & (size === 64 ? 0x3f : 0x1f);
  const d = cpu.readE(size);
  const dhi = cpu.tmpHi;
  if (count === 0) return;
  const s = cpu.getReg(size, cpu.reg);
  const shi = cpu.tmpHi;
  const bs = BigInt(size);
  const sm = (1n << bs) - 1n;
  const dv = size === 64 ? big(d, dhi) : BigInt(d >>> 0) & sm;
  const sv = size === 64 ? big(s, shi) : BigInt(s >>> 0) & sm;
  const bc = BigInt(count);
  let r: bigint;
  let src: bigint;
  if (size === 16) {
    // Counts above 16 shift A:B:A (Intel's behaviour, which QEMU implements).
    const comb = (dv << 32n) | (sv << 16n) | dv;
    if (left) {
      r = ((comb << bc) >> 32n) & sm;
      src = (comb << (bc - 1n)) >> 32n;
    } else {
      r = (comb >> bc) & sm;
      src = comb >> (bc - 1n);
    }
  } else if (left) {
    const comb = (dv << bs) | sv;
    r = ((comb << bc) >> bs) & sm;
    src = ((comb << (bc - 1n)) >> bs) & sm;
  } else {
    const comb = (sv << bs) | dv;
    r = (comb >> bc) & sm;
    // QEMU keeps only the destination for the 64-bit count-1 value (OF differs for count > 1).
    src = size === 64 ? dv >> (bc - 1n) : (comb >> (bc - 1n)) & sm;
  }
  if (size === 64) {
    const cf = left ? Number(src >> 63n) : Number(src & 1n);
    setFlags64(cpu, r, cf, Number(((src ^ r) >> 63n) & 1n), 0);
    const lo = unbig(cpu, r);
    cpu.writeE(64, lo, cpu.tmpHi);
    return;
  }
  const rn = Number(r) | 0;
  cpu.ccOp = left ? CC_SHL : CC_SAR;
  cpu.ccDst = rn & maskOf(size);
  cpu.ccSrc = Number(BigInt.asIntN(32, src));
  cpu.ccSize = size;
  cpu.writeE(size, rn, 0);
}
