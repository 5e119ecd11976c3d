/**
 * System instructions: HLT, CLI/STI, flag instructions, descriptor-table registers
 * (LGDT/LIDT/SGDT/SIDT/LLDT/SLDT/LTR/STR), LAR/LSL/VERR/VERW, LMSW/SMSW, INVLPG, MOV to/from CR and DR, CLTS,
 * CPUID, RDTSC/RDTSCP, RDMSR/WRMSR, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, cache and
 * fence no-ops, UD2.
 * @see Intel SDM Vol. 2 (each mnemonic); Vol. 3A §2.5 (control registers), §5.8.8 (SYSCALL)
 */
import { CR0, CR4, EFER, EFLAGS, EXIT, MSR, SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags } from '../flags.ts';
import { defaultCpuid } from '../internal/cpuid.ts';

const TWO32 = 4294967296;

function needCpl0(cpu: X86Cpu): void {
  if (cpu.protectedMode && cpu.cpl !== 0) cpu.gp(0);
}

/** @internal HLT (F4): CPL 0 only. */
export function HLT(cpu: X86Cpu): void {
  needCpl0(cpu);
  cpu.halted = true;
}

/** @internal CLI/STI (FA/FB): need CPL <= IOPL in protected mode; STI opens a one-instruction shadow. */
export function CLI_STI(cpu: X86Cpu): void {
  const f = getFlags(cpu);
  if (cpu.protectedMode && cpu.cpl > ((f >> 12) & 3)) cpu.gp(0);
  if (cpu.opcode === 0xfa) setFlags(cpu, f & ~EFLAGS.IF);
  else {
    if ((f & EFLAGS.IF) === 0) cpu.interruptShadow = true;
    setFlags(cpu, f | EFLAGS.IF);
  }
}

/** @internal CMC/CLC/STC/CLD/STD (F5, F8, F9, FC, FD). */
export function FLAGOP(cpu: X86Cpu): void {
  const f = getFlags(cpu);
  switch (cpu.opcode) {
    case 0xf5:
      setFlags(cpu, f ^ EFLAGS.CF);
      return;
    case 0xf8:
      setFlags(cpu, f & ~EFLAGS.CF);
      return;
    case 0xf9:
      setFlags(cpu, f | EFLAGS.CF);
      return;
    case 0xfc:
      setFlags(cpu, f & ~EFLAGS.DF);
      return;
    default:
      setFlags(cpu, f | EFLAGS.DF);
  }
}

/** @internal NOP forms: 0F 1F /r, 0F 18..1E hints, PAUSE, fences, WBINVD/INVD (privileged). */
export function NOP(cpu: X86Cpu): void {
  if (cpu.opcode === 0x108 || cpu.opcode === 0x109) needCpl0(cpu);
}

/** @internal UD2 (0F 0B) and reserved encodings. */
export function UD(cpu: X86Cpu): void {
  cpu.ud();
}

/** @internal Grp15 (0F AE): fences (mod = 3) and CLFLUSH (/7 memory); other forms #UD. */
export function GRP15(cpu: X86Cpu): void {
  const r = cpu.reg & 7;
  if (cpu.mod === 3) {
    if (r >= 5) return;
    cpu.ud();
  }
  if (r === 7) {
    cpu.read(cpu.eaSeg, cpu.ea, 8);
    return;
  }
  cpu.ud();
}

function loadDtr(cpu: X86Cpu, idt: boolean): void {
  if (cpu.mod === 3) cpu.ud();
  needCpl0(cpu);
  const limit = cpu.read(cpu.eaSeg, cpu.ea, 16);
  let base: number;
  if (cpu.mode64) {
    const lo = cpu.read64(cpu.eaSeg, cpu.eaPlus(2));
    base = cpu.tmpHi * TWO32 + (lo >>> 0);
  } else {
    base = cpu.read(cpu.eaSeg, cpu.eaPlus(2), 32) >>> 0;
    if (cpu.osize === 16) base &= 0xffffff;
  }
  if (idt) {
    cpu.idtBase = base;
    cpu.idtLimit = limit;
  } else {
    cpu.gdtBase = base;
    cpu.gdtLimit = limit;
  }
}

function storeDtr(cpu: X86Cpu, idt: boolean): void {
  if (cpu.mod === 3) cpu.ud();
  const base = idt ? cpu.idtBase : cpu.gdtBase;
  const limit = idt ? cpu.idtLimit : cpu.gdtLimit;
  cpu.write(cpu.eaSeg, cpu.ea, 16, limit);
  if (cpu.mode64)
    cpu.write64(cpu.eaSeg, cpu.eaPlus(2), (base % TWO32) | 0, Math.floor(base / TWO32) | 0);
  else cpu.write(cpu.eaSeg, cpu.eaPlus(2), 32, base | 0);
}

