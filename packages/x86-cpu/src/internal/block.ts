/**
 * Basic blocks over the decode cache (DESIGN.md "Blocks"). A block is the run of decode-cache
 * entries that starts at one physical address and follows the instructions in address order,
 * inside one page, up to and including the first instruction whose handler may branch, change
 * the event state (IF, TF, the STI/MOV SS shadow, HLT), the decode mode or the TLB. Each
 * instruction becomes one closure, built once from the entry's packed words:
 *
 * - the hottest forms (32-bit and 64-bit register and simple memory operands of MOV, the ALU
 *   group, INC/DEC, LEA, PUSH/POP, Jcc/JMP/CALL/RET, shifts by an immediate) become closures
 *   that execute directly from their captured operand fields, without restoring the decoder
 *   fields and without the handler's operand-size and operand-form switches;
 * - every other instruction becomes a closure that restores the decoder fields from its copy
 *   of the entry (exactly as a decode-cache hit does) and calls the table's handler.
 *
 * The CPU runs a block with one decode-cache lookup and no per-instruction event checks
 * (they cannot change inside a block), and stops it early when an instruction requests an exit
 * or a store hits a page with cached code (self-modifying code).
 */
import type { X86Cpu } from '../cpu.ts';
import type { Handler } from '../decode/table.ts';
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SUB, getCf, testCond } from '../flags.ts';
import { alu, alu64 } from '../ops/alu.ts';
import * as A from '../ops/arith.ts';
import * as C from '../ops/control.ts';
import * as D from '../ops/data.ts';
import * as SH from '../ops/shift.ts';
import * as SY from '../ops/system.ts';
import type { BlockSrc } from './block-compile.ts';

/** @internal One instruction of a block. */
export type BlockOp = (cpu: X86Cpu) => void;

/** @internal The empty block (no block built for a slot yet). */
export const NO_BLOCK: BlockOp[] = [];

/** Longest block, in instructions. */
const MAX_BLOCK = 64;

// Address forms and the no-register marker, as packed by the decode cache (cpu.ts).
const EA_NONE = 0;
const EA_32 = 2;
const EA_64 = 3;
const NO_REG = 16;
const TWO32 = 4294967296;

/**
 * Handlers that only compute, load and store, and continue with the next instruction: a block
 * continues past them. Every other handler ends its block (it may jump, change IF/TF/the
 * interrupt shadow, the mode, the TLB, or exit), so new table rows are safe by default.
 */
const STRAIGHT: ReadonlySet<Handler> = /* @__PURE__ */ new Set<Handler>([
  A.ALU_form,
  A.GRP1_EbIb,
  A.GRP1_EvI,
  A.TEST_form,
  A.INCDEC_Zv,
  A.INCDEC_Ev,
  A.GRP4_Eb,
  A.GRP3,
  A.IMUL_GvEv,
  A.IMUL_GvEvI,
  A.CBW,
  A.CWD,
  A.XADD_EG,
  A.CMPXCHG_EG,
  D.MOV_form,
  D.MOV_EI,
  D.MOV_ZI,
  D.MOV_moffs,
  D.MOVX,
  D.LEA,
  D.XCHG_EG,
  D.XCHG_Z,
  D.PUSH_Z,
  D.POP_Z,
  D.PUSH_I,
  D.PUSH_Ev,
  D.SETcc,
  D.CMOVcc,
  D.BSWAP,
  D.BT_EvGv,
  D.GRP8,
  D.BSx,
  D.MOVSXD,
  D.LAHF,
  D.SAHF,
  D.LEAVE,
  SH.GRP2,
  SH.SHxD,
  SY.NOP,
]);

/**
 * @internal Builds the block that starts at physical address `pa` from the decode-cache
 * entries (`dc` words, `fns` handlers, slot = address & `mask`) of generation `gen`; sets
 * `loops[slot]` to 1 when it ends with a near relative jump (which may target its own start);
 * fills `src` with each instruction's words, handler and offset (for `compileBlock`).
 */
