/**
 * The SSE/SSE2 instructions that take or produce MMX registers: CVTPI2PS, CVTPI2PD, CVTPS2PI,
 * CVTTPS2PI, CVTPD2PI, CVTTPD2PI, MOVQ2DQ and MOVDQ2Q. They run after the SSE checks of the
 * dispatcher (#UD with LOCK, CR0.EM or without CR4.OSFXSR; #NM with CR0.TS), then raise #MF for
 * a pending unmasked x87 exception (with CR0.NE, as the MMX forms) and, once they complete,
 * switch the x87 unit to MMX state (TOP = 0, every register tagged valid). CVTPI2PD with a
 * memory source is the exception: it neither switches nor takes x87 exceptions. An unmasked
 * SIMD floating-point exception (#XM, or #UD without CR4.OSXMMEXCPT) leaves both the
 * destination and the x87 state alone.
 * @see Intel SDM Vol. 2 (each mnemonic; CVTPI2PD: "For operands xmm, m64: the instruction does
 *   not cause a transition to MMX technology and does not take x87 FPU exceptions"); Vol. 3B
 *   Table 23-5 and 23-6 (exception conditions for legacy SIMD/MMX instructions)
 */
import { CR0, CR4, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { srcW } from '../fpu/access.ts';
import { F32, F64, FLAGS, fromInt, toInt } from '../fpu/softfloat.ts';

/** #MF for a pending unmasked x87 exception (FSW.ES) when CR0.NE is set. */
function x87Pending(cpu: X86Cpu): void {
  if ((cpu.fpu.fsw & 0x80) !== 0 && (cpu.cr0 & CR0.NE) !== 0) cpu.fault(VECTOR.MF, -1);
}

/** Enters MMX state: TOP = 0, every register tagged valid. */
function enterMmx(cpu: X86Cpu): void {
  cpu.fpu.top = 0;
  cpu.fpu.ftw = 0xff;
}

/** Merges the SIMD flags into MXCSR; an unmasked one raises #XM (or #UD) before any write. */
function finish(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const fl = FLAGS[0] & 0x3f;
  f.mxcsr |= fl;
  if ((fl & ~(f.mxcsr >> 7) & 0x3f) !== 0) {
    cpu.fault((cpu.cr4 & CR4.OSXMMEXCPT) !== 0 ? VECTOR.XM : VECTOR.UD, -1);
  }
}

/** Writes MMX register `mm` (bits 79..64 become 1s, as every MMX write). */
function storeMm(cpu: X86Cpu, mm: number, lo: number, hi: number): void {
  const f = cpu.fpu;
  f.stLo[mm] = lo;
  f.stHi[mm] = hi;
  f.stSe[mm] = 0xffff;
}

/** Low and high dword of the 64-bit source mm/m64 (in `PAIR`). */
const PAIR = /* @__PURE__ */ new Int32Array(2);

function readQ(cpu: X86Cpu): void {
  if (cpu.mod === 3) {
    PAIR[0] = cpu.fpu.stLo[cpu.rm & 7];
    PAIR[1] = cpu.fpu.stHi[cpu.rm & 7];
  } else {
    PAIR[0] = cpu.read64(cpu.eaSeg, cpu.ea);
    PAIR[1] = cpu.tmpHi;
  }
}

/** @internal CVTPI2PS xmm, mm/m64 (NP 0F 2A) and CVTPI2PD xmm, mm/m64 (66 0F 2A). */
export function CVTPI2P(cpu: X86Cpu): void {
  const reg = cpu.mod === 3;
  const double = cpu.rep === 1;
  if (reg || !double) x87Pending(cpu);
  readQ(cpu);
  const a = BigInt(PAIR[0]);
  const b = BigInt(PAIR[1]);
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  if (double) {
    // Exact: every int32 is a binary64; no SIMD exception.
    const r0 = fromInt(F64, a, cpu.fpu.mxcsr);
    const r1 = fromInt(F64, b, cpu.fpu.mxcsr);
    if (reg) enterMmx(cpu);
    x[d] = Number(r0 & 0xffffffffn) | 0;
    x[d + 1] = Number(r0 >> 32n) | 0;
    x[d + 2] = Number(r1 & 0xffffffffn) | 0;
    x[d + 3] = Number(r1 >> 32n) | 0;
    return;
  }
  FLAGS[0] = 0;
  const r0 = fromInt(F32, a, cpu.fpu.mxcsr);
  const r1 = fromInt(F32, b, cpu.fpu.mxcsr);
  finish(cpu);
  enterMmx(cpu);
  x[d] = Number(r0) | 0;
  x[d + 1] = Number(r1) | 0;
}

/**
 * @internal CVT(T)PS2PI mm, xmm/m64 (NP 0F 2D, 2C) and CVT(T)PD2PI mm, xmm/m128 (66 0F 2D, 2C;
 * the m128 must be 16-byte aligned).
 */
export function CVTP2PI(cpu: X86Cpu): void {
  x87Pending(cpu);
  const truncate = (cpu.opcode & 0xff) === 0x2c;
  const mx = cpu.fpu.mxcsr;
  const u = cpu.fpu.u32;
  let r0: bigint;
  let r1: bigint;
  FLAGS[0] = 0;
  if (cpu.rep === 1) {
    const k = srcW(cpu, true) << 2;
    r0 = toInt(F64, (BigInt(u[k + 1]) << 32n) | BigInt(u[k]), 32, truncate, mx);
    r1 = toInt(F64, (BigInt(u[k + 3]) << 32n) | BigInt(u[k + 2]), 32, truncate, mx);
  } else {
    let a: number;
    let b: number;
    if (cpu.mod === 3) {
      a = u[cpu.rm << 2];
      b = u[(cpu.rm << 2) + 1];
    } else {
      a = cpu.read64(cpu.eaSeg, cpu.ea) >>> 0;
      b = cpu.tmpHi >>> 0;
    }
    r0 = toInt(F32, BigInt(a), 32, truncate, mx);
    r1 = toInt(F32, BigInt(b), 32, truncate, mx);
  }
  finish(cpu);
  enterMmx(cpu);
  storeMm(cpu, cpu.reg & 7, Number(r0 & 0xffffffffn) | 0, Number(r1 & 0xffffffffn) | 0);
}

/** @internal MOVQ2DQ xmm, mm (F3 0F D6; register form only): zero-extends MM into XMM. */
export function MOVQ2DQ(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  x87Pending(cpu);
  const f = cpu.fpu;
  const mm = cpu.rm & 7;
  const d = cpu.reg << 2;
  f.x[d] = f.stLo[mm];
  f.x[d + 1] = f.stHi[mm];
  f.x[d + 2] = 0;
  f.x[d + 3] = 0;
  enterMmx(cpu);
}

/** @internal MOVDQ2Q mm, xmm (F2 0F D6; register form only): the low qword of XMM into MM. */
export function MOVDQ2Q(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  x87Pending(cpu);
  const x = cpu.fpu.x;
  enterMmx(cpu);
  storeMm(cpu, cpu.reg & 7, x[cpu.rm << 2], x[(cpu.rm << 2) + 1]);
}