/** @internal Grp7 (0F 01): SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG, SWAPGS, RDTSCP. */
export function GRP7(cpu: X86Cpu): void {
  const r = cpu.reg & 7;
  if (cpu.mod === 3) {
    const rm = cpu.rm & 7;
    if (r === 7 && rm === 0) {
      SWAPGS(cpu);
      return;
    }
    if (r === 7 && rm === 1) {
      RDTSC(cpu);
      return;
    }
    if (r === 4) {
      SMSW(cpu);
      return;
    }
    if (r === 6) {
      LMSW(cpu);
      return;
    }
    cpu.ud();
    return;
  }
  switch (r) {
    case 0:
      storeDtr(cpu, false);
      return;
    case 1:
      storeDtr(cpu, true);
      return;
    case 2:
      loadDtr(cpu, false);
      return;
    case 3:
      loadDtr(cpu, true);
      return;
    case 4:
      SMSW(cpu);
      return;
    case 6:
      LMSW(cpu);
      return;
    case 7: {
      needCpl0(cpu);
      const lin = cpu.mode64
        ? (cpu.eaSeg >= 4 ? cpu.segBase[cpu.eaSeg] : 0) + cpu.ea
        : (cpu.segBase[cpu.eaSeg] + cpu.ea) % TWO32;
      cpu.invlpg(lin);
      return;
    }
    default:
      cpu.ud();
  }
}

function SMSW(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.setReg(cpu.osize, cpu.rm, cpu.cr0 & (cpu.osize === 16 ? 0xffff : -1), 0);
  else cpu.writeE(16, cpu.cr0, 0);
}

function LMSW(cpu: X86Cpu): void {
  needCpl0(cpu);
  const v = cpu.readE(16);
  // LMSW can set PE but not clear it; it only touches PE, MP, EM, TS.
  writeCr0(cpu, (cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & 1));
}

/** @internal Writes CR0 with the architectural checks and long-mode activation. */
export function writeCr0(cpu: X86Cpu, v: number): void {
  v |= CR0.ET;
  if ((v & CR0.PG) !== 0 && (v & CR0.PE) === 0) cpu.gp(0);
  if ((v & CR0.NW) !== 0 && (v & CR0.CD) === 0) cpu.gp(0);
  const pgOn = (v & CR0.PG) !== 0 && (cpu.cr0 & CR0.PG) === 0;
  const pgOff = (v & CR0.PG) === 0 && (cpu.cr0 & CR0.PG) !== 0;
  if (pgOn && (cpu.efer & EFER.LME) !== 0) {
    if ((cpu.cr4 & CR4.PAE) === 0) cpu.gp(0);
    cpu.efer |= EFER.LMA;
  }
  if (pgOff && (cpu.efer & EFER.LMA) !== 0) {
    if (cpu.mode64) cpu.gp(0);
    cpu.efer &= ~EFER.LMA;
  }
  cpu.cr0 = v;
  cpu.flushGuestTlb();
  cpu.updateMode();
}

/** @internal MOV r,CRn / MOV CRn,r (0F 20 / 0F 22); CR8 via REX.R. */
export function MOV_CR(cpu: X86Cpu): void {
  needCpl0(cpu);
  const cr = cpu.reg;
  const size = cpu.mode64 ? 64 : 32;
  const r = cpu.rm;
  if (cpu.opcode === 0x120) {
    let v: number;
    switch (cr) {
      case 0:
        v = cpu.cr0;
        break;
      case 2:
        v = cpu.cr2;
        break;
      case 3:
        v = cpu.cr3;
        break;
      case 4:
        v = cpu.cr4;
        break;
      case 8:
        v = cpu.cr8;
        break;
      default:
        cpu.ud();
        return;
    }
    if (size === 64) cpu.setReg64(r, v);
    else cpu.setReg(32, r, v | 0, 0);
    return;
  }
  const v = size === 64 ? cpu.getReg64(r) : cpu.lo[r] >>> 0;
  const vlo = cpu.lo[r];
  switch (cr) {
    case 0:
      if (size === 64 && cpu.hi[r] !== 0) cpu.gp(0);
      writeCr0(cpu, vlo);
      return;
    case 2:
      cpu.cr2 = v;
      return;
    case 3:
      cpu.cr3 = size === 64 ? v : v >>> 0;
      cpu.flushGuestTlb();
      return;
    case 4: {
      const known = 0x1f7fff & ~(1 << 11) & ~(1 << 12) & ~(1 << 15) & ~(1 << 19);
      if ((vlo & ~known) !== 0 || (size === 64 && cpu.hi[r] !== 0)) cpu.gp(0);
      if ((cpu.efer & EFER.LMA) !== 0 && (vlo & CR4.PAE) === 0) cpu.gp(0);
      cpu.cr4 = vlo;
      cpu.flushGuestTlb();
      return;
    }
    case 8:
      if ((vlo & ~0xf) !== 0) cpu.gp(0);
      cpu.cr8 = vlo;
      return;
    default:
      cpu.ud();
  }
}