export function buildBlock(
  dc: Int32Array,
  fns: readonly Handler[],
  mask: number,
  pa: number,
  gen: number,
  loops: Uint8Array,
  slot: number,
  src: BlockSrc,
): BlockOp[] {
  const ops: BlockOp[] = [];
  loops[slot] = 0;
  const page = pa >>> 12;
  src.pageOff = pa & 0xfff;
  let p = pa;
  // Return addresses of the same-page CALLs the block went through, innermost last.
  const rets: number[] = [];
  while (ops.length < MAX_BLOCK && p >>> 12 === page) {
    const i = p & mask;
    const b = i << 3;
    if (dc[b] !== p || dc[b + 1] !== gen) break;
    const fn = fns[i];
    const w = dc.slice(b, b + 8);
    const info = dc[b + 2];
    const len = info & 15;
    const wide = (info & 0x1c00) === 0 && (info & 0x60) !== 0;
    if (fn === C.RET && wide && dc[b + 3] >>> 20 === 0xc3 && rets.length > 0) {
      // The RET of a CALL made inside this block: the block goes on at the return address,
      // guarded (a RET that lands elsewhere, the guest having changed its stack, stops the
      // block there through `blockBreak`, and the compiled code returns).
      const back = rets.pop() as number;
      const delta = back - p;
      const ret = makeOp(w, fn);
      ops.push((cpu) => {
        const rip = cpu.rip;
        ret(cpu);
        if (cpu.rip !== rip + delta) cpu.blockBreak = true;
      });
      src.words.push(w);
      src.fns.push(fn);
      src.offs.push((p - pa) | 0);
      p = back;
      continue;
    }
    ops.push(makeOp(w, fn));
    src.words.push(w);
    src.fns.push(fn);
    src.offs.push((p - pa) | 0);
    if ((fn === C.JMP_J || fn === C.CALL_J) && wide) {
      // A 32/64-bit direct JMP or CALL (specialized: it always lands on its target) into the
      // same page: the block goes on at the target.
      const off = (p & 0xfff) + len + dc[b + 4];
      if (off < 0 || off >= 4096) break;
      if (fn === C.CALL_J) rets.push((p + len) | 0);
      p = (p - (p & 0xfff) + off) | 0;
      continue;
    }
    if (!STRAIGHT.has(fn)) {
      if (fn === C.Jcc || fn === C.JMP_J || fn === C.LOOP) loops[slot] = 1;
      break;
    }
    p = (p + len) | 0;
  }
  return ops;
}

/** The decoded fields of one decode-cache entry, unpacked from its words (see `cpu.ts`). */
export interface EntryFields {
  /** Instruction length in bytes. */
  readonly len: number;
  /** Operand size in bits. */
  readonly osize: number;
  /** Address size in bits. */
  readonly asize: number;
  /** REP prefix (0 none, 1 the SSE 66 mandatory prefix, 2 REPNE, 3 REP). */
  readonly rep: number;
  /** LOCK prefix. */
  readonly lock: boolean;
  /** REX byte. */
  readonly rex: number;
  /** ModRM mod. */
  readonly mod: number;
  /** Effective-address kind. */
  readonly kind: number;
  /** Segment of the effective address. */
  readonly seg: number;
  /** ModRM reg (with REX.R). */
  readonly reg: number;
  /** ModRM rm (with REX.B). */
  readonly rm: number;
  /** Base register of the effective address. */
  readonly base: number;
  /** Index register of the effective address. */
  readonly index: number;
  /** SIB scale. */
  readonly scale: number;
  /** Opcode (0x0F-prefixed ones as 0x1xx). */
  readonly opcode: number;
  /** Immediate. */
  readonly imm: number;
  /** Displacement. */
  readonly disp: number;
}

