/**
 * Availability checks for x87 and SSE instructions (CR0.EM/TS/MP, CR4.OSFXSR) and the
 * 128-bit memory operand path (alignment #GP, no partial store on a fault).
 * @see Intel SDM Vol. 3A §2.5 (CR0.EM/TS/MP), §13.1 (OSFXSR); Vol. 2 Table 2-18 (SSE exceptions)
 */
import { CR0, CR4, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';

// Module-level copies: reading the imported objects' members costs a getter per access
// under the test/bench loaders (tsx), visible in profiles of SSE loops.
const EM = CR0.EM;
const TS = CR0.TS;
const EM_TS = CR0.EM | CR0.TS;
const OSFXSR = CR4.OSFXSR;
const NM = VECTOR.NM;

/** @internal Scratch slot (in 16-byte registers) for a memory source operand. */
export const SRC = 16;

/**
 * @internal Checks that an SSE instruction may run: #UD with a LOCK prefix, CR0.EM set or
 * CR4.OSFXSR clear; #NM with CR0.TS.
 */
export function sseCheck(cpu: X86Cpu): void {
  if (cpu.lock || (cpu.cr0 & EM) !== 0 || (cpu.cr4 & OSFXSR) === 0) cpu.ud();
  if ((cpu.cr0 & TS) !== 0) cpu.fault(NM, -1);
}

/** @internal Checks that an x87 instruction may run: #NM with CR0.EM or CR0.TS. */
export function x87Check(cpu: X86Cpu): void {
  if (cpu.lock) cpu.ud();
  if ((cpu.cr0 & EM_TS) !== 0) cpu.fault(NM, -1);
}

/** @internal The linear address of the memory operand, #GP(0) unless 16-byte aligned. */
export function checkAligned16(cpu: X86Cpu): void {
  const lin = cpu.linear(cpu.eaSeg, cpu.ea, 16);
  if ((lin & 15) !== 0) cpu.gp(0);
}

/**
 * @internal Reads the 128-bit memory operand into register slot `slot` of the register file
 * (`aligned`: #GP(0) unless 16-byte aligned, as every legacy SSE 128-bit access but MOVUPS/
 * MOVUPD/MOVDQU).
 */
export function readMem128(cpu: X86Cpu, slot: number, aligned: boolean): void {
  if (aligned) checkAligned16(cpu);
  const x = cpu.fpu.x;
  const seg = cpu.eaSeg;
  const lo = cpu.read64(seg, cpu.ea);
  const lohi = cpu.tmpHi;
  const hi = cpu.read64(seg, cpu.eaPlus(8));
  const i = slot << 2;
  x[i] = lo;
  x[i + 1] = lohi;
  x[i + 2] = hi;
  x[i + 3] = cpu.tmpHi;
}

/** @internal Writes register slot `slot` to the 128-bit memory operand (probed first: all or nothing). */
export function writeMem128(cpu: X86Cpu, slot: number, aligned: boolean): void {
  if (aligned) checkAligned16(cpu);
  const seg = cpu.eaSeg;
  cpu.probeWrite(seg, cpu.ea, 16);
  const x = cpu.fpu.x;
  const i = slot << 2;
  cpu.write64(seg, cpu.ea, x[i], x[i + 1]);
  cpu.write64(seg, cpu.eaPlus(8), x[i + 2], x[i + 3]);
}

/**
 * @internal The source operand W of a 128-bit instruction: the register slot for mod = 3,
 * else the memory operand read into the scratch slot.
 */
export function srcW(cpu: X86Cpu, aligned: boolean): number {
  if (cpu.mod === 3) return cpu.rm;
  readMem128(cpu, SRC, aligned);
  return SRC;
}

/** @internal Reads a 64-bit source (register low qword or m64) into dwords 0..1 of the scratch slot; returns its slot. */
export function srcQ(cpu: X86Cpu): number {
  if (cpu.mod === 3) return cpu.rm;
  const x = cpu.fpu.x;
  x[SRC * 4] = cpu.read64(cpu.eaSeg, cpu.ea);
  x[SRC * 4 + 1] = cpu.tmpHi;
  return SRC;
}

/** @internal Reads a 32-bit source (register low dword or m32) into dword 0 of the scratch slot; returns its slot. */
export function srcD(cpu: X86Cpu): number {
  if (cpu.mod === 3) return cpu.rm;
  cpu.fpu.x[SRC * 4] = cpu.read(cpu.eaSeg, cpu.ea, 32);
  return SRC;
}
