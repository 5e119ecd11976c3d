import type { FpuState } from './fpu/fpu-state.ts';

/**
 * The complete vCPU state as plain JSON-safe data, for save/restore and migration.
 */

/** A segment register with its hidden descriptor cache. @see Intel SDM Vol. 3A §3.4.3 */
export interface SegmentState {
  /** The visible selector. */
  selector: number;
  /** The cached base (a canonical signed number for FS/GS in long mode). */
  base: number;
  /** The cached limit in bytes minus one, unsigned. */
  limit: number;
  /** The cached attributes: descriptor bits 40..47 in 0..7 and 52..55 in 12..15 (VMX layout). */
  attr: number;
}

/** Everything a vCPU holds. Numbers only; `getState()` → `fromState()` is bit-exact. */
export interface CpuState {
  /** RAX..R15 low halves as signed int32. */
  gprLo: number[];
  /** RAX..R15 high halves as signed int32. */
  gprHi: number[];
  /** RIP: unsigned 32-bit outside long mode, a canonical signed number in 64-bit mode. */
  rip: number;
  /** RFLAGS (fully materialized). */
  rflags: number;
  /** ES, CS, SS, DS, FS, GS, LDTR, TR. */
  segments: SegmentState[];
  /** GDTR base. */ gdtBase: number;
  /** GDTR limit. */ gdtLimit: number;
  /** IDTR base. */ idtBase: number;
  /** IDTR limit. */ idtLimit: number;
  /** CR0. */ cr0: number;
  /** CR2 (last page-fault linear address). */ cr2: number;
  /** CR3. */ cr3: number;
  /** CR4. */ cr4: number;
  /** CR8 (task priority). */ cr8: number;
  /** DR0..DR7 as stored values. */
  dr: number[];
  /** IA32_EFER. */ efer: number;
  /** Other MSRs as `[index, low, high]` triples, sorted by index. */
  msrs: [number, number, number][];
  /** Current privilege level. */ cpl: number;
  /** True while halted (HLT). */ halted: boolean;
  /** A pending external interrupt vector, or -1. */ pendingInterrupt: number;
  /** A pending injected exception vector, or -1. */ pendingException: number;
  /** Its error code, or -1 when it has none. */ pendingErrorCode: number;
  /** True for the one instruction after MOV SS/POP SS/STI during which interrupts are blocked. */
  interruptShadow: boolean;
  /** Pending IN/MMIO-read completion state: `[kind, a, b, c]` (0 = none). */
  pendingIo: number[];
  /** Offset added to the time source for RDTSC. */
  tscOffset: number;
  /** x87, MXCSR and XMM state; absent in states saved before it existed (loaded as the reset state). */
  fpu?: FpuState;
}
