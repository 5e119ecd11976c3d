/**
 * Hardware task switches with 32-bit and 16-bit TSSs: JMP/CALL to a TSS descriptor or a task
 * gate, interrupts and exceptions through task gates, and IRET with EFLAGS.NT (return to the
 * back-link task). A 16-bit TSS (types 1/3, limit at least 0x2B) holds IP, FLAGS, AX..DI, ES,
 * CS, SS, DS and the LDT selector as words at 0x0E..0x2A: switching to one loads the low 16
 * bits of EIP/EFLAGS and the GPRs (the upper halves keep their values, as QEMU), null FS and
 * GS, and does not load CR3 (the 16-bit TSS has no CR3 field).
 * @see Intel SDM Vol. 3A §7.3 "Task Switching", §7.4 "Task Linking", §7.6 "16-Bit Task-State
 *   Segment (TSS)"
 */
import { CR0, EFLAGS, SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags } from '../flags.ts';

/** How a task switch was initiated (affects busy bits, NT and the back link). */
export const TASK_JMP = 0;
/** CALL or INT/exception through a task gate: nests (sets NT, writes the back link). */
export const TASK_CALL = 1;
/** IRET with NT: returns to the back-link task. */
export const TASK_IRET = 2;

/**
 * @internal Switches to the task whose TSS selector is `sel` (`descLo/descHi/descAddr` must
 * hold its descriptor). `nextEip` is saved as the outgoing task's EIP.
 */