/** @internal MOV r,DRn / MOV DRn,r (0F 21 / 0F 23): stored only (no breakpoints yet). */
export function MOV_DR(cpu: X86Cpu): void {
  needCpl0(cpu);
  let dr = cpu.reg;
  if (dr > 7) cpu.ud();
  if (dr === 4 || dr === 5) {
    if ((cpu.cr4 & CR4.DE) !== 0) cpu.ud();
    dr += 2;
  }
  const r = cpu.rm;
  if (cpu.opcode === 0x121) {
    if (cpu.mode64) cpu.setReg64(r, cpu.dr[dr]);
    else cpu.setReg(32, r, cpu.dr[dr] | 0, 0);
  } else {
    let v = cpu.mode64 ? cpu.getReg64(r) : cpu.lo[r] >>> 0;
    if (dr === 6) v = (v | 0xffff0ff0) >>> 0;
    if (dr === 7) v = ((v | 0x400) & ~0x2000) >>> 0;
    cpu.dr[dr] = v;
  }
}

/** @internal CLTS (0F 06). */
export function CLTS(cpu: X86Cpu): void {
  needCpl0(cpu);
  cpu.cr0 &= ~CR0.TS;
}

/** @internal CPUID (0F A2): from the configured leaves, the defaults, or an exit. */
export function CPUID(cpu: X86Cpu): void {
  if (cpu.intercepts.cpuid) {
    cpu.requestExit(EXIT.CPUID);
    return;
  }
  const leaf = cpu.lo[0] >>> 0;
  const sub = cpu.lo[1] >>> 0;
  const r =
    cpu.cpuidLeaves.get(`${leaf}.${sub}`) ??
    cpu.cpuidLeaves.get(`${leaf}`) ??
    defaultCpuid(leaf, sub);
  cpu.setReg(32, 0, r.eax | 0, 0);
  cpu.setReg(32, 3, r.ebx | 0, 0);
  cpu.setReg(32, 1, r.ecx | 0, 0);
  cpu.setReg(32, 2, r.edx | 0, 0);
}

/** @internal RDTSC (0F 31) and RDTSCP (0F 01 F9): #GP(0) at CPL > 0 when CR4.TSD. */
export function RDTSC(cpu: X86Cpu): void {
  if ((cpu.cr4 & CR4.TSD) !== 0 && cpu.protectedMode && cpu.cpl !== 0) cpu.gp(0);
  const t = cpu.time.readTsc() + cpu.tscOffset;
  cpu.setReg(32, 0, (t % TWO32) | 0, 0);
  cpu.setReg(32, 2, Math.floor(t / TWO32) | 0, 0);
  if (cpu.opcode === 0x101) {
    const aux = cpu.msrs.get(MSR.IA32_TSC_AUX);
    cpu.setReg(32, 1, aux === undefined ? 0 : aux[0], 0);
  }
}

/** @internal RDMSR (0F 32). */
export function RDMSR(cpu: X86Cpu): void {
  needCpl0(cpu);
  const index = cpu.lo[1] >>> 0;
  if (cpu.intercepts.msr) {
    cpu.exit.msr = index;
    cpu.requestExit(EXIT.RDMSR);
    return;
  }
  const lo = cpu.readMsr(index);
  const hi = cpu.tmpHi;
  cpu.setReg(32, 0, lo, 0);
  cpu.setReg(32, 2, hi, 0);
}

/** @internal WRMSR (0F 30). */
export function WRMSR(cpu: X86Cpu): void {
  needCpl0(cpu);
  const index = cpu.lo[1] >>> 0;
  if (cpu.intercepts.msr) {
    cpu.exit.msr = index;
    cpu.exit.value = cpu.lo[0];
    cpu.exit.valueHi = cpu.lo[2];
    cpu.requestExit(EXIT.WRMSR);
    return;
  }
  cpu.writeMsr(index, cpu.lo[0], cpu.lo[2]);
}

