/**
 * x87 escape opcodes D8..DF and WAIT/FWAIT (9B). Implemented: the control instructions that
 * firmware and kernels run first — FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW (AX and m16) — with
 * the CR0.EM/TS/MP checks; the arithmetic forms raise #UD (DESIGN.md lists them as not done).
 * @see Intel SDM Vol. 1 §8.3 (x87 instruction set), Vol. 2 (FINIT, FCLEX, FLDCW, FSTCW, FSTSW, WAIT)
 */
import { CR0, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { x87Check } from '../fpu/access.ts';

/**
 * @internal The #MF check of waiting x87 instructions: an unmasked exception pending in FSW
 * (ES set) raises #MF with CR0.NE (the model has no FERR# line; without NE it is ignored).
 */
function pendingMf(cpu: X86Cpu): void {
  if ((cpu.fpu.fsw & 0x80) !== 0 && (cpu.cr0 & CR0.NE) !== 0) cpu.fault(VECTOR.MF, -1);
}

/** @internal WAIT/FWAIT (9B): #NM with CR0.MP and CR0.TS, then pending unmasked x87 exceptions (#MF). */
export function FWAIT(cpu: X86Cpu): void {
  if ((cpu.cr0 & (CR0.MP | CR0.TS)) === (CR0.MP | CR0.TS)) cpu.fault(VECTOR.NM, -1);
  pendingMf(cpu);
}

/** @internal The x87 escape opcodes D8..DF. */
export function X87(cpu: X86Cpu): void {
  x87Check(cpu);
  const op = cpu.opcode;
  const reg = cpu.reg & 7;
  const f = cpu.fpu;
  if (cpu.mod !== 3) {
    if (op === 0xd9 && reg === 5) {
      // FLDCW m16 (waiting).
      pendingMf(cpu);
      f.fcw = cpu.read(cpu.eaSeg, cpu.ea, 16);
      updateEs(cpu);
      return;
    }
    if (op === 0xd9 && reg === 7) {
      // FNSTCW m16.
      cpu.write(cpu.eaSeg, cpu.ea, 16, f.fcw);
      return;
    }
    if (op === 0xdd && reg === 7) {
      // FNSTSW m16.
      cpu.write(cpu.eaSeg, cpu.ea, 16, f.getFsw());
      return;
    }
    cpu.ud();
  }
  const rm = cpu.rm & 7;
  if (op === 0xdb && reg === 4) {
    if (rm === 3) {
      f.fninit();
      return;
    }
    if (rm === 2) {
      // FNCLEX: clear the exception flags, ES, SF and B.
      f.fsw &= 0x7f00;
      return;
    }
    if (rm === 0 || rm === 1 || rm === 4) return; // FNENI/FNDISI/FNSETPM: no-ops since the 287.
  }
  if (op === 0xdf && reg === 4 && rm === 0) {
    // FNSTSW AX.
    cpu.lo[0] = (cpu.lo[0] & ~0xffff) | f.getFsw();
    return;
  }
  if (op === 0xd9 && reg === 2 && rm === 0) {
    // FNOP (waiting).
    pendingMf(cpu);
    return;
  }
  cpu.ud();
}

/** Recomputes FSW.ES/B from the exception flags and the FCW masks (after FLDCW). */
function updateEs(cpu: X86Cpu): void {
  const f = cpu.fpu;
  if ((f.fsw & ~f.fcw & 0x3f) !== 0) f.fsw |= 0x8080;
  else f.fsw &= ~0x8080;
}