export function taskSwitch(cpu: X86Cpu, sel: number, reason: number, nextEip: number): void {
  const newLo = cpu.descLo;
  const newHi = cpu.descHi;
  const newDescAddr = cpu.descAddr;
  const type = (newHi >> 8) & 0x1f;
  const t16 = (type & 8) === 0;
  if ((type & ~8) !== (reason === TASK_IRET ? 0x03 : 0x01)) cpu.gp(sel & 0xfffc);
  if ((newHi & 0x8000) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
  let limit = (newLo & 0xffff) | (newHi & 0xf0000);
  if ((newHi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
  if (limit >>> 0 < (t16 ? 0x2b : 0x67)) cpu.fault(VECTOR.TS, sel & 0xfffc);
  const newBase = ((newLo >>> 16) | ((newHi & 0xff) << 16) | (newHi & 0xff000000)) >>> 0;

  // Save the outgoing task.
  const old = cpu.segBase[SEG.TR];
  let flags = getFlags(cpu);
  if (reason !== TASK_CALL) flags &= ~EFLAGS.NT;
  if ((cpu.segAttr[SEG.TR] & 8) === 0) {
    cpu.writeLin16(old + 0x0e, nextEip & 0xffff, false);
    cpu.writeLin16(old + 0x10, flags & 0xffff, false);
    for (let r = 0; r < 8; r++) cpu.writeLin16(old + 0x12 + r * 2, cpu.lo[r] & 0xffff, false);
    for (let s = 0; s < 4; s++) cpu.writeLin16(old + 0x22 + s * 2, cpu.segSel[s], false);
  } else {
    cpu.sysWrite32(old + 0x20, nextEip | 0);
    cpu.sysWrite32(old + 0x24, flags);
    for (let r = 0; r < 8; r++) cpu.sysWrite32(old + 0x28 + r * 4, cpu.lo[r]);
    for (let s = 0; s < 6; s++) cpu.sysWrite32(old + 0x48 + s * 4, cpu.segSel[s]);
  }
  const oldSel = cpu.segSel[SEG.TR];
  if (reason !== TASK_CALL) {
    // Clear the outgoing task's busy bit.
    cpu.readDescriptor(oldSel, VECTOR.TS);
    cpu.sysWrite32(cpu.descAddr + 4, cpu.descHi & ~0x200);
  }

  // Read the incoming task's state.
  let eip: number;
  let newFlags: number;
  const gpr: number[] = [];
  const sels: number[] = [];
  let ldt: number;
  let cr3 = 0;
  if (t16) {
    eip = cpu.readLin16(newBase + 0x0e, false);
    // The upper EFLAGS bits (VM, RF, AC, ID) and the GPRs' upper halves keep their values.
    newFlags = (getFlags(cpu) & ~0xffff) | cpu.readLin16(newBase + 0x10, false);
    for (let r = 0; r < 8; r++) {
      gpr.push((cpu.lo[r] & ~0xffff) | cpu.readLin16(newBase + 0x12 + r * 2, false));
    }
    for (let s = 0; s < 4; s++) sels.push(cpu.readLin16(newBase + 0x22 + s * 2, false));
    sels.push(0, 0);
    ldt = cpu.readLin16(newBase + 0x2a, false);
  } else {
    eip = cpu.sysRead32(newBase + 0x20) >>> 0;
    newFlags = cpu.sysRead32(newBase + 0x24);
    for (let r = 0; r < 8; r++) gpr.push(cpu.sysRead32(newBase + 0x28 + r * 4));
    for (let s = 0; s < 6; s++) sels.push(cpu.sysRead32(newBase + 0x48 + s * 4) & 0xffff);
    ldt = cpu.sysRead32(newBase + 0x60) & 0xffff;
    cr3 = cpu.sysRead32(newBase + 0x1c) >>> 0;
  }
  if (reason === TASK_CALL) {
    if (t16) cpu.writeLin16(newBase, oldSel, false);
    else cpu.sysWrite32(newBase, oldSel);
    newFlags |= EFLAGS.NT;
  }
  // Mark the incoming task busy and load TR.
  cpu.sysWrite32(newDescAddr + 4, newHi | 0x200);
  cpu.segSel[SEG.TR] = sel & 0xffff;
  cpu.segBase[SEG.TR] = newBase;
  cpu.segLimit[SEG.TR] = limit;
  cpu.segAttr[SEG.TR] = ((newHi >> 8) & 0xf0ff) | 0x02;
  if (!t16 && (cpu.cr0 & CR0.PG) !== 0) {
    cpu.cr3 = cr3;
    cpu.flushGuestTlb();
  }
  cpu.cr0 |= CR0.TS;
  setFlags(cpu, newFlags);
  for (let r = 0; r < 8; r++) cpu.setReg(32, r, gpr[r], 0);
  // LDTR, then CS (which sets the new CPL), then the data and stack segments.
  if ((ldt & 0xfffc) === 0) {
    cpu.segSel[SEG.LDTR] = ldt;
    cpu.segAttr[SEG.LDTR] = 0;
  } else {
    if ((ldt & 4) !== 0) cpu.fault(VECTOR.TS, ldt & 0xfffc);
    cpu.readDescriptor(ldt, VECTOR.TS);
    if (((cpu.descHi >> 8) & 0x1f) !== 2) cpu.fault(VECTOR.TS, ldt & 0xfffc);
    cpu.segSel[SEG.LDTR] = ldt;
    cpu.segBase[SEG.LDTR] =
      ((cpu.descLo >>> 16) | ((cpu.descHi & 0xff) << 16) | (cpu.descHi & 0xff000000)) >>> 0;
    cpu.segLimit[SEG.LDTR] = (cpu.descLo & 0xffff) | (cpu.descHi & 0xf0000);
    cpu.segAttr[SEG.LDTR] = (cpu.descHi >> 8) & 0xf0ff;
  }
  if ((newFlags & EFLAGS.VM) !== 0) {
    for (const s of [SEG.ES, SEG.SS, SEG.DS, SEG.FS, SEG.GS]) cpu.loadSegReal(s, sels[s]);
    cpu.loadCs(sels[SEG.CS], 3);
    cpu.rip = eip & 0xffff;
    return;
  }
  const cs = sels[SEG.CS];
  if ((cs & 0xfffc) === 0) cpu.fault(VECTOR.TS, 0);
  cpu.readDescriptor(cs, VECTOR.TS);
  if ((cpu.descHi & 0x1800) !== 0x1800) cpu.fault(VECTOR.TS, cs & 0xfffc);
  if ((cpu.descHi & 0x8000) === 0) cpu.fault(VECTOR.NP, cs & 0xfffc);
  cpu.cpl = cs & 3;
  cpu.loadCs(cs, cs & 3);
  cpu.loadSeg(SEG.SS, sels[SEG.SS]);
  for (const s of [SEG.ES, SEG.DS, SEG.FS, SEG.GS]) cpu.loadSeg(s, sels[s]);
  cpu.rip = eip;
}
