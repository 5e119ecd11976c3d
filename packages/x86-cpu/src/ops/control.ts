/**
 * Control transfer: Jcc, JMP/CALL/RET near and far, LOOP/LOOPcc/JrCXZ, INT n/INT3/INTO,
 * IRET (real, protected same- and outer-privilege, 64-bit).
 * @see Intel SDM Vol. 2A "CALL", "Jcc", "JMP", "INT n", "IRET", "LOOP"; Vol. 2B "RET"
 */
import { EFLAGS, EXIT, SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags, testCond } from '../flags.ts';
import { popFlags } from './data.ts';
import { TASK_CALL, TASK_IRET, TASK_JMP, taskSwitch } from './task.ts';
import { TSS_STACK, tssStack } from './tss-stack.ts';

const TWO32 = 4294967296;

function branchSize(cpu: X86Cpu): number {
  // D64 in the table makes near branches 64-bit in long mode.
  return cpu.osize;
}

/** @internal Jcc Jb / Jz (70..7F, 0F 80..8F). */
export function Jcc(cpu: X86Cpu): void {
  if (testCond(cpu, cpu.opcode & 0xf)) cpu.jumpTo(cpu.rip + cpu.imm, branchSize(cpu));
}

/** @internal JMP Jb / Jz (EB, E9). */
export function JMP_J(cpu: X86Cpu): void {
  cpu.jumpTo(cpu.rip + cpu.imm, branchSize(cpu));
}

/** @internal CALL Jz (E8). */
export function CALL_J(cpu: X86Cpu): void {
  const size = branchSize(cpu);
  const ret = cpu.rip;
  const target = ret + cpu.imm;
  // `| 0` is the exact low half of any integer below 2^53: no double modulo (DESIGN.md "Hot loop").
  cpu.push(size, ret | 0, size === 64 ? Math.floor(ret / TWO32) | 0 : 0);
  cpu.jumpTo(target, size);
}

/** @internal RET / RET Iw (C3, C2). */
export function RET(cpu: X86Cpu): void {
  const size = branchSize(cpu);
  const lo = cpu.pop(size);
  const target = size === 64 ? cpu.tmpHi * TWO32 + (lo >>> 0) : lo >>> 0;
  if (cpu.opcode === 0xc2) cpu.setSp(cpu.getSp() + cpu.imm);
  cpu.jumpTo(target, size);
}

/** @internal JMP Ev (FF /4). */
export function JMP_Ev(cpu: X86Cpu): void {
  const size = branchSize(cpu);
  const lo = cpu.readE(size);
  cpu.jumpTo(size === 64 ? cpu.tmpHi * TWO32 + (lo >>> 0) : lo >>> 0, size);
}

/** @internal CALL Ev (FF /2). */
export function CALL_Ev(cpu: X86Cpu): void {
  const size = branchSize(cpu);
  const lo = cpu.readE(size);
  const target = size === 64 ? cpu.tmpHi * TWO32 + (lo >>> 0) : lo >>> 0;
  const ret = cpu.rip;
  cpu.push(size, ret | 0, size === 64 ? Math.floor(ret / TWO32) | 0 : 0);
  cpu.jumpTo(target, size);
}

/** @internal LOOPNE/LOOPE/LOOP/JrCXZ (E0..E3); the counter is CX/ECX/RCX by address size. */
export function LOOP(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const asize = cpu.asize;
  let count: number;
  if (op === 0xe3) {
    count = asize === 64 ? cpu.lo[1] | cpu.hi[1] : asize === 32 ? cpu.lo[1] : cpu.lo[1] & 0xffff;
    if (count === 0) cpu.jumpTo(cpu.rip + cpu.imm, branchSize(cpu));
    return;
  }
  if (asize === 64) {
    cpu.setReg64(1, cpu.getReg64(1) - 1);
    count = cpu.lo[1] | cpu.hi[1];
  } else if (asize === 32) {
    cpu.lo[1] = (cpu.lo[1] - 1) | 0;
    count = cpu.lo[1];
  } else {
    cpu.lo[1] = (cpu.lo[1] & ~0xffff) | ((cpu.lo[1] - 1) & 0xffff);
    count = cpu.lo[1] & 0xffff;
  }
  let take = count !== 0;
  if (op === 0xe0) take = take && !testCond(cpu, 4);
  else if (op === 0xe1) take = take && testCond(cpu, 4);
  if (take) cpu.jumpTo(cpu.rip + cpu.imm, branchSize(cpu));
}