function msr(cpu: X86Cpu, index: number): number {
  const v = cpu.msrs.get(index);
  cpu.tmpHi = v === undefined ? 0 : v[1];
  return v === undefined ? 0 : v[0];
}

/** @internal SYSCALL (0F 05): long mode and legacy (AMD) forms; may be intercepted. */
export function SYSCALL(cpu: X86Cpu): void {
  if ((cpu.efer & EFER.SCE) === 0) cpu.ud();
  if (cpu.intercepts.syscall) {
    cpu.requestExit(EXIT.SYSCALL);
    return;
  }
  if (!cpu.protectedMode) cpu.ud();
  msr(cpu, MSR.IA32_STAR);
  const starHi = cpu.tmpHi;
  const starLo = msr(cpu, MSR.IA32_STAR);
  const csSel = starHi & 0xfffc;
  const flags = getFlags(cpu);
  const lma = (cpu.efer & EFER.LMA) !== 0;
  if (lma) {
    cpu.setReg64(1, cpu.rip);
    cpu.setReg(64, 11, flags & ~EFLAGS.RF, 0);
    const targetLo = msr(cpu, cpu.mode64 ? MSR.IA32_LSTAR : MSR.IA32_CSTAR);
    const target = cpu.tmpHi * TWO32 + (targetLo >>> 0);
    const fmask = msr(cpu, MSR.IA32_FMASK);
    setFlags(cpu, flags & ~fmask & ~EFLAGS.RF);
    setFlatCs(cpu, csSel, 0, true);
    setFlatSs(cpu, (csSel + 8) & 0xfffc, 0);
    cpu.rip = target;
  } else {
    cpu.setReg(32, 1, cpu.rip | 0, 0);
    setFlags(cpu, flags & ~(EFLAGS.VM | EFLAGS.IF | EFLAGS.RF));
    setFlatCs(cpu, csSel, 0, false);
    setFlatSs(cpu, (csSel + 8) & 0xfffc, 0);
    cpu.rip = starLo >>> 0;
  }
}

function setFlatCs(cpu: X86Cpu, sel: number, cpl: number, long: boolean): void {
  cpu.segSel[SEG.CS] = sel | cpl;
  cpu.segBase[SEG.CS] = 0;
  cpu.segLimit[SEG.CS] = -1;
  cpu.segAttr[SEG.CS] = 0x809b | (cpl << 5) | (long ? 0x2000 : 0x4000);
  cpu.cpl = cpl;
  cpu.updateMode();
}

function setFlatSs(cpu: X86Cpu, sel: number, cpl: number): void {
  cpu.segSel[SEG.SS] = sel | cpl;
  cpu.segBase[SEG.SS] = 0;
  cpu.segLimit[SEG.SS] = -1;
  cpu.segAttr[SEG.SS] = 0xc093 | (cpl << 5);
  cpu.updateMode();
}

/** @internal SYSRET (0F 07): CPL 0 only; REX.W returns to 64-bit mode. */
export function SYSRET(cpu: X86Cpu): void {
  if ((cpu.efer & EFER.SCE) === 0) cpu.ud();
  if (!cpu.protectedMode || cpu.cpl !== 0) cpu.gp(0);
  msr(cpu, MSR.IA32_STAR);
  const base = (cpu.tmpHi >>> 16) & 0xffff;
  const lma = (cpu.efer & EFER.LMA) !== 0;
  if (lma && cpu.osize === 64) {
    const target = cpu.getReg64(1);
    if (target < -0x800000000000 || target >= 0x800000000000) cpu.gp(0);
    setFlags(cpu, (cpu.lo[11] & 0x3c7fd7) | 2);
    setFlatCs(cpu, (base + 16) & 0xfffc, 3, true);
    setFlatSs(cpu, (base + 8) & 0xfffc, 3);
    cpu.rip = target;
  } else {
    if (lma) setFlags(cpu, (cpu.lo[11] & 0x3c7fd7) | 2);
    else setFlags(cpu, getFlags(cpu) | EFLAGS.IF);
    setFlatCs(cpu, base & 0xfffc, 3, false);
    setFlatSs(cpu, (base + 8) & 0xfffc, 3);
    cpu.rip = cpu.lo[1] >>> 0;
  }
}