/** Unpacks decode-cache entry `w` (its 8 words); at block-build time only, never per run. */
export function entryFields(w: Int32Array): EntryFields {
  const info = w[2];
  const m = w[3];
  return {
    len: info & 15,
    osize: ((info >> 4) & 7) << 4,
    asize: ((info >> 7) & 7) << 4,
    rep: (info >> 10) & 3,
    lock: (info & 0x1000) !== 0,
    rex: (info >> 16) & 0xff,
    mod: (info >> 24) & 3,
    kind: (info >> 26) & 7,
    seg: info >>> 29,
    reg: m & 15,
    rm: (m >> 4) & 15,
    base: (m >> 8) & 31,
    index: (m >> 13) & 31,
    scale: (m >> 18) & 3,
    opcode: m >>> 20,
    imm: w[4],
    disp: w[7],
  };
}

/** The closure for one decode-cache entry `w` (its 8 words) with handler `fn`. */
function makeOp(w: Int32Array, fn: Handler): BlockOp {
  const {
    len,
    osize,
    asize,
    rep,
    lock,
    rex,
    mod,
    kind,
    seg,
    reg,
    rm,
    base,
    index,
    scale,
    opcode,
    imm,
    disp,
  } = entryFields(w);
  const plain = rep === 0 && !lock;
  let op: BlockOp | undefined;
  // `mod` is stale for instructions without ModRM (their closures do not read it); a ModRM
  // form qualifies with a register operand or a plain memory form of its operand size.
  if (plain && osize === 32) {
    const a64 = kind === EA_64;
    const eaOk = mod === 3 || (kind === EA_32 && asize === 32) || a64;
    op = fast32(fn, opcode, len, eaOk, a64, mod, reg, rm, seg, base, index, scale, disp, imm, rex);
  } else if (plain && osize === 64) {
    const eaOk = mod === 3 || kind === EA_64;
    op = fast64(fn, opcode, len, eaOk, mod, reg, rm, seg, base, index, scale, disp, imm, rex);
  }
  if (op !== undefined) return op;
  return (cpu: X86Cpu): void => {
    cpu.replayAt(w, 0, cpu.rip);
    fn(cpu);
  };
}

/** 32-bit effective address of `[base + index << scale + disp]` (NO_REG for none). */
function ea32(cpu: X86Cpu, base: number, index: number, scale: number, disp: number): number {
  let ea = disp;
  if (base !== NO_REG) ea = (ea + cpu.lo[base]) | 0;
  if (index !== NO_REG) ea = (ea + (cpu.lo[index] << scale)) | 0;
  return ea >>> 0;
}

/** The offset of a 32-bit (`a64` false) or 64-bit address form. */
function eaOff(
  cpu: X86Cpu,
  a64: boolean,
  base: number,
  index: number,
  scale: number,
  disp: number,
): number {
  return a64 ? ea64n(cpu, base, index, scale, disp) : ea32(cpu, base, index, scale, disp);
}

/** 8/16/32-bit ALU `kind` on 32-bit operands with lazy flags (the common kinds inline). */
function alu32(cpu: X86Cpu, kind: number, a: number, b: number): number {
  let r: number;
  let cc: number;
  switch (kind) {
    case 0:
      r = (a + b) | 0;
      cc = CC_ADD;
      break;
    case 1:
      r = a | b;
      cc = CC_LOGIC;
      break;
    case 4:
      r = a & b;
      cc = CC_LOGIC;
      break;
    case 5:
    case 7:
      r = (a - b) | 0;
      cc = CC_SUB;
      break;
    case 6:
      r = a ^ b;
      cc = CC_LOGIC;
      break;
    default:
      return alu(cpu, kind, 32, a, b);
  }
  cpu.ccOp = cc;
  cpu.ccDst = r;
  cpu.ccSrc = b;
  cpu.ccSize = 32;
  return r;
}

/**
 * Closures for 32-bit operand size with a register operand, or an `EA_32` (or, in 64-bit mode,
 * `EA_64`: `a64`) memory operand.
 */