/** @internal Performs a far jump or call to `sel:offset` (real or protected mode, code segments only). */
function farTransfer(cpu: X86Cpu, sel: number, offset: number, call: boolean): void {
  const size = cpu.osize;
  if (!cpu.protectedMode || (getFlags(cpu) & EFLAGS.VM) !== 0) {
    if (call) {
      cpu.push(size, cpu.segSel[SEG.CS], 0);
      cpu.push(size, cpu.rip, 0);
    }
    cpu.loadCs(sel, cpu.cpl);
    cpu.rip = size === 16 ? offset & 0xffff : offset >>> 0;
    return;
  }
  cpu.checkFarCode(sel);
  if ((cpu.descHi & 0x1000) === 0) {
    throughCallGate(cpu, sel, call);
    return;
  }
  const conforming = ((cpu.descHi >> 8) & 4) !== 0;
  if (call) {
    const ret = cpu.rip;
    cpu.push(size, cpu.segSel[SEG.CS], 0);
    cpu.push(size, ret | 0, size === 64 ? Math.floor(ret / TWO32) | 0 : 0);
  }
  void conforming;
  cpu.loadCs(sel, cpu.cpl);
  if (cpu.mode64) cpu.jumpTo(offset, 64);
  else cpu.rip = size === 16 ? offset & 0xffff : offset >>> 0;
}

/** @internal JMP Ap / CALL Ap (EA, 9A; not in 64-bit mode). */
export function FAR_Ap(cpu: X86Cpu): void {
  farTransfer(cpu, cpu.imm2, cpu.imm, cpu.opcode === 0x9a);
}

/** @internal JMP Mp / CALL Mp (FF /5, FF /3). */
export function FAR_Mp(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  const size = cpu.osize;
  const lo = size === 64 ? cpu.read64(cpu.eaSeg, cpu.ea) : cpu.read(cpu.eaSeg, cpu.ea, size);
  const off = size === 64 ? cpu.tmpHi * TWO32 + (lo >>> 0) : size === 16 ? lo & 0xffff : lo >>> 0;
  const sel = cpu.read(cpu.eaSeg, cpu.eaPlus(size >> 3), 16);
  farTransfer(cpu, sel, off, (cpu.reg & 7) === 3);
}

