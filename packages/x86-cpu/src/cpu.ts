/**
 * The vCPU: architectural state in typed arrays, the memory path (segmentation, TLB, page
 * walks, MMIO exits), the decoder front end, exception and interrupt delivery, and the
 * `run(budget)` loop that returns VM exits to the embedder.
 * @see Intel SDM Vol. 3A chapters 3 (segmentation), 4 (paging), 6 (interrupts)
 */
import { CR0, EFER, EFLAGS, EXIT, type ExitReason, MSR, SEG, VECTOR } from './constants.ts';
import { D64, GROUP, I64, IMM, MODRM } from './decode/info.ts';
import { lockAllowed } from './decode/lock.ts';
import { DECODE, GROUP_HANDLERS, GROUP_INFO, HANDLERS, type Handler } from './decode/table.ts';
import { X86CpuError } from './errors.ts';
import { CC_EFLAGS, getFlags, setFlags } from './flags.ts';
import { Fpu, validFpuState } from './fpu/fpu-state.ts';
import { type BlockOp, buildBlock, NO_BLOCK } from './internal/block.ts';
import {
  type BlockSrc,
  COMPILE_AFTER,
  type CompiledBlock,
  compileBlock,
  MAX_COMPILED,
  MAX_RECOMPILES,
  newBlockSrc,
} from './internal/block-compile.ts';
import { finishIns } from './ops/string.ts';
import { TASK_CALL, taskSwitch } from './ops/task.ts';
import { TSS_STACK, tssStack } from './ops/tss-stack.ts';
import {
  BuiltinPageWalker,
  createWalkRequest,
  type PageWalker,
  type WalkRequest,
} from './paging.ts';
import type { CpuidResult, Intercepts, PhysicalMemory, TimeSource } from './ports.ts';
import type { CpuState, SegmentState } from './state.ts';

/** Thrown (preallocated, no stack) to unwind an instruction that faulted or exited. */
const FAULT: { readonly fault: true } = Object.freeze({ fault: true as const });
const TWO32 = 4294967296;
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;
const TLB_SIZE = 4096;
/** Legacy prefix bytes (segment overrides, 66, 67, F0, F2, F3). */
const PREFIX_BYTE: Uint8Array = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (const b of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) t[b] = 1;
  return t;
})();
const TLB_MASK = TLB_SIZE - 1;
/** TLB generations before a guest flush clears the arrays (`tlbGen << 20 | vpn` stays positive). */
const TLB_GENS = 2048;

/** Decode-cache slots (direct-mapped by physical address; 8 int32 words each). */
const DC_SIZE = 8192;
const DC_MASK = DC_SIZE - 1;
/** Register number meaning "no base/index register" in an address form. */
const NO_REG = 16;
/** Address forms (`eaKind`): none (register operand or no ModRM), 16-bit, 32-bit, 64-bit sums. */
const EA_NONE = 0;
const EA_16 = 1;
const EA_32 = 2;
const EA_64 = 3;
/** RIP-relative with a 64- or 32-bit address size. */
const EA_RIP64 = 4;
const EA_RIP32 = 5;
/** A moffs absolute address (16/32-bit address size). */
const EA_ABS = 6;
/** The instruction cannot be cached (a 64-bit moffs, a far pointer immediate). */
const EA_UNCACHED = 7;
// TLB flag bits.
const T_READ = 1;
const T_USER = 2;
const T_WUSER = 4;
const T_WSUP = 8;
const T_EXEC = 16;
const T_MMIO = 32;
/** Required TLB bits per (access * 2 + user). */
const NEED = [T_READ, T_USER, T_WSUP, T_WUSER, T_EXEC, T_EXEC | T_USER];

/** Options for {@link X86Cpu.create}. */
export interface CpuOptions {
  /** Guest physical memory. */
  memory: PhysicalMemory;
  /** Time source for RDTSC; defaults to one that counts retired instructions. */
  time?: TimeSource;
  /** Page walker; defaults to {@link BuiltinPageWalker} over `memory`. */
  walker?: PageWalker;
  /** Events to return to the embedder. */
  intercepts?: Partial<Intercepts>;
  /** CPUID leaves keyed `"leaf"` or `"leaf.subleaf"` (hex or decimal), overriding the defaults. */
  cpuid?: Record<string, CpuidResult>;
}

/** What the last {@link X86Cpu.run} exit carries. Overwritten by the next exit. */
export interface ExitInfo {
  /** The exit reason. */ reason: ExitReason;
  /** I/O port for IO_IN/IO_OUT. */ port: number;
  /** Access size in bytes (I/O and MMIO). */ size: number;
  /** Value written (IO_OUT, MMIO_WRITE, WRMSR low half). */ value: number;
  /** High half for WRMSR. */ valueHi: number;
  /** Physical address for MMIO exits. */ address: number;
  /** Vector for SOFTWARE_INTERRUPT and EXCEPTION. */ vector: number;
  /** Error code for EXCEPTION, or -1. */ errorCode: number;
  /** MSR index for RDMSR/WRMSR. */ msr: number;
  /** Length in bytes of the instruction that exited. */ instructionLength: number;
}

/**
 * One x86-64 vCPU. Create it with {@link X86Cpu.create} (reset state) or
 * {@link X86Cpu.fromState}, then call {@link X86Cpu.run} in a loop, handling the exits.
 */
export class X86Cpu {
  /** RAX..R15, low 32 bits. */
  readonly lo: Int32Array = new Int32Array(16);
  /** RAX..R15, high 32 bits. */
  readonly hi: Int32Array = new Int32Array(16);
  /** Instruction pointer (see {@link CpuState.rip}). */
  rip = 0;
  /** @internal EFLAGS with the arithmetic flags stale unless `ccOp` is CC_EFLAGS. */
  eflags = 2;
  /** @internal Lazy-flags operation. */
  ccOp: number = CC_EFLAGS;
  /** @internal Lazy-flags result. */
  ccDst = 0;
  /** @internal Lazy-flags source operand. */
  ccSrc = 0;
  /** @internal Lazy-flags carry in. */
  ccSrc2 = 0;
  /** @internal Lazy-flags operand size in bits. */
  ccSize = 32;
  /** Segment selectors (ES, CS, SS, DS, FS, GS, LDTR, TR). */
  readonly segSel: Int32Array = new Int32Array(8);
  /** Segment bases. */
  readonly segBase: Float64Array = new Float64Array(8);
  /** Segment limits (unsigned, stored as int32). */
  readonly segLimit: Int32Array = new Int32Array(8);
  /** Segment attributes (see {@link SegmentState.attr}). */
  readonly segAttr: Int32Array = new Int32Array(8);
  /** GDTR base. */ gdtBase = 0;
  /** GDTR limit. */ gdtLimit = 0xffff;
  /** IDTR base. */ idtBase = 0;
  /** IDTR limit. */ idtLimit = 0xffff;
  /** CR0. */ cr0: number = CR0.ET | CR0.CD | CR0.NW;
  /** CR2. */ cr2 = 0;
  /** CR3. */ cr3 = 0;
  /** CR4. */ cr4 = 0;
  /** CR8. */ cr8 = 0;
  /** Debug registers DR0..DR7. */
  readonly dr: Float64Array = new Float64Array(8);
  /** IA32_EFER. */ efer = 0;
  /** @internal MSRs without dedicated fields: index → [low, high]. */
  readonly msrs: Map<number, [number, number]> = new Map();
  /** Current privilege level. */ cpl = 0;
  /** True while halted. */ halted = false;
  /** @internal Pending external interrupt, -1 if none. */
  pendingInterrupt = -1;
  /** @internal Pending injected exception, -1 if none. */
  pendingException = -1;
  /** @internal Its error code or -1. */
  pendingErrorCode = -1;
  /** @internal Interrupts blocked for one instruction. */
  interruptShadow = false;
  /** @internal Pending completion `kind, a, b, c`: 1 = IN (size), 2 = MMIO read value (addr, size, value), 3 = INS. */
  readonly pendingIo: Float64Array = new Float64Array(4);
  /** @internal x87, MXCSR and XMM registers (src/fpu/). */
  readonly fpu: Fpu = new Fpu();
  /** @internal RDTSC offset. */
  tscOffset = 0;
  /** The exit the last {@link X86Cpu.run} returned. */
  readonly exit: ExitInfo = {
    reason: EXIT.BUDGET,
    port: 0,
    size: 0,
    value: 0,
    valueHi: 0,
    address: 0,
    vector: 0,
    errorCode: -1,
    msr: 0,
    instructionLength: 0,
  };
  /** Instructions retired since creation (not part of the architectural state). */
  instructions = 0;

  // ---- mode cache ----
  /** @internal 64-bit mode (EFER.LMA and CS.L). */
  mode64 = false;
  /** @internal Protected mode (CR0.PE). */
  protectedMode = false;
  /** @internal Default operand size (16 or 32). */
  defSize = 16;
  /** @internal Stack address size (16, 32 or 64). */
  stackSize = 16;

  // ---- decoder scratch (per instruction) ----
  /** @internal Operand size 8/16/32/64 after prefixes. */ osize = 16;
  /** @internal Address size 16/32/64 after prefixes. */ asize = 16;
  /** @internal REX byte or 0. */ rex = 0;
  /** @internal Segment override or -1. */ segOv = -1;
  /** @internal 0, 2 (REPNE), 3 (REP/REPE), or 1 for a 66 prefix alone on a 0F opcode (the SSE mandatory prefix). */ rep = 0;
  /** @internal LOCK prefix seen. */ lock = false;
  /** @internal Opcode (0x0FXX as 0x1XX, 0x0F38XX as 0x2XX, 0x0F3AXX as 0x3XX). */ opcode = 0;
  /** @internal ModRM.mod. */ mod = 0;
  /** @internal ModRM.reg with REX.R. */ reg = 0;
  /** @internal ModRM.rm with REX.B (register operand when mod = 3). */ rm = 0;
  /** @internal Effective address offset. */ ea = 0;
  /** @internal Segment of the effective address. */ eaSeg = 3;
  /** @internal Immediate (sign-extended int32). */ imm = 0;
  /** @internal High half of a 64-bit immediate. */ immHi = 0;
  /** @internal Second immediate (far selector, ENTER level). */ imm2 = 0;
  /** @internal Out-field: high half of the last 64-bit read. */ tmpHi = 0;
  /** @internal RIP at the start of the current instruction. */ instrStart = 0;
  /** @internal Exit requested by the current instruction, or -1. */ exitReason = -1;
  /** @internal Vector of the fault being raised (-2 for an MMIO-read exit). */ faultVec = -1;
  /** @internal Its error code or -1. */ faultErr = -1;
  /** @internal Vector being delivered (for double-fault detection), or -1. */ delivering = -1;

  // ---- ports and caches ----
  /** Guest physical memory. */
  readonly memory: PhysicalMemory;
  /** The translation port. */
  readonly walker: PageWalker;
  /** The time port. */
  readonly time: TimeSource;
  /** Active intercepts. */
  readonly intercepts: Intercepts;
  /** @internal Software-interrupt intercept map. */
  readonly swIntercept: Uint8Array = new Uint8Array(256);
  /** @internal CPUID overrides. */
  readonly cpuidLeaves: Map<string, CpuidResult> = new Map();
  private readonly walkReq: WalkRequest = createWalkRequest();
  /** The built-in walker over a direct RAM view: 2-level walks of the common case run inline. */
  private readonly inlineWalk: boolean;
  /**
   * Entry `i` translates `vpn` while `tlbTag[i]` is `vpn * TLB_GENS + tlbGen` (NaN: empty): a
   * guest flush bumps the generation instead of clearing the entries it filled, and only every
   * `TLB_GENS`-th flush clears the arrays (DESIGN.md "Hot loop", round 5). The direct tags
   * `tlbVpn32`/`tlbVpnC` hold `vpn | tlbGenHi` (`tlbGen << 20`; -1: empty).
   */
  private readonly tlbTag: Float64Array = new Float64Array(TLB_SIZE).fill(Number.NaN);
  private readonly tlbFrame: Float64Array = new Float64Array(TLB_SIZE);
  private readonly tlbFlags: Uint8Array = new Uint8Array(TLB_SIZE);
  private tlbGen = 0;
  private tlbGenHi = 0;
  /**
   * Direct-RAM fast path beside the TLB (v86-style int32 entries): `tlbVpn32[i]` is the VPN of
   * entry `i` when its linear address is below 4 GiB and its frame lies in the direct RAM view,
   * else -1; `tlbFastR`/`tlbFastW` hold the frame with bit 0 = supervisor and bit 1 = user
   * access allowed (writes only after a write walk set the dirty bit, as for `tlbFlags`).
   * Loads and stores that hit skip `translate`, the MMIO check and the port (DESIGN.md, "Hot loop").
   */
  private readonly tlbVpn32: Int32Array = new Int32Array(TLB_SIZE).fill(-1);
  private readonly tlbFastR: Int32Array = new Int32Array(TLB_SIZE);
  private readonly tlbFastW: Int32Array = new Int32Array(TLB_SIZE);
  /**
   * Per page of the direct RAM view: the memory port's `isRam` answer once asked (1 RAM, 2 not,
   * 0 not asked yet), kept until the embedder's {@link X86Cpu.flushTlb}: a forced-miss guest
   * asked the port on every page walk (bench/x86-cpu/tlb-miss-peers.bench.ts, DESIGN.md).
   */
  private readonly ramKind: Uint8Array;
  /** Bytes covered by `ramKind`. */
  private readonly ramKindLimit: number;
  /**
   * Direct entries on chunked memory (a port without `bytes` that offers `pageView`):
   * `tlbVpnC[i]` is the VPN of entry `i` when its frame lies in a view the port gave (else -1,
   * and always -1 with a `bytes` view, whose entries use `tlbVpn32`); `tlbFastR`/`tlbFastW` then
   * hold the frame's byte offset in that view, `tlbView32`/`tlbView8` the view as int32 words and
   * bytes, `tlbPfn` the frame's page number for the decode cache's store check. A second tag
   * array rather than a view per `tlbVpn32` entry: indexing a per-entry view cost the `bytes`
   * fast path 2-3 % (DESIGN.md, "Hot loop", round 5).
   */
  private readonly tlbVpnC: Int32Array = new Int32Array(TLB_SIZE).fill(-1);
  private readonly tlbView32: Int32Array[];
  private readonly tlbView8: Uint8Array[];
  /** The port has no `bytes` view and offers `pageView`: entries may use `tlbVpnC`. */
  private readonly chunked: boolean;
  private readonly tlbPfn: Int32Array = new Int32Array(TLB_SIZE);
  /** Int32 aliases of the byte views the port's `pageView` returned (one per chunk). */
  private readonly pageViews: Map<Uint8Array, Int32Array> = new Map();
  /** @internal Out-field of `translate`: the page is MMIO. */
  xMmio = false;
  /**
   * Decode cache (DESIGN.md "Decode cache"): slot `i` holds, at `dc[i*8 ..]`, the physical
   * address of an instruction, its page's generation when decoded, the packed prefix/size/
   * ModRM/address-form words, the immediates and the displacement; `dcFn[i]` its handler.
   */
  private readonly dc: Int32Array = new Int32Array(DC_SIZE * 8);
  private readonly dcFn: Handler[] = new Array<Handler>(DC_SIZE).fill(HANDLERS[0x90]);
  /**
   * Basic blocks over the decode cache (DESIGN.md "Blocks", `src/internal/block.ts`): slot `i`
   * holds the block starting at physical address `blkTag[i]`, built from entries of page
   * generation `blkGen[i]`.
   */
  private readonly blkTag: Int32Array = new Int32Array(DC_SIZE).fill(-1);
  private readonly blkGen: Int32Array = new Int32Array(DC_SIZE);
  private readonly blkOps: BlockOp[][] = new Array<BlockOp[]>(DC_SIZE).fill(NO_BLOCK);
  /** 1 when the block ends with a near relative jump (Jcc, JMP, LOOP) that may target its own start. */
  private readonly blkLoop: Uint8Array = new Uint8Array(DC_SIZE);
  /**
   * Compiled blocks (`src/internal/block-compile.ts`): the block's decoded source, its
   * executions so far, and its one generated function once it ran `COMPILE_AFTER` times.
   */
  private readonly blkSrc: BlockSrc[] = new Array<BlockSrc>(DC_SIZE);
  private readonly blkHits: Int32Array = new Int32Array(DC_SIZE);
  /** @internal Executions of a block before it is compiled (tests lower it; 0: never). */
  blockCompileAfter: number = COMPILE_AFTER;
  /** Blocks compiled since the compiled functions were last dropped. */
  private blkCompiled = 0;
  /**
   * Per slot: compiled functions of the block at `blkTag[i]` that a code change invalidated (a
   * store into its page: code next to data); at `MAX_RECOMPILES` the block stays closures.
   */
  private readonly blkChurn: Uint8Array = new Uint8Array(DC_SIZE);
  private readonly blkFn: (CompiledBlock | null)[] = new Array<CompiledBlock | null>(DC_SIZE).fill(
    null,
  );
  /** @internal Set when a store hits a page with cached code: the running block stops. */
  blockBreak = false;
  /**
   * Per cacheable page (the direct RAM view; with a port without one, RAM pages below 4 GiB,
   * the arrays growing as code is found): generation, bumped when a CPU store hits a page with
   * cached code.
   */
  private codeGen: Int32Array;
  /** Per cacheable page: 1 while it is listed in `codeList` (it may hold cache entries). */
  private codeMark: Uint8Array;
  /** Pages that may hold cache entries since the last full invalidation. */
  private codeList: Int32Array;
  private codeCount = 0;
  /** Bytes covered by the per-page arrays (`codeGen.length * 4096`). */
  private codeLimit = 0;
  /** True when the memory port has no direct view: code is cached through port reads. */
  private readonly portCode: boolean;
  /**
   * Run epoch (one per `run()` call) and, per direct-RAM page, the epoch in which its cached
   * code was last checked against `codeSnap`, the page's contents when its first entry was
   * recorded (DESIGN.md "Decode cache": memory written between runs).
   */
  private epoch = 0;
  private codeEpoch: Int32Array;
  private readonly codeSnap: Map<number, Int32Array> = new Map();
  /** Mode bits the cached decodings depend on (64-bit mode, default operand size). */
  private decodeMode = -1;

