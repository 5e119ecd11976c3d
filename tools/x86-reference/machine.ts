/**
 * The harness's fixed machine layout (mirrors the constants at the top of harness.asm) and the
 * register naming shared by the generator, the vector files and the live check.
 */
import type { Mode } from './table.ts';

/** Linear (= physical) address every instruction under test executes at (32/64-bit modes). */
export const EXEC_SLOT = 0x101000;
/** Linear (= physical) address of the memory window (32/64-bit modes). */
export const WINDOW = 0x200000;
/** Real mode: CS = DS = ES = SS = 0; the exec slot and window sit below 64 KiB. */
export const EXEC_SLOT_16 = 0x7000;
/** Real-mode memory window. */
export const WINDOW_16 = 0x8000;
/** Size in bytes of the memory window. */
export const WINDOW_SIZE = 64;

/** Where a mode's cases execute (initial RIP/IP). */
export function execSlot(mode: Mode): number {
  return mode === 16 ? EXEC_SLOT_16 : EXEC_SLOT;
}

/** A mode's memory window address. */
export function windowBase(mode: Mode): number {
  return mode === 16 ? WINDOW_16 : WINDOW;
}

/** Initial RSP/ESP/SP of every case: the middle of the window, so pushes and pops land in it. */
export function stackTop(mode: Mode): number {
  return windowBase(mode) + 32;
}
/** EFLAGS bits a case may start with: OF DF SF ZF AF PF CF (IF, TF and friends stay clear). */
export const RANDOM_FLAGS = 0xcd5;
/** EFLAGS bit 1, always set. */
export const FLAGS_FIXED = 0x2;

/** GPR names in encoding order; 16/32-bit modes use the first eight (values are 32-bit there). */
export const GPR_NAMES: readonly string[] = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];

const NAMES_32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const NAMES_16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const NAMES_8_LEGACY = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const NAMES_8_REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];

/** Number of GPRs in a mode. */
export function gprCount(mode: Mode): number {
  return mode === 64 ? 16 : 8;
}

/** Width in bits of a GPR in a mode. */
export function gprBits(mode: Mode): number {
  return mode === 64 ? 64 : 32;
}

/**
 * The nasm name of a register. `legacyHigh` selects AH/CH/DH/BH for 8-bit indices 4-7 instead of
 * SPL/BPL/SIL/DIL.
 */
export function regName(index: number, bits: number, legacyHigh: boolean): string {
  if (index >= 8) {
    const base = `r${index}`;
    return bits === 64 ? base : bits === 32 ? `${base}d` : bits === 16 ? `${base}w` : `${base}b`;
  }
  const name =
    bits === 64
      ? GPR_NAMES[index]
      : bits === 32
        ? NAMES_32[index]
        : bits === 16
          ? NAMES_16[index]
          : legacyHigh
            ? NAMES_8_LEGACY[index]
            : NAMES_8_REX[index];
  if (name === undefined) throw new Error(`no register ${index}/${bits}`);
  return name;
}

/** nasm size keyword for an operand width. */
export function sizeKeyword(bits: number): string {
  return bits === 8
    ? 'byte'
    : bits === 16
      ? 'word'
      : bits === 32
        ? 'dword'
        : bits === 64
          ? 'qword'
          : 'oword';
}

/** Full architectural state a case starts from or ends in. */
export interface CpuState {
  /** GPRs in encoding order (8 in 32-bit mode, 16 in 64-bit mode), unsigned. */
  regs: bigint[];
  /** EFLAGS/RFLAGS. */
  rflags: bigint;
  /** The memory window's bytes. */
  mem: Uint8Array;
}

/** Zero-padded lower-case hex of an unsigned value. */
export function hex(value: bigint, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

/** Hex of a byte array. */
export function bytesHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
