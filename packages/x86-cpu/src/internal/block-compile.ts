/**
 * Compiled blocks (DESIGN.md "Blocks", "Compiled blocks"). When a block of closures
 * (`block.ts`) has run often enough, `compileBlock` generates ONE JavaScript function for it
 * with `new Function`: straight-line code for the whole block, with the decoded operands
 * (register indices, immediates, displacements, next-RIP offsets) baked in as constants and
 * registers read and written as `Int32Array` index expressions.
 *
 * - The hot forms (the ones `block.ts` specializes) are generated inline. Every other
 *   instruction calls its own closure from the block: each such call site in the generated
 *   function sees one target only, so V8 can inline it (the closure loop in `runInner` calls
 *   every closure from one megamorphic site, the floor of the closure design).
 * - Lazy flags as in the interpreter, with two classic compile-time simplifications inside a
 *   block: a Jcc, INC or DEC after an inline flag producer reads its condition (or CF) from the
 *   producer's operands in locals instead of the lazy state; and a producer whose flags the next
 *   instructions overwrite before anyone can observe them (no fault, no exit, no reader in
 *   between) does not store them at all.
 * - Fault protocol, identical to the closures: before an instruction that can fault the code
 *   stores `instrStart` (the instruction's RIP) and `rip` (the next RIP) and `k` (the
 *   instructions of this pass retired so far); a fault throws out of the function through a
 *   `catch` that counts those `k` instructions and rethrows, so `run()` sees exactly the state
 *   the closure loop leaves. Stores check `blockBreak` (self-modifying code) and `exitReason`
 *   (an MMIO write) after they retire and return, as the closure loop does.
 * - A block that ends with a jump back to its own start loops inside the function while the
 *   budget left covers another pass (`run(budget)` stays exact).
 *
 * RIP values are `rip0 + offset` (the block is inside one page, so the offsets are constants);
 * `cpu.rip` is only written where something can observe it. Nothing is allocated per execution.
 */
import type { X86Cpu } from '../cpu.ts';
import type { Handler } from '../decode/table.ts';
import { getCf, getFlags, PARITY, testCond } from '../flags.ts';
import { alu, alu64 } from '../ops/alu.ts';
import * as A from '../ops/arith.ts';
import * as C from '../ops/control.ts';
import * as D from '../ops/data.ts';
import { GRP2 as SH_GRP2, shift, shift64 } from '../ops/shift.ts';
import * as SY from '../ops/system.ts';
import { type BlockOp, ea64, ea64n, entryFields } from './block.ts';

/** @internal A compiled block: runs the block (possibly several passes) on `cpu`. */
export type CompiledBlock = (cpu: X86Cpu) => void;

/**
 * @internal The decoded source of a block, kept beside its closures for the compiler: per
 * instruction its eight decode-cache words, its handler and its physical offset from the
 * block's first byte.
 */
export interface BlockSrc {
  /** The eight decode-cache words of each instruction. */
  readonly words: Int32Array[];
  /** The handler of each instruction. */
  readonly fns: Handler[];
  /** The physical offset of each instruction from the block's start. */
  readonly offs: number[];
  /** The page offset of the block's first byte (for same-page jump targets). */
  pageOff: number;
}

/** @internal A new, empty block source. */
export function newBlockSrc(): BlockSrc {
  return { words: [], fns: [], offs: [], pageOff: 0 };
}

/** @internal Executions of a block before it is compiled. */
export const COMPILE_AFTER = 64;

/**
 * @internal Compiled functions alive at most per CPU (each holds its source text, bytecode and
 * machine code, a few KiB): when a CPU compiles one more, it drops all of them and hot blocks
 * compile again. Blocks live in the decode cache's 8192 slots, which bounds them anyway.
 */
export const MAX_COMPILED = 2048;

/**
 * @internal Compilations of one block (one physical address) that code changes may invalidate
 * before the block stays closures: a page holding code and data that the code stores into
 * (GRUB's modules) bumps its generation on every store, and each recompile costs `new Function`
 * plus a run in V8's bytecode interpreter before the new function is optimized again.
 */
export const MAX_RECOMPILES = 2;

const EA_32 = 2;
const EA_64 = 3;
const NO_REG = 16;

// Lazy flag kinds (flags.ts), as literals in the generated code.
const CC_ADD = 1;
const CC_SUB = 3;
const CC_LOGIC = 5;
const CC_INC = 6;
const CC_DEC = 7;
const CC_SHL = 8;
const CC_SAR = 9;
/** CF, PF, AF, ZF, SF, OF. */
const ARITH = 0x8d5;

/** What the compiler knows about the last flag producer of the current pass. */
type Producer =
  | { readonly t: 'add' | 'sub' | 'logic'; readonly j: number }
  | { readonly t: 'inc' | 'dec'; readonly j: number }
  | null;

/** How an instruction touches the flags, for dead-flag elimination. */
const F_NONE = 0; // neither reads nor writes them; cannot fault or exit
const F_FULL = 1; // writes all six arithmetic flags (lazily) without reading the lazy state
const F_OTHER = 2; // anything else (reads them, may fault or exit, or calls out)

/** 64-bit ALU kinds that write all six flags without reading them (not ADC/SBB). */
const FULL64: ReadonlySet<number> = /* @__PURE__ */ new Set([0, 1, 4, 5, 6, 7]);

/** Helpers the generated code calls, passed to the factory. */
const HELPERS = { testCond, getCf, getFlags, PARITY, alu, alu64, shift, shift64, ea64, ea64n };