/** @internal SWAPGS (0F 01 F8): 64-bit mode, CPL 0. */
export function SWAPGS(cpu: X86Cpu): void {
  if (!cpu.mode64) cpu.ud();
  if (cpu.cpl !== 0) cpu.gp(0);
  const klo = msr(cpu, MSR.IA32_KERNEL_GS_BASE);
  const k = cpu.tmpHi * TWO32 + (klo >>> 0);
  const g = cpu.segBase[SEG.GS];
  cpu.msrs.set(MSR.IA32_KERNEL_GS_BASE, [(g % TWO32) | 0, Math.floor(g / TWO32) | 0]);
  cpu.segBase[SEG.GS] = k;
}

function systemDescriptor(cpu: X86Cpu, sel: number): void {
  if ((sel & 4) !== 0) cpu.gp(sel & 0xfffc);
  cpu.readDescriptor(sel, VECTOR.GP);
}

function setSystemSeg(cpu: X86Cpu, seg: number, sel: number): void {
  const lo = cpu.descLo;
  const hi = cpu.descHi;
  cpu.segSel[seg] = sel;
  let base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  if ((cpu.efer & EFER.LMA) !== 0) {
    const upper = cpu.sysRead32(cpu.descAddr + 8);
    base += upper * TWO32;
  }
  cpu.segBase[seg] = base;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((hi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
  cpu.segLimit[seg] = limit;
  cpu.segAttr[seg] = (hi >> 8) & 0xf0ff;
}

/** @internal Grp6 (0F 00): SLDT, STR, LLDT, LTR, VERR, VERW. */
export function GRP6(cpu: X86Cpu): void {
  const r = cpu.reg & 7;
  if (!cpu.protectedMode) cpu.ud();
  switch (r) {
    case 0:
    case 1: {
      const v = cpu.segSel[r === 0 ? SEG.LDTR : SEG.TR];
      if (cpu.mod === 3) cpu.setReg(cpu.osize, cpu.rm, v, 0);
      else cpu.writeE(16, v, 0);
      return;
    }
    case 2: {
      needCpl0(cpu);
      const sel = cpu.readE(16);
      if ((sel & 0xfffc) === 0) {
        cpu.segSel[SEG.LDTR] = sel;
        cpu.segAttr[SEG.LDTR] = 0;
        return;
      }
      systemDescriptor(cpu, sel);
      if (((cpu.descHi >> 8) & 0x1f) !== 2) cpu.gp(sel & 0xfffc);
      if ((cpu.descHi & 0x8000) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
      setSystemSeg(cpu, SEG.LDTR, sel);
      return;
    }
    case 3: {
      needCpl0(cpu);
      const sel = cpu.readE(16);
      if ((sel & 0xfffc) === 0) cpu.gp(0);
      systemDescriptor(cpu, sel);
      const type = (cpu.descHi >> 8) & 0x1f;
      const lma = (cpu.efer & EFER.LMA) !== 0;
      if (lma ? type !== 9 : type !== 9 && type !== 1) cpu.gp(sel & 0xfffc);
      if ((cpu.descHi & 0x8000) === 0) cpu.fault(VECTOR.NP, sel & 0xfffc);
      setSystemSeg(cpu, SEG.TR, sel);
      cpu.descHi |= 0x200;
      cpu.segAttr[SEG.TR] |= 2;
      cpu.sysWrite32(cpu.descAddr + 4, cpu.descHi);
      return;
    }
    case 4:
    case 5: {
      const sel = cpu.readE(16);
      setZf(cpu, descriptorVisible(cpu, sel, r === 4 ? 'verr' : 'verw'));
      return;
    }
    default:
      cpu.ud();
  }
}

function setZf(cpu: X86Cpu, on: boolean): void {
  const f = getFlags(cpu);
  setFlags(cpu, on ? f | EFLAGS.ZF : f & ~EFLAGS.ZF);
}

/**
 * The common checks of LAR, LSL, VERR and VERW: the selector names a descriptor of an
 * allowed type that is visible at the current privilege. Leaves the descriptor loaded.
 * Never faults on the selector itself (the answer is ZF).
 */
function descriptorVisible(cpu: X86Cpu, sel: number, op: 'lar' | 'lsl' | 'verr' | 'verw'): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const index = sel & 0xfff8;
  const ldt = (sel & 4) !== 0;
  const base = ldt ? cpu.segBase[SEG.LDTR] : cpu.gdtBase;
  const limit = ldt ? cpu.segLimit[SEG.LDTR] >>> 0 : cpu.gdtLimit;
  if ((ldt && (cpu.segAttr[SEG.LDTR] & 0x80) === 0) || index + 7 > limit) return false;
  cpu.descAddr = base + index;
  cpu.descLo = cpu.sysRead32(cpu.descAddr);
  cpu.descHi = cpu.sysRead32(cpu.descAddr + 4);
  const attr = (cpu.descHi >> 8) & 0xff;
  const dpl = (attr >> 5) & 3;
  const type = attr & 0x1f;
  const code = (type & 0x18) === 0x18;
  const conforming = code && (type & 4) !== 0;
  if ((type & 0x10) === 0) {
    if (op === 'verr' || op === 'verw') return false;
    const long = (cpu.efer & EFER.LMA) !== 0;
    const okLar = long ? [2, 9, 0xb, 0xc] : [1, 2, 3, 4, 5, 9, 0xb, 0xc];
    const okLsl = long ? [2, 9, 0xb] : [1, 2, 3, 9, 0xb];
    if (!(op === 'lar' ? okLar : okLsl).includes(type)) return false;
  } else if (op === 'verr' && code && (type & 2) === 0) return false;
  else if (op === 'verw' && (code || (type & 2) === 0)) return false;
  if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) return false;
  return true;
}

/** @internal LAR Gv,Ew (0F 02) and LSL Gv,Ew (0F 03). */
export function LAR_LSL(cpu: X86Cpu): void {
  if (!cpu.protectedMode) cpu.ud();
  const sel = cpu.readE(16);
  const lar = cpu.opcode === 0x102;
  const ok = descriptorVisible(cpu, sel, lar ? 'lar' : 'lsl');
  setZf(cpu, ok);
  if (!ok) return;
  const hi = cpu.descHi;
  let v: number;
  if (lar) v = cpu.osize === 16 ? hi & 0xff00 : hi & 0x00f0ff00;
  else {
    v = (cpu.descLo & 0xffff) | (hi & 0xf0000);
    if ((hi & 0x800000) !== 0) v = (v << 12) | 0xfff;
  }
  cpu.setReg(cpu.osize, cpu.reg, v, 0);
}

/** @internal SYSENTER (0F 34): to CPL 0 at IA32_SYSENTER_CS:EIP/ESP; #GP(0) in real mode or with a null CS. */
export function SYSENTER(cpu: X86Cpu): void {
  const cs = msr(cpu, MSR.IA32_SYSENTER_CS) & 0xfffc;
  if (!cpu.protectedMode || cs === 0) cpu.gp(0);
  const eipLo = msr(cpu, MSR.IA32_SYSENTER_EIP);
  const eipHi = cpu.tmpHi;
  const espLo = msr(cpu, MSR.IA32_SYSENTER_ESP);
  const espHi = cpu.tmpHi;
  const lma = (cpu.efer & EFER.LMA) !== 0;
  setFlags(cpu, getFlags(cpu) & ~(EFLAGS.VM | EFLAGS.IF | EFLAGS.RF));
  setFlatCs(cpu, cs, 0, lma);
  setFlatSs(cpu, (cs + 8) & 0xfffc, 0);
  if (lma) {
    cpu.rip = eipHi * TWO32 + (eipLo >>> 0);
    cpu.setReg(64, 4, espLo, espHi);
  } else {
    cpu.rip = eipLo >>> 0;
    cpu.setReg(32, 4, espLo, 0);
  }
}

/** @internal SYSEXIT (0F 35): CPL 0 only; returns to CPL 3 at EDX/RDX with ESP/RSP = ECX/RCX. */
export function SYSEXIT(cpu: X86Cpu): void {
  const cs = msr(cpu, MSR.IA32_SYSENTER_CS) & 0xfffc;
  if (!cpu.protectedMode || cpu.cpl !== 0 || cs === 0) cpu.gp(0);
  if (cpu.osize === 64) {
    setFlatCs(cpu, (cs + 32) & 0xfffc, 3, true);
    setFlatSs(cpu, (cs + 40) & 0xfffc, 3);
    cpu.rip = cpu.getReg64(2);
    cpu.setReg(64, 4, cpu.lo[1], cpu.hi[1]);
  } else {
    setFlatCs(cpu, (cs + 16) & 0xfffc, 3, false);
    setFlatSs(cpu, (cs + 24) & 0xfffc, 3);
    cpu.rip = cpu.lo[2] >>> 0;
    cpu.setReg(32, 4, cpu.lo[1], 0);
  }
}