/** @internal RETF / RETF Iw (CB, CA), including the return to an outer privilege level. */
export function RETF(cpu: X86Cpu): void {
  const size = cpu.osize;
  const n = size >> 3;
  const ipLo = cpu.peek(size, 0);
  const ip =
    size === 64 ? cpu.tmpHi * TWO32 + (ipLo >>> 0) : size === 16 ? ipLo & 0xffff : ipLo >>> 0;
  const sel = cpu.peek(size, n) & 0xffff;
  const extra = cpu.opcode === 0xca ? cpu.imm & 0xffff : 0;
  if (!cpu.protectedMode || (getFlags(cpu) & EFLAGS.VM) !== 0) {
    cpu.loadCs(sel, cpu.cpl);
    cpu.setSp(cpu.getSp() + 2 * n + extra);
    cpu.rip = ip;
    return;
  }
  const rpl = sel & 3;
  if (rpl < cpu.cpl || (sel & 0xfffc) === 0) cpu.gp(sel & 0xfffc);
  cpu.readDescriptor(sel, VECTOR.GP);
  const attr = (cpu.descHi >> 8) & 0xf0ff;
  if ((attr & 0x18) !== 0x18) cpu.gp(sel & 0xfffc);
  const dpl = (attr >> 5) & 3;
  if ((attr & 4) !== 0 ? dpl > rpl : dpl !== rpl) cpu.gp(sel & 0xfffc);
  if ((attr & 0x80) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
  if (rpl === cpu.cpl) {
    cpu.loadCs(sel, rpl);
    cpu.setSp(cpu.getSp() + 2 * n + extra);
    cpu.jumpTo(ip, size);
    return;
  }
  // Return to an outer privilege level: pop SS:eSP too.
  const spLo = cpu.peek(size, 2 * n + extra);
  const newSp = size === 64 ? cpu.tmpHi * TWO32 + (spLo >>> 0) : spLo >>> 0;
  const newSs = cpu.peek(size, 3 * n + extra) & 0xffff;
  const csLo = cpu.descLo;
  const csHi = cpu.descHi;
  const csAddr = cpu.descAddr;
  returnToOuter(cpu, sel, csLo, csHi, csAddr, rpl, newSs, newSp, size);
  cpu.setSp(cpu.getSp() + extra);
  cpu.jumpTo(ip, size);
}

function returnToOuter(
  cpu: X86Cpu,
  sel: number,
  csLo: number,
  csHi: number,
  csAddr: number,
  rpl: number,
  newSs: number,
  newSp: number,
  size: number,
): void {
  const to64 = cpu.mode64 || ((cpu.efer & 0x400) !== 0 && (csHi & 0x200000) !== 0);
  if ((newSs & 0xfffc) === 0) {
    if (!to64 || rpl === 3) cpu.gp(0);
  } else {
    cpu.readDescriptor(newSs, VECTOR.GP);
    const sattr = (cpu.descHi >> 8) & 0xf0ff;
    if ((newSs & 3) !== rpl || ((sattr >> 5) & 3) !== rpl || (sattr & 0x1a) !== 0x12)
      cpu.gp(newSs & 0xfffc);
    if ((sattr & 0x80) === 0) cpu.fault(VECTOR.SS, newSs & 0xfffc);
  }
  cpu.descLo = csLo;
  cpu.descHi = csHi;
  cpu.descAddr = csAddr;
  cpu.loadCs(sel, rpl);
  if ((newSs & 0xfffc) === 0) {
    cpu.segSel[SEG.SS] = newSs;
    cpu.segBase[SEG.SS] = 0;
    cpu.segLimit[SEG.SS] = 0;
    cpu.segAttr[SEG.SS] = 0x4093 | (rpl << 5);
  } else {
    cpu.readDescriptor(newSs, VECTOR.GP);
    cpu.setSegFromDesc(SEG.SS, newSs);
  }
  cpu.updateMode();
  if (size === 64 || cpu.stackSize === 64) cpu.setReg64(4, newSp);
  else cpu.setSp(newSp);
  // Data segments not accessible at the new CPL become null.
  for (const s of [SEG.ES, SEG.DS, SEG.FS, SEG.GS]) {
    const a = cpu.segAttr[s];
    const dataOrNonConf = (a & 0x18) !== 0x18 || (a & 4) === 0;
    if (dataOrNonConf && ((a >> 5) & 3) < rpl && (cpu.segSel[s] & 0xfffc) !== 0) {
      cpu.segSel[s] = 0;
      cpu.segAttr[s] = 0;
    }
  }
}

/** @internal INT3 (CC), INT Ib (CD), INTO (CE). Intercepted vectors exit with RIP past the instruction. */
export function INT(cpu: X86Cpu): void {
  const op = cpu.opcode;
  let vector: number;
  if (op === 0xcc) vector = VECTOR.BP;
  else if (op === 0xce) {
    if (cpu.mode64) cpu.ud();
    if (!testCond(cpu, 0)) return;
    vector = VECTOR.OF;
  } else vector = cpu.imm & 0xff;
  const fl = getFlags(cpu);
  if ((fl & EFLAGS.VM) !== 0 && ((fl >> 12) & 3) < 3) cpu.gp(0);
  if (cpu.swIntercept[vector] !== 0) {
    cpu.exit.vector = vector;
    cpu.requestExit(EXIT.SOFTWARE_INTERRUPT);
    return;
  }
  cpu.deliverInterrupt(vector, -1, true, cpu.rip);
}

/** @internal IRET/IRETD/IRETQ (CF). Task returns (NT) and returns to virtual-8086 mode are not implemented. */
export function IRET(cpu: X86Cpu): void {
  const size = cpu.osize;
  const n = size >> 3;
  const v86 = (getFlags(cpu) & EFLAGS.VM) !== 0;
  if (v86 && ((getFlags(cpu) >> 12) & 3) < 3) cpu.gp(0);
  if (!cpu.protectedMode || v86) {
    const ip = cpu.peek(size, 0);
    const cs = cpu.peek(size, n);
    const fl = cpu.peek(size, 2 * n);
    cpu.setSp(cpu.getSp() + 3 * n);
    cpu.loadCs(cs & 0xffff, 0);
    cpu.rip = size === 16 ? ip & 0xffff : ip >>> 0;
    const old = getFlags(cpu);
    let mask = size === 16 ? 0xffff : 0x257fd5;
    if (v86) mask &= ~(EFLAGS.IOPL | EFLAGS.VM);
    setFlags(cpu, (old & ~mask) | (fl & mask));
    return;
  }
  const flagsNow = getFlags(cpu);
  if ((flagsNow & EFLAGS.NT) !== 0 && (cpu.efer & 0x400) === 0) {
    // Task return to the back link of the current TSS.
    const back = cpu.sysRead32(cpu.segBase[SEG.TR]) & 0xffff;
    if ((back & 4) !== 0) cpu.fault(VECTOR.TS, back & 0xfffc);
    cpu.readDescriptor(back, VECTOR.TS);
    taskSwitch(cpu, back, TASK_IRET, cpu.rip);
    return;
  }
  const ipLo = cpu.peek(size, 0);
  const ipHi = cpu.tmpHi;
  const ip = size === 64 ? ipHi * TWO32 + (ipLo >>> 0) : size === 16 ? ipLo & 0xffff : ipLo >>> 0;
  const sel = cpu.peek(size, n) & 0xffff;
  const fl = cpu.peek(size, 2 * n);
  if ((fl & EFLAGS.VM) !== 0 && cpu.cpl === 0 && !cpu.mode64 && size !== 16) {
    iretToV86(cpu, ip, sel, fl);
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0 || rpl < cpu.cpl) cpu.gp(sel & 0xfffc);
  cpu.readDescriptor(sel, VECTOR.GP);
  const attr = (cpu.descHi >> 8) & 0xf0ff;
  if ((attr & 0x18) !== 0x18) cpu.gp(sel & 0xfffc);
  const dpl = (attr >> 5) & 3;
  if ((attr & 4) !== 0 ? dpl > rpl : dpl !== rpl) cpu.gp(sel & 0xfffc);
  if ((attr & 0x80) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
  const oldCpl = cpu.cpl;
  if (rpl === oldCpl && !cpu.mode64) {
    cpu.loadCs(sel, rpl);
    cpu.setSp(cpu.getSp() + 3 * n);
  } else {
    const spLo = cpu.peek(size, 3 * n);
    const sp = size === 64 ? cpu.tmpHi * TWO32 + (spLo >>> 0) : spLo >>> 0;
    const ss = cpu.peek(size, 4 * n) & 0xffff;
    if (rpl === oldCpl) {
      // 64-bit IRET to the same privilege still reloads SS:RSP.
      const csLo = cpu.descLo;
      const csHi = cpu.descHi;
      const csAddr = cpu.descAddr;
      if ((ss & 0xfffc) !== 0) {
        cpu.readDescriptor(ss, VECTOR.GP);
        cpu.setSegFromDesc(SEG.SS, ss);
      } else {
        cpu.segSel[SEG.SS] = ss;
      }
      cpu.descLo = csLo;
      cpu.descHi = csHi;
      cpu.descAddr = csAddr;
      cpu.loadCs(sel, rpl);
      cpu.setReg64(4, sp);
    } else {
      returnToOuter(cpu, sel, cpu.descLo, cpu.descHi, cpu.descAddr, rpl, ss, sp, size);
    }
  }
  // Flag rules use the CPL before the return.
  const savedCpl = cpu.cpl;
  cpu.cpl = oldCpl;
  popFlags(cpu, fl, size);
  cpu.cpl = savedCpl;
  cpu.jumpTo(ip, size === 16 ? 16 : cpu.mode64 ? 64 : 32);
  cpu.updateMode();
}

/** Returns from a ring-0 handler to virtual-8086 mode (the 9-slot 32-bit frame). @see Intel SDM Vol. 3A §20.3 */
function iretToV86(cpu: X86Cpu, ip: number, cs: number, fl: number): void {
  const esp = cpu.peek(32, 12);
  const ss = cpu.peek(32, 16) & 0xffff;
  const es = cpu.peek(32, 20) & 0xffff;
  const ds = cpu.peek(32, 24) & 0xffff;
  const fs = cpu.peek(32, 28) & 0xffff;
  const gs = cpu.peek(32, 32) & 0xffff;
  setFlags(cpu, (fl & 0x3f7fd5) | EFLAGS.VM);
  cpu.loadSegReal(SEG.ES, es);
  cpu.loadSegReal(SEG.DS, ds);
  cpu.loadSegReal(SEG.FS, fs);
  cpu.loadSegReal(SEG.GS, gs);
  cpu.loadSegReal(SEG.SS, ss);
  cpu.loadCs(cs, 3);
  cpu.setReg(32, 4, esp, 0);
  cpu.rip = ip & 0xffff;
}

/**
 * Far CALL/JMP through a call gate (legacy modes), including the inner-privilege stack switch
 * from the TSS and the copy of the gate's parameter count from the old stack.
 * @see Intel SDM Vol. 3A §5.8.4–5.8.5
 */
function throughCallGate(cpu: X86Cpu, gateSel: number, call: boolean): void {
  const sysType = (cpu.descHi >> 8) & 0x1f;
  if ((cpu.efer & 0x400) !== 0) {
    // IA-32e mode: no task switches, and only 16-byte 64-bit call gates (SDM Vol. 3A 5.8.3.1).
    if (sysType !== 0x0c) cpu.gp(gateSel & 0xfffc);
    throughCallGate64(cpu, gateSel, call);
    return;
  }
  if (sysType === 0x05 || sysType === 0x09 || sysType === 0x01) {
    // JMP/CALL to a task gate or directly to a TSS: a task switch.
    const dpl = (cpu.descHi >> 13) & 3;
    if (dpl < cpu.cpl || dpl < (gateSel & 3)) cpu.gp(gateSel & 0xfffc);
    if ((cpu.descHi & 0x8000) === 0) cpu.fault(VECTOR.NP, gateSel & 0xfffc);
    let tssSel = gateSel;
    if (sysType === 0x05) {
      tssSel = cpu.descLo >>> 16;
      if ((tssSel & 4) !== 0) cpu.gp(tssSel & 0xfffc);
      cpu.readDescriptor(tssSel, VECTOR.GP);
    }
    taskSwitch(cpu, tssSel, call ? TASK_CALL : TASK_JMP, cpu.rip);
    return;
  }
  const glo = cpu.descLo;
  const ghi = cpu.descHi;
  const gdpl = (ghi >> 13) & 3;
  if (gdpl < cpu.cpl || gdpl < (gateSel & 3)) cpu.gp(gateSel & 0xfffc);
  if ((ghi & 0x8000) === 0) cpu.fault(VECTOR.NP, gateSel & 0xfffc);
  const gate32 = (ghi & 0x800) !== 0;
  const psize = gate32 ? 32 : 16;
  const params = ghi & 0x1f;
  const csSel = glo >>> 16;
  const offset = gate32 ? ((ghi & 0xffff0000) | (glo & 0xffff)) >>> 0 : glo & 0xffff;
  if ((csSel & 0xfffc) === 0) cpu.gp(0);
  cpu.readDescriptor(csSel, VECTOR.GP);
  const attr = (cpu.descHi >> 8) & 0xf0ff;
  const dpl = (attr >> 5) & 3;
  const conforming = (attr & 4) !== 0;
  if ((attr & 0x18) !== 0x18 || dpl > cpu.cpl) cpu.gp(csSel & 0xfffc);
  if ((attr & 0x80) === 0) cpu.fault(VECTOR.NP, csSel & 0xfffc);
  const csLo = cpu.descLo;
  const csHi = cpu.descHi;
  const csAddr = cpu.descAddr;
  const oldCs = cpu.segSel[SEG.CS];
  const ret = cpu.rip;
  if (!call) {
    if (!conforming && dpl !== cpu.cpl) cpu.gp(csSel & 0xfffc);
    cpu.loadCs(csSel, cpu.cpl);
    cpu.rip = offset;
    return;
  }
  if (!conforming && dpl < cpu.cpl) {
    // Inner privilege: new stack from the TSS, then SS, ESP, the parameters, CS, EIP.
    tssStack(cpu, dpl);
    const newEsp = TSS_STACK[0];
    const newSs = TSS_STACK[1];
    if ((newSs & 0xfffc) === 0) cpu.fault(VECTOR.TS, 0);
    cpu.readDescriptor(newSs, VECTOR.TS);
    const sattr = (cpu.descHi >> 8) & 0xf0ff;
    if ((newSs & 3) !== dpl || ((sattr >> 5) & 3) !== dpl || (sattr & 0x1a) !== 0x12)
      cpu.fault(VECTOR.TS, newSs & 0xfffc);
    if ((sattr & 0x80) === 0) cpu.fault(VECTOR.SS, newSs & 0xfffc);
    const oldSs = cpu.segSel[SEG.SS];
    const oldSp = cpu.getSp();
    const copied: number[] = [];
    for (let i = 0; i < params; i++) copied.push(cpu.peek(psize, i * (psize >> 3)));
    cpu.setSegFromDesc(SEG.SS, newSs);
    cpu.updateMode();
    cpu.setSp(newEsp);
    cpu.push(psize, oldSs, 0);
    cpu.push(psize, oldSp, 0);
    for (let i = params - 1; i >= 0; i--) cpu.push(psize, copied[i], 0);
    cpu.descLo = csLo;
    cpu.descHi = csHi;
    cpu.descAddr = csAddr;
    cpu.loadCs(csSel, dpl);
  } else {
    cpu.loadCs(csSel, cpu.cpl);
  }
  cpu.push(psize, oldCs, 0);
  cpu.push(psize, ret, 0);
  cpu.rip = offset;
}

/**
 * Far JMP/CALL through a 64-bit call gate in IA-32e mode (SDM Vol. 3A 5.8.3.1 and the CALL/JMP
 * pseudo-code): the gate is 16 bytes (offset bits 63:32 in the third dword, a zero type in the
 * fourth), the target must be a 64-bit code segment, no parameters are copied, and a call to an
 * inner ring takes RSPn from the 64-bit TSS and a null SS with RPL = the new CPL, then pushes
 * SS, RSP, CS and RIP as quadwords.
 */
function throughCallGate64(cpu: X86Cpu, gateSel: number, call: boolean): void {
  const glo = cpu.descLo;
  const ghi = cpu.descHi;
  const gateAddr = cpu.descAddr;
  const gdpl = (ghi >> 13) & 3;
  if (gdpl < cpu.cpl || gdpl < (gateSel & 3)) cpu.gp(gateSel & 0xfffc);
  if ((ghi & 0x8000) === 0) cpu.fault(VECTOR.NP, gateSel & 0xfffc);
  const tableLimit = (gateSel & 4) !== 0 ? cpu.segLimit[SEG.LDTR] >>> 0 : cpu.gdtLimit;
  if ((gateSel & 0xfff8) + 15 > tableLimit) cpu.gp(gateSel & 0xfffc);
  const upperOffset = cpu.sysRead32(gateAddr + 8) | 0;
  if (((cpu.sysRead32(gateAddr + 12) >> 8) & 0x1f) !== 0) cpu.gp(gateSel & 0xfffc);
  const csSel = glo >>> 16;
  const offset = upperOffset * TWO32 + (((ghi & 0xffff0000) | (glo & 0xffff)) >>> 0);
  if ((csSel & 0xfffc) === 0) cpu.gp(0);
  cpu.readDescriptor(csSel, VECTOR.GP);
  const attr = (cpu.descHi >> 8) & 0xf0ff;
  const dpl = (attr >> 5) & 3;
  const conforming = (attr & 4) !== 0;
  if ((attr & 0x18) !== 0x18 || dpl > cpu.cpl) cpu.gp(csSel & 0xfffc);
  // A 64-bit code segment: L = 1 and D = 0.
  if ((attr & 0x6000) !== 0x2000) cpu.gp(csSel & 0xfffc);
  if ((attr & 0x80) === 0) cpu.fault(VECTOR.NP, csSel & 0xfffc);
  if (offset < -0x800000000000 || offset >= 0x800000000000) cpu.gp(0);
  const csLo = cpu.descLo;
  const csHi = cpu.descHi;
  const csAddr = cpu.descAddr;
  if (!call) {
    if (!conforming && dpl !== cpu.cpl) cpu.gp(csSel & 0xfffc);
    cpu.loadCs(csSel, cpu.cpl);
    cpu.rip = offset;
    return;
  }
  const oldCs = cpu.segSel[SEG.CS];
  const ret = cpu.rip;
  if (!conforming && dpl < cpu.cpl) {
    const off = 4 + dpl * 8;
    if (off + 7 > cpu.segLimit[SEG.TR] >>> 0) cpu.fault(VECTOR.TS, cpu.segSel[SEG.TR] & 0xfffc);
    const tss = cpu.segBase[SEG.TR] + off;
    const newRsp = (cpu.sysRead32(tss + 4) | 0) * TWO32 + (cpu.sysRead32(tss) >>> 0);
    if (newRsp < -0x800000000000 || newRsp >= 0x800000000000) cpu.fault(VECTOR.SS, 0);
    const oldSs = cpu.segSel[SEG.SS];
    const oldSp = cpu.getReg64(4);
    cpu.segSel[SEG.SS] = dpl;
    cpu.segBase[SEG.SS] = 0;
    cpu.segLimit[SEG.SS] = 0;
    cpu.segAttr[SEG.SS] = 0x4093 | (dpl << 5);
    cpu.descLo = csLo;
    cpu.descHi = csHi;
    cpu.descAddr = csAddr;
    cpu.loadCs(csSel, dpl);
    cpu.setReg64(4, newRsp);
    cpu.push(64, oldSs, 0);
    cpu.push(64, (oldSp % TWO32) | 0, Math.floor(oldSp / TWO32) | 0);
  } else {
    cpu.loadCs(csSel, cpu.cpl);
  }
  cpu.push(64, oldCs, 0);
  cpu.push(64, (ret % TWO32) | 0, Math.floor(ret / TWO32) | 0);
  cpu.rip = offset;
}