/**
 * @internal Compiles the block `ops` (built from `src`; `loop` as `blkLoop`) into one function,
 * or returns null when there is nothing to gain (a one-instruction block).
 */
export function compileBlock(ops: readonly BlockOp[], src: BlockSrc): CompiledBlock | null {
  const n = ops.length;
  if (n < 2) return null;
  const g = new Gen(n, src.pageOff);
  for (let j = 0; j < n; j++) g.instr(j, src.words[j], src.fns[j], src.offs, j === n - 1);
  const body = g.finish();
  if (!canCompile) return null;
  try {
    const factory = new Function('o', 'H', body) as (
      o: readonly BlockOp[],
      h: typeof HELPERS,
    ) => CompiledBlock;
    return factory(ops, HELPERS);
  } catch (e) {
    // A host that forbids code generation (a Content Security Policy without
    // 'unsafe-eval' throws EvalError): blocks stay closures. Anything else is a bug.
    if (!(e instanceof EvalError)) throw e;
    canCompile = false;
    return null;
  }
}

/** False once the host refused `new Function`. */
let canCompile = true;

/** @internal The generated source of a block (for tests and debugging). */
export function blockSource(ops: readonly BlockOp[], src: BlockSrc): string {
  const g = new Gen(ops.length, src.pageOff);
  for (let j = 0; j < ops.length; j++)
    g.instr(j, src.words[j], src.fns[j], src.offs, j === ops.length - 1);
  return g.finish();
}

/** The code generator of one block. */
class Gen {
  readonly n: number;
  readonly pageOff: number;
  /** Code per instruction, with `@Fj@` marking where instruction j stores its lazy flags. */
  readonly code: string[] = [];
  /** The lazy-flag store of instruction j (replaced by '' when dead). */
  readonly flagStore: string[] = [];
  readonly fclass: number[] = [];
  /** `cpu.rip` holds the RIP of the current point of the generated code. */
  ripSynced = false;
  producer: Producer = null;
  usesTemps = false;
  /** The block ends with a jump whose target is its own start: it loops in the function. */
  loops = false;
  /** The last instruction is a generic closure that may jump back to the block's start. */
  tailLoop = false;
  /** The last instruction set RIP itself (a branch, or a closure). */
  ended = false;
  /** Offset after the last instruction (for a block that ends without a branch). */
  endOff = 0;
  /** Offset of the instruction after the current one in the block. */
  nextOff = 0;

  constructor(n: number, pageOff: number) {
    this.n = n;
    this.pageOff = pageOff;
  }

  /** Emits instruction `j` (`w` its words, `fn` its handler, `offs` the block's offsets). */
  instr(j: number, w: Int32Array, fn: Handler, offs: readonly number[], last: boolean): void {
    const off = offs[j];
    // Where the block goes on after j (a guarded RET's return address).
    this.nextOff = last ? 0 : offs[j + 1];
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
    const f: Fields = {
      j,
      off,
      len,
      mod,
      reg,
      rm,
      seg,
      base,
      index,
      scale,
      opcode,
      imm,
      disp,
      rex,
    };
    let out: string | undefined;
    if (plain && osize === 32) {
      const a64 = kind === EA_64;
      const eaOk = mod === 3 || (kind === EA_32 && asize === 32) || a64;
      out = this.gen32(fn, f, eaOk, a64, last);
    } else if (plain && osize === 64) {
      const eaOk = mod === 3 || kind === EA_64;
      out = this.gen64(fn, f, eaOk, last);
    }
    if (out === undefined) out = this.callOp(f, fn, last);
    if (last) this.endOff = off + len;
    this.code.push(out);
    if (this.fclass.length === j) this.fclass.push(F_OTHER);
    if (this.flagStore.length === j) this.flagStore.push('');
  }

  // ---- helpers ------------------------------------------------------------------------------

  rip(off: number): string {
    return off === 0 ? 'ip' : `(ip + ${off})`;
  }

  /** `cpu.rip = <RIP at off>` when not already there. */
  sync(off: number): string {
    if (this.ripSynced && this.syncedOff === off) return '';
    this.ripSynced = true;
    this.syncedOff = off;
    return `cpu.rip = ${this.rip(off)};\n`;
  }
  syncedOff = 0;

  /** The fault prologue of instruction `f`: retired count, instruction start, next RIP. */
  faulting(f: Fields): string {
    this.ripSynced = true;
    this.syncedOff = f.off + f.len;
    return `k = ${f.j}; cpu.instrStart = ${this.rip(f.off)}; cpu.rip = ${this.rip(f.off + f.len)};\n`;
  }

  /** After a store retired: stop on self-modifying code or an exit request. */
  exitCheck(f: Fields): string {
    const c = f.j + 1;
    return `if (cpu.blockBreak || cpu.exitReason >= 0) { cpu.budgetLeft -= ${c}; cpu.instructions += ${c}; return; }\n`;
  }

  /** Register-only code: RIP advances without a store. */
  regOnly(f: Fields, code: string, fclass: number): string {
    this.ripSynced = false;
    this.fclass[f.j] = fclass;
    return code;
  }

  /**
   * After the RET of a CALL made inside the block: the block goes on at `back` only if the
   * RET landed there (the guest may have changed its return address).
   */
  retGuard(j: number, back: number): string {
    this.ripSynced = true;
    this.syncedOff = back;
    const c = j + 1;
    return `if (cpu.rip !== ${this.rip(back)}) { cpu.budgetLeft -= ${c}; cpu.instructions += ${c}; return; }\n`;
  }

