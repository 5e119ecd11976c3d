/**
 * FXSAVE/FXRSTOR (the 512-byte legacy region, 32-bit and REX.W forms) and LDMXCSR/STMXCSR,
 * with the rest of group 15 (0F AE): fences and CLFLUSH.
 * @see Intel SDM Vol. 2A "FXSAVE" (Tables 3-53, 3-56), "FXRSTOR", "LDMXCSR", "STMXCSR"
 */
import { CR0, CR4, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { checkAligned16, sseCheck } from '../fpu/access.ts';
import { MXCSR_MASK } from '../fpu/fpu-state.ts';

/** Staging area for FXRSTOR: 8 × 3 x87 words, then (from 31) the XMM dwords. */
const FX_TMP = /* @__PURE__ */ new Int32Array(31 + 64);

function fxCheck(cpu: X86Cpu): void {
  if (cpu.mod === 3 || cpu.lock) cpu.ud();
  if ((cpu.cr0 & (CR0.EM | CR0.TS)) !== 0) cpu.fault(VECTOR.NM, -1);
  checkAligned16(cpu);
}

function w(cpu: X86Cpu, off: number, size: number, v: number): void {
  cpu.write(cpu.eaSeg, cpu.eaPlus(off), size, v);
}

function r(cpu: X86Cpu, off: number, size: number): number {
  return cpu.read(cpu.eaSeg, cpu.eaPlus(off), size);
}

/** The number of XMM registers FXSAVE/FXRSTOR transfer: 16 in 64-bit mode, else 8. */
function xmmCount(cpu: X86Cpu): number {
  return cpu.mode64 ? 16 : 8;
}

/**
 * @internal FXSAVE m512 (0F AE /0; REX.W: FXSAVE64). Writes the defined fields only (reserved
 * bytes keep their contents, as QEMU does); the SSE part only with CR4.OSFXSR.
 */
export function FXSAVE(cpu: X86Cpu): void {
  fxCheck(cpu);
  cpu.probeWrite(cpu.eaSeg, cpu.ea, 512);
  const f = cpu.fpu;
  w(cpu, 0, 16, f.fcw);
  w(cpu, 2, 16, f.getFsw());
  w(cpu, 4, 16, f.ftw & 0xff);
  w(cpu, 6, 16, f.fop & 0x7ff);
  if ((cpu.rex & 8) !== 0) {
    w(cpu, 8, 32, f.fip);
    w(cpu, 12, 32, 0);
    w(cpu, 16, 32, f.fdp);
    w(cpu, 20, 32, 0);
  } else {
    w(cpu, 8, 32, f.fip);
    w(cpu, 12, 32, f.fcs & 0xffff);
    w(cpu, 16, 32, f.fdp);
    w(cpu, 20, 32, f.fds & 0xffff);
  }
  for (let i = 0; i < 8; i++) {
    const p = (f.top + i) & 7;
    const off = 32 + i * 16;
    w(cpu, off, 32, f.stLo[p]);
    w(cpu, off + 4, 32, f.stHi[p]);
    w(cpu, off + 8, 16, f.stSe[p]);
  }
  if ((cpu.cr4 & CR4.OSFXSR) === 0) return;
  w(cpu, 24, 32, f.mxcsr);
  w(cpu, 28, 32, MXCSR_MASK);
  const n = xmmCount(cpu);
  for (let i = 0; i < n * 4; i++) w(cpu, 160 + i * 4, 32, f.x[i]);
}

/** @internal FXRSTOR m512 (0F AE /1; REX.W: FXRSTOR64). #GP(0) for reserved MXCSR bits, before any change. */
export function FXRSTOR(cpu: X86Cpu): void {
  fxCheck(cpu);
  const f = cpu.fpu;
  const sse = (cpu.cr4 & CR4.OSFXSR) !== 0;
  let mxcsr = f.mxcsr;
  if (sse) {
    mxcsr = r(cpu, 24, 32);
    if ((mxcsr & ~MXCSR_MASK) !== 0) cpu.gp(0);
  }
  // Read everything first: a fault part-way leaves the state unchanged.
  const t = FX_TMP;
  for (let i = 0; i < 8; i++) {
    const off = 32 + i * 16;
    t[i * 3] = r(cpu, off, 32);
    t[i * 3 + 1] = r(cpu, off + 4, 32);
    t[i * 3 + 2] = r(cpu, off + 8, 16);
  }
  const fcw = r(cpu, 0, 16);
  const fsw = r(cpu, 2, 16);
  const ftw = r(cpu, 4, 8);
  const fop = r(cpu, 6, 16) & 0x7ff;
  const fip = r(cpu, 8, 32);
  const fcs = (cpu.rex & 8) !== 0 ? 0 : r(cpu, 12, 16);
  const fdp = r(cpu, 16, 32);
  const fds = (cpu.rex & 8) !== 0 ? 0 : r(cpu, 20, 16);
  const n = sse ? xmmCount(cpu) : 0;
  for (let i = 0; i < n * 4; i++) t[31 + i] = r(cpu, 160 + i * 4, 32);
  f.fcw = fcw;
  f.setFsw(fsw);
  f.ftw = ftw;
  f.fop = fop;
  f.fip = fip;
  f.fcs = fcs;
  f.fdp = fdp;
  f.fds = fds;
  for (let i = 0; i < 8; i++) {
    const p = (f.top + i) & 7;
    f.stLo[p] = t[i * 3];
    f.stHi[p] = t[i * 3 + 1];
    f.stSe[p] = t[i * 3 + 2];
  }
  if (!sse) return;
  f.mxcsr = mxcsr;
  for (let i = 0; i < n * 4; i++) f.x[i] = t[31 + i];
}

/** @internal LDMXCSR m32 (0F AE /2): #GP(0) for reserved bits. */
export function LDMXCSR(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  sseCheck(cpu);
  const v = cpu.read(cpu.eaSeg, cpu.ea, 32);
  if ((v & ~MXCSR_MASK) !== 0) cpu.gp(0);
  cpu.fpu.mxcsr = v;
}

/** @internal STMXCSR m32 (0F AE /3). */
export function STMXCSR(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  sseCheck(cpu);
  cpu.write(cpu.eaSeg, cpu.ea, 32, cpu.fpu.mxcsr);
}
