/**
 * MMX (and the SSE/SSE2 extensions of MMX): the 0F 60..7F and D1..FE integer forms without a
 * mandatory prefix, on MM0..MM7 aliased to the x87 registers' significands. Each instruction
 * stages its 64-bit operands in two spare XMM slots, runs the SSE handler on them and writes
 * the low qword back; the few whose 64-bit meaning differs from "the low half of the 128-bit
 * form" (PUNPCKH*, PACK*, PSHUFW, PINSRW/PEXTRW, PMOVMSKB) adjust around it. An MMX
 * instruction sets TOP to 0, tags every register valid and writes 1s to bits 79..64 of the
 * register it changes; EMMS tags them all empty.
 * @see Intel SDM Vol. 1 ch. 9 (MMX), §9.5 (MMX and x87 state); Vol. 2 (each mnemonic)
 */
import { CR0, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import type { Handler } from '../decode/table.ts';

/** Scratch XMM slots for the staged destination and source. */
const D = 18;
const S = 19;

/** #UD with CR0.EM, #NM with CR0.TS, #MF for a pending unmasked x87 exception (CR0.NE). */
function mmxCheck(cpu: X86Cpu): void {
  if (cpu.lock || (cpu.cr0 & CR0.EM) !== 0) cpu.ud();
  if ((cpu.cr0 & CR0.TS) !== 0) cpu.fault(VECTOR.NM, -1);
  if ((cpu.fpu.fsw & 0x80) !== 0 && (cpu.cr0 & CR0.NE) !== 0) cpu.fault(VECTOR.MF, -1);
}

/** Enters MMX state: TOP = 0, every register tagged valid. */
function enter(cpu: X86Cpu): void {
  cpu.fpu.top = 0;
  cpu.fpu.ftw = 0xff;
}

function loadMm(cpu: X86Cpu, slot: number, mm: number): void {
  const f = cpu.fpu;
  const x = f.x;
  x[slot * 4] = f.stLo[mm];
  x[slot * 4 + 1] = f.stHi[mm];
  x[slot * 4 + 2] = 0;
  x[slot * 4 + 3] = 0;
}

function storeMm(cpu: X86Cpu, mm: number, lo: number, hi: number): void {
  const f = cpu.fpu;
  f.stLo[mm] = lo;
  f.stHi[mm] = hi;
  f.stSe[mm] = 0xffff;
}

/** Stages the source operand (MMX register or m64) in slot S. */
function loadSrc(cpu: X86Cpu): void {
  if (cpu.mod === 3) loadMm(cpu, S, cpu.rm & 7);
  else {
    const x = cpu.fpu.x;
    x[S * 4] = cpu.read64(cpu.eaSeg, cpu.ea);
    x[S * 4 + 1] = cpu.tmpHi;
    x[S * 4 + 2] = 0;
    x[S * 4 + 3] = 0;
  }
}

/** How a 128-bit handler's result maps back to 64 bits. */
const KIND = {
  /** The low qword is the MMX result. */ LOW: 0,
  /** PUNPCKH*: feed the high dwords as the low ones. */ UNPCK_HIGH: 1,
  /** PACKSSWB/PACKUSWB: bytes 0..3 and 8..11. */ PACK_B: 2,
  /** PACKSSDW: words 0, 1, 4, 5. */ PACK_W: 3,
} as const;

/** Runs SSE handler `fn` on the staged MMX operands. */
function run(cpu: X86Cpu, fn: Handler, kind: number): void {
  mmxCheck(cpu);
  const f = cpu.fpu;
  const x = f.x;
  const mm = cpu.reg & 7;
  loadSrc(cpu);
  loadMm(cpu, D, mm);
  enter(cpu);
  if (kind === KIND.UNPCK_HIGH) {
    x[D * 4] = x[D * 4 + 1];
    x[S * 4] = x[S * 4 + 1];
  }
  const reg = cpu.reg;
  const rm = cpu.rm;
  const mod = cpu.mod;
  const rep = cpu.rep;
  cpu.reg = D;
  cpu.rm = S;
  cpu.mod = 3;
  cpu.rep = 1;
  try {
    fn(cpu);
  } finally {
    cpu.reg = reg;
    cpu.rm = rm;
    cpu.mod = mod;
    cpu.rep = rep;
  }
  if (kind === KIND.PACK_B) {
    const u = f.u8;
    for (let i = 0; i < 4; i++) u[D * 16 + 4 + i] = u[D * 16 + 8 + i];
  } else if (kind === KIND.PACK_W) {
    const w = f.u16;
    w[D * 8 + 2] = w[D * 8 + 4];
    w[D * 8 + 3] = w[D * 8 + 5];
  }
  storeMm(cpu, mm, x[D * 4], x[D * 4 + 1]);
}

/** @internal Wraps an SSE integer handler as its MMX form. */
export function mmxOf(fn: Handler): Handler {
  return (cpu: X86Cpu): void => run(cpu, fn, KIND.LOW);
}

/** @internal PUNPCKH* in MMX form: the high dwords moved low, then `fn` (the PUNPCKL* handler). */
export function mmxUnpackHigh(fn: Handler): Handler {
  return (cpu: X86Cpu): void => run(cpu, fn, KIND.UNPCK_HIGH);
}

/** @internal Wraps PACKSSWB/PACKUSWB (`words` false) or PACKSSDW as its MMX form. */
export function mmxPack(fn: Handler, words: boolean): Handler {
  return (cpu: X86Cpu): void => run(cpu, fn, words ? KIND.PACK_W : KIND.PACK_B);
}

/** @internal Shift groups 0F 71/72/73 /2 /4 /6 ib on an MMX register. */
export function MMX_SHIFT_imm(fn: Handler): Handler {
  return (cpu: X86Cpu): void => {
    mmxCheck(cpu);
    if (cpu.mod !== 3) cpu.ud();
    const k = cpu.reg & 7;
    if ((cpu.opcode & 0xff) === 0x73 && (k === 3 || k === 7)) cpu.ud();
    const mm = cpu.rm & 7;
    loadMm(cpu, D, mm);
    enter(cpu);
    const rm = cpu.rm;
    cpu.rm = D;
    try {
      fn(cpu);
    } finally {
      cpu.rm = rm;
    }
    storeMm(cpu, mm, cpu.fpu.x[D * 4], cpu.fpu.x[D * 4 + 1]);
  };
}

/** @internal EMMS (0F 77): every x87 register tagged empty. */
export function EMMS(cpu: X86Cpu): void {
  mmxCheck(cpu);
  cpu.fpu.ftw = 0;
}

/** @internal MOVD/MOVQ mm, r/m32 or r/m64 (0F 6E). */
export function MOVD_mm_load(cpu: X86Cpu): void {
  mmxCheck(cpu);
  let lo: number;
  let hi = 0;
  if ((cpu.rex & 8) !== 0) {
    lo = cpu.readE(64);
    hi = cpu.tmpHi;
  } else lo = cpu.readE(32);
  enter(cpu);
  storeMm(cpu, cpu.reg & 7, lo, hi);
}

/** @internal MOVD/MOVQ r/m32 or r/m64, mm (0F 7E). */
export function MOVD_mm_store(cpu: X86Cpu): void {
  mmxCheck(cpu);
  const f = cpu.fpu;
  const mm = cpu.reg & 7;
  if ((cpu.rex & 8) !== 0) cpu.writeE(64, f.stLo[mm], f.stHi[mm]);
  else cpu.writeE(32, f.stLo[mm], 0);
  enter(cpu);
}

/** @internal MOVQ mm, mm/m64 (0F 6F). */
export function MOVQ_mm_load(cpu: X86Cpu): void {
  mmxCheck(cpu);
  loadSrc(cpu);
  enter(cpu);
  storeMm(cpu, cpu.reg & 7, cpu.fpu.x[S * 4], cpu.fpu.x[S * 4 + 1]);
}

/** @internal MOVQ mm/m64, mm (0F 7F) and MOVNTQ m64, mm (0F E7, memory only). */
export function MOVQ_mm_store(cpu: X86Cpu): void {
  mmxCheck(cpu);
  const f = cpu.fpu;
  const mm = cpu.reg & 7;
  if (cpu.mod === 3) {
    if ((cpu.opcode & 0xff) === 0xe7) cpu.ud();
    storeMm(cpu, cpu.rm & 7, f.stLo[mm], f.stHi[mm]);
  } else cpu.write64(cpu.eaSeg, cpu.ea, f.stLo[mm], f.stHi[mm]);
  enter(cpu);
}

/** @internal PSHUFW mm, mm/m64, imm8 (0F 70). */
export function PSHUFW(cpu: X86Cpu): void {
  mmxCheck(cpu);
  loadSrc(cpu);
  enter(cpu);
  const w = cpu.fpu.u16;
  const n = cpu.imm & 0xff;
  for (let i = 0; i < 4; i++) w[D * 8 + i] = w[S * 8 + ((n >> (i * 2)) & 3)];
  storeMm(cpu, cpu.reg & 7, cpu.fpu.x[D * 4], cpu.fpu.x[D * 4 + 1]);
}

/** @internal PINSRW mm, r32/m16, imm8 (0F C4). */
export function PINSRW_mm(cpu: X86Cpu): void {
  mmxCheck(cpu);
  const v = cpu.mod === 3 ? cpu.lo[cpu.rm] : cpu.read(cpu.eaSeg, cpu.ea, 16);
  const mm = cpu.reg & 7;
  loadMm(cpu, D, mm);
  enter(cpu);
  cpu.fpu.u16[D * 8 + (cpu.imm & 3)] = v;
  storeMm(cpu, mm, cpu.fpu.x[D * 4], cpu.fpu.x[D * 4 + 1]);
}

/** @internal PEXTRW r32, mm, imm8 (0F C5) and PMOVMSKB r32, mm (0F D7). */
export function MMX_TO_GPR(cpu: X86Cpu): void {
  mmxCheck(cpu);
  if (cpu.mod !== 3) cpu.ud();
  loadMm(cpu, S, cpu.rm & 7);
  enter(cpu);
  let v = 0;
  if ((cpu.opcode & 0xff) === 0xc5) v = cpu.fpu.u16[S * 8 + (cpu.imm & 3)];
  else for (let i = 0; i < 8; i++) v |= (cpu.fpu.u8[S * 16 + i] >> 7) << i;
  cpu.setReg(cpu.mode64 && (cpu.rex & 8) !== 0 ? 64 : 32, cpu.reg, v, 0);
}

/** @internal MASKMOVQ mm1, mm2 (0F F7): bytes of mm1 selected by mm2's sign bits to DS:rDI. */
export function MASKMOVQ(cpu: X86Cpu): void {
  mmxCheck(cpu);
  if (cpu.mod !== 3) cpu.ud();
  loadMm(cpu, D, cpu.reg & 7);
  loadMm(cpu, S, cpu.rm & 7);
  enter(cpu);
  const u = cpu.fpu.u8;
  const seg = cpu.segOv >= 0 ? cpu.segOv : 3;
  const base = cpu.asize === 64 ? cpu.getReg64(7) : cpu.getReg(cpu.asize, 7) >>> 0;
  for (let i = 0; i < 8; i++) {
    if ((u[S * 16 + i] & 0x80) !== 0) cpu.write(seg, cpu.wrapAddr(base + i), 8, u[D * 16 + i]);
  }
}