  /** The generic path: call the block's own closure for this instruction. */
  callOp(f: Fields, fn: Handler, last: boolean): string {
    const s = `${this.sync(f.off)}k = ${f.j}; o${f.j}(cpu);\n`;
    this.producer = null;
    this.fclass[f.j] = F_OTHER;
    this.ripSynced = true;
    this.syncedOff = f.off + f.len;
    if (last) {
      // The closure set RIP; a near jump (Jcc, JMP, LOOP) may have gone back to the start.
      this.ended = true;
      this.tailLoop = fn === C.Jcc || fn === C.JMP_J || fn === C.LOOP;
      return s;
    }
    return s + this.exitCheck(f);
  }

  /** 32-bit effective address expression of an `EA_32` form. */
  ea32(f: Fields): string {
    const terms: string[] = [];
    if (f.disp !== 0) terms.push(`${f.disp}`);
    if (f.base !== NO_REG) terms.push(`lo[${f.base}]`);
    if (f.index !== NO_REG)
      terms.push(f.scale === 0 ? `lo[${f.index}]` : `(lo[${f.index}] << ${f.scale})`);
    const e = terms.join(' + ');
    return f.base === NO_REG && f.index === NO_REG ? `${f.disp >>> 0}` : `((${e}) >>> 0)`;
  }

  eaOff(f: Fields, a64: boolean): string {
    return a64 ? this.ea64n(f) : this.ea32(f);
  }

  /**
   * The 64-bit effective address as a number (as `ea64n`). `[base + disp]` is summed inline:
   * the exact sum differs from `ea64n`'s wrapped one only when both are non-canonical (a base
   * within 2^31 of +-2^63), and rounding above 2^53 keeps a non-canonical value non-canonical,
   * so the fault taken is the same. Index forms call `ea64n` (a scaled huge index could cancel
   * a huge base inexactly).
   */
  ea64n(f: Fields): string {
    if (f.index === NO_REG && f.base !== NO_REG) {
      const d = f.disp === 0 ? '' : ` + ${f.disp}`;
      return `(hi[${f.base}] * 4294967296 + (lo[${f.base}] >>> 0)${d})`;
    }
    return `H.ea64n(cpu, ${f.base}, ${f.index}, ${f.scale}, ${f.disp})`;
  }

  /** Stores the lazy flags of a 32-bit producer `j` (kind `cc`), to be elided when dead. */
  flags(j: number, cc: number): string {
    this.flagStore[j] =
      `cpu.ccOp = ${cc}; cpu.ccDst = r${j}; cpu.ccSrc = b${j}; cpu.ccSize = 32;\n`;
    this.usesTemps = true;
    return `@F${j}@`;
  }

  /** Stores the flags of `j` unconditionally (an exit point follows them in its own code). */
  pin(j: number, code: string): string {
    const c = code.replace(`@F${j}@`, this.flagStore[j]);
    this.flagStore[j] = '';
    return c;
  }

  /**
   * 32-bit ALU `k` of `aExpr` and `bExpr` into temps `a<j>`, `b<j>`, `r<j>` with lazy flags; the
   * result is in `r<j>`. ADC/SBB go through `alu` (the lazy state is read and written).
   */
  alu(j: number, k: number, aExpr: string, bExpr: string): { code: string; full: boolean } {
    this.usesTemps = true;
    let op: string;
    let cc: number;
    switch (k) {
      case 0:
        op = `(a${j} + b${j}) | 0`;
        cc = CC_ADD;
        break;
      case 1:
        op = `a${j} | b${j}`;
        cc = CC_LOGIC;
        break;
      case 4:
        op = `a${j} & b${j}`;
        cc = CC_LOGIC;
        break;
      case 5:
      case 7:
        op = `(a${j} - b${j}) | 0`;
        cc = CC_SUB;
        break;
      case 6:
        op = `a${j} ^ b${j}`;
        cc = CC_LOGIC;
        break;
      default:
        this.producer = null;
        return { code: `r${j} = H.alu(cpu, ${k}, 32, ${aExpr}, ${bExpr});\n`, full: false };
    }
    this.producer = { t: cc === CC_ADD ? 'add' : cc === CC_SUB ? 'sub' : 'logic', j };
    return {
      code: `a${j} = ${aExpr}; b${j} = ${bExpr}; r${j} = ${op};\n${this.flags(j, cc)}`,
      full: true,
    };
  }

  /** CF of the current producer as an expression, or undefined when unknown. */
  knownCf(): string | undefined {
    const p = this.producer;
    if (p === null) return undefined;
    const j = p.j;
    switch (p.t) {
      case 'add':
        return `((r${j} >>> 0) < (a${j} >>> 0) ? 1 : 0)`;
      case 'sub':
        return `((a${j} >>> 0) < (b${j} >>> 0) ? 1 : 0)`;
      case 'logic':
        return '0';
      default:
        return `b${j}`;
    }
  }