  private constructor(opts: CpuOptions) {
    this.memory = opts.memory;
    const bytes = opts.memory.bytes;
    this.ramBytes = bytes ?? new Uint8Array(0);
    this.ram32 =
      bytes !== undefined && bytes.byteOffset % 4 === 0
        ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2)
        : new Int32Array(0);
    this.portCode = bytes === undefined;
    const pages = this.portCode ? 256 : this.ramBytes.length >>> 12;
    this.codeGen = new Int32Array(pages);
    this.codeMark = new Uint8Array(pages);
    this.codeEpoch = new Int32Array(pages).fill(-1);
    this.codeList = new Int32Array(pages);
    this.codeLimit = pages * 4096;
    for (let i = 0; i < DC_SIZE; i++) this.dc[i * 8 + 1] = -1;
    this.walker = opts.walker ?? new BuiltinPageWalker(opts.memory);
    this.inlineWalk = opts.walker === undefined && this.ram32.length > 0;
    this.ramKind = new Uint8Array(this.ram32.length >>> 10);
    this.ramKindLimit = this.ramKind.length * 4096;
    this.tlbView32 = new Array<Int32Array>(TLB_SIZE).fill(this.ram32);
    this.tlbView8 = new Array<Uint8Array>(TLB_SIZE).fill(this.ramBytes);
    this.chunked = this.portCode && opts.memory.pageView !== undefined;
    const self = this;
    this.time = opts.time ?? {
      readTsc(): number {
        return self.instructions;
      },
    };
    const i = opts.intercepts ?? {};
    this.intercepts = {
      cpuid: i.cpuid ?? false,
      msr: i.msr ?? false,
      syscall: i.syscall ?? false,
      softwareInterrupts: i.softwareInterrupts ?? [],
      exceptionBitmap: i.exceptionBitmap ?? 0,
    };
    for (const v of this.intercepts.softwareInterrupts) {
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new X86CpuError('INVALID_ARGUMENT', `software interrupt vector ${v} is not 0..255`);
      }
      this.swIntercept[v] = 1;
    }
    for (const [k, v] of Object.entries(opts.cpuid ?? {})) {
      const parts = k.split('.').map((p) => Number(p));
      if (parts.some((p) => !Number.isInteger(p)) || parts.length > 2) {
        throw new X86CpuError('INVALID_ARGUMENT', `bad CPUID key ${JSON.stringify(k)}`);
      }
      this.cpuidLeaves.set(parts.map((p) => p >>> 0).join('.'), v);
    }
    this.reset();
  }

  /** Creates a vCPU in the architectural reset state (real mode, CS:IP = F000:FFF0). */
  static create(opts: CpuOptions): X86Cpu {
    return new X86Cpu(opts);
  }

  /** Creates a vCPU from a saved {@link CpuState}. */
  static fromState(state: CpuState, opts: CpuOptions): X86Cpu {
    const cpu = new X86Cpu(opts);
    cpu.setState(state);
    return cpu;
  }

  /** Puts the vCPU in the reset state. @see Intel SDM Vol. 3A §9.1.1 */
  reset(): void {
    this.lo.fill(0);
    this.hi.fill(0);
    this.lo[2] = 0x600;
    for (let s = 0; s < 8; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffff;
      this.segAttr[s] = 0x93;
    }
    this.segSel[SEG.CS] = 0xf000;
    this.segBase[SEG.CS] = 0xffff0000;
    this.segAttr[SEG.CS] = 0x9b;
    this.segAttr[SEG.LDTR] = 0x82;
    this.segAttr[SEG.TR] = 0x8b;
    this.rip = 0xfff0;
    setFlags(this, 2);
    this.cr0 = CR0.ET | CR0.CD | CR0.NW;
    this.cr2 = 0;
    this.cr3 = 0;
    this.cr4 = 0;
    this.cr8 = 0;
    this.efer = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0;
    this.dr[7] = 0x400;
    this.gdtBase = 0;
    this.gdtLimit = 0xffff;
    this.idtBase = 0;
    this.idtLimit = 0xffff;
    this.msrs.clear();
    this.cpl = 0;
    this.halted = false;
    this.pendingInterrupt = -1;
    this.pendingException = -1;
    this.pendingErrorCode = -1;
    this.interruptShadow = false;
    this.pendingIo.fill(0);
    this.tscOffset = 0;
    this.fpu.reset();
    this.updateMode();
  }

  // =====================================================================================
  // Registers
  // =====================================================================================

  /** @internal Reads register `r` at `size` bits (for size 64 the high half goes to `tmpHi`). */
  getReg(size: number, r: number): number {
    switch (size) {
      case 8:
        if (r < 4 || this.rex !== 0 || r > 7) return this.lo[r] & 0xff;
        return (this.lo[r - 4] >> 8) & 0xff;
      case 16:
        return this.lo[r] & 0xffff;
      case 32:
        return this.lo[r];
      default:
        this.tmpHi = this.hi[r];
        return this.lo[r];
    }
  }

  /** @internal Writes register `r` at `size` bits; 32-bit writes zero the high half. */
  setReg(size: number, r: number, v: number, vhi: number): void {
    switch (size) {
      case 8:
        if (r < 4 || this.rex !== 0 || r > 7) this.lo[r] = (this.lo[r] & ~0xff) | (v & 0xff);
        else this.lo[r - 4] = (this.lo[r - 4] & ~0xff00) | ((v & 0xff) << 8);
        return;
      case 16:
        this.lo[r] = (this.lo[r] & ~0xffff) | (v & 0xffff);
        return;
      case 32:
        this.lo[r] = v;
        this.hi[r] = 0;
        return;
      default:
        this.lo[r] = v;
        this.hi[r] = vhi;
    }
  }

  /** A 64-bit register as a JS number (exact up to 2^53; signed). */
  getReg64(r: number): number {
    return this.hi[r] * TWO32 + (this.lo[r] >>> 0);
  }

  /** Sets a 64-bit register from a JS integer (signed or unsigned, |n| < 2^64). */
  setReg64(r: number, n: number): void {
    this.lo[r] = (n % TWO32) | 0;
    this.hi[r] = Math.floor(n / TWO32) | 0;
  }

  /** RFLAGS with the lazy arithmetic flags materialized. */
  getRflags(): number {
    return getFlags(this);
  }

  /** Replaces RFLAGS (reserved bits normalized). */
  setRflags(v: number): void {
    setFlags(this, v);
  }

  // =====================================================================================
  // Modes
  // =====================================================================================

  /** @internal Recomputes cached mode bits after CR0/EFER/CS/SS changes. */
  updateMode(): void {
    this.protectedMode = (this.cr0 & CR0.PE) !== 0;
    const lma = (this.efer & EFER.LMA) !== 0;
    this.mode64 = lma && (this.segAttr[SEG.CS] & 0x2000) !== 0;
    this.defSize = (this.segAttr[SEG.CS] & 0x4000) !== 0 ? 32 : 16;
    if (this.mode64) this.stackSize = 64;
    else this.stackSize = (this.segAttr[SEG.SS] & 0x4000) !== 0 ? 32 : 16;
    const decodeMode = (this.mode64 ? 2 : 0) | (this.defSize === 32 ? 1 : 0);
    if (decodeMode !== this.decodeMode) {
      this.decodeMode = decodeMode;
      this.invalidateDecodeCache();
    }
    this.fetchVpn = -1;
    this.invalidateFetch();
  }

  // =====================================================================================
  // Faults and exits
  // =====================================================================================

  /** @internal Raises exception `vector` (error code `code`, or -1 for none) and unwinds. */
  fault(vector: number, code: number): never {
    this.faultVec = vector;
    this.faultErr = code;
    throw FAULT;
  }

  /** @internal #GP(code). */
  gp(code: number): never {
    return this.fault(VECTOR.GP, code);
  }

  /** @internal #UD. */
  ud(): never {
    return this.fault(VECTOR.UD, -1);
  }

  /** @internal Requests an exit once the current instruction completes. */
  requestExit(reason: ExitReason): void {
    this.exitReason = reason;
    this.exit.reason = reason;
  }

  // =====================================================================================
  // TLB and translation
  // =====================================================================================

  /**
   * Drops every cached translation and every cached answer of the memory port's `isRam`
   * (the embedder calls this after remapping RAM or MMIO; the guest's CR3/CR0/CR4 writes drop
   * only the translations).
   */
  flushTlb(): void {
    this.ramKind.fill(0);
    this.flushGuestTlb();
  }

  /**
   * @internal Drops every cached translation (MOV CR0/CR3/CR4, task switches). The `isRam`
   * answers cached per direct-RAM page stay: they depend on the embedder's memory map, not on
   * the guest's paging (DESIGN.md "Hot loop", round 5).
   */
  flushGuestTlb(): void {
    let gen = this.tlbGen + 1;
    if (gen === TLB_GENS) {
      gen = 0;
      this.tlbTag.fill(Number.NaN);
      this.tlbVpn32.fill(-1);
      this.tlbVpnC.fill(-1);
    }
    this.tlbGen = gen;
    this.tlbGenHi = gen << 20;
    this.fetchVpn = -1;
    this.invalidateFetch();
  }

  /** @internal INVLPG. */
  invlpg(lin: number): void {
    const vpn = Math.floor(lin / 4096);
    const i = vpn & TLB_MASK;
    if (this.tlbTag[i] === vpn * TLB_GENS + this.tlbGen) {
      this.tlbTag[i] = Number.NaN;
      this.tlbVpn32[i] = -1;
      this.tlbVpnC[i] = -1;
    }
    this.fetchVpn = -1;
    this.invalidateFetch();
  }

  /**
   * @internal Translates `lin` for `access` (0 read, 1 write, 2 fetch) to a physical address;
   * sets `xMmio`. Raises #PF on failure.
   */
  translate(lin: number, access: number, user: boolean): number {
    const vpn = lin >= 0 && lin < TWO32 ? lin >>> 12 : Math.floor(lin / 4096);
    const i = vpn & TLB_MASK;
    const need = NEED[access * 2 + (user ? 1 : 0)];
    if (this.tlbTag[i] === vpn * TLB_GENS + this.tlbGen && (this.tlbFlags[i] & need) === need) {
      this.xMmio = (this.tlbFlags[i] & T_MMIO) !== 0;
      return this.tlbFrame[i] + (lin & 0xfff);
    }
    return this.translateSlow(lin, vpn, i, access, user);
  }

  private translateSlow(
    lin: number,
    vpn: number,
    i: number,
    access: number,
    user: boolean,
  ): number {
    if (this.inlineWalk && (this.cr0 & CR0.PG) !== 0) {
      const pa =
        (this.cr4 & 0x20) === 0
          ? this.walkFill2(lin, vpn, i, access, user)
          : (this.efer & EFER.LMA) !== 0
            ? this.walkFill4(lin, vpn, i, access, user)
            : -1;
      if (pa >= 0) return pa;
    }
    return this.translateWalk(lin, vpn, i, access, user);
  }

  /** The general miss path: the walker port (or no paging), then the TLB fill. */
  private translateWalk(
    lin: number,
    vpn: number,
    i: number,
    access: number,
    user: boolean,
  ): number {
    let frame: number;
    let flags: number;
    if ((this.cr0 & CR0.PG) === 0) {
      frame = (vpn * 4096) % TWO32;
      flags = T_READ | T_USER | T_WUSER | T_WSUP | T_EXEC;
    } else {
      const req = this.walkReq;
      req.linear = lin;
      req.access = access;
      req.user = user;
      req.cr0 = this.cr0;
      req.cr3 = this.cr3;
      req.cr4 = this.cr4;
      req.efer = this.efer;
      this.walker.walk(req);
      if (req.fault >= 0) {
        this.cr2 = lin;
        this.fault(VECTOR.PF, req.fault);
      }
      frame = req.frame;
      flags = T_READ;
      if (req.userOk) flags |= T_USER;
      if (!req.noExec) flags |= T_EXEC;
      // Write permission is cached only after a write walk, which has set the dirty bit.
      if (access === 1) {
        if (req.writable && req.userOk) flags |= T_WUSER;
        if (req.writable || (this.cr0 & CR0.WP) === 0) flags |= T_WSUP;
      }
    }
    if (frame < this.ramKindLimit) {
      if (!this.isRamPage(frame >>> 12)) flags |= T_MMIO;
    } else if (!this.memory.isRam(frame)) flags |= T_MMIO;
    this.tlbTag[i] = vpn * TLB_GENS + this.tlbGen;
    this.tlbFrame[i] = frame;
    this.tlbFlags[i] = flags;
    this.xMmio = (flags & T_MMIO) !== 0;
    if (vpn >= 0 && vpn < 0x100000 && !this.xMmio) {
      if (frame + 4096 <= this.ramKindLimit) {
        this.tlbVpn32[i] = vpn | this.tlbGenHi;
        this.tlbFastR[i] = frame | 1 | ((flags & T_USER) !== 0 ? 2 : 0);
        this.tlbFastW[i] =
          frame | ((flags & T_WSUP) !== 0 ? 1 : 0) | ((flags & T_WUSER) !== 0 ? 2 : 0);
      } else {
        this.tlbVpn32[i] = -1;
        if (this.chunked) this.fillPageView(i, vpn, frame, flags, access);
      }
    } else {
      this.tlbVpn32[i] = -1;
      this.tlbVpnC[i] = -1;
    }
    return frame + (lin & 0xfff);
  }

  /**
   * Direct entry `i` for a frame outside the `bytes` view, through the port's optional
   * `pageView` (chunked memory): the chunk's views and the frame's offset in them, or no direct
   * entry (`tlbVpn32[i]` = -1) when the port offers none. Stores go direct only when the view
   * was asked for with `write` (a write walk), so the port sees every page before it is written.
   */
  private fillPageView(i: number, vpn: number, frame: number, flags: number, access: number): void {
    this.tlbVpnC[i] = -1;
    const port = this.memory;
    if (port.pageView === undefined || frame >= 0x100000000) return;
    const write = access === 1;
    const pfn = frame / 4096;
    if (write && pfn >= this.codeGen.length) this.growCodePages(pfn);
    const v8 = port.pageView(frame, write);
    if (v8 === undefined) return;
    let v32 = this.pageViews.get(v8);
    if (v32 === undefined) {
      const n = v8.length;
      if (n < 4096 || n > 0x40000000 || (n & (n - 1)) !== 0 || v8.byteOffset % 4 !== 0) {
        throw new X86CpuError(
          'INVALID_ARGUMENT',
          `pageView returned ${n} bytes at offset ${v8.byteOffset}: need a power of two from 4096, 4-byte aligned`,
        );
      }
      v32 = new Int32Array(v8.buffer, v8.byteOffset, n >> 2);
      this.pageViews.set(v8, v32);
    }
    const off = frame & (v8.length - 1);
    this.tlbVpnC[i] = vpn | this.tlbGenHi;
    this.tlbView32[i] = v32;
    this.tlbView8[i] = v8;
    this.tlbPfn[i] = pfn;
    this.tlbFastR[i] = off | 1 | ((flags & T_USER) !== 0 ? 2 : 0);
    this.tlbFastW[i] = write
      ? off | ((flags & T_WSUP) !== 0 ? 1 : 0) | ((flags & T_WUSER) !== 0 ? 2 : 0)
      : off;
  }

  /**
   * The built-in walker's 2-level walk (`BuiltinPageWalker.walk32`) for its common case, inline
   * on the direct RAM view, and the TLB fill after it, in int32 arithmetic: both entries present
   * and in the view, a 4 KiB RAM page in the view, access allowed. Sets the same A/D bits and
   * returns the physical address; anything else returns -1 before changing anything, and the
   * walker proper handles it (faults included). One function for walk and fill: `translate` plus a
   * flush every 1024 pages went 38.7 -> 42.0 M walks/s (DESIGN.md "Hot loop", round 5).
   */
  private walkFill2(lin: number, vpn: number, i: number, access: number, user: boolean): number {
    const ram = this.ram32;
    const words = ram.length;
    const pdeIdx = ((this.cr3 >>> 12) << 10) + (lin >>> 22);
    if (pdeIdx >= words) return -1;
    const pde = ram[pdeIdx];
    if ((pde & 1) === 0 || ((pde & 0x80) !== 0 && (this.cr4 & 0x10) !== 0)) return -1;
    const pteIdx = ((pde >>> 12) << 10) + ((lin >>> 12) & 0x3ff);
    if (pteIdx >= words) return -1;
    const pte = ram[pteIdx];
    if ((pte & 1) === 0) return -1;
    const page = pte >>> 12;
    if (page >= this.ramKind.length || !this.isRamPage(page)) return -1;
    const us = (pde & pte & 4) !== 0;
    const rw = (pde & pte & 2) !== 0;
    const write = access === 1;
    const wp = (this.cr0 & CR0.WP) !== 0;
    if ((user && !us) || (write && !rw && (user || wp))) return -1;
    if ((pde & 0x20) === 0) ram[pdeIdx] = pde | 0x20;
    const upd = pte | 0x20 | (write ? 0x40 : 0);
    if (upd !== pte) ram[pteIdx] = upd;
    this.fillWalked(i, vpn, page, us, rw, write, wp, true);
    return page * 4096 + (lin & 0xfff);
  }

  /**
   * Whether page `page` of the direct RAM view is RAM: the memory port's `isRam` answer, asked
   * once per page and kept in `ramKind` until {@link X86Cpu.flushTlb}. `page` must be below
   * `ramKind.length`.
   */
  private isRamPage(page: number): boolean {
    let kind = this.ramKind[page];
    if (kind === 0) {
      kind = this.memory.isRam(page * 4096) ? 1 : 2;
      this.ramKind[page] = kind;
    }
    return kind === 1;
  }

  /**
   * The TLB fill after an inline walk (`walkFill2`/`walkFill4`) to RAM page `page` of the direct
   * view: the entry's flags from the walk's combined U/S and R/W bits (write rights only after a
   * write walk, which set D), and its direct-RAM entry for linear addresses below 4 GiB.
   */
  private fillWalked(
    i: number,
    vpn: number,
    page: number,
    us: boolean,
    rw: boolean,
    write: boolean,
    wp: boolean,
    exec: boolean,
  ): void {
    let flags = exec ? T_READ | T_EXEC : T_READ;
    let fastR = 1;
    let fastW = 0;
    if (us) {
      flags |= T_USER;
      fastR = 3;
    }
    if (write) {
      if (rw && us) {
        flags |= T_WUSER;
        fastW = 2;
      }
      if (rw || !wp) {
        flags |= T_WSUP;
        fastW |= 1;
      }
    }
    this.tlbTag[i] = vpn * TLB_GENS + this.tlbGen;
    this.tlbFrame[i] = page * 4096;
    this.tlbFlags[i] = flags;
    this.xMmio = false;
    if (vpn >= 0 && vpn < 0x100000) {
      const frame = page << 12;
      this.tlbVpn32[i] = vpn | this.tlbGenHi;
      this.tlbFastR[i] = frame | fastR;
      this.tlbFastW[i] = frame | fastW;
    } else this.tlbVpn32[i] = -1;
  }

  /**
   * The built-in walker's 4-level walk (`BuiltinPageWalker.walkPae`) for its common case, inline
   * on the direct RAM view, and the TLB fill: every entry present, in the view and without
   * reserved bits, a 4 KiB or 2 MiB page of RAM in the view, access allowed. Sets the accessed
   * bits of the entries it passes, as the walker does, and the leaf's A/D bits; anything else
   * (1 GiB pages, faults, tables or frames above the view) returns -1 and the walker proper
   * walks again, setting the same bits (DESIGN.md "Hot loop", round 5).
   */
  private walkFill4(lin: number, vpn: number, i: number, access: number, user: boolean): number {
    const ram = this.ram32;
    const words = ram.length;
    const nxe = (this.efer & EFER.NXE) !== 0;
    const linLo = lin >>> 0;
    const linHi = Math.floor(lin / TWO32) & 0xffff;
    if (this.cr3 >= this.ramKindLimit) return -1;
    let table = (this.cr3 - (this.cr3 % 4096)) >>> 2;
    let us = true;
    let rw = true;
    let nx = false;
    for (let level = 4; level >= 1; level--) {
      let index: number;
      if (level === 4) index = (linHi >>> 7) & 0x1ff;
      else if (level === 3) index = ((linHi & 0x7f) << 2) | (linLo >>> 30);
      else if (level === 2) index = (linLo >>> 21) & 0x1ff;
      else index = (linLo >>> 12) & 0x1ff;
      const e = table + index * 2;
      if (e + 1 >= words) return -1;
      const lo = ram[e];
      const hi = ram[e + 1];
      if ((lo & 1) === 0 || (hi & 0xfffff) !== 0 || (hi < 0 && !nxe)) return -1;
      us = us && (lo & 4) !== 0;
      rw = rw && (lo & 2) !== 0;
      if (hi < 0) nx = true;
      const large = level === 2 && (lo & 0x80) !== 0;
      if (level === 3 && (lo & 0x80) !== 0) return -1;
      if (level === 1 || large) {
        const write = access === 1;
        const wp = (this.cr0 & CR0.WP) !== 0;
        if ((user && !us) || (write && !rw && (user || wp)) || (access === 2 && nx)) return -1;
        const page = large ? ((lo & 0xffe00000) >>> 12) + ((linLo >>> 12) & 0x1ff) : lo >>> 12;
        if (page >= this.ramKind.length || !this.isRamPage(page)) return -1;
        const upd = lo | 0x20 | (write ? 0x40 : 0);
        if (upd !== lo) ram[e] = upd;
        this.fillWalked(i, vpn, page, us, rw, write, wp, !nx);
        return page * 4096 + (linLo & 0xfff);
      }
      if ((lo & 0x20) === 0) ram[e] = lo | 0x20;
      table = (lo & ~0xfff) >>> 2;
    }
    return -1;
  }

  // =====================================================================================
  // Physical and linear memory
  // =====================================================================================

  private mmioRead(pa: number, size: number): number {
    const p = this.pendingIo;
    if (p[0] === 2 && p[1] === pa && p[2] === size) {
      p[0] = 0;
      return p[3];
    }
    this.exit.reason = EXIT.MMIO_READ;
    this.exit.address = pa;
    this.exit.size = size;
    this.exitReason = EXIT.MMIO_READ;
    this.faultVec = -2;
    throw FAULT;
  }

  private mmioWrite(pa: number, size: number, v: number): void {
    if (this.exitReason >= 0) return;
    this.exit.reason = EXIT.MMIO_WRITE;
    this.exit.address = pa;
    this.exit.size = size;
    this.exit.value = size === 4 ? v | 0 : v & (size === 1 ? 0xff : 0xffff);
    this.exitReason = EXIT.MMIO_WRITE;
  }

  /** @internal Reads a byte at a linear address. */
  readLin8(lin: number, user: boolean): number {
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastR[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        return this.ramBytes[((e & ~0xfff) >>> 0) + (lin & 0xfff)];
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        return this.tlbView8[i][(e & ~0xfff) + (lin & 0xfff)];
      }
    }
    const pa = this.translate(lin, 0, user);
    if (this.xMmio) return this.mmioRead(pa, 1);
    return this.memory.read8(pa);
  }

  /** @internal Reads 16 bits at a linear address. */
  readLin16(lin: number, user: boolean): number {
    if ((lin & 0xfff) === 0xfff) {
      return this.readLin8(lin, user) | (this.readLin8(lin + 1, user) << 8);
    }
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastR[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        return this.ramBytes[pa] | (this.ramBytes[pa + 1] << 8);
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const m = this.tlbView8[i];
        const o = (e & ~0xfff) + (lin & 0xfff);
        return m[o] | (m[o + 1] << 8);
      }
    }
    const pa = this.translate(lin, 0, user);
    if (this.xMmio) return this.mmioRead(pa, 2);
    return this.memory.read16(pa);
  }

  /** @internal Reads 32 bits at a linear address (signed int32). */
  readLin32(lin: number, user: boolean): number {
    if ((lin & 0xfff) > 0xffc) {
      return this.readLin16(lin, user) | (this.readLin16(lin + 2, user) << 16);
    }
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastR[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if ((pa & 3) === 0) return this.ram32[pa >>> 2];
        const m = this.ramBytes;
        return m[pa] | (m[pa + 1] << 8) | (m[pa + 2] << 16) | (m[pa + 3] << 24);
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const o = (e & ~0xfff) + (lin & 0xfff);
        if ((o & 3) === 0) return this.tlbView32[i][o >>> 2];
        const m = this.tlbView8[i];
        return m[o] | (m[o + 1] << 8) | (m[o + 2] << 16) | (m[o + 3] << 24);
      }
    }
    const pa = this.translate(lin, 0, user);
    if (this.xMmio) return this.mmioRead(pa, 4);
    if ((pa & 3) === 0 && pa < this.ramBytes.length) return this.ram32[pa >>> 2];
    return this.memory.read32(pa);
  }

  /** @internal Writes a byte at a linear address. */
  writeLin8(lin: number, v: number, user: boolean): void {
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastW[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if (this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
        this.ramBytes[pa] = v;
        return;
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pfn = this.tlbPfn[i];
        if (this.codeMark[pfn] !== 0) this.codeWritten(pfn);
        this.tlbView8[i][(e & ~0xfff) + (lin & 0xfff)] = v;
        return;
      }
    }
    const pa = this.translate(lin, 1, user);
    if (pa < this.codeLimit && this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
    if (this.xMmio) this.mmioWrite(pa, 1, v);
    else this.memory.write8(pa, v);
  }

  /** @internal Writes 16 bits at a linear address. */
  writeLin16(lin: number, v: number, user: boolean): void {
    if ((lin & 0xfff) === 0xfff) {
      this.translate(lin + 1, 1, user);
      this.writeLin8(lin, v, user);
      this.writeLin8(lin + 1, v >> 8, user);
      return;
    }
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastW[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if (this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
        this.ramBytes[pa] = v;
        this.ramBytes[pa + 1] = v >> 8;
        return;
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pfn = this.tlbPfn[i];
        if (this.codeMark[pfn] !== 0) this.codeWritten(pfn);
        const m = this.tlbView8[i];
        const o = (e & ~0xfff) + (lin & 0xfff);
        m[o] = v;
        m[o + 1] = v >> 8;
        return;
      }
    }
    const pa = this.translate(lin, 1, user);
    if (pa < this.codeLimit && this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
    if (this.xMmio) this.mmioWrite(pa, 2, v);
    else this.memory.write16(pa, v);
  }

  /** @internal Writes 32 bits at a linear address. */
  writeLin32(lin: number, v: number, user: boolean): void {
    if ((lin & 0xfff) > 0xffc) {
      this.translate(lin + 3, 1, user);
      this.writeLin16(lin, v, user);
      this.writeLin16(lin + 2, v >> 16, user);
      return;
    }
    if (lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastW[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if (this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
        if ((pa & 3) === 0) this.ram32[pa >>> 2] = v;
        else {
          const m = this.ramBytes;
          m[pa] = v;
          m[pa + 1] = v >> 8;
          m[pa + 2] = v >> 16;
          m[pa + 3] = v >> 24;
        }
        return;
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pfn = this.tlbPfn[i];
        if (this.codeMark[pfn] !== 0) this.codeWritten(pfn);
        const o = (e & ~0xfff) + (lin & 0xfff);
        if ((o & 3) === 0) this.tlbView32[i][o >>> 2] = v;
        else {
          const m = this.tlbView8[i];
          m[o] = v;
          m[o + 1] = v >> 8;
          m[o + 2] = v >> 16;
          m[o + 3] = v >> 24;
        }
        return;
      }
    }
    const pa = this.translate(lin, 1, user);
    if (pa < this.codeLimit && this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
    if (this.xMmio) this.mmioWrite(pa, 4, v);
    else if ((pa & 3) === 0 && pa < this.ramBytes.length) this.ram32[pa >>> 2] = v;
    else this.memory.write32(pa, v);
  }

  /**
   * @internal Computes the linear address of `seg:off` for an access of `size` bytes,
   * applying segment limit checks (legacy modes) or the canonical check (64-bit mode).
   */
  linear(seg: number, off: number, size: number): number {
    if (this.mode64) {
      const lin = seg >= 4 ? this.segBase[seg] + off : off;
      if (lin < -0x800000000000 || lin + size > 0x800000000000) {
        this.fault(seg === SEG.SS ? VECTOR.SS : VECTOR.GP, 0);
      }
      return lin;
    }
    const attr = this.segAttr[seg];
    const limit = this.segLimit[seg] >>> 0;
    if ((attr & 0x1c) === 0x14) {
      // Expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF.
      const top = (attr & 0x4000) !== 0 ? 0xffffffff : 0xffff;
      if (off <= limit || off + size - 1 > top) this.segFault(seg);
    } else if (off + size - 1 > limit || (this.protectedMode && (attr & 0x80) === 0)) {
      this.segFault(seg);
    }
    return (this.segBase[seg] + off) >>> 0;
  }

  private segFault(seg: number): never {
    return this.fault(seg === SEG.SS ? VECTOR.SS : VECTOR.GP, 0);
  }

  /** @internal Reads `size` (8/16/32) bits at `seg:off`. */
  read(seg: number, off: number, size: number): number {
    const lin = this.linear(seg, off, size >> 3);
    const user = this.cpl === 3;
    if (size === 8) return this.readLin8(lin, user);
    if (size === 16) return this.readLin16(lin, user);
    return this.readLin32(lin, user);
  }

  /** @internal Reads 64 bits at `seg:off`: returns the low half, high half in `tmpHi`. */
  read64(seg: number, off: number): number {
    const lin = this.linear(seg, off, 8);
    const user = this.cpl === 3;
    if ((lin & 7) === 0 && lin >= 0 && lin < TWO32) {
      // Aligned qword below 4 GiB hitting the direct-RAM TLB: two int32 loads (DESIGN.md "Hot loop").
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastR[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const w = (((e & ~0xfff) >>> 0) + (lin & 0xfff)) >>> 2;
        this.tmpHi = this.ram32[w + 1];
        return this.ram32[w];
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const v = this.tlbView32[i];
        const w = ((e & ~0xfff) + (lin & 0xfff)) >>> 2;
        this.tmpHi = v[w + 1];
        return v[w];
      }
    }
    const l = this.readLin32(lin, user);
    this.tmpHi = this.readLin32(lin + 4, user);
    return l;
  }

  /** @internal Writes `size` (8/16/32) bits at `seg:off`. */
  write(seg: number, off: number, size: number, v: number): void {
    const lin = this.linear(seg, off, size >> 3);
    const user = this.cpl === 3;
    if (size === 8) this.writeLin8(lin, v, user);
    else if (size === 16) this.writeLin16(lin, v, user);
    else this.writeLin32(lin, v, user);
  }

  /** @internal Writes 64 bits at `seg:off`. */
  write64(seg: number, off: number, vlo: number, vhi: number): void {
    const lin = this.linear(seg, off, 8);
    const user = this.cpl === 3;
    if ((lin & 7) === 0 && lin >= 0 && lin < TWO32) {
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastW[i];
      if (this.tlbVpn32[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if (this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
        this.ram32[pa >>> 2] = vlo;
        this.ram32[(pa >>> 2) + 1] = vhi;
        return;
      }
      if (this.tlbVpnC[i] === (vpn | this.tlbGenHi) && (e & (user ? 2 : 1)) !== 0) {
        const pfn = this.tlbPfn[i];
        if (this.codeMark[pfn] !== 0) this.codeWritten(pfn);
        const v = this.tlbView32[i];
        const w = ((e & ~0xfff) + (lin & 0xfff)) >>> 2;
        v[w] = vlo;
        v[w + 1] = vhi;
        return;
      }
    }
    // Probe the second page first only when the qword crosses one (no partial write on #PF).
    if ((lin & 0xfff) > 0xff8) this.translate(lin + 7, 1, user);
    this.writeLin32(lin, vlo, user);
    this.writeLin32(lin + 4, vhi, user);
  }

  /** @internal Checks that `seg:off` (`size` bytes) is writable without writing (for RMW and multi-part stores). */
  probeWrite(seg: number, off: number, size: number): void {
    const lin = this.linear(seg, off, size);
    const user = this.cpl === 3;
    this.translate(lin, 1, user);
    if (size > 1) this.translate(lin + size - 1, 1, user);
  }

  /** @internal Supervisor (implicit) reads of system tables at a linear address. */
  sysRead32(lin: number): number {
    return this.readLin32(lin, false);
  }

  /** @internal Supervisor (implicit) writes of system tables at a linear address. */
  sysWrite32(lin: number, v: number): void {
    this.writeLin32(lin, v, false);
  }

  // =====================================================================================
  // Effective addresses and ModRM operands
  // =====================================================================================

  /** @internal Reads operand E at `size` (register or memory). 64-bit high half in `tmpHi`. */
  readE(size: number): number {
    if (this.mod === 3) {
      // 32-bit register operands inline (getReg/setReg are not inlined into every handler).
      if (size === 32) return this.lo[this.rm];
      return this.getReg(size, this.rm);
    }
    if (size === 32) return this.readMem32(this.eaSeg, this.ea);
    if (size === 64) return this.read64(this.eaSeg, this.ea);
    return this.read(this.eaSeg, this.ea, size);
  }

  /** @internal Writes operand E at `size`. */
  writeE(size: number, v: number, vhi: number): void {
    if (this.mod === 3) {
      if (size === 32) {
        this.lo[this.rm] = v;
        this.hi[this.rm] = 0;
      } else this.setReg(size, this.rm, v, vhi);
    } else if (size === 32) this.writeMem32(this.eaSeg, this.ea, v);
    else if (size === 64) this.write64(this.eaSeg, this.ea, v, vhi);
    else this.write(this.eaSeg, this.ea, size, v);
  }

  /**
   * @internal Reads 32 bits at `seg:off`. Outside 64-bit mode, a present expand-up data
   * segment with the dword inside its limit and an aligned hit in the direct-RAM TLB take one
   * inline path; everything else goes through {@link X86Cpu.read} (DESIGN.md "Hot loop").
   */
  readMem32(seg: number, off: number): number {
    if (
      !this.mode64 &&
      (this.segAttr[seg] & 0x9c) === 0x90 &&
      off + 3 <= this.segLimit[seg] >>> 0
    ) {
      const lin = (this.segBase[seg] + off) >>> 0;
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastR[i];
      if (
        this.tlbVpn32[i] === (vpn | this.tlbGenHi) &&
        (e & (this.cpl === 3 ? 2 : 1)) !== 0 &&
        (lin & 3) === 0
      ) {
        return this.ram32[(((e & ~0xfff) >>> 0) + (lin & 0xfff)) >>> 2];
      }
      return this.readLin32(lin, this.cpl === 3);
    }
    return this.read(seg, off, 32);
  }

  /** @internal Writes 32 bits at `seg:off` (the store twin of {@link X86Cpu.readMem32}). */
  writeMem32(seg: number, off: number, v: number): void {
    if (
      !this.mode64 &&
      (this.segAttr[seg] & 0x9c) === 0x90 &&
      off + 3 <= this.segLimit[seg] >>> 0
    ) {
      const lin = (this.segBase[seg] + off) >>> 0;
      const vpn = lin >>> 12;
      const i = vpn & TLB_MASK;
      const e = this.tlbFastW[i];
      if (
        this.tlbVpn32[i] === (vpn | this.tlbGenHi) &&
        (e & (this.cpl === 3 ? 2 : 1)) !== 0 &&
        (lin & 3) === 0
      ) {
        const pa = ((e & ~0xfff) >>> 0) + (lin & 0xfff);
        if (this.codeMark[pa >>> 12] !== 0) this.codeWritten(pa >>> 12);
        this.ram32[pa >>> 2] = v;
        return;
      }
      this.writeLin32(lin, v, this.cpl === 3);
      return;
    }
    this.write(seg, off, 32, v);
  }

  /** @internal Adds `n` to the effective address (wrapping at the address size). */
  eaPlus(n: number): number {
    return this.wrapAddr(this.ea + n);
  }

  /** @internal Wraps an offset to the current address size. */
  wrapAddr(a: number): number {
    if (this.asize === 16) return a & 0xffff;
    if (this.asize === 32) return a >>> 0;
    return wrap64(a);
  }

  /**
   * Decodes ModRM (and SIB/displacement) into `mod`/`reg`/`rm` and a register-independent
   * address form (`eaKind`, `eaBase`, `eaIndex`, `eaScale`, `eaDisp`, `eaSeg`) that the decode
   * cache replays; {@link X86Cpu.computeEa} turns it into `ea` on both paths.
   */
  private decodeModrm(): void {
    const modrm = this.fetch8();
    const mod = modrm >> 6;
    const rex = this.rex;
    this.mod = mod;
    this.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
    const rmLow = modrm & 7;
    this.rm = rmLow | ((rex & 1) << 3);
    if (mod === 3) {
      this.eaKind = EA_NONE;
      return;
    }
    const seg = this.segOv;
    let base = NO_REG;
    let index = NO_REG;
    let scale = 0;
    let disp = 0;
    let defSeg: number = SEG.DS;
    if (this.asize === 16) {
      switch (rmLow) {
        case 0:
          base = 3;
          index = 6;
          break;
        case 1:
          base = 3;
          index = 7;
          break;
        case 2:
          base = 5;
          index = 6;
          defSeg = SEG.SS;
          break;
        case 3:
          base = 5;
          index = 7;
          defSeg = SEG.SS;
          break;
        case 4:
          base = 6;
          break;
        case 5:
          base = 7;
          break;
        case 6:
          if (mod === 0) disp = this.fetch16();
          else {
            base = 5;
            defSeg = SEG.SS;
          }
          break;
        default:
          base = 3;
      }
      if (mod === 1) disp = (this.fetch8() << 24) >> 24;
      else if (mod === 2) disp = this.fetch16();
      this.eaKind = EA_16;
    } else {
      let ripRel = false;
      if (rmLow === 4) {
        const sib = this.fetch8();
        scale = sib >> 6;
        const baseLow = sib & 7;
        index = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (index === 4) index = NO_REG;
        if (baseLow === 5 && mod === 0) disp = this.fetch32();
        else {
          base = baseLow | ((rex & 1) << 3);
          if (baseLow === 4 || baseLow === 5) defSeg = SEG.SS;
        }
      } else if (rmLow === 5 && mod === 0) {
        disp = this.fetch32();
        ripRel = this.mode64;
      } else {
        base = this.rm;
        if (rmLow === 5) defSeg = SEG.SS;
      }
      if (mod === 1) disp = (this.fetch8() << 24) >> 24;
      else if (mod === 2) disp = this.fetch32();
      if (ripRel) this.eaKind = this.asize === 64 ? EA_RIP64 : EA_RIP32;
      else this.eaKind = this.asize === 64 ? EA_64 : EA_32;
    }
    this.eaBase = base;
    this.eaIndex = index;
    this.eaScale = scale;
    this.eaDisp = disp;
    this.eaSeg = seg >= 0 ? seg : defSeg;
  }

  /**
   * Computes `ea` (and `eaLo`/`eaHi`) from the decoded address form and the current
   * registers. RIP-relative forms use `rip`, so this runs once the instruction's length is
   * known. 32-bit addressing sums int32 low halves only (DESIGN.md "Hot loop").
   */
  private computeEa(): void {
    const base = this.eaBase;
    const index = this.eaIndex;
    switch (this.eaKind) {
      case EA_16: {
        let ea = this.eaDisp;
        if (base !== NO_REG) ea += this.lo[base];
        if (index !== NO_REG) ea += this.lo[index];
        this.ea = ea & 0xffff;
        return;
      }
      case EA_32: {
        let ea = this.eaDisp;
        if (base !== NO_REG) ea = (ea + this.lo[base]) | 0;
        if (index !== NO_REG) ea = (ea + (this.lo[index] << this.eaScale)) | 0;
        this.eaLo = ea;
        this.eaHi = 0;
        this.ea = ea >>> 0;
        return;
      }
      case EA_64: {
        let lo = this.eaDisp;
        let hi = lo >> 31;
        if (base !== NO_REG) {
          const s = (lo >>> 0) + (this.lo[base] >>> 0);
          lo = s | 0;
          hi = (hi + this.hi[base] + (s > 0xffffffff ? 1 : 0)) | 0;
        }
        if (index !== NO_REG) {
          const scale = this.eaScale;
          let ilo = this.lo[index];
          let ihi = this.hi[index];
          if (scale !== 0) {
            ihi = (ihi << scale) | (ilo >>> (32 - scale));
            ilo <<= scale;
          }
          const s = (lo >>> 0) + (ilo >>> 0);
          lo = s | 0;
          hi = (hi + ihi + (s > 0xffffffff ? 1 : 0)) | 0;
        }
        this.eaLo = lo;
        this.eaHi = hi;
        this.ea = hi * TWO32 + (lo >>> 0);
        return;
      }
      case EA_RIP64: {
        // RIP-relative: relative to the end of the instruction.
        const ea = wrap64(this.rip + this.eaDisp);
        this.ea = ea;
        this.eaLo = (ea % TWO32) | 0;
        this.eaHi = Math.floor(ea / TWO32) | 0;
        return;
      }
      case EA_RIP32: {
        const ea = (wrap64(this.rip + this.eaDisp) % TWO32) >>> 0;
        this.ea = ea;
        this.eaLo = ea | 0;
        this.eaHi = 0;
        return;
      }
      case EA_ABS:
        // moffs (A0-A3) with a 16/32-bit address size.
        this.ea = this.eaDisp >>> 0;
        return;
    }
  }

  /** @internal Address form of the current instruction's memory operand (`EA_*`). */
  eaKind = 0;
  /** @internal Base register of the address form, or 16 for none. */
  eaBase = 0;
  /** @internal Index register of the address form, or 16 for none. */
  eaIndex = 0;
  /** @internal Scale (shift 0..3) of the index register. */
  eaScale = 0;
  /** @internal Displacement (int32; RIP-relative displacement for the RIP forms). */
  eaDisp = 0;

  /** @internal Low half of the last 32/64-bit effective address (exact, for LEA). */
  eaLo = 0;
  /** @internal High half of the last 64-bit effective address. */
  eaHi = 0;

  // =====================================================================================
  // Instruction fetch
  // =====================================================================================

  private fetchVpn = -1;
  private fetchFrame = 0;

  /** @internal Fetches the next instruction byte. */
  fetch8(): number {
    const rip = this.rip;
    // Fast path: RIP inside the cached code page of the direct RAM view; one range check and
    // one add (`fetchDelta` = physical frame - RIP of the page start). bench/x86-cpu/compute.bench.ts
    if (rip >= this.fetchStart && rip < this.fetchEnd) {
      this.rip = rip + 1;
      return this.ramBytes[rip + this.fetchDelta];
    }
    return this.fetch8Slow(rip);
  }

  private fetch8Slow(rip: number): number {
    // Same code page as the last fetch but not in the direct view (MMIO or a port without `bytes`).
    const off = rip - this.fetchRipBase;
    if (off >= 0 && off < 4096 && this.fetchVpn !== -1) {
      this.rip = rip + 1;
      return this.memory.read8(this.fetchFrame + off);
    }
    this.fetchPage(rip);
    this.rip = rip + 1;
    const pa = this.fetchFrame + (rip - this.fetchRipBase);
    return this.fetchDirect ? this.ramBytes[pa] : this.memory.read8(pa);
  }

  /** Translates the code page holding `rip` and caches it for fetches (#PF/#GP on failure). */
  private fetchPage(rip: number): void {
    const lin = this.mode64 ? rip : (this.segBase[SEG.CS] + rip) % TWO32;
    if (this.mode64 && (lin < -0x800000000000 || lin >= 0x800000000000)) this.gp(0);
    const pa = this.translate(lin, 2, this.cpl === 3);
    const pageOff = lin & 0xfff;
    this.fetchVpn = 1;
    this.fetchRipBase = rip - pageOff;
    this.fetchFrame = pa - pageOff;
    this.fetchDirect = !this.xMmio && this.fetchFrame + 4096 <= this.ramBytes.length;
    if (this.fetchDirect) {
      this.fetchStart = this.fetchRipBase;
      this.fetchEnd = this.fetchRipBase + 4096;
      this.fetchDelta = this.fetchFrame - this.fetchRipBase;
      this.codeStart = this.fetchStart;
      this.codeEnd = this.fetchEnd;
      this.codeDelta = this.fetchDelta;
      return;
    }
    this.invalidateFetch();
    if (this.portCode && !this.xMmio && this.fetchFrame >= 0 && this.fetchFrame < TWO32) {
      // No direct view: decode-cache lookups still work by physical address (port reads).
      const page = this.fetchFrame / 4096;
      if (page >= this.codeGen.length) this.growCodePages(page);
      this.codeStart = this.fetchRipBase;
      this.codeEnd = this.fetchRipBase + 4096;
      this.codeDelta = this.fetchFrame - this.fetchRipBase;
    }
  }

  /** Grows the per-page code arrays (port without a direct view) to cover `page`. */
  private growCodePages(page: number): void {
    let n = this.codeGen.length;
    while (n <= page) n *= 2;
    const gen = new Int32Array(n);
    gen.set(this.codeGen);
    const mark = new Uint8Array(n);
    mark.set(this.codeMark);
    const epoch = new Int32Array(n).fill(-1);
    epoch.set(this.codeEpoch);
    const list = new Int32Array(n);
    list.set(this.codeList);
    this.codeGen = gen;
    this.codeMark = mark;
    this.codeEpoch = epoch;
    this.codeList = list;
    this.codeLimit = n * 4096;
  }

  /** Drops the cached code page (mode, CS, TLB changes). */
  private invalidateFetch(): void {
    this.fetchStart = 1;
    this.fetchEnd = 0;
    this.codeStart = 1;
    this.codeEnd = 0;
  }

  /** First RIP of the cached direct code page (1 with `fetchEnd` 0 when none). */
  private fetchStart = 1;
  /** RIP just past the cached direct code page. */
  private fetchEnd = 0;
  /** Physical address minus RIP inside the cached direct code page. */
  private fetchDelta = 0;
  /**
   * The cached code page for decode-cache lookups: the direct code page, or with a port
   * without a direct view, any RAM code page below 4 GiB (first RIP, RIP past it, delta).
   */
  private codeStart = 1;
  private codeEnd = 0;
  private codeDelta = 0;
  private fetchRipBase = 0;
  private fetchDirect = false;
  /** @internal The memory port's direct RAM view, or an empty array. */
  readonly ramBytes: Uint8Array;
  /** @internal Int32 view of `ramBytes` (aligned fast path). */
  readonly ram32: Int32Array;

  /** @internal Fetches a 16-bit immediate. */
  fetch16(): number {
    const rip = this.rip;
    if (rip >= this.fetchStart && rip < this.fetchEnd - 1) {
      const m = this.ramBytes;
      const p = rip + this.fetchDelta;
      this.rip = rip + 2;
      return m[p] | (m[p + 1] << 8);
    }
    const b = this.fetch8();
    return b | (this.fetch8() << 8);
  }

  /** @internal Fetches a 32-bit immediate (signed int32). */
  fetch32(): number {
    // Whole immediate inside the cached code page: read it at once (compute.bench.ts).
    const rip = this.rip;
    if (rip >= this.fetchStart && rip < this.fetchEnd - 3) {
      const m = this.ramBytes;
      const p = rip + this.fetchDelta;
      this.rip = rip + 4;
      return m[p] | (m[p + 1] << 8) | (m[p + 2] << 16) | (m[p + 3] << 24);
    }
    const b = this.fetch16();
    return b | (this.fetch16() << 16);
  }

  // =====================================================================================
  // Stack
  // =====================================================================================

  /** @internal The stack pointer as an offset of the current stack size. */
  getSp(): number {
    if (this.stackSize === 64) return this.getReg64(4);
    if (this.stackSize === 32) return this.lo[4] >>> 0;
    return this.lo[4] & 0xffff;
  }

  /** @internal Sets the stack pointer at the current stack size. */
  setSp(v: number): void {
    if (this.stackSize === 64) this.setReg64(4, wrap64(v));
    else if (this.stackSize === 32) {
      this.lo[4] = v | 0;
      this.hi[4] = 0;
    } else this.lo[4] = (this.lo[4] & ~0xffff) | (v & 0xffff);
  }

  private spMinus(n: number): number {
    const sp = this.getSp() - n;
    if (this.stackSize === 64) return wrap64(sp);
    if (this.stackSize === 32) return sp >>> 0;
    return sp & 0xffff;
  }

  /** @internal Pushes a value of `size` bits (64: `vhi` is the high half). */
  push(size: number, v: number, vhi: number): void {
    if (size === 32 && this.stackSize === 32) {
      // 32-bit push on a 32-bit stack: one int32 subtraction and the one-path store.
      const sp = (this.lo[4] - 4) | 0;
      this.writeMem32(SEG.SS, sp >>> 0, v);
      this.lo[4] = sp;
      this.hi[4] = 0;
      return;
    }
    if (size === 64 && this.stackSize === 64) {
      // RSP - 8 on the int32 halves, no double wrap-around (DESIGN.md "Hot loop").
      const lo = this.lo[4];
      const nlo = (lo - 8) | 0;
      const nhi = lo >>> 0 < 8 ? (this.hi[4] - 1) | 0 : this.hi[4];
      this.write64(SEG.SS, nhi * TWO32 + (nlo >>> 0), v, vhi);
      this.lo[4] = nlo;
      this.hi[4] = nhi;
      return;
    }
    const n = size >> 3;
    const sp = this.spMinus(n);
    if (size === 64) this.write64(SEG.SS, sp, v, vhi);
    else this.write(SEG.SS, sp, size, v);
    this.setSp(sp);
  }

  /** @internal Pops a value of `size` bits (64: high half in `tmpHi`). */
  pop(size: number): number {
    if (size === 32 && this.stackSize === 32) {
      const sp = this.lo[4];
      const v = this.readMem32(SEG.SS, sp >>> 0);
      this.lo[4] = (sp + 4) | 0;
      this.hi[4] = 0;
      return v;
    }
    if (size === 64 && this.stackSize === 64) {
      const lo = this.lo[4];
      const hi = this.hi[4];
      const v = this.read64(SEG.SS, hi * TWO32 + (lo >>> 0));
      const nlo = (lo + 8) | 0;
      this.lo[4] = nlo;
      this.hi[4] = nlo >>> 0 < 8 ? (hi + 1) | 0 : hi;
      return v;
    }
    const sp = this.getSp();
    const v = size === 64 ? this.read64(SEG.SS, sp) : this.read(SEG.SS, sp, size);
    this.setSp(sp + (size >> 3));
    return v;
  }

  /** @internal Reads a stack slot `off` bytes above SP without popping. */
  peek(size: number, off: number): number {
    let sp = this.getSp() + off;
    if (this.stackSize === 16) sp &= 0xffff;
    else if (this.stackSize === 32) sp >>>= 0;
    return size === 64 ? this.read64(SEG.SS, sp) : this.read(SEG.SS, sp, size);
  }

  // =====================================================================================
  // Control transfer helpers
  // =====================================================================================

  /** @internal Sets RIP for a near branch, truncated to the operand size. */
  jumpTo(target: number, size: number): void {
    if (size === 16) this.rip = target & 0xffff;
    else if (size === 32) this.rip = target >>> 0;
    else {
      const t = wrap64(target);
      if (t < -0x800000000000 || t >= 0x800000000000) this.gp(0);
      this.rip = t;
    }
  }

  // =====================================================================================
  // Segment loading
  // =====================================================================================

  /** @internal Reads a descriptor for `sel` into `descLo`/`descHi`; raises #GP(sel) if out of the table. */
  readDescriptor(sel: number, vector: number): void {
    const index = sel & 0xfff8;
    let base: number;
    let limit: number;
    if ((sel & 4) !== 0) {
      if ((this.segAttr[SEG.LDTR] & 0x80) === 0) this.fault(vector, sel & 0xfffc);
      base = this.segBase[SEG.LDTR];
      limit = this.segLimit[SEG.LDTR] >>> 0;
    } else {
      base = this.gdtBase;
      limit = this.gdtLimit;
    }
    if (index + 7 > limit) this.fault(vector, sel & 0xfffc);
    this.descAddr = base + index;
    this.descLo = this.sysRead32(this.descAddr);
    this.descHi = this.sysRead32(this.descAddr + 4);
  }

  /** @internal Last descriptor read: linear address. */ descAddr = 0;
  /** @internal Last descriptor read: low dword. */ descLo = 0;
  /** @internal Last descriptor read: high dword. */ descHi = 0;

  /** @internal Loads the descriptor cache of `seg` from `descLo`/`descHi`. */
  setSegFromDesc(seg: number, sel: number): void {
    const lo = this.descLo;
    const hi = this.descHi;
    this.segSel[seg] = sel & 0xffff;
    this.segBase[seg] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
    let limit = (lo & 0xffff) | (hi & 0xf0000);
    if ((hi & 0x800000) !== 0) limit = (limit << 12) | 0xfff;
    this.segLimit[seg] = limit;
    this.segAttr[seg] = (hi >> 8) & 0xf0ff;
    if ((hi & 0x100) === 0 && (hi & 0x1000) !== 0) {
      // Set the accessed bit in the descriptor.
      this.descHi = hi | 0x100;
      this.segAttr[seg] |= 1;
      this.sysWrite32(this.descAddr + 4, this.descHi);
    }
  }

  /** @internal Real-mode style load: base = sel << 4, cache attributes kept. */
  loadSegReal(seg: number, sel: number): void {
    this.segSel[seg] = sel & 0xffff;
    this.segBase[seg] = (sel & 0xffff) << 4;
    if ((this.eflags & EFLAGS.VM) !== 0) {
      // Virtual-8086 mode: 64 KiB, present, DPL 3 read/write segments.
      this.segLimit[seg] = 0xffff;
      this.segAttr[seg] = 0xf3;
    }
    if (seg === SEG.CS || seg === SEG.SS) this.updateMode();
  }

  /** @internal MOV/POP to a data or stack segment register with all protected-mode checks. */
  loadSeg(seg: number, sel: number): void {
    sel &= 0xffff;
    if (!this.protectedMode || (this.eflags & EFLAGS.VM) !== 0) {
      this.loadSegReal(seg, sel);
      return;
    }
    const rpl = sel & 3;
    if ((sel & 0xfffc) === 0) {
      if (seg === SEG.SS && (!this.mode64 || this.cpl === 3 || rpl !== this.cpl)) this.gp(0);
      this.segSel[seg] = sel;
      this.segBase[seg] = 0;
      this.segLimit[seg] = 0;
      this.segAttr[seg] = seg === SEG.SS ? (this.segAttr[seg] & ~0x80) | (this.cpl << 5) : 0;
      if (seg === SEG.SS) this.updateMode();
      return;
    }
    this.readDescriptor(sel, VECTOR.GP);
    const attr = (this.descHi >> 8) & 0xf0ff;
    const dpl = (attr >> 5) & 3;
    if (seg === SEG.SS) {
      if (rpl !== this.cpl || dpl !== this.cpl || (attr & 0x1a) !== 0x12) this.gp(sel & 0xfffc);
      if ((attr & 0x80) === 0) this.fault(VECTOR.SS, sel & 0xfffc);
    } else {
      if ((attr & 0x10) === 0 || (attr & 0x0a) === 0x08) this.gp(sel & 0xfffc);
      const conformingCode = (attr & 0x0c) === 0x0c;
      if (!conformingCode && (dpl < this.cpl || dpl < rpl)) this.gp(sel & 0xfffc);
      if ((attr & 0x80) === 0) this.fault(VECTOR.NP, sel & 0xfffc);
    }
    this.setSegFromDesc(seg, sel);
    if (seg === SEG.SS) this.updateMode();
  }

  /**
   * @internal Loads CS for a far JMP/CALL/RET/IRET to a code segment at privilege `newCpl`
   * (the checks specific to the transfer are done by the caller).
   */
  loadCs(sel: number, newCpl: number): void {
    if (!this.protectedMode || (this.eflags & EFLAGS.VM) !== 0) {
      this.loadSegReal(SEG.CS, sel);
      this.cpl = (this.eflags & EFLAGS.VM) !== 0 ? 3 : 0;
      this.updateMode();
      return;
    }
    this.setSegFromDesc(SEG.CS, (sel & 0xfffc) | newCpl);
    this.cpl = newCpl;
    this.updateMode();
  }

  /** @internal Validates a code-segment selector for a far JMP/CALL; leaves its descriptor loaded. */
  checkFarCode(sel: number): void {
    if ((sel & 0xfffc) === 0) this.gp(0);
    this.readDescriptor(sel, VECTOR.GP);
    const attr = (this.descHi >> 8) & 0xf0ff;
    if ((attr & 0x18) !== 0x18) {
      const type = attr & 0x1f;
      // Call gates, task gates and TSS descriptors: the caller takes over.
      if (type === 0x0c || type === 0x04 || type === 0x05 || type === 0x09 || type === 0x01) return;
      this.gp(sel & 0xfffc);
    }
    const dpl = (attr >> 5) & 3;
    if ((attr & 4) !== 0) {
      if (dpl > this.cpl) this.gp(sel & 0xfffc);
    } else if ((sel & 3) > this.cpl || dpl !== this.cpl) this.gp(sel & 0xfffc);
    if ((attr & 0x80) === 0) this.fault(VECTOR.NP, sel & 0xfffc);
  }

  // =====================================================================================
  // The run loop
  // =====================================================================================

  /**
   * Executes up to `budget` instructions and returns why it stopped; details are in
   * {@link X86Cpu.exit}. Faults are delivered to the guest unless intercepted.
   */
  run(budget: number): ExitReason {
    // The embedder (or another vCPU) may have written guest memory since the last run: each
    // page with cached code is compared with its snapshot when first used in this run.
    this.epoch = (this.epoch + 1) | 0;
    if (this.epoch === 0x7fffffff) {
      this.epoch = 0;
      this.codeEpoch.fill(-1);
    }
    this.exit.reason = EXIT.BUDGET;
    this.budgetLeft = budget;
    for (;;) {
      try {
        this.exitReason = -1;
        if (this.pendingException >= 0) {
          const v = this.pendingException;
          const e = this.pendingErrorCode;
          this.pendingException = -1;
          this.deliverException(v, e);
        }
        return this.runInner();
      } catch (e) {
        if (e !== FAULT) throw e;
        // A faulting instruction (or delivery attempt) counts against the budget, so fault
        // loops in the guest still return to the embedder.
        if (this.faultVec !== -2) this.budgetLeft--;
        if (this.handleFault(0) < 0) return this.exit.reason;
      }
    }
  }

  private runInner(): ExitReason {
    while (this.budgetLeft > 0) {
      if (
        this.pendingInterrupt >= 0 ||
        this.halted ||
        this.interruptShadow ||
        (this.eflags & EFLAGS.TF) !== 0
      ) {
        const r = this.stepWithEvents();
        if (r >= 0) return r as ExitReason;
        continue;
      }
      // Common case: no event, no shadow, no single-step (DESIGN.md "Hot loop"); a decode-cache
      // hit replays here without the `step` frame (nop floor 50-52 -> 58-61 MIPS).
      const rip = this.rip;
      if (rip >= this.codeStart && rip < this.codeEnd) {
        const pa = (rip + this.codeDelta) | 0;
        const i = pa & DC_MASK;
        const b = i << 3;
        if (this.codeEpoch[pa >>> 12] !== this.epoch) this.checkCodePage(pa >>> 12);
        const gen = this.codeGen[pa >>> 12];
        if (this.dc[b] === pa && this.dc[b + 1] === gen) {
          if (this.blkTag[i] !== pa || this.blkGen[i] !== gen) {
            const src = newBlockSrc();
            this.blkOps[i] = buildBlock(this.dc, this.dcFn, DC_MASK, pa, gen, this.blkLoop, i, src);
            this.blkSrc[i] = src;
            if (this.blkTag[i] !== pa) this.blkChurn[i] = 0;
            else if (this.blkFn[i] !== null && this.blkChurn[i] < 255) this.blkChurn[i]++;
            this.blkFn[i] = null;
            this.blkHits[i] = 0;
            this.blkTag[i] = pa;
            this.blkGen[i] = gen;
          }
          const ops = this.blkOps[i];
          const n = ops.length;
          if (n <= this.budgetLeft) {
            // A hot block runs as one generated function (DESIGN.md "Compiled blocks").
            let f = this.blkFn[i];
            if (
              f === null &&
              ++this.blkHits[i] === this.blockCompileAfter &&
              this.blkChurn[i] < MAX_RECOMPILES
            ) {
              // At most MAX_COMPILED generated functions live: then all are dropped.
              if (++this.blkCompiled > MAX_COMPILED) {
                this.blkFn.fill(null);
                this.blkCompiled = 1;
              }
              f = this.blkFn[i] = compileBlock(ops, this.blkSrc[i]);
            }
            if (f !== null) {
              f(this);
              if (this.exitReason >= 0) {
                this.exit.instructionLength = this.instructionLength();
                return this.exitReason as ExitReason;
              }
              if (this.pendingException >= 0) return this.deliverPendingOrExit();
              continue;
            }
            // A whole block: no event checks inside (DESIGN.md "Blocks"); a block whose jump
            // went back to its own start runs again without a new lookup.
            do {
              this.blockBreak = false;
              for (let k = 0; ; ) {
                ops[k](this);
                this.budgetLeft--;
                this.instructions++;
                if (++k === n || this.blockBreak || this.exitReason >= 0) break;
              }
            } while (
              this.rip === rip &&
              this.blkLoop[i] !== 0 &&
              n <= this.budgetLeft &&
              !this.blockBreak &&
              this.exitReason < 0
            );
            if (this.exitReason >= 0) {
              this.exit.instructionLength = this.instructionLength();
              return this.exitReason as ExitReason;
            }
            if (this.pendingException >= 0) return this.deliverPendingOrExit();
            continue;
          }
          this.replayAt(this.dc, b, rip);
          this.dcFn[i](this);
        } else this.step();
      } else this.step();
      this.budgetLeft--;
      this.instructions++;
      if (this.exitReason >= 0) {
        this.exit.instructionLength = this.instructionLength();
        return this.exitReason as ExitReason;
      }
      if (this.pendingException >= 0) return this.deliverPendingOrExit();
    }
    this.exit.reason = EXIT.BUDGET;
    return EXIT.BUDGET;
  }

  /**
   * One instruction with pending-interrupt delivery, the STI/MOV SS shadow, HLT and TF
   * single-step handled; returns an exit reason, or -1 to continue the loop.
   */
  private stepWithEvents(): number {
    if (this.pendingInterrupt >= 0 || this.halted) {
      if (this.pendingInterrupt >= 0 && (this.eflags & EFLAGS.IF) !== 0 && !this.interruptShadow) {
        const v = this.pendingInterrupt;
        this.pendingInterrupt = -1;
        this.halted = false;
        this.instrStart = this.rip;
        this.deliverInterrupt(v, -1, false, this.rip);
      }
      if (this.halted) {
        this.exit.reason = EXIT.HLT;
        return EXIT.HLT;
      }
    }
    this.interruptShadow = false;
    const singleStep = (this.eflags & EFLAGS.TF) !== 0;
    this.step();
    this.budgetLeft--;
    this.instructions++;
    if (singleStep) {
      // Single-step trap after the instruction retired (TF was set when it started).
      this.dr[6] = (this.dr[6] | 0x4000) >>> 0;
      if (this.exitReason >= 0 || (this.intercepts.exceptionBitmap & 2) !== 0) {
        this.pendingException = VECTOR.DB;
        this.pendingErrorCode = -1;
      } else {
        this.instrStart = this.rip;
        this.deliverInterrupt(VECTOR.DB, -1, false, this.rip);
      }
    }
    if (this.exitReason >= 0) {
      this.exit.instructionLength = this.instructionLength();
      return this.exitReason;
    }
    if (this.pendingException >= 0) return this.deliverPendingOrExit();
    return -1;
  }

  /** Handles an exception queued inside the loop (an intercepted single-step trap). */
  private deliverPendingOrExit(): ExitReason {
    const v = this.pendingException;
    if (v < 32 && (this.intercepts.exceptionBitmap & (1 << v)) !== 0) {
      this.pendingException = -1;
      this.exit.reason = EXIT.EXCEPTION;
      this.exit.vector = v;
      this.exit.errorCode = this.pendingErrorCode;
      this.exit.instructionLength = 0;
      return EXIT.EXCEPTION;
    }
    this.pendingException = -1;
    this.instrStart = this.rip;
    this.deliverException(v, this.pendingErrorCode);
    return this.runInner();
  }

  /** @internal Instructions left in the current `run` budget (faulting instructions count too). */
  budgetLeft = 0;

  private instructionLength(): number {
    const d = this.rip - this.instrStart;
    return d >= 0 && d <= 15 ? d : 0;
  }

  /** Returns the remaining budget to continue with, or -1 to return `exit.reason`. */
  private handleFault(remaining: number): number {
    if (this.faultVec === -2) {
      // MMIO read exit: roll back to the instruction start; it re-executes after completion.
      this.rip = this.instrStart;
      this.exit.instructionLength = 0;
      return -1;
    }
    const vec = this.faultVec;
    const err = this.faultErr;
    this.rip = this.instrStart;
    this.exitReason = -1;
    if (this.delivering >= 0) {
      const prev = this.delivering;
      this.delivering = -1;
      if (prev === VECTOR.DF) {
        this.exit.reason = EXIT.TRIPLE_FAULT;
        this.exit.vector = vec;
        return -1;
      }
      const contributory = (v: number) => v === 0 || (v >= 10 && v <= 13);
      if (
        (contributory(prev) && contributory(vec)) ||
        (prev === VECTOR.PF && (contributory(vec) || vec === VECTOR.PF))
      ) {
        this.pendingException = VECTOR.DF;
        this.pendingErrorCode = 0;
        return remaining;
      }
    }
    if (vec < 32 && (this.intercepts.exceptionBitmap & (1 << vec)) !== 0) {
      this.exit.reason = EXIT.EXCEPTION;
      this.exit.vector = vec;
      this.exit.errorCode = err;
      return -1;
    }
    this.pendingException = vec;
    this.pendingErrorCode = err;
    return remaining;
  }

  /**
   * Executes one instruction: replays it from the decode cache when its physical address
   * holds a valid entry, else decodes it (recording it when it lies inside one direct RAM
   * page) and runs its handler (DESIGN.md "Decode cache").
   */
  private step(): void {
    const rip = this.rip;
    this.instrStart = rip;
    if (rip < this.fetchStart || rip >= this.fetchEnd) {
      const off = rip - this.fetchRipBase;
      if (this.fetchVpn === -1 || off < 0 || off >= 4096) this.fetchPage(rip);
    }
    if (rip >= this.codeStart && rip < this.codeEnd) {
      const pa = (rip + this.codeDelta) | 0;
      const i = pa & DC_MASK;
      const d = this.dc;
      const b = i << 3;
      if (this.codeEpoch[pa >>> 12] !== this.epoch) this.checkCodePage(pa >>> 12);
      if (d[b] === pa && d[b + 1] === this.codeGen[pa >>> 12]) {
        this.replayAt(d, b, rip);
        this.dcFn[i](this);
        return;
      }
      const start = this.codeStart;
      const handler = this.decode();
      if (
        this.codeStart === start &&
        this.rip <= this.codeEnd &&
        this.rip - rip <= 15 &&
        this.eaKind !== EA_UNCACHED
      ) {
        this.record(i, pa, this.rip - rip, handler);
      }
      handler(this);
      return;
    }
    this.decode()(this);
  }

  /**
   * @internal Restores the decoder's outputs from the decode-cache words at `d[b..b+7]` (a
   * cache slot, or a block's copy of one) for the instruction at `rip` and recomputes its
   * effective address; the caller runs the handler.
   */
  replayAt(d: Int32Array, b: number, rip: number): void {
    this.instrStart = rip;
    const info = d[b + 2];
    this.rip = rip + (info & 15);
    this.osize = ((info >> 4) & 7) << 4;
    this.asize = ((info >> 7) & 7) << 4;
    this.rep = (info >> 10) & 3;
    this.lock = (info & 0x1000) !== 0;
    this.segOv = ((info >> 13) & 7) - 1;
    this.rex = (info >> 16) & 0xff;
    this.mod = (info >> 24) & 3;
    const kind = (info >> 26) & 7;
    this.eaKind = kind;
    const m = d[b + 3];
    this.reg = m & 15;
    this.rm = (m >> 4) & 15;
    this.opcode = m >>> 20;
    this.imm = d[b + 4];
    this.immHi = d[b + 5];
    this.imm2 = d[b + 6];
    if (kind !== EA_NONE) {
      const base = (m >> 8) & 31;
      const index = (m >> 13) & 31;
      const scale = (m >> 18) & 3;
      const disp = d[b + 7];
      this.eaSeg = info >>> 29;
      if (kind === EA_32) {
        // The common 32-bit form inline (the same sum as computeEa's EA_32 case).
        let ea = disp;
        if (base !== NO_REG) ea = (ea + this.lo[base]) | 0;
        if (index !== NO_REG) ea = (ea + (this.lo[index] << scale)) | 0;
        this.eaLo = ea;
        this.eaHi = 0;
        this.ea = ea >>> 0;
        return;
      }
      if (kind === EA_64 && index === NO_REG && base !== NO_REG) {
        // [base + disp] in 64-bit mode inline (computeEa's EA_64 case without an index).
        const s = (disp >>> 0) + (this.lo[base] >>> 0);
        const lo = s | 0;
        const hi = ((disp >> 31) + this.hi[base] + (s > 0xffffffff ? 1 : 0)) | 0;
        this.eaLo = lo;
        this.eaHi = hi;
        this.ea = hi * TWO32 + (lo >>> 0);
        return;
      }
      this.eaBase = base;
      this.eaIndex = index;
      this.eaScale = scale;
      this.eaDisp = disp;
      this.computeEa();
    }
  }

  /** Stores the instruction just decoded (`len` bytes at physical `pa`) in decode-cache slot `i`. */
  private record(i: number, pa: number, len: number, handler: Handler): void {
    const d = this.dc;
    const b = i << 3;
    const page = pa >>> 12;
    if (this.codeMark[page] === 0) {
      this.codeMark[page] = 1;
      this.codeList[this.codeCount++] = page;
      let snap = this.codeSnap.get(page);
      if (snap === undefined) {
        snap = new Int32Array(1024);
        this.codeSnap.set(page, snap);
      }
      this.readCodePage(page, snap);
      this.codeEpoch[page] = this.epoch;
    }
    d[b] = pa;
    d[b + 1] = this.codeGen[page];
    d[b + 2] =
      len |
      ((this.osize >> 4) << 4) |
      ((this.asize >> 4) << 7) |
      (this.rep << 10) |
      (this.lock ? 0x1000 : 0) |
      ((this.segOv + 1) << 13) |
      (this.rex << 16) |
      (this.mod << 24) |
      (this.eaKind << 26) |
      ((this.eaSeg & 7) << 29);
    d[b + 3] =
      this.reg |
      (this.rm << 4) |
      (this.eaBase << 8) |
      (this.eaIndex << 13) |
      (this.eaScale << 18) |
      (this.opcode << 20);
    d[b + 4] = this.imm;
    d[b + 5] = this.immHi;
    d[b + 6] = this.imm2;
    d[b + 7] = this.eaDisp;
    this.dcFn[i] = handler;
  }

  /**
   * @internal Drops every decode-cache entry: bumps the generation of each page that holds
   * entries. `run()` does this on entry (the embedder may have written guest memory through
   * the port since the last run), and mode changes that alter decoding do it too.
   */
  invalidateDecodeCache(): void {
    const list = this.codeList;
    for (let k = 0; k < this.codeCount; k++) {
      const page = list[k];
      this.codeGen[page] = (this.codeGen[page] + 1) | 0;
      this.codeMark[page] = 0;
    }
    this.codeCount = 0;
    this.blockBreak = true;
  }

  /**
   * First use of code page `page` in this run: if its contents differ from the snapshot taken
   * when its first entry was recorded (the embedder, a back-end or another vCPU wrote it since),
   * drop its entries and take a new snapshot.
   */
  private checkCodePage(page: number): void {
    this.codeEpoch[page] = this.epoch;
    if (this.codeMark[page] === 0) return;
    const snap = this.codeSnap.get(page);
    if (snap !== undefined) {
      let k = 0;
      if (this.portCode) {
        const m = this.memory;
        const pa = page * 4096;
        if (m.pageEquals !== undefined) k = m.pageEquals(pa, snap) ? 1024 : 0;
        else while (k < 1024 && m.read32(pa + k * 4) === snap[k]) k++;
      } else {
        const ram = this.ram32;
        const base = page << 10;
        while (k < 1024 && ram[base + k] === snap[k]) k++;
      }
      if (k === 1024) return;
      this.readCodePage(page, snap);
    }
    this.codeGen[page] = (this.codeGen[page] + 1) | 0;
  }

  /** Copies code page `page` into `out` (1024 words). */
  private readCodePage(page: number, out: Int32Array): void {
    if (this.portCode) {
      const m = this.memory;
      const pa = page * 4096;
      if (m.readPage !== undefined) m.readPage(pa, out);
      else for (let k = 0; k < 1024; k++) out[k] = m.read32(pa + k * 4);
    } else out.set(this.ram32.subarray(page << 10, (page + 1) << 10));
  }

  /** A CPU store hit a page with decode-cache entries: drop that page's entries. */
  private codeWritten(page: number): void {
    this.codeGen[page] = (this.codeGen[page] + 1) | 0;
    this.blockBreak = true;
  }

  /** Decodes the instruction at RIP into the decoder fields and returns its handler. */
  private decode(): Handler {
    this.segOv = -1;
    this.rep = 0;
    this.rex = 0;
    this.lock = false;
    this.eaKind = EA_NONE;
    let osize = this.defSize;
    let asize = this.mode64 ? 64 : this.defSize;
    let opsizeOv = false;
    let b = this.fetch8();
    // Most instructions have no prefix: skip the prefix loop (bench/x86-cpu/compute.bench.ts).
    if (PREFIX_BYTE[b] !== 0 || (this.mode64 && (b & 0xf0) === 0x40))
      for (let count = 0; ; count++) {
        if (count >= 14) this.gp(0);
        switch (b) {
          case 0x66:
            opsizeOv = true;
            break;
          case 0x67:
            asize = this.mode64 ? 32 : asize === 16 ? 32 : 16;
            break;
          case 0x26:
          case 0x2e:
          case 0x36:
          case 0x3e:
            if (!this.mode64) this.segOv = (b >> 3) & 3;
            break;
          case 0x64:
            this.segOv = SEG.FS;
            break;
          case 0x65:
            this.segOv = SEG.GS;
            break;
          case 0xf0:
            this.lock = true;
            break;
          case 0xf2:
            this.rep = 2;
            break;
          case 0xf3:
            this.rep = 3;
            break;
          default:
            if (this.mode64 && (b & 0xf0) === 0x40) {
              this.rex = b;
              b = this.fetch8();
              if ((b & 0xf0) === 0x40) continue;
              if (
                b === 0x66 ||
                b === 0x67 ||
                b === 0xf0 ||
                b === 0xf2 ||
                b === 0xf3 ||
                b === 0x26 ||
                b === 0x2e ||
                b === 0x36 ||
                b === 0x3e ||
                b === 0x64 ||
                b === 0x65
              ) {
                this.rex = 0;
                continue;
              }
            }
            count = 99;
        }
        if (count === 99) break;
        b = this.fetch8();
      }
    let op = b;
    if (b === 0x0f) {
      op = 0x100 | this.fetch8();
      if (opsizeOv && this.rep === 0) this.rep = 1;
      if (op === 0x138) op = 0x200 | this.fetch8();
      else if (op === 0x13a) op = 0x300 | this.fetch8();
    }
    this.opcode = op;
    const info = DECODE[op];
    if (this.mode64) {
      if ((this.rex & 8) !== 0) osize = 64;
      else if ((info & D64) !== 0) osize = opsizeOv ? 16 : 64;
      else osize = opsizeOv ? 16 : 32;
      if ((info & I64) !== 0) this.ud();
    } else if (opsizeOv) osize = osize === 16 ? 32 : 16;
    this.osize = osize;
    this.asize = asize;
    let handler: Handler;
    let immKind = (info >> 8) & 0xff;
    if ((info & MODRM) !== 0) {
      this.decodeModrm();
      if ((info & GROUP) !== 0) {
        const key = (op << 3) | (this.reg & 7);
        handler = GROUP_HANDLERS[key];
        const gi = GROUP_INFO[key];
        immKind = (gi >> 8) & 0xff;
        if ((gi & D64) !== 0 && this.mode64 && osize === 32) this.osize = 64;
      } else handler = HANDLERS[op];
    } else handler = HANDLERS[op];
    if (immKind !== 0) {
      // imm8/rel8 and 32-bit imm/rel inline; the rest through decodeImm (DESIGN.md "Hot loop").
      if (immKind === IMM.Ib || immKind === IMM.Jb) this.imm = (this.fetch8() << 24) >> 24;
      else if ((immKind === IMM.Iz || immKind === IMM.Jz) && this.osize !== 16) {
        const v = this.fetch32();
        this.imm = v;
        this.immHi = v >> 31;
      } else this.decodeImm(immKind);
    }
    if (this.eaKind !== EA_NONE) this.computeEa();
    // LOCK on anything but a read-modify-write memory form is #UD (src/decode/lock.ts).
    if (this.lock && !lockAllowed(op, this.mod, this.reg)) this.ud();
    return handler;
  }

  private decodeImm(kind: number): void {
    switch (kind) {
      case IMM.Ib:
      case IMM.Jb:
        this.imm = (this.fetch8() << 24) >> 24;
        break;
      case IMM.Iw:
        this.imm = this.fetch16();
        break;
      case IMM.Iz:
      case IMM.Jz:
        if (this.osize === 16) this.imm = (this.fetch16() << 16) >> 16;
        else this.imm = this.fetch32();
        this.immHi = this.imm >> 31;
        break;
      case IMM.Iv:
        if (this.osize === 16) this.imm = this.fetch16();
        else if (this.osize === 32) this.imm = this.fetch32();
        else {
          this.imm = this.fetch32();
          this.immHi = this.fetch32();
        }
        break;
      case IMM.Ap:
        // The unsigned 32-bit offset does not fit the cache's int32 immediate: not cached.
        this.imm = this.osize === 16 ? this.fetch16() : this.fetch32() >>> 0;
        this.imm2 = this.fetch16();
        this.eaKind = EA_UNCACHED;
        break;
      case IMM.Ov: {
        if (this.asize === 64) {
          const lo = this.fetch32();
          this.ea = this.fetch32() * TWO32 + (lo >>> 0);
          this.eaKind = EA_UNCACHED;
        } else {
          this.eaDisp = this.asize === 16 ? this.fetch16() : this.fetch32();
          this.eaKind = EA_ABS;
        }
        this.eaSeg = this.segOv >= 0 ? this.segOv : SEG.DS;
        break;
      }
      case IMM.IwIb:
        this.imm = this.fetch16();
        this.imm2 = this.fetch8();
        break;
      case IMM.Grp3b:
        if ((this.reg & 6) === 0) this.imm = (this.fetch8() << 24) >> 24;
        break;
      case IMM.Grp3v:
        if ((this.reg & 6) === 0) {
          this.imm = this.osize === 16 ? (this.fetch16() << 16) >> 16 : this.fetch32();
          this.immHi = this.imm >> 31;
        }
        break;
    }
  }

  // =====================================================================================
  // Interrupts and exceptions
  // =====================================================================================

  /** @internal Delivers an exception (the caller has set RIP to the faulting instruction). */
  deliverException(vector: number, errorCode: number): void {
    this.delivering = vector;
    if (vector === VECTOR.PF || vector === VECTOR.DF) {
      // keep CR2 as set by the walker
    }
    this.deliverInterrupt(vector, errorCode, false, this.rip);
    this.delivering = -1;
  }

  /**
   * @internal Delivers `vector` through the IVT (real mode) or IDT (protected/long mode).
   * `soft` applies the gate DPL check of INT n; `nextRip` is the return address pushed.
   * @see Intel SDM Vol. 3A §6.12 (protected mode), §6.14 (64-bit mode); Vol. 1 §6.5 (real mode)
   */
  deliverInterrupt(vector: number, errorCode: number, soft: boolean, nextRip: number): void {
    this.halted = false;
    const flags = getFlags(this);
    if (!this.protectedMode) {
      if (vector * 4 + 3 > this.idtLimit) this.gp(0);
      const entry = this.readLin32((this.idtBase + vector * 4) >>> 0, false);
      this.push(16, flags, 0);
      this.push(16, this.segSel[SEG.CS], 0);
      this.push(16, nextRip, 0);
      this.loadSegReal(SEG.CS, entry >>> 16);
      this.rip = entry & 0xffff;
      setFlags(this, flags & ~(EFLAGS.IF | EFLAGS.TF | EFLAGS.AC | EFLAGS.RF));
      return;
    }
    const lma = (this.efer & EFER.LMA) !== 0;
    const gateSize = lma ? 16 : 8;
    const errSel = vector * 8 + 2 + (soft ? 0 : 1);
    if (vector * gateSize + gateSize - 1 > this.idtLimit) this.gp(errSel);
    const gateAddr = this.idtBase + vector * gateSize;
    const glo = this.sysRead32(gateAddr);
    const ghi = this.sysRead32(gateAddr + 4);
    const type = (ghi >> 8) & 0x1f;
    const gdpl = (ghi >> 13) & 3;
    const isTrap = (type & 1) !== 0;
    if (
      lma
        ? type !== 0x0e && type !== 0x0f
        : type !== 0x0e && type !== 0x0f && type !== 0x06 && type !== 0x07
    ) {
      if (type === 0x05 && !lma) {
        if (soft && gdpl < this.cpl) this.gp(errSel);
        if ((ghi & 0x8000) === 0) this.fault(VECTOR.NP, errSel);
        const tssSel = glo >>> 16;
        if ((tssSel & 4) !== 0) this.fault(VECTOR.TS, tssSel & 0xfffc);
        this.readDescriptor(tssSel, VECTOR.TS);
        taskSwitch(this, tssSel, TASK_CALL, nextRip);
        if (errorCode >= 0) this.push(this.stackSize === 16 ? 16 : 32, errorCode, 0);
        return;
      }
      this.gp(errSel);
    }
    if (soft && gdpl < this.cpl) this.gp(errSel);
    if ((ghi & 0x8000) === 0) this.fault(VECTOR.NP, errSel);
    const csSel = glo >>> 16;
    let offset = ((ghi & 0xffff0000) | (glo & 0xffff)) >>> 0;
    if (lma) {
      const ohi = this.sysRead32(gateAddr + 8);
      offset = ohi * TWO32 + offset;
    }
    const gate32 = lma || (type & 8) !== 0;
    if ((csSel & 0xfffc) === 0) this.gp(soft ? 0 : 1);
    this.readDescriptor(csSel, VECTOR.GP);
    const cattr = (this.descHi >> 8) & 0xf0ff;
    const cdpl = (cattr >> 5) & 3;
    if ((cattr & 0x18) !== 0x18 || cdpl > this.cpl) this.gp(csSel & 0xfffc);
    if ((cattr & 0x80) === 0) this.fault(VECTOR.NP, csSel & 0xfffc);
    if (lma && (cattr & 0x2000) === 0) this.gp(csSel & 0xfffc);
    const conforming = (cattr & 4) !== 0;
    const newCpl = conforming ? this.cpl : cdpl;
    const csDescLo = this.descLo;
    const csDescHi = this.descHi;
    const csDescAddr = this.descAddr;
    const oldCs = this.segSel[SEG.CS];
    const oldSs = this.segSel[SEG.SS];
    const oldSp = lma ? this.getReg64(4) : this.getSp();
    const ist = lma ? glo & 0 : 0;
    const istIndex = lma ? ghi & 7 : 0;
    void ist;
    if (lma) {
      // 64-bit IDT delivery: always pushes SS:RSP; new RSP from TSS RSPn or ISTn, aligned to 16.
      let newRsp: number;
      if (istIndex !== 0 || newCpl !== this.cpl) {
        const off = istIndex !== 0 ? 36 + (istIndex - 1) * 8 : 4 + newCpl * 8;
        if (off + 7 > this.segLimit[SEG.TR] >>> 0)
          this.fault(VECTOR.TS, this.segSel[SEG.TR] & 0xfffc);
        const tss = this.segBase[SEG.TR] + off;
        const l = this.sysRead32(tss);
        const h = this.sysRead32(tss + 4);
        newRsp = h * TWO32 + (l >>> 0);
      } else newRsp = oldSp;
      newRsp -= ((newRsp % 16) + 16) % 16;
      if (newCpl !== this.cpl) {
        this.segSel[SEG.SS] = newCpl;
        this.segBase[SEG.SS] = 0;
        this.segLimit[SEG.SS] = 0;
        this.segAttr[SEG.SS] = 0x0093 | (newCpl << 5) | 0x4000;
        this.segAttr[SEG.SS] &= ~0x80;
        this.segAttr[SEG.SS] |= 0x80;
      }
      this.descLo = csDescLo;
      this.descHi = csDescHi;
      this.descAddr = csDescAddr;
      this.loadCs(csSel, newCpl);
      this.setReg64(4, newRsp);
      this.push(64, oldSs, 0);
      this.push(64, (oldSp % TWO32) | 0, Math.floor(oldSp / TWO32) | 0);
      this.push(64, flags, 0);
      this.push(64, oldCs, 0);
      this.push(64, (nextRip % TWO32) | 0, Math.floor(nextRip / TWO32) | 0);
      if (errorCode >= 0) this.push(64, errorCode, 0);
      this.rip = offset >= 0x800000000000 ? offset - 2 ** 64 : offset;
    } else {
      const psize = gate32 ? 32 : 16;
      const fromV86 = (flags & EFLAGS.VM) !== 0;
      if (fromV86 && newCpl !== 0) this.gp(csSel & 0xfffc);
      // Leaving virtual-8086 mode: descriptor loads below use protected-mode rules.
      if (fromV86) this.eflags &= ~EFLAGS.VM;
      if (newCpl !== this.cpl) {
        // Stack switch from the TSS (32- or 16-bit; src/ops/tss-stack.ts).
        tssStack(this, newCpl);
        const newEsp = TSS_STACK[0];
        const newSs = TSS_STACK[1];
        if ((newSs & 0xfffc) === 0) this.fault(VECTOR.TS, newSs & 0xfffc);
        this.readDescriptor(newSs, VECTOR.TS);
        const sattr = (this.descHi >> 8) & 0xf0ff;
        if ((newSs & 3) !== newCpl || ((sattr >> 5) & 3) !== newCpl || (sattr & 0x1a) !== 0x12) {
          this.fault(VECTOR.TS, newSs & 0xfffc);
        }
        if ((sattr & 0x80) === 0) this.fault(VECTOR.SS, newSs & 0xfffc);
        this.setSegFromDesc(SEG.SS, newSs);
        this.updateMode();
        this.setSp(newEsp);
        this.descLo = csDescLo;
        this.descHi = csDescHi;
        this.descAddr = csDescAddr;
        this.loadCs(csSel, newCpl);
        if (fromV86) {
          for (const seg of [SEG.GS, SEG.FS, SEG.DS, SEG.ES]) {
            this.push(psize, this.segSel[seg], 0);
            this.segSel[seg] = 0;
            this.segBase[seg] = 0;
            this.segLimit[seg] = 0;
            this.segAttr[seg] = 0;
          }
        }
        this.push(psize, oldSs, 0);
        this.push(psize, oldSp, 0);
      } else {
        this.descLo = csDescLo;
        this.descHi = csDescHi;
        this.descAddr = csDescAddr;
        this.loadCs(csSel, newCpl);
      }
      this.push(psize, flags, 0);
      this.push(psize, oldCs, 0);
      this.push(psize, nextRip, 0);
      if (errorCode >= 0) this.push(psize, errorCode, 0);
      this.rip = gate32 ? offset : offset & 0xffff;
    }
    let nf = flags & ~(EFLAGS.TF | EFLAGS.NT | EFLAGS.VM | EFLAGS.RF);
    if (!isTrap) nf &= ~EFLAGS.IF;
    setFlags(this, nf);
  }

  // =====================================================================================
  // Embedder interface
  // =====================================================================================

  /**
   * Queues an external (maskable) interrupt; it is delivered when RFLAGS.IF allows and wakes
   * HLT. A second call before delivery replaces the first (an interrupt controller queues more).
   */
  injectInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) {
      throw new X86CpuError('INVALID_ARGUMENT', `interrupt vector ${vector} is not 0..255`);
    }
    this.pendingInterrupt = vector;
  }

  /** True when a queued external interrupt is waiting for IF. */
  hasPendingInterrupt(): boolean {
    return this.pendingInterrupt >= 0;
  }

  /** Queues an exception (with `errorCode`, or -1 for none) for delivery at the next {@link X86Cpu.run}. */
  injectException(vector: number, errorCode = -1): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 31) {
      throw new X86CpuError('INVALID_ARGUMENT', `exception vector ${vector} is not 0..31`);
    }
    this.pendingException = vector;
    this.pendingErrorCode = errorCode;
    this.halted = false;
  }

  /** Completes an IO_IN exit: writes `value` to AL/AX/EAX (the instruction has retired). */
  completeIoIn(value: number): void {
    const p = this.pendingIo;
    if (p[0] === 3) {
      finishIns(this, value);
      p[0] = 0;
      return;
    }
    if (p[0] !== 1) throw new X86CpuError('INVALID_STATE', 'no IN is waiting for completion');
    const size = p[1];
    this.rex = 0;
    if (size === 1) this.setReg(8, 0, value, 0);
    else if (size === 2) this.setReg(16, 0, value, 0);
    else this.setReg(32, 0, value | 0, 0);
    p[0] = 0;
  }

  /** Completes an MMIO_READ exit: the faulting instruction re-executes and reads `value`. */
  completeMmioRead(value: number): void {
    const p = this.pendingIo;
    p[0] = 2;
    p[1] = this.exit.address;
    p[2] = this.exit.size;
    p[3] = this.exit.size === 4 ? value | 0 : value & (this.exit.size === 1 ? 0xff : 0xffff);
  }

  // =====================================================================================
  // State
  // =====================================================================================

  /** The complete state as plain data. */
  getState(): CpuState {
    const segments: SegmentState[] = [];
    for (let s = 0; s < 8; s++) {
      segments.push({
        selector: this.segSel[s],
        base: this.segBase[s],
        limit: this.segLimit[s] >>> 0,
        attr: this.segAttr[s],
      });
    }
    const msrs: [number, number, number][] = [...this.msrs.entries()]
      .sort((a, b) => (a[0] >>> 0) - (b[0] >>> 0))
      .map(([k, v]) => [k, v[0], v[1]]);
    return {
      gprLo: Array.from(this.lo),
      gprHi: Array.from(this.hi),
      rip: this.rip,
      rflags: getFlags(this),
      segments,
      gdtBase: this.gdtBase,
      gdtLimit: this.gdtLimit,
      idtBase: this.idtBase,
      idtLimit: this.idtLimit,
      cr0: this.cr0,
      cr2: this.cr2,
      cr3: this.cr3,
      cr4: this.cr4,
      cr8: this.cr8,
      dr: Array.from(this.dr),
      efer: this.efer,
      msrs,
      cpl: this.cpl,
      halted: this.halted,
      pendingInterrupt: this.pendingInterrupt,
      pendingException: this.pendingException,
      pendingErrorCode: this.pendingErrorCode,
      interruptShadow: this.interruptShadow,
      pendingIo: Array.from(this.pendingIo),
      tscOffset: this.tscOffset,
      fpu: this.fpu.getState(),
    };
  }

  /** Replaces the complete state (validates shapes; flushes the TLB). */
  setState(s: CpuState): void {
    if (s.gprLo.length !== 16 || s.gprHi.length !== 16 || s.segments.length !== 8) {
      throw new X86CpuError('INVALID_STATE', 'state needs 16 GPR halves and 8 segments');
    }
    for (let i = 0; i < 16; i++) {
      this.lo[i] = s.gprLo[i];
      this.hi[i] = s.gprHi[i];
    }
    this.rip = s.rip;
    setFlags(this, s.rflags);
    for (let i = 0; i < 8; i++) {
      const g = s.segments[i];
      this.segSel[i] = g.selector;
      this.segBase[i] = g.base;
      this.segLimit[i] = g.limit | 0;
      this.segAttr[i] = g.attr;
    }
    this.gdtBase = s.gdtBase;
    this.gdtLimit = s.gdtLimit;
    this.idtBase = s.idtBase;
    this.idtLimit = s.idtLimit;
    this.cr0 = s.cr0;
    this.cr2 = s.cr2;
    this.cr3 = s.cr3;
    this.cr4 = s.cr4;
    this.cr8 = s.cr8;
    for (let i = 0; i < 8; i++) this.dr[i] = s.dr[i] ?? 0;
    this.efer = s.efer;
    this.msrs.clear();
    for (const [k, l, h] of s.msrs) this.msrs.set(k, [l, h]);
    this.cpl = s.cpl;
    this.halted = s.halted;
    this.pendingInterrupt = s.pendingInterrupt;
    this.pendingException = s.pendingException;
    this.pendingErrorCode = s.pendingErrorCode;
    this.interruptShadow = s.interruptShadow;
    for (let i = 0; i < 4; i++) this.pendingIo[i] = s.pendingIo[i] ?? 0;
    this.tscOffset = s.tscOffset;
    if (s.fpu === undefined) this.fpu.reset();
    else if (validFpuState(s.fpu)) this.fpu.setState(s.fpu);
    else throw new X86CpuError('INVALID_STATE', 'fpu state needs 24 x87 words and 64 XMM dwords');
    this.flushTlb();
    this.updateMode();
  }

  /** @internal Reads an MSR from the built-in file; raises #GP(0) for unknown ones. Returns low, high in `tmpHi`. */
  readMsr(index: number): number {
    switch (index) {
      case MSR.IA32_EFER:
        this.tmpHi = 0;
        return this.efer;
      case MSR.IA32_FS_BASE:
      case MSR.IA32_GS_BASE: {
        const b = this.segBase[index === MSR.IA32_FS_BASE ? SEG.FS : SEG.GS];
        this.tmpHi = Math.floor(b / TWO32) | 0;
        return (b % TWO32) | 0;
      }
      case MSR.IA32_TIME_STAMP_COUNTER: {
        const t = this.time.readTsc() + this.tscOffset;
        this.tmpHi = Math.floor(t / TWO32) | 0;
        return (t % TWO32) | 0;
      }
    }
    const v = this.msrs.get(index);
    if (v !== undefined) {
      this.tmpHi = v[1];
      return v[0];
    }
    if (KNOWN_MSRS.has(index)) {
      this.tmpHi = 0;
      return index === MSR.IA32_PAT
        ? 0x00070406
        : index === MSR.IA32_APIC_BASE
          ? 0xfee00900 | 0
          : 0;
    }
    return this.gp(0);
  }

  /** @internal Writes an MSR in the built-in file; raises #GP(0) for unknown ones or bad values. */
  writeMsr(index: number, lo: number, hi: number): void {
    switch (index) {
      case MSR.IA32_EFER: {
        if ((lo & ~(EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE)) !== 0 || hi !== 0) this.gp(0);
        const lme = (lo & EFER.LME) !== 0;
        if ((this.cr0 & CR0.PG) !== 0 && lme !== ((this.efer & EFER.LME) !== 0)) this.gp(0);
        this.efer = (lo & ~EFER.LMA) | (this.efer & EFER.LMA);
        this.flushTlb();
        this.updateMode();
        return;
      }
      case MSR.IA32_FS_BASE:
      case MSR.IA32_GS_BASE:
      case MSR.IA32_KERNEL_GS_BASE:
      case MSR.IA32_LSTAR:
      case MSR.IA32_CSTAR: {
        if (hi !== lo >> 31 && hi >> 15 !== 0 && hi >> 15 !== -1) this.gp(0);
        const n = hi * TWO32 + (lo >>> 0);
        if (n < -0x800000000000 || n >= 0x800000000000) this.gp(0);
        if (index === MSR.IA32_FS_BASE) this.segBase[SEG.FS] = n;
        else if (index === MSR.IA32_GS_BASE) this.segBase[SEG.GS] = n;
        else this.msrs.set(index, [lo, hi]);
        return;
      }
      case MSR.IA32_TIME_STAMP_COUNTER:
        this.tscOffset = hi * TWO32 + (lo >>> 0) - this.time.readTsc();
        return;
    }
    if (!KNOWN_MSRS.has(index)) this.gp(0);
    this.msrs.set(index, [lo, hi]);
  }
}

const KNOWN_MSRS: Set<number> = /* @__PURE__ */ new Set<number>([
  MSR.IA32_APIC_BASE,
  MSR.IA32_SYSENTER_CS,
  MSR.IA32_SYSENTER_ESP,
  MSR.IA32_SYSENTER_EIP,
  MSR.IA32_PAT,
  MSR.IA32_STAR,
  MSR.IA32_LSTAR,
  MSR.IA32_CSTAR,
  MSR.IA32_FMASK,
  MSR.IA32_KERNEL_GS_BASE,
  MSR.IA32_TSC_AUX,
]);

/** @internal Wraps a JS number to a signed 64-bit value representable as a double (mod 2^64). */
export function wrap64(n: number): number {
  if (n >= -TWO63 && n < TWO63) return n;
  const m = n % TWO64;
  if (m >= TWO63) return m - TWO64;
  if (m < -TWO63) return m + TWO64;
  return m;
}
