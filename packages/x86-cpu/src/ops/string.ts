/**
 * String and port I/O instructions: MOVS, CMPS, STOS, LODS, SCAS with REP/REPE/REPNE, IN/OUT
 * and INS/OUTS (as VM exits), with I/O permission checks (IOPL and the TSS bitmap).
 * A REP instruction runs at most {@link REP_CHUNK} iterations per step and then restarts
 * itself, so budgets and interrupts stay responsive; registers are committed per iteration
 * so a fault in the middle restarts correctly.
 * @see Intel SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ", "MOVS", "CMPS", "IN", "OUT", "INS", "OUTS";
 *   Vol. 1 §19.5 (I/O permission bit map)
 */
import { EFLAGS, EXIT, SEG } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, testCond } from '../flags.ts';
import { cmpFlags } from './arith.ts';

/** Maximum REP iterations per step before the instruction restarts itself. */
export const REP_CHUNK = 4096;

function getIdx(cpu: X86Cpu, r: number): number {
  if (cpu.asize === 64) return cpu.getReg64(r);
  return cpu.asize === 32 ? cpu.lo[r] >>> 0 : cpu.lo[r] & 0xffff;
}

function setIdx(cpu: X86Cpu, r: number, v: number): void {
  if (cpu.asize === 64) cpu.setReg64(r, v);
  else if (cpu.asize === 32) cpu.setReg(32, r, v | 0, 0);
  else cpu.lo[r] = (cpu.lo[r] & ~0xffff) | (v & 0xffff);
}

function stepIdx(cpu: X86Cpu, r: number, n: number): void {
  setIdx(cpu, r, cpu.wrapAddr(getIdx(cpu, r) + ((cpu.eflags & EFLAGS.DF) !== 0 ? -n : n)));
}

function readAt(cpu: X86Cpu, seg: number, off: number, size: number): number {
  return size === 64 ? cpu.read64(seg, off) : cpu.read(seg, off, size);
}

function writeAt(
  cpu: X86Cpu,
  seg: number,
  off: number,
  size: number,
  v: number,
  vhi: number,
): void {
  if (size === 64) cpu.write64(seg, off, v, vhi);
  else cpu.write(seg, off, size, v);
}

/** @internal MOVS/CMPS/STOS/LODS/SCAS (A4..AF except A8/A9). */
export function STRING(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 8 : cpu.osize;
  const n = size >> 3;
  const src = cpu.segOv >= 0 ? cpu.segOv : SEG.DS;
  const rep = cpu.rep;
  const kind = op & 0xfe;
  const compares = kind === 0xa6 || kind === 0xae;
  let iter = 0;
  for (;;) {
    if (rep !== 0 && getIdx(cpu, 1) === 0) return;
    switch (kind) {
      case 0xa4: {
        const v = readAt(cpu, src, getIdx(cpu, 6), size);
        writeAt(cpu, SEG.ES, getIdx(cpu, 7), size, v, cpu.tmpHi);
        stepIdx(cpu, 6, n);
        stepIdx(cpu, 7, n);
        break;
      }
      case 0xa6: {
        const a = readAt(cpu, src, getIdx(cpu, 6), size);
        const ahi = cpu.tmpHi;
        const b = readAt(cpu, SEG.ES, getIdx(cpu, 7), size);
        cmpFlags(cpu, size, a, ahi, b, cpu.tmpHi);
        stepIdx(cpu, 6, n);
        stepIdx(cpu, 7, n);
        break;
      }
      case 0xaa: {
        const v = cpu.getReg(size, 0);
        writeAt(cpu, SEG.ES, getIdx(cpu, 7), size, v, cpu.tmpHi);
        stepIdx(cpu, 7, n);
        break;
      }
      case 0xac: {
        const v = readAt(cpu, src, getIdx(cpu, 6), size);
        cpu.setReg(size, 0, v, cpu.tmpHi);
        stepIdx(cpu, 6, n);
        break;
      }
      default: {
        const a = cpu.getReg(size, 0);
        const ahi = cpu.tmpHi;
        const b = readAt(cpu, SEG.ES, getIdx(cpu, 7), size);
        cmpFlags(cpu, size, a, ahi, b, cpu.tmpHi);
        stepIdx(cpu, 7, n);
      }
    }
    if (rep === 0) return;
    setIdx(cpu, 1, cpu.wrapAddr(getIdx(cpu, 1) - 1));
    if (compares) {
      const zf = testCond(cpu, 4);
      if ((rep === 3 && !zf) || (rep === 2 && zf)) return;
    }
    if (cpu.exitReason >= 0 || ++iter >= REP_CHUNK) {
      if (getIdx(cpu, 1) !== 0) cpu.rip = cpu.instrStart;
      return;
    }
  }
}