  /** Condition `cc` from the current producer's locals, or undefined when unknown. */
  knownCond(cc: number): string | undefined {
    const p = this.producer;
    if (p === null) return undefined;
    const j = p.j;
    const r = `r${j}`;
    switch (cc) {
      case 4:
        return `${r} === 0`;
      case 5:
        return `${r} !== 0`;
      case 8:
        return `${r} < 0`;
      case 9:
        return `${r} >= 0`;
    }
    const a = `a${j}`;
    const b = `b${j}`;
    if (p.t === 'sub') {
      switch (cc) {
        case 2:
          return `(${a} >>> 0) < (${b} >>> 0)`;
        case 3:
          return `(${a} >>> 0) >= (${b} >>> 0)`;
        case 6:
          return `(${a} >>> 0) <= (${b} >>> 0)`;
        case 7:
          return `(${a} >>> 0) > (${b} >>> 0)`;
        case 12:
          return `${a} < ${b}`;
        case 13:
          return `${a} >= ${b}`;
        case 14:
          return `${a} <= ${b}`;
        case 15:
          return `${a} > ${b}`;
      }
      return undefined;
    }
    if (p.t === 'logic') {
      // CF = OF = 0: SF != OF is SF.
      switch (cc) {
        case 0:
        case 2:
          return 'false';
        case 1:
        case 3:
          return 'true';
        case 6:
          return `${r} === 0`;
        case 7:
          return `${r} !== 0`;
        case 12:
          return `${r} < 0`;
        case 13:
          return `${r} >= 0`;
        case 14:
          return `${r} <= 0`;
        case 15:
          return `${r} > 0`;
      }
      return undefined;
    }
    if (p.t === 'add') {
      if (cc === 2) return `(${r} >>> 0) < (${a} >>> 0)`;
      if (cc === 3) return `(${r} >>> 0) >= (${a} >>> 0)`;
    }
    return undefined;
  }

  // ---- 32-bit operand size ------------------------------------------------------------------

