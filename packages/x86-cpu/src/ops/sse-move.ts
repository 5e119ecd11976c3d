/**
 * SSE/SSE2 data movement: MOVUPS/MOVAPS/MOVDQU/MOVDQA (and PD forms), MOVSS/MOVSD, MOVLPS/
 * MOVHPS/MOVLPD/MOVHPD/MOVHLPS/MOVLHPS, MOVD/MOVQ, non-temporal stores, MOVMSKPS/PD,
 * SHUFPS/SHUFPD, MASKMOVDQU and MOVNTI.
 * @see Intel SDM Vol. 2 (each mnemonic)
 */
import { SEG } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { srcW, writeMem128 } from '../fpu/access.ts';

function copyReg(cpu: X86Cpu, d: number, s: number): void {
  const x = cpu.fpu.x;
  const a = d << 2;
  const b = s << 2;
  x[a] = x[b];
  x[a + 1] = x[b + 1];
  x[a + 2] = x[b + 2];
  x[a + 3] = x[b + 3];
}

/** @internal MOVUPS/MOVUPD/MOVDQU xmm, xmm/m128 (0F 10, 66 0F 10, F3 0F 6F). */
export function MOVU_load(cpu: X86Cpu): void {
  copyReg(cpu, cpu.reg, srcW(cpu, false));
}

/** @internal MOVAPS/MOVAPD/MOVDQA xmm, xmm/m128 (0F 28, 66 0F 28, 66 0F 6F). */
export function MOVA_load(cpu: X86Cpu): void {
  copyReg(cpu, cpu.reg, srcW(cpu, true));
}

/** @internal MOVUPS/MOVUPD/MOVDQU xmm/m128, xmm (0F 11, 66 0F 11, F3 0F 7F). */
export function MOVU_store(cpu: X86Cpu): void {
  if (cpu.mod === 3) copyReg(cpu, cpu.rm, cpu.reg);
  else writeMem128(cpu, cpu.reg, false);
}

/** @internal MOVAPS/MOVAPD/MOVDQA xmm/m128, xmm (0F 29, 66 0F 29, 66 0F 7F). */
export function MOVA_store(cpu: X86Cpu): void {
  if (cpu.mod === 3) copyReg(cpu, cpu.rm, cpu.reg);
  else writeMem128(cpu, cpu.reg, true);
}

/** @internal MOVNTPS/MOVNTPD/MOVNTDQ m128, xmm (0F 2B, 66 0F 2B, 66 0F E7): memory only, aligned. */
export function MOVNT_store(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  writeMem128(cpu, cpu.reg, true);
}

/** @internal MOVSS xmm, xmm/m32 (F3 0F 10): a load zeroes dwords 1..3, a register move keeps them. */
export function MOVSS_load(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  if (cpu.mod === 3) x[d] = x[cpu.rm << 2];
  else {
    x[d] = cpu.read(cpu.eaSeg, cpu.ea, 32);
    x[d + 1] = 0;
    x[d + 2] = 0;
    x[d + 3] = 0;
  }
}

/** @internal MOVSS xmm/m32, xmm (F3 0F 11). */
export function MOVSS_store(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  if (cpu.mod === 3) x[cpu.rm << 2] = x[cpu.reg << 2];
  else cpu.write(cpu.eaSeg, cpu.ea, 32, x[cpu.reg << 2]);
}

/** @internal MOVSD xmm, xmm/m64 (F2 0F 10): a load zeroes the high qword, a register move keeps it. */
export function MOVSD_load(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  if (cpu.mod === 3) {
    x[d] = x[cpu.rm << 2];
    x[d + 1] = x[(cpu.rm << 2) + 1];
  } else {
    x[d] = cpu.read64(cpu.eaSeg, cpu.ea);
    x[d + 1] = cpu.tmpHi;
    x[d + 2] = 0;
    x[d + 3] = 0;
  }
}

/** Stores qword `q` (0 low, 1 high) of register `r` to the m64 operand, or to the register rm. */
function storeQ(cpu: X86Cpu, r: number, q: number): void {
  const x = cpu.fpu.x;
  const s = (r << 2) + q * 2;
  cpu.write64(cpu.eaSeg, cpu.ea, x[s], x[s + 1]);
}

/** @internal MOVSD xmm/m64, xmm (F2 0F 11). */
export function MOVSD_store(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  if (cpu.mod === 3) {
    x[cpu.rm << 2] = x[cpu.reg << 2];
    x[(cpu.rm << 2) + 1] = x[(cpu.reg << 2) + 1];
  } else storeQ(cpu, cpu.reg, 0);
}

/**
 * @internal 0F 12/16 (and 66 forms): MOVLPS/MOVLPD/MOVHPS/MOVHPD xmm, m64 load one qword;
 * the register forms MOVHLPS/MOVLHPS (no prefix) move a qword between registers.
 */
export function MOVLH_load(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const high = (cpu.opcode & 0xff) === 0x16;
  const d = (cpu.reg << 2) + (high ? 2 : 0);
  if (cpu.mod === 3) {
    if (cpu.rep !== 0) cpu.ud();
    // MOVHLPS: high qword of the source to the low qword; MOVLHPS: low to high.
    const s = (cpu.rm << 2) + (high ? 0 : 2);
    const lo = x[s];
    const hi = x[s + 1];
    x[d] = lo;
    x[d + 1] = hi;
    return;
  }
  x[d] = cpu.read64(cpu.eaSeg, cpu.ea);
  x[d + 1] = cpu.tmpHi;
}