/** @internal Raises #GP(0) unless the current privilege may access `port`..`port+size-1`. */
export function checkIo(cpu: X86Cpu, port: number, size: number): void {
  if (!cpu.protectedMode) return;
  const flags = getFlags(cpu);
  if ((flags & EFLAGS.VM) === 0 && cpu.cpl <= ((flags >> 12) & 3)) return;
  const limit = cpu.segLimit[SEG.TR] >>> 0;
  if ((cpu.segAttr[SEG.TR] & 0x80) === 0 || limit < 103) cpu.gp(0);
  const base = cpu.segBase[SEG.TR];
  const mapOff = (cpu.sysRead32(base + 100) >>> 16) & 0xffff;
  const byteOff = mapOff + (port >> 3);
  if (byteOff + 1 > limit) cpu.gp(0);
  const w = cpu.readLin16(base + byteOff, false);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((w & mask) !== 0) cpu.gp(0);
}

/** @internal IN AL/eAX,Ib|DX (E4, E5, EC, ED): exits IO_IN; the embedder calls `completeIoIn`. */
export function IN(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 1 : cpu.osize === 16 ? 2 : 4;
  const port = op < 0xe8 ? cpu.imm & 0xff : cpu.lo[2] & 0xffff;
  checkIo(cpu, port, size);
  cpu.pendingIo[0] = 1;
  cpu.pendingIo[1] = size;
  cpu.exit.port = port;
  cpu.exit.size = size;
  cpu.requestExit(EXIT.IO_IN);
}

/** @internal OUT Ib|DX,AL/eAX (E6, E7, EE, EF): exits IO_OUT after retiring. */
export function OUT(cpu: X86Cpu): void {
  const op = cpu.opcode;
  const size = (op & 1) === 0 ? 1 : cpu.osize === 16 ? 2 : 4;
  const port = op < 0xe8 ? cpu.imm & 0xff : cpu.lo[2] & 0xffff;
  checkIo(cpu, port, size);
  cpu.exit.port = port;
  cpu.exit.size = size;
  cpu.exit.value = size === 1 ? cpu.lo[0] & 0xff : size === 2 ? cpu.lo[0] & 0xffff : cpu.lo[0];
  cpu.requestExit(EXIT.IO_OUT);
}

/** @internal OUTS (6E/6F): one element per exit; REP restarts the instruction. */
export function OUTS(cpu: X86Cpu): void {
  const size = cpu.opcode === 0x6e ? 1 : cpu.osize === 16 ? 2 : 4;
  const port = cpu.lo[2] & 0xffff;
  checkIo(cpu, port, size);
  if (cpu.rep !== 0 && getIdx(cpu, 1) === 0) return;
  const src = cpu.segOv >= 0 ? cpu.segOv : SEG.DS;
  const v = cpu.read(src, getIdx(cpu, 6), size * 8);
  stepIdx(cpu, 6, size);
  cpu.exit.port = port;
  cpu.exit.size = size;
  cpu.exit.value = v;
  cpu.requestExit(EXIT.IO_OUT);
  if (cpu.rep !== 0) {
    setIdx(cpu, 1, cpu.wrapAddr(getIdx(cpu, 1) - 1));
    if (getIdx(cpu, 1) !== 0) cpu.rip = cpu.instrStart;
  }
}

/** @internal INS (6C/6D): exits IO_IN; `completeIoIn` stores at ES:eDI and advances. */
export function INS(cpu: X86Cpu): void {
  const size = cpu.opcode === 0x6c ? 1 : cpu.osize === 16 ? 2 : 4;
  const port = cpu.lo[2] & 0xffff;
  checkIo(cpu, port, size);
  if (cpu.rep !== 0 && getIdx(cpu, 1) === 0) return;
  const off = getIdx(cpu, 7);
  cpu.probeWrite(SEG.ES, off, size);
  cpu.pendingIo[0] = 3;
  cpu.pendingIo[1] = size;
  cpu.pendingIo[2] = cpu.linear(SEG.ES, off, size);
  cpu.pendingIo[3] = cpu.asize | (cpu.rep << 8);
  cpu.exit.port = port;
  cpu.exit.size = size;
  cpu.requestExit(EXIT.IO_IN);
  if (cpu.rep !== 0 && getIdx(cpu, 1) !== 1) cpu.rip = cpu.instrStart;
}

/** @internal Finishes an INS after the embedder supplied `value` (called by `completeIoIn`). */
export function finishIns(cpu: X86Cpu, value: number): void {
  const p = cpu.pendingIo;
  const size = p[1];
  const lin = p[2];
  const asize = p[3] & 0xff;
  const rep = p[3] >> 8;
  const user = cpu.cpl === 3;
  if (size === 1) cpu.writeLin8(lin, value, user);
  else if (size === 2) cpu.writeLin16(lin, value, user);
  else cpu.writeLin32(lin, value, user);
  const saved = cpu.asize;
  cpu.asize = asize;
  stepIdx(cpu, 7, size);
  if (rep !== 0) setIdx(cpu, 1, cpu.wrapAddr(getIdx(cpu, 1) - 1));
  cpu.asize = saved;
}