  gen32(fn: Handler, f: Fields, eaOk: boolean, a64: boolean, last: boolean): string | undefined {
    const { j, mod, reg, rm, seg, opcode, imm, len } = f;
    const regMode = mod === 3;
    const memOk = eaOk && !regMode;
    if (fn === SY.NOP) return this.regOnly(f, '', F_NONE);
    if (fn === D.MOV_form && (opcode === 0x89 || opcode === 0x8b) && eaOk) {
      const load = opcode === 0x8b;
      if (regMode) {
        const d = load ? reg : rm;
        const s = load ? rm : reg;
        return this.regOnly(f, `lo[${d}] = lo[${s}]; hi[${d}] = 0;\n`, F_NONE);
      }
      this.fclass[j] = F_OTHER;
      if (load)
        return `${this.faulting(f)}lo[${reg}] = cpu.readMem32(${seg}, ${this.eaOff(f, a64)}); hi[${reg}] = 0;\n`;
      return `${this.faulting(f)}cpu.writeMem32(${seg}, ${this.eaOff(f, a64)}, lo[${reg}]);\n${this.exitCheck(f)}`;
    }
    if (fn === A.ALU_form && ((opcode & 7) === 1 || (opcode & 7) === 3) && eaOk) {
      const k = (opcode >> 3) & 7;
      const toReg = (opcode & 7) === 3;
      if (regMode) {
        const d = toReg ? reg : rm;
        const s = toReg ? rm : reg;
        const a = this.alu(j, k, `lo[${d}]`, `lo[${s}]`);
        const wb = k !== 7 ? `lo[${d}] = r${j}; hi[${d}] = 0;\n` : '';
        return this.regOnly(f, a.code + wb, a.full ? F_FULL : F_OTHER);
      }
      this.fclass[j] = F_OTHER;
      if (toReg) {
        const pre = `${this.faulting(f)}t = cpu.readMem32(${seg}, ${this.eaOff(f, a64)});\n`;
        const a = this.alu(j, k, `lo[${reg}]`, 't');
        const wb = k !== 7 ? `lo[${reg}] = r${j}; hi[${reg}] = 0;\n` : '';
        return pre + a.code + wb;
      }
      const pre = `${this.faulting(f)}e = ${this.eaOff(f, a64)}; t = cpu.readMem32(${seg}, e);\n`;
      const a = this.alu(j, k, 't', `lo[${reg}]`);
      // The store can fault or exit after the flags were computed: they reach `cpu` first.
      const st = k !== 7 ? `cpu.writeMem32(${seg}, e, r${j});\n${this.exitCheck(f)}` : '';
      return pre + this.pin(j, a.code) + st;
    }
    if (fn === A.ALU_form && (opcode & 7) === 5) {
      const k = (opcode >> 3) & 7;
      const a = this.alu(j, k, 'lo[0]', `${imm}`);
      const wb = k !== 7 ? `lo[0] = r${j}; hi[0] = 0;\n` : '';
      return this.regOnly(f, a.code + wb, a.full ? F_FULL : F_OTHER);
    }
    if (fn === A.GRP1_EvI && eaOk) {
      const k = reg & 7;
      if (regMode) {
        const a = this.alu(j, k, `lo[${rm}]`, `${imm}`);
        const wb = k !== 7 ? `lo[${rm}] = r${j}; hi[${rm}] = 0;\n` : '';
        return this.regOnly(f, a.code + wb, a.full ? F_FULL : F_OTHER);
      }
      this.fclass[j] = F_OTHER;
      const pre = `${this.faulting(f)}e = ${this.eaOff(f, a64)}; t = cpu.readMem32(${seg}, e);\n`;
      const a = this.alu(j, k, 't', `${imm}`);
      const st = k !== 7 ? `cpu.writeMem32(${seg}, e, r${j});\n${this.exitCheck(f)}` : '';
      return pre + this.pin(j, a.code) + st;
    }
    if (fn === A.TEST_form && opcode === 0x85 && regMode && eaOk) {
      const a = this.alu(j, 4, `lo[${rm}]`, `lo[${reg}]`);
      return this.regOnly(f, a.code, F_FULL);
    }
    if (fn === A.INCDEC_Zv || (fn === A.INCDEC_Ev && regMode && eaOk)) {
      const r = fn === A.INCDEC_Zv ? opcode & 7 : rm;
      const dec = fn === A.INCDEC_Zv ? opcode >= 0x48 : (reg & 7) === 1;
      const cf = this.knownCf();
      this.usesTemps = true;
      const code =
        `b${j} = ${cf ?? 'H.getCf(cpu)'}; r${j} = (lo[${r}] ${dec ? '-' : '+'} 1) | 0; ` +
        `lo[${r}] = r${j}; hi[${r}] = 0;\n${this.flags(j, dec ? CC_DEC : CC_INC)}`;
      this.producer = { t: dec ? 'dec' : 'inc', j };
      return this.regOnly(f, code, cf === undefined ? F_OTHER : F_FULL);
    }
    if (fn === D.LEA && memOk) {
      const v = a64
        ? `H.ea64(cpu, ${f.base}, ${f.index}, ${f.scale}, ${f.disp})`
        : `${this.ea32(f)} | 0`;
      return this.regOnly(f, `lo[${reg}] = ${v}; hi[${reg}] = 0;\n`, F_NONE);
    }
    if (fn === D.MOV_ZI && opcode >= 0xb8) {
      const r = (opcode & 7) | ((f.rex & 1) << 3);
      return this.regOnly(f, `lo[${r}] = ${imm}; hi[${r}] = 0;\n`, F_NONE);
    }
    if (fn === D.MOVX && eaOk) {
      const word = (opcode & 1) !== 0;
      const signed = opcode >= 0x1be;
      const sh = word ? 16 : 24;
      if (regMode) {
        const high = !word && rm >= 4 && rm <= 7 && f.rex === 0;
        const src = high ? `(lo[${rm - 4}] >> 8)` : `lo[${rm}]`;
        const v = signed ? `(${src} << ${sh}) >> ${sh}` : `(${src} << ${sh}) >>> ${sh}`;
        return this.regOnly(f, `lo[${reg}] = ${v}; hi[${reg}] = 0;\n`, F_NONE);
      }
      this.fclass[j] = F_OTHER;
      const rd = `cpu.read(${seg}, ${this.eaOff(f, a64)}, ${word ? 16 : 8})`;
      const v = signed ? `(t << ${sh}) >> ${sh}` : 't';
      return `${this.faulting(f)}t = ${rd}; lo[${reg}] = ${v}; hi[${reg}] = 0;\n`;
    }
    if (fn === D.PUSH_Z || fn === D.POP_Z) {
      const r = (opcode & 7) | ((f.rex & 1) << 3);
      this.fclass[j] = F_OTHER;
      if (fn === D.PUSH_Z) return `${this.faulting(f)}${push32(`lo[${r}]`)}${this.exitCheck(f)}`;
      return `${this.faulting(f)}${POP32}lo[${r}] = t; hi[${r}] = 0;\n`;
    }
    if (fn === SH_GRP2 && regMode && eaOk && (opcode === 0xc1 || opcode === 0xd1)) {
      const k = reg & 7;
      const count = opcode === 0xc1 ? imm & 0xff : 1;
      const inline = this.shift32(f, k, count & 0x1f);
      if (inline !== undefined) return inline;
      this.producer = null;
      return this.regOnly(
        f,
        `lo[${rm}] = H.shift(cpu, ${k}, 32, lo[${rm}], ${count}); hi[${rm}] = 0;\n`,
        F_OTHER,
      );
    }
    if (fn === C.Jcc && last) {
      const cc = opcode & 15;
      const cond = this.knownCond(cc) ?? `H.testCond(cpu, ${cc})`;
      const next = f.off + len;
      const target = next + imm;
      this.fclass[j] = F_OTHER;
      this.ended = true;
      if (target === 0) {
        this.loops = true;
        return `if (${cond}) { LOOP } cpu.rip = ${this.rip(next)};\n`;
      }
      return `cpu.rip = ${cond} ? (${this.rip(target)}) >>> 0 : ${this.rip(next)};\n`;
    }
    if (fn === C.JMP_J) {
      const target = f.off + len + imm;
      this.fclass[j] = F_OTHER;
      if (last) {
        this.ended = true;
        if (target === 0) {
          this.loops = true;
          return 'LOOP';
        }
        return `cpu.rip = (${this.rip(target)}) >>> 0;\n`;
      }
      // A same-page JMP the block goes on through: nothing to do but move on.
      this.ripSynced = false;
      return '';
    }
    if (fn === C.CALL_J) {
      const next = f.off + len;
      const target = next + imm;
      this.fclass[j] = F_OTHER;
      const code = `${this.faulting(f)}${push32(`${this.rip(next)} | 0`)}`;
      if (last) {
        this.ended = true;
        return `${code}cpu.rip = (${this.rip(target)}) >>> 0;\n`;
      }
      this.ripSynced = true;
      this.syncedOff = target;
      return `${code}cpu.rip = ${this.rip(target)};\n${this.exitCheck(f)}`;
    }
    if (fn === C.RET && opcode === 0xc3) {
      this.fclass[j] = F_OTHER;
      const code = `${this.faulting(f)}${POP32}t = t >>> 0; cpu.rip = t;\n`;
      if (last) {
        this.ended = true;
        return code;
      }
      return code + this.retGuard(j, this.nextOff);
    }
    return undefined;
  }