function fast32(
  fn: Handler,
  opcode: number,
  len: number,
  eaOk: boolean,
  a64: boolean,
  mod: number,
  reg: number,
  rm: number,
  seg: number,
  base: number,
  index: number,
  scale: number,
  disp: number,
  imm: number,
  rex: number,
): BlockOp | undefined {
  const regMode = mod === 3;
  if (fn === D.MOV_form && opcode === 0x89 && eaOk) {
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        cpu.lo[rm] = cpu.lo[reg];
        cpu.hi[rm] = 0;
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      cpu.writeMem32(seg, eaOff(cpu, a64, base, index, scale, disp), cpu.lo[reg]);
    };
  }
  if (fn === D.MOV_form && opcode === 0x8b && eaOk) {
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        cpu.lo[reg] = cpu.lo[rm];
        cpu.hi[reg] = 0;
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const v = cpu.readMem32(seg, eaOff(cpu, a64, base, index, scale, disp));
      cpu.lo[reg] = v;
      cpu.hi[reg] = 0;
    };
  }
  if (fn === A.ALU_form && (opcode & 7) === 1 && eaOk) {
    const k = (opcode >> 3) & 7;
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        const lo = cpu.lo;
        const r = alu32(cpu, k, lo[rm], lo[reg]);
        if (k !== 7) {
          lo[rm] = r;
          cpu.hi[rm] = 0;
        }
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const ea = eaOff(cpu, a64, base, index, scale, disp);
      const r = alu32(cpu, k, cpu.readMem32(seg, ea), cpu.lo[reg]);
      if (k !== 7) cpu.writeMem32(seg, ea, r);
    };
  }
  if (fn === A.ALU_form && (opcode & 7) === 3 && eaOk) {
    const k = (opcode >> 3) & 7;
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        const lo = cpu.lo;
        const r = alu32(cpu, k, lo[reg], lo[rm]);
        if (k !== 7) {
          lo[reg] = r;
          cpu.hi[reg] = 0;
        }
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const b = cpu.readMem32(seg, eaOff(cpu, a64, base, index, scale, disp));
      const r = alu32(cpu, k, cpu.lo[reg], b);
      if (k !== 7) {
        cpu.lo[reg] = r;
        cpu.hi[reg] = 0;
      }
    };
  }
  if (fn === A.ALU_form && (opcode & 7) === 5) {
    const k = (opcode >> 3) & 7;
    return (cpu) => {
      cpu.rip += len;
      const r = alu32(cpu, k, cpu.lo[0], imm);
      if (k !== 7) {
        cpu.lo[0] = r;
        cpu.hi[0] = 0;
      }
    };
  }
  if (fn === D.MOVX && eaOk) {
    const word = (opcode & 1) !== 0;
    const signed = opcode >= 0x1be;
    const shift = word ? 16 : 24;
    if (regMode) {
      // Byte registers: AH..BH for 4..7 without REX (as `getReg(8, rm)`).
      const high = !word && rm >= 4 && rm <= 7 && rex === 0;
      const src = high ? rm - 4 : rm;
      return (cpu) => {
        cpu.rip += len;
        const v = high ? cpu.lo[src] >> 8 : cpu.lo[src];
        cpu.lo[reg] = signed ? (v << shift) >> shift : (v << shift) >>> shift;
        cpu.hi[reg] = 0;
      };
    }
    const size = word ? 16 : 8;
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const v = cpu.read(seg, eaOff(cpu, a64, base, index, scale, disp), size);
      cpu.lo[reg] = signed ? (v << shift) >> shift : v;
      cpu.hi[reg] = 0;
    };
  }
  if (fn === A.GRP1_EvI && eaOk) {
    const k = reg & 7;
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        const r = alu32(cpu, k, cpu.lo[rm], imm);
        if (k !== 7) {
          cpu.lo[rm] = r;
          cpu.hi[rm] = 0;
        }
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const ea = eaOff(cpu, a64, base, index, scale, disp);
      const r = alu32(cpu, k, cpu.readMem32(seg, ea), imm);
      if (k !== 7) cpu.writeMem32(seg, ea, r);
    };
  }
  if (fn === A.INCDEC_Zv) {
    const r = opcode & 7;
    const dec = opcode >= 0x48;
    return (cpu) => {
      cpu.rip += len;
      const cf = getCf(cpu);
      const v = dec ? (cpu.lo[r] - 1) | 0 : (cpu.lo[r] + 1) | 0;
      cpu.lo[r] = v;
      cpu.hi[r] = 0;
      cpu.ccOp = dec ? CC_DEC : CC_INC;
      cpu.ccDst = v;
      cpu.ccSrc = cf;
      cpu.ccSize = 32;
    };
  }
  if (fn === A.INCDEC_Ev && regMode && eaOk) {
    const dec = (reg & 7) === 1;
    return (cpu) => {
      cpu.rip += len;
      const cf = getCf(cpu);
      const v = dec ? (cpu.lo[rm] - 1) | 0 : (cpu.lo[rm] + 1) | 0;
      cpu.lo[rm] = v;
      cpu.hi[rm] = 0;
      cpu.ccOp = dec ? CC_DEC : CC_INC;
      cpu.ccDst = v;
      cpu.ccSrc = cf;
      cpu.ccSize = 32;
    };
  }
  if (fn === D.LEA && !regMode && eaOk) {
    return (cpu) => {
      cpu.rip += len;
      cpu.lo[reg] = a64
        ? ea64(cpu, base, index, scale, disp)
        : ea32(cpu, base, index, scale, disp) | 0;
      cpu.hi[reg] = 0;
    };
  }
  if (fn === D.MOV_ZI && opcode >= 0xb8) {
    const r = (opcode & 7) | ((rex & 1) << 3);
    return (cpu) => {
      cpu.rip += len;
      cpu.lo[r] = imm;
      cpu.hi[r] = 0;
    };
  }
  if (fn === D.PUSH_Z) {
    const r = (opcode & 7) | ((rex & 1) << 3);
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      cpu.push(32, cpu.lo[r], 0);
    };
  }
  if (fn === D.POP_Z) {
    const r = (opcode & 7) | ((rex & 1) << 3);
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const v = cpu.pop(32);
      cpu.lo[r] = v;
      cpu.hi[r] = 0;
    };
  }
  if (fn === SH.GRP2 && regMode && eaOk && (opcode === 0xc1 || opcode === 0xd1)) {
    const k = reg & 7;
    const count = opcode === 0xc1 ? imm & 0xff : 1;
    return (cpu) => {
      cpu.rip += len;
      cpu.lo[rm] = SH.shift(cpu, k, 32, cpu.lo[rm], count);
      cpu.hi[rm] = 0;
    };
  }
  if (fn === A.TEST_form && opcode === 0x85 && regMode && eaOk) {
    return (cpu) => {
      cpu.rip += len;
      alu32(cpu, 4, cpu.lo[rm], cpu.lo[reg]);
    };
  }
  if (fn === C.Jcc) {
    const cc = opcode & 15;
    return (cpu) => {
      const next = cpu.rip + len;
      cpu.rip = testCond(cpu, cc) ? (next + imm) >>> 0 : next;
    };
  }
  if (fn === C.JMP_J) {
    return (cpu) => {
      cpu.rip = (cpu.rip + len + imm) >>> 0;
    };
  }
  if (fn === C.CALL_J) {
    return (cpu) => {
      const rip = cpu.rip;
      const next = rip + len;
      cpu.instrStart = rip;
      cpu.rip = next;
      cpu.push(32, next | 0, 0);
      cpu.rip = (next + imm) >>> 0;
    };
  }
  if (fn === C.RET && opcode === 0xc3) {
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      cpu.rip = cpu.pop(32) >>> 0;
    };
  }
  return undefined;
}