/** @internal 0F 13/17 (and 66 forms): MOVLPS/MOVLPD/MOVHPS/MOVHPD m64, xmm. */
export function MOVLH_store(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  storeQ(cpu, cpu.reg, (cpu.opcode & 0xff) === 0x17 ? 1 : 0);
}

/** @internal MOVD/MOVQ xmm, r/m32 or r/m64 (66 0F 6E; REX.W selects 64 bits): zero-extended. */
export function MOVD_load(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  if ((cpu.rex & 8) !== 0) {
    x[d] = cpu.readE(64);
    x[d + 1] = cpu.tmpHi;
  } else {
    x[d] = cpu.readE(32);
    x[d + 1] = 0;
  }
  x[d + 2] = 0;
  x[d + 3] = 0;
}

/** @internal MOVD/MOVQ r/m32 or r/m64, xmm (66 0F 7E). */
export function MOVD_store(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const s = cpu.reg << 2;
  if ((cpu.rex & 8) !== 0) cpu.writeE(64, x[s], x[s + 1]);
  else cpu.writeE(32, x[s], 0);
}

/** @internal MOVQ xmm, xmm/m64 (F3 0F 7E): the low qword, upper qword zeroed. */
export function MOVQ_load(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  let lo: number;
  let hi: number;
  if (cpu.mod === 3) {
    lo = x[cpu.rm << 2];
    hi = x[(cpu.rm << 2) + 1];
  } else {
    lo = cpu.read64(cpu.eaSeg, cpu.ea);
    hi = cpu.tmpHi;
  }
  x[d] = lo;
  x[d + 1] = hi;
  x[d + 2] = 0;
  x[d + 3] = 0;
}

/** @internal MOVQ xmm/m64, xmm (66 0F D6): a register destination gets its upper qword zeroed. */
export function MOVQ_store(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const s = cpu.reg << 2;
  if (cpu.mod !== 3) {
    storeQ(cpu, cpu.reg, 0);
    return;
  }
  const d = cpu.rm << 2;
  x[d] = x[s];
  x[d + 1] = x[s + 1];
  x[d + 2] = 0;
  x[d + 3] = 0;
}

/** @internal MOVMSKPS (0F 50) and MOVMSKPD (66 0F 50): the lane sign bits to a general register. */
export function MOVMSKP(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  const x = cpu.fpu.x;
  const s = cpu.rm << 2;
  const m =
    cpu.rep === 1
      ? (x[s + 1] >>> 31) | ((x[s + 3] >>> 31) << 1)
      : (x[s] >>> 31) |
        ((x[s + 1] >>> 31) << 1) |
        ((x[s + 2] >>> 31) << 2) |
        ((x[s + 3] >>> 31) << 3);
  cpu.setReg(cpu.mode64 && (cpu.rex & 8) !== 0 ? 64 : 32, cpu.reg, m, 0);
}

/** @internal SHUFPS (0F C6 ib) and SHUFPD (66 0F C6 ib). */
export function SHUFP(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  const d = cpu.reg << 2;
  const n = cpu.imm & 0xff;
  const t = 17 << 2;
  if (cpu.rep === 1) {
    const a = d + (n & 1) * 2;
    const b = s + ((n >> 1) & 1) * 2;
    x[t] = x[a];
    x[t + 1] = x[a + 1];
    x[t + 2] = x[b];
    x[t + 3] = x[b + 1];
  } else {
    x[t] = x[d + (n & 3)];
    x[t + 1] = x[d + ((n >> 2) & 3)];
    x[t + 2] = x[s + ((n >> 4) & 3)];
    x[t + 3] = x[s + ((n >> 6) & 3)];
  }
  for (let i = 0; i < 4; i++) x[d + i] = x[t + i];
}

/** @internal MASKMOVDQU xmm1, xmm2 (66 0F F7): stores the bytes of xmm1 whose mask byte in xmm2 has bit 7 set, at DS:rDI. */
export function MASKMOVDQU(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  const u = cpu.fpu.u8;
  const seg = cpu.segOv >= 0 ? cpu.segOv : SEG.DS;
  const base = cpu.asize === 64 ? cpu.getReg64(7) : cpu.getReg(cpu.asize, 7) >>> 0;
  const s = cpu.reg << 4;
  const m = cpu.rm << 4;
  let any = false;
  for (let i = 0; i < 16; i++) if ((u[m + i] & 0x80) !== 0) any = true;
  if (!any) return;
  cpu.probeWrite(seg, base, 16);
  for (let i = 0; i < 16; i++) {
    if ((u[m + i] & 0x80) !== 0) cpu.write(seg, cpu.wrapAddr(base + i), 8, u[s + i]);
  }
}

/** @internal MOVNTI m32/m64, r32/r64 (0F C3): a plain store (no cache model). */
export function MOVNTI(cpu: X86Cpu): void {
  if (cpu.mod === 3 || cpu.rep !== 0) cpu.ud();
  const size = cpu.osize === 64 ? 64 : 32;
  cpu.writeE(size, cpu.getReg(size, cpu.reg), cpu.tmpHi);
}