  /**
   * A 32-bit shift or rotate of register `f.rm` by the constant `c` (already masked), as
   * `shift()` computes it: SHL/SHR/SAR with lazy flags; ROL/ROR with CF/OF merged into the
   * materialized flags (from the producer's locals when it is a logic op). Undefined: RCL/RCR.
   */
  shift32(f: Fields, k: number, c: number): string | undefined {
    const { j, rm } = f;
    if (c === 0) return this.regOnly(f, `hi[${rm}] = 0;\n`, F_NONE);
    const a = `a${j}`;
    const r = `r${j}`;
    this.usesTemps = true;
    let res: string;
    let src: string;
    let cc: number;
    switch (k) {
      case 4:
      case 6:
        res = `${a} << ${c}`;
        src = `${a} << ${c - 1}`;
        cc = CC_SHL;
        break;
      case 5:
        res = `(${a} >>> ${c}) | 0`;
        src = `${a} >>> ${c - 1}`;
        cc = CC_SAR;
        break;
      case 7:
        res = `${a} >> ${c}`;
        src = `${a} >> ${c - 1}`;
        cc = CC_SAR;
        break;
      case 0:
      case 1: {
        const rot =
          k === 0
            ? `(${a} << ${c}) | (${a} >>> ${32 - c})`
            : `(${a} >>> ${c}) | (${a} << ${32 - c})`;
        const cf = k === 0 ? `(${r} & 1)` : `(${r} >>> 31)`;
        const of =
          k === 0 ? `((${r} >>> 31) ^ (${r} & 1))` : `((${r} >>> 31) ^ ((${r} >>> 30) & 1))`;
        const p = this.producer;
        let before: string;
        let fc = F_OTHER;
        if (p !== null && p.t === 'logic') {
          // The logic op's flags: CF = OF = AF = 0, PF/ZF/SF from its result.
          const pr = `r${p.j}`;
          before = `(cpu.eflags & ~${ARITH}) | H.PARITY[${pr} & 255] | (${pr} === 0 ? 64 : 0) | (${pr} < 0 ? 128 : 0)`;
          fc = F_FULL;
        } else before = 'H.getFlags(cpu)';
        this.producer = null;
        return this.regOnly(
          f,
          `${a} = lo[${rm}]; ${r} = ${rot}; lo[${rm}] = ${r}; hi[${rm}] = 0;\n` +
            `cpu.eflags = ((${before}) & ~2049) | ${cf} | (${of} << 11); cpu.ccOp = 0;\n`,
          fc,
        );
      }
      default:
        return undefined;
    }
    this.producer = null;
    this.flagStore[j] =
      `cpu.ccOp = ${cc}; cpu.ccDst = ${r}; cpu.ccSrc = ${src}; cpu.ccSize = 32;\n`;
    return this.regOnly(
      f,
      `${a} = lo[${rm}]; ${r} = ${res}; lo[${rm}] = ${r}; hi[${rm}] = 0;\n@F${j}@`,
      F_FULL,
    );
  }

  // ---- 64-bit operand size ------------------------------------------------------------------

