/**
 * Hardware task switches with 32-bit TSSs: JMP/CALL to a TSS descriptor or a task gate,
 * interrupts and exceptions through task gates, and IRET with EFLAGS.NT (return to the
 * back-link task). 16-bit TSSs are not supported.
 * @see Intel SDM Vol. 3A §7.3 "Task Switching", §7.4 "Task Linking"
 */
import { CR0, EFLAGS, SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { X86CpuError } from '../errors.ts';
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
  if (type === 0x01 || type === 0x03)
    throw new X86CpuError('UNSUPPORTED', '16-bit TSS task switches are not implemented');
  if (reason === TASK_IRET ? type !== 0x0b : type !== 0x09) cpu.gp(sel & 0xfffc);
  if ((newHi & 0x8000) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
  let limit = (newLo & 0xffff) | (newHi & 0xf0000);
  if ((newHi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
  if (limit >>> 0 < 0x67) cpu.fault(VECTOR.TS, sel & 0xfffc);
  const newBase = ((newLo >>> 16) | ((newHi & 0xff) << 16) | (newHi & 0xff000000)) >>> 0;

  // Save the outgoing task.
  const old = cpu.segBase[SEG.TR];
  let flags = getFlags(cpu);
  if (reason !== TASK_CALL) flags &= ~EFLAGS.NT;
  cpu.sysWrite32(old + 0x20, nextEip | 0);
  cpu.sysWrite32(old + 0x24, flags);
  for (let r = 0; r < 8; r++) cpu.sysWrite32(old + 0x28 + r * 4, cpu.lo[r]);
  for (let s = 0; s < 6; s++) cpu.sysWrite32(old + 0x48 + s * 4, cpu.segSel[s]);
  const oldSel = cpu.segSel[SEG.TR];
  if (reason !== TASK_CALL) {
    // Clear the outgoing task's busy bit.
    cpu.readDescriptor(oldSel, VECTOR.TS);
    cpu.sysWrite32(cpu.descAddr + 4, cpu.descHi & ~0x200);
  }

  // Read the incoming task's state.
  const eip = cpu.sysRead32(newBase + 0x20) >>> 0;
  let newFlags = cpu.sysRead32(newBase + 0x24);
  const gpr: number[] = [];
  for (let r = 0; r < 8; r++) gpr.push(cpu.sysRead32(newBase + 0x28 + r * 4));
  const sels: number[] = [];
  for (let s = 0; s < 6; s++) sels.push(cpu.sysRead32(newBase + 0x48 + s * 4) & 0xffff);
  const ldt = cpu.sysRead32(newBase + 0x60) & 0xffff;
  const cr3 = cpu.sysRead32(newBase + 0x1c) >>> 0;
  if (reason === TASK_CALL) {
    cpu.sysWrite32(newBase, oldSel);
    newFlags |= EFLAGS.NT;
  }
  // Mark the incoming task busy and load TR.
  cpu.sysWrite32(newDescAddr + 4, newHi | 0x200);
  cpu.segSel[SEG.TR] = sel & 0xffff;
  cpu.segBase[SEG.TR] = newBase;
  cpu.segLimit[SEG.TR] = limit;
  cpu.segAttr[SEG.TR] = ((newHi >> 8) & 0xf0ff) | 0x02;
  if ((cpu.cr0 & CR0.PG) !== 0) {
    cpu.cr3 = cr3;
    cpu.flushTlb();
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
