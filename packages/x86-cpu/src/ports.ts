/**
 * The ports the CPU model talks through. Anything that satisfies these interfaces
 * structurally (for example `@typevisor/mmu`'s physical memory) can be plugged in.
 */

/**
 * Guest physical memory as the CPU sees it. Accesses are little-endian and never cross a
 * 4 KiB page (the CPU splits them). Whether a page is RAM is asked once per page and cached
 * in the CPU's TLB until the next flush: accesses to pages that are not RAM become MMIO exits.
 * The CPU caches decoded instructions by physical address; the embedder may write guest memory
 * (code included) between `run` calls: in every `run`, a page's cached code is checked against
 * the page's contents before its first use.
 */
export interface PhysicalMemory {
  /**
   * Optional direct view of RAM from physical address 0. When present, the CPU reads and
   * writes RAM pages below `bytes.length` through it instead of calling the methods below
   * (bench/x86-cpu/compute.bench.ts: with the IMUL fix, 2–3 → 7–11 MIPS on a loaded 2-core host).
   */
  readonly bytes?: Uint8Array;
  /** True when the 4 KiB page holding `pa` is backed by RAM (or ROM) rather than MMIO. */
  isRam(pa: number): boolean;
  /** Reads an unsigned byte at `pa`. */
  read8(pa: number): number;
  /** Reads an unsigned 16-bit value at `pa` (never crosses a page). */
  read16(pa: number): number;
  /** Reads a 32-bit value at `pa` as a signed int32 (never crosses a page). */
  read32(pa: number): number;
  /** Writes the low byte of `v` at `pa`. */
  write8(pa: number, v: number): void;
  /** Writes the low 16 bits of `v` at `pa` (never crosses a page). */
  write16(pa: number, v: number): void;
  /** Writes the 32-bit value `v` at `pa` (never crosses a page). */
  write32(pa: number, v: number): void;
  /**
   * Optional, for ports without {@link PhysicalMemory.bytes}: whether the RAM page at `pa`
   * (4 KiB aligned) holds exactly `words` (1024 little-endian int32). The decode cache checks its
   * snapshot of each code page on the page's first use in a `run()`; without this method that
   * is 1024 `read32` calls, which made every exit to the embedder cost a few microseconds
   * (bench/hypervisor/null-hypercall.bench.ts).
   */
  pageEquals?(pa: number, words: Int32Array): boolean;
  /** Optional companion of {@link PhysicalMemory.pageEquals}: copies the RAM page at `pa` into `out`. */
  readPage?(pa: number, out: Int32Array): void;
  /**
   * Optional, for ports without {@link PhysicalMemory.bytes} (memory held in chunks): the bytes
   * holding the RAM page at `pa` below 4 GiB, so the CPU's TLB loads and stores it directly
   * instead of calling the methods above. The view is a naturally aligned block of guest
   * physical memory: its length is a power of two from 4096 to 2^30, its `byteOffset` a multiple
   * of 4, and the byte at `pa` is `view[pa & (view.length - 1)]`. The CPU asks with `write` true
   * on the first store to the page after each TLB fill (a write walk) and stores through the view
   * without calling the port again until {@link X86Cpu}'s `flushTlb()`; a port that must see each
   * store to a page (write-protected, dirty-tracked) marks the page here or returns undefined,
   * and a port whose page reads as zeros without storage returns undefined for reads. The CPU
   * keeps the views it was given until it is discarded: a view must stay the page's storage.
   */
  pageView?(pa: number, write: boolean): Uint8Array | undefined;
}

/** A source of time for RDTSC/RDTSCP. Tests use a deterministic one. */
export interface TimeSource {
  /** The current time-stamp counter as a non-negative integer below 2^53. */
  readTsc(): number;
}

/** The four registers a CPUID leaf returns. */
export interface CpuidResult {
  /** EAX. */ eax: number;
  /** EBX. */ ebx: number;
  /** ECX. */ ecx: number;
  /** EDX. */ edx: number;
}

/** Which events {@link X86Cpu.run} returns to the embedder instead of handling itself. */
export interface Intercepts {
  /** Exit on CPUID instead of answering from the configured leaves. */
  cpuid: boolean;
  /** Exit on RDMSR/WRMSR instead of using the built-in MSR file. */
  msr: boolean;
  /** Exit on SYSCALL instead of performing it. */
  syscall: boolean;
  /** Software-interrupt vectors (`INT n`) that exit instead of going through the IVT/IDT, e.g. `[0x82]`. */
  softwareInterrupts: readonly number[];
  /** Bit mask over exception vectors 0..31 that exit before delivery (like VT-x's exception bitmap). */
  exceptionBitmap: number;
}