/**
 * @internal 64-bit effective address of `[base + index << scale + disp]`: low half, high half
 * in `tmpHi`.
 */
export function ea64(
  cpu: X86Cpu,
  base: number,
  index: number,
  scale: number,
  disp: number,
): number {
  let lo = disp;
  let hi = lo >> 31;
  if (base !== NO_REG) {
    const s = (lo >>> 0) + (cpu.lo[base] >>> 0);
    lo = s | 0;
    hi = (hi + cpu.hi[base] + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  if (index !== NO_REG) {
    let ilo = cpu.lo[index];
    let ihi = cpu.hi[index];
    if (scale !== 0) {
      ihi = (ihi << scale) | (ilo >>> (32 - scale));
      ilo <<= scale;
    }
    const s = (lo >>> 0) + (ilo >>> 0);
    lo = s | 0;
    hi = (hi + ihi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  cpu.tmpHi = hi;
  return lo;
}

/** @internal The 64-bit effective address as a canonical signed JS number. */
export function ea64n(
  cpu: X86Cpu,
  base: number,
  index: number,
  scale: number,
  disp: number,
): number {
  const lo = ea64(cpu, base, index, scale, disp);
  return cpu.tmpHi * TWO32 + (lo >>> 0);
}

/** Closures for 64-bit operand size with a register or `EA_64` memory operand. */
function fast64(
  fn: Handler,
  opcode: number,
  len: number,
  eaOk: boolean,
  mod: number,
  reg: number,
  rm: number,
  seg: number,
  base: number,
  index: number,
  scale: number,
  disp: number,
  imm: number,
  rex: number,
): BlockOp | undefined {
  const regMode = mod === 3;
  if (fn === D.MOV_form && opcode === 0x89 && eaOk) {
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        cpu.lo[rm] = cpu.lo[reg];
        cpu.hi[rm] = cpu.hi[reg];
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      cpu.write64(seg, ea64n(cpu, base, index, scale, disp), cpu.lo[reg], cpu.hi[reg]);
    };
  }
  if (fn === D.MOV_form && opcode === 0x8b && eaOk) {
    if (regMode) {
      return (cpu) => {
        cpu.rip += len;
        cpu.lo[reg] = cpu.lo[rm];
        cpu.hi[reg] = cpu.hi[rm];
      };
    }
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const v = cpu.read64(seg, ea64n(cpu, base, index, scale, disp));
      cpu.lo[reg] = v;
      cpu.hi[reg] = cpu.tmpHi;
    };
  }
  if (fn === A.ALU_form && !regMode && eaOk && (opcode & 7) === 3) {
    const k = (opcode >> 3) & 7;
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const b = cpu.read64(seg, ea64n(cpu, base, index, scale, disp));
      const r = alu64(cpu, k, cpu.lo[reg], cpu.hi[reg], b, cpu.tmpHi);
      if (k !== 7) {
        cpu.hi[reg] = cpu.tmpHi;
        cpu.lo[reg] = r;
      }
    };
  }
  if (fn === A.ALU_form && !regMode && eaOk && (opcode & 7) === 1) {
    const k = (opcode >> 3) & 7;
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const ea = ea64n(cpu, base, index, scale, disp);
      const a = cpu.read64(seg, ea);
      const r = alu64(cpu, k, a, cpu.tmpHi, cpu.lo[reg], cpu.hi[reg]);
      if (k !== 7) cpu.write64(seg, ea, r, cpu.tmpHi);
    };
  }
  if (fn === A.ALU_form && regMode && eaOk && ((opcode & 7) === 1 || (opcode & 7) === 3)) {
    const k = (opcode >> 3) & 7;
    const d = (opcode & 7) === 1 ? rm : reg;
    const s = (opcode & 7) === 1 ? reg : rm;
    return (cpu) => {
      cpu.rip += len;
      const r = alu64(cpu, k, cpu.lo[d], cpu.hi[d], cpu.lo[s], cpu.hi[s]);
      if (k !== 7) {
        cpu.hi[d] = cpu.tmpHi;
        cpu.lo[d] = r;
      }
    };
  }
  if (fn === A.GRP1_EvI && regMode && eaOk) {
    const k = reg & 7;
    const immHi = imm >> 31;
    return (cpu) => {
      cpu.rip += len;
      const r = alu64(cpu, k, cpu.lo[rm], cpu.hi[rm], imm, immHi);
      if (k !== 7) {
        cpu.hi[rm] = cpu.tmpHi;
        cpu.lo[rm] = r;
      }
    };
  }
  if (fn === A.INCDEC_Ev && regMode && eaOk) {
    const k = (reg & 7) === 1 ? 5 : 0;
    return (cpu) => {
      cpu.rip += len;
      const cf = getCf(cpu);
      const r = alu64(cpu, k, cpu.lo[rm], cpu.hi[rm], 1, 0);
      cpu.eflags = (cpu.eflags & ~1) | cf;
      cpu.hi[rm] = cpu.tmpHi;
      cpu.lo[rm] = r;
    };
  }
  if (fn === SH.GRP2 && regMode && eaOk && (opcode === 0xc1 || opcode === 0xd1)) {
    const k = reg & 7;
    const count = opcode === 0xc1 ? imm & 0xff : 1;
    return (cpu) => {
      cpu.rip += len;
      const r = SH.shift64(cpu, k, cpu.lo[rm], cpu.hi[rm], count);
      cpu.hi[rm] = cpu.tmpHi;
      cpu.lo[rm] = r;
    };
  }
  if (fn === D.LEA && !regMode && eaOk) {
    return (cpu) => {
      cpu.rip += len;
      const lo = ea64(cpu, base, index, scale, disp);
      cpu.hi[reg] = cpu.tmpHi;
      cpu.lo[reg] = lo;
    };
  }
  if (fn === D.PUSH_Z) {
    const r = (opcode & 7) | ((rex & 1) << 3);
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      cpu.push(64, cpu.lo[r], cpu.hi[r]);
    };
  }
  if (fn === D.POP_Z) {
    const r = (opcode & 7) | ((rex & 1) << 3);
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const v = cpu.pop(64);
      cpu.hi[r] = cpu.tmpHi;
      cpu.lo[r] = v;
    };
  }
  if (fn === C.Jcc) {
    const cc = opcode & 15;
    return (cpu) => {
      const rip = cpu.rip;
      const next = rip + len;
      cpu.instrStart = rip;
      cpu.rip = next;
      if (testCond(cpu, cc)) cpu.jumpTo(next + imm, 64);
    };
  }
  if (fn === C.JMP_J) {
    return (cpu) => {
      const rip = cpu.rip;
      const next = rip + len;
      cpu.instrStart = rip;
      cpu.rip = next;
      cpu.jumpTo(next + imm, 64);
    };
  }
  if (fn === C.CALL_J) {
    return (cpu) => {
      const rip = cpu.rip;
      const next = rip + len;
      cpu.instrStart = rip;
      cpu.rip = next;
      cpu.push(64, next | 0, Math.floor(next / TWO32) | 0);
      cpu.jumpTo(next + imm, 64);
    };
  }
  if (fn === C.RET && opcode === 0xc3) {
    return (cpu) => {
      const rip = cpu.rip;
      cpu.instrStart = rip;
      cpu.rip = rip + len;
      const lo = cpu.pop(64);
      cpu.jumpTo(cpu.tmpHi * TWO32 + (lo >>> 0), 64);
    };
  }
  return undefined;
}

/** @internal Whether `fn` lets a block continue (exported for tests). */
export function continuesBlock(fn: Handler): boolean {
  return STRAIGHT.has(fn);
}

/** @internal Unused-import guard for the address-form constant kept beside its siblings. */
export const EA_FORM_NONE: number = EA_NONE;
