/**
 * `@typevisor/x86-cpu`: an x86-64 CPU model that runs machine code and returns VM exits.
 *
 * @example
 * ```ts
 * import { EXIT, FlatRam, X86Cpu } from '@typevisor/x86-cpu';
 * const ram = new FlatRam(1 << 20);
 * ram.load(0xffff0, Uint8Array.of(0xb0, 0x41, 0xe6, 0xe9, 0xf4)); // mov al,'A'; out 0xe9,al; hlt
 * const cpu = X86Cpu.create({ memory: ram });
 * cpu.segBase[1] = 0; // run the reset vector from the low copy
 * cpu.run(100) === EXIT.IO_OUT; // cpu.exit.port === 0xe9, cpu.exit.value === 0x41
 * ```
 * @module
 */
export {
  CR0,
  CR4,
  EFER,
  EFLAGS,
  EXIT,
  type ExitReason,
  GPR,
  MSR,
  PF_ERR,
  SEG,
  VECTOR,
} from './constants.ts';
export { type CpuOptions, type ExitInfo, X86Cpu } from './cpu.ts';
export { type Handler, OPCODE_TABLE, type OpcodeRow } from './decode/table.ts';
export { type Disassembly, disassemble, traceLine } from './disasm.ts';
export { X86CpuError, type X86CpuErrorCode } from './errors.ts';
export { type FpuState, MXCSR } from './fpu/fpu-state.ts';
export { FlatRam } from './memory.ts';
export {
  ACCESS,
  BuiltinPageWalker,
  createWalkRequest,
  type PageWalker,
  type WalkRequest,
} from './paging.ts';
export type { CpuidResult, Intercepts, PhysicalMemory, TimeSource } from './ports.ts';
export type { CpuState, SegmentState } from './state.ts';