  gen64(fn: Handler, f: Fields, eaOk: boolean, last: boolean): string | undefined {
    const { j, mod, reg, rm, seg, opcode, imm, len } = f;
    const regMode = mod === 3;
    const ea = this.ea64n(f);
    if (fn === D.MOV_form && (opcode === 0x89 || opcode === 0x8b) && eaOk) {
      const load = opcode === 0x8b;
      if (regMode) {
        const d = load ? reg : rm;
        const s = load ? rm : reg;
        return this.regOnly(f, `lo[${d}] = lo[${s}]; hi[${d}] = hi[${s}];\n`, F_NONE);
      }
      this.fclass[j] = F_OTHER;
      if (load)
        return `${this.faulting(f)}t = cpu.read64(${seg}, ${ea}); lo[${reg}] = t; hi[${reg}] = cpu.tmpHi;\n`;
      return `${this.faulting(f)}cpu.write64(${seg}, ${ea}, lo[${reg}], hi[${reg}]);\n${this.exitCheck(f)}`;
    }
    if (fn === A.ALU_form && eaOk && ((opcode & 7) === 1 || (opcode & 7) === 3)) {
      const k = (opcode >> 3) & 7;
      const toReg = (opcode & 7) === 3;
      this.producer = null;
      if (regMode) {
        const d = toReg ? reg : rm;
        const s = toReg ? rm : reg;
        const wb = k !== 7 ? `hi[${d}] = cpu.tmpHi; lo[${d}] = t;\n` : '';
        this.alu64Dead(j, k, d, `lo[${s}]`, `hi[${s}]`);
        return this.regOnly(
          f,
          `t = H.alu64(cpu, ${k}, lo[${d}], hi[${d}], lo[${s}], hi[${s}]);\n${wb}`,
          FULL64.has(k) ? F_FULL : F_OTHER,
        );
      }
      this.fclass[j] = F_OTHER;
      if (toReg) {
        const wb = k !== 7 ? `hi[${reg}] = cpu.tmpHi; lo[${reg}] = t;\n` : '';
        return `${this.faulting(f)}t = cpu.read64(${seg}, ${ea}); t = H.alu64(cpu, ${k}, lo[${reg}], hi[${reg}], t, cpu.tmpHi);\n${wb}`;
      }
      const st = k !== 7 ? `cpu.write64(${seg}, e, t, cpu.tmpHi);\n${this.exitCheck(f)}` : '';
      return `${this.faulting(f)}e = ${ea}; t = cpu.read64(${seg}, e); t = H.alu64(cpu, ${k}, t, cpu.tmpHi, lo[${reg}], hi[${reg}]);\n${st}`;
    }
    if (fn === A.GRP1_EvI && regMode && eaOk) {
      const k = reg & 7;
      this.producer = null;
      const wb = k !== 7 ? `hi[${rm}] = cpu.tmpHi; lo[${rm}] = t;\n` : '';
      this.alu64Dead(j, k, rm, `${imm}`, `${imm >> 31}`);
      return this.regOnly(
        f,
        `t = H.alu64(cpu, ${k}, lo[${rm}], hi[${rm}], ${imm}, ${imm >> 31});\n${wb}`,
        FULL64.has(k) ? F_FULL : F_OTHER,
      );
    }
    if (fn === A.INCDEC_Ev && regMode && eaOk) {
      const k = (reg & 7) === 1 ? 5 : 0;
      this.producer = null;
      return this.regOnly(
        f,
        `c = H.getCf(cpu); t = H.alu64(cpu, ${k}, lo[${rm}], hi[${rm}], 1, 0); cpu.eflags = (cpu.eflags & ~1) | c; hi[${rm}] = cpu.tmpHi; lo[${rm}] = t;\n`,
        F_OTHER,
      );
    }
    if (fn === SH_GRP2 && regMode && eaOk && (opcode === 0xc1 || opcode === 0xd1)) {
      const k = reg & 7;
      const count = opcode === 0xc1 ? imm & 0xff : 1;
      this.producer = null;
      const c = count & 0x3f;
      if ((k === 0 || k === 1) && c !== 0) {
        // ROL/ROR by a constant on the halves; CF/OF merged into the flags as `shift64` does.
        const l = k === 0 ? c : 64 - c; // a ROR by c is a ROL by 64 - c
        // t = old high, e = old low; A:B the halves after a 32-bit swap when l >= 32; then
        // c = new high, e = new low.
        const [A, B] = l >= 32 ? ['e', 't'] : ['t', 'e'];
        const d = l & 31;
        const rot =
          d === 0
            ? `c = ${A}; e = ${B};`
            : `c = (${A} << ${d}) | (${B} >>> ${32 - d}); e = (${B} << ${d}) | (${A} >>> ${32 - d});`;
        const cf = k === 0 ? '(e & 1)' : '(c >>> 31)';
        const of = k === 0 ? '((c >>> 31) ^ (e & 1))' : '((c >>> 31) ^ ((c >>> 30) & 1))';
        return this.regOnly(
          f,
          `t = hi[${rm}]; e = lo[${rm}]; ${rot} hi[${rm}] = c; lo[${rm}] = e;\n` +
            `cpu.eflags = (H.getFlags(cpu) & ~2049) | ${cf} | (${of} << 11); cpu.ccOp = 0;\n`,
          F_OTHER,
        );
      }
      return this.regOnly(
        f,
        `t = H.shift64(cpu, ${k}, lo[${rm}], hi[${rm}], ${count}); hi[${rm}] = cpu.tmpHi; lo[${rm}] = t;\n`,
        F_OTHER,
      );
    }
    if (fn === D.LEA && !regMode && eaOk) {
      return this.regOnly(
        f,
        `t = H.ea64(cpu, ${f.base}, ${f.index}, ${f.scale}, ${f.disp}); hi[${reg}] = cpu.tmpHi; lo[${reg}] = t;\n`,
        F_NONE,
      );
    }
    if (fn === D.PUSH_Z || fn === D.POP_Z) {
      const r = (opcode & 7) | ((f.rex & 1) << 3);
      this.fclass[j] = F_OTHER;
      if (fn === D.PUSH_Z)
        return `${this.faulting(f)}cpu.push(64, lo[${r}], hi[${r}]);\n${this.exitCheck(f)}`;
      return `${this.faulting(f)}t = cpu.pop(64); hi[${r}] = cpu.tmpHi; lo[${r}] = t;\n`;
    }
    const next = f.off + len;
    const target = next + imm;
    const inPage = this.pageOff + target >= 0 && this.pageOff + target < 4096;
    if (fn === C.Jcc && last && inPage) {
      const cc = opcode & 15;
      const cond = this.knownCond(cc) ?? `H.testCond(cpu, ${cc})`;
      this.fclass[j] = F_OTHER;
      this.ended = true;
      if (target === 0) {
        this.loops = true;
        return `if (${cond}) { LOOP } cpu.rip = ${this.rip(next)};\n`;
      }
      return `cpu.rip = ${cond} ? ${this.rip(target)} : ${this.rip(next)};\n`;
    }
    if (fn === C.JMP_J && inPage) {
      this.fclass[j] = F_OTHER;
      this.ripSynced = false;
      if (last) {
        this.ended = true;
        if (target === 0) {
          this.loops = true;
          return 'LOOP';
        }
        return `cpu.rip = ${this.rip(target)};\n`;
      }
      return '';
    }
    if (fn === C.RET && opcode === 0xc3 && !last) {
      // A guarded RET (last ones go through their closure).
      this.fclass[j] = F_OTHER;
      const code = `${this.faulting(f)}t = cpu.pop(64); cpu.jumpTo(cpu.tmpHi * 4294967296 + (t >>> 0), 64);\n`;
      return code + this.retGuard(j, this.nextOff);
    }
    if (fn === C.CALL_J && inPage) {
      this.fclass[j] = F_OTHER;
      const code = `${this.faulting(f)}t = ${this.rip(next)}; cpu.push(64, t | 0, Math.floor(t / 4294967296) | 0);\ncpu.rip = ${this.rip(target)};\n`;
      if (last) {
        this.ended = true;
        return code;
      }
      this.ripSynced = true;
      this.syncedOff = target;
      return code + this.exitCheck(f);
    }
    return undefined;
  }

  /**
   * The code of 64-bit register ALU `k` into `d` with source halves `sLo`/`sHi` when its flags
   * are dead (no flags computed at all): used instead of the `alu64` call by `finish`.
   */
  alu64Dead(j: number, k: number, d: number, sLo: string, sHi: string): void {
    let c: string | undefined;
    switch (k) {
      case 0:
        c = `t = (lo[${d}] >>> 0) + (${sLo} >>> 0); e = (hi[${d}] + ${sHi} + (t > 4294967295 ? 1 : 0)) | 0; lo[${d}] = t | 0; hi[${d}] = e;\n`;
        break;
      case 5:
        c = `t = lo[${d}] >>> 0; c = ${sLo} >>> 0; e = (hi[${d}] - ${sHi} - (t < c ? 1 : 0)) | 0; lo[${d}] = (t - c) | 0; hi[${d}] = e;\n`;
        break;
      case 1:
      case 4:
      case 6: {
        const op = k === 1 ? '|' : k === 4 ? '&' : '^';
        c = `lo[${d}] = lo[${d}] ${op} ${sLo}; hi[${d}] = hi[${d}] ${op} ${sHi};\n`;
        break;
      }
      case 7:
        c = '';
        break;
    }
    if (c !== undefined) this.deadCode[j] = c;
  }
  /** Code of instruction j to use when its flags are dead (64-bit ALU). */
  readonly deadCode: (string | undefined)[] = [];

  /** The function body: dead flags removed, counters, the loop. */
  finish(): string {
    const n = this.n;
    // Dead flags: producer j's lazy store is dead when a later instruction writes all six flags
    // without reading the lazy state, and only register-only, flag-neutral instructions lie in
    // between (nothing can fault, exit or read the flags in between).
    let code = '';
    for (let j = 0; j < n; j++) {
      let c = this.code[j];
      const store = this.flagStore[j];
      const alt = this.deadCode[j];
      if (store !== '' || alt !== undefined) {
        let dead = false;
        for (let t = j + 1; t < n; t++) {
          const fc = this.fclass[t];
          if (fc === F_FULL) {
            dead = true;
            break;
          }
          if (fc !== F_NONE) break;
        }
        if (alt !== undefined) c = dead ? alt : c;
        else c = c.replace(`@F${j}@`, dead ? '' : store);
      }
      code += c;
    }
    const done = `cpu.budgetLeft -= ${n}; cpu.instructions += ${n};`;
    if (this.loops) {
      code = code.replace(
        'LOOP',
        `${done} if (${n} > cpu.budgetLeft) { cpu.rip = ip; return; } continue;`,
      );
    }
    let temps = 'let k = 0, t = 0, e = 0, c = 0;';
    if (this.usesTemps) {
      const names: string[] = [];
      for (let j = 0; j < n; j++) names.push(`a${j} = 0, b${j} = 0, r${j} = 0`);
      temps += ` let ${names.join(', ')};`;
    }
    let opsDecl = '';
    for (let j = 0; j < n; j++) if (code.includes(`o${j}(`)) opsDecl += `const o${j} = o[${j}];\n`;
    // A generic last instruction (LOOP, say) may jump back to the start: loop as `runInner`.
    const tail = this.tailLoop
      ? `if (cpu.rip !== ip || ${n} > cpu.budgetLeft || cpu.blockBreak || cpu.exitReason >= 0) return;`
      : 'return;';
    const sync = this.ended ? '' : this.sync(this.endOff);
    return (
      `"use strict";\n${opsDecl}return function block(cpu) {\n` +
      `const lo = cpu.lo, hi = cpu.hi; const ip = cpu.rip; ${temps}\n` +
      'cpu.blockBreak = false;\n' +
      'try {\nfor (;;) {\n' +
      `${code}${sync}${done}\n${tail}\n` +
      '}\n} catch (x) { cpu.budgetLeft -= k; cpu.instructions += k; throw x; }\n};\n'
    );
  }
}

/**
 * A 32-bit push of `v` (an expression without side effects): `push`'s own 32-bit-stack path
 * inline, so the call left is the store (`push` is too big to be inlined into a block).
 */
function push32(v: string): string {
  return `if (cpu.stackSize === 32) { e = (lo[4] - 4) | 0; cpu.writeMem32(2, e >>> 0, ${v}); lo[4] = e; hi[4] = 0; } else cpu.push(32, ${v}, 0);\n`;
}

/** A 32-bit pop into `t` (`pop`'s 32-bit-stack path inline, as {@link push32}). */
const POP32 =
  'if (cpu.stackSize === 32) { e = lo[4]; t = cpu.readMem32(2, e >>> 0); lo[4] = (e + 4) | 0; hi[4] = 0; } else t = cpu.pop(32);\n';

/** The decoded fields of one instruction. */
interface Fields {
  readonly j: number;
  readonly off: number;
  readonly len: number;
  readonly mod: number;
  readonly reg: number;
  readonly rm: number;
  readonly seg: number;
  readonly base: number;
  readonly index: number;
  readonly scale: number;
  readonly opcode: number;
  readonly imm: number;
  readonly disp: number;
  readonly rex: number;
}
