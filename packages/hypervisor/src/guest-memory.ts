/**
 * The guest-memory ports the hypervisor core stands on, and a paged in-memory implementation.
 *
 * Addresses are byte addresses (`frame * 4096 + offset`) as plain numbers (safe integers).
 * Implementations never throw for guest-chosen addresses: they return `false` instead.
 */
import { HypervisorError } from './errors.ts';

/** Size of a guest frame in bytes. */
export const PAGE_SIZE = 4096;

/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT = 12;

/**
 * A byte-addressed view of guest memory: a domain's pseudo-physical memory, or (for hypercall
 * arguments) the address space the calling vCPU sees.
 */
export interface GuestBytes {
  /**
   * Copies `dst.length` bytes starting at `address` into `dst`. Returns `false` if any byte lies
   * outside memory the domain has (the contents of `dst` are then unspecified).
   */
  read(address: number, dst: Uint8Array): boolean;
  /**
   * Copies `src` to guest memory at `address`. Returns `false`, writing nothing, if any byte lies
   * outside memory the domain has.
   */
  write(address: number, src: Uint8Array): boolean;
}

/** A domain's pseudo-physical memory: {@link GuestBytes} plus frame ownership. */
export interface GuestMemory extends GuestBytes {
  /** Whether the domain currently has pseudo-physical frame `pfn` (any non-integer is `false`). */
  hasFrame(pfn: number): boolean;
}

/**
 * Guest memory held in one `ArrayBuffer` of `nrFrames` frames, each present or absent
 * (ballooned out, never populated). Used by tests and by embedders without an MMU.
 */
export class PagedGuestMemory implements GuestMemory {
  /** The backing bytes of all frames, present or not. */
  readonly bytes: Uint8Array;
  /** Number of frames the buffer spans. */
  readonly nrFrames: number;
  private readonly present: Uint8Array;

  /** Creates memory spanning `nrFrames` frames; all present unless `present` is false. */
  constructor(nrFrames: number, options: { present?: boolean } = {}) {
    if (!Number.isInteger(nrFrames) || nrFrames < 0 || nrFrames > 1 << 20) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `nrFrames must be an integer in 0..2^20, got ${nrFrames}`,
      );
    }
    this.nrFrames = nrFrames;
    this.bytes = new Uint8Array(nrFrames * PAGE_SIZE);
    this.present = new Uint8Array(nrFrames).fill(options.present === false ? 0 : 1);
  }

  /** Makes frame `pfn` present (zero-filled if it was absent). */
  addFrame(pfn: number): void {
    this.checkPfn(pfn);
    if (this.present[pfn] === 0) this.bytes.fill(0, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
    this.present[pfn] = 1;
  }

  /** Makes frame `pfn` absent: guest accesses to it fail from now on. */
  removeFrame(pfn: number): void {
    this.checkPfn(pfn);
    this.present[pfn] = 0;
  }

  /** Whether frame `pfn` is present. */
  hasFrame(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.nrFrames && this.present[pfn] === 1;
  }

  /** Copies guest bytes out; `false` if any byte is outside present frames. */
  read(address: number, dst: Uint8Array): boolean {
    const n = dst.length;
    if (!this.rangeOk(address, n)) return false;
    const bytes = this.bytes;
    // Small accesses (bitmap bytes, argument structs) copy by hand: a subarray view per call costs
    // about half of an event-channel send (bench/hypervisor/evtchn-send.bench.ts).
    if (n <= 64) for (let i = 0; i < n; i++) dst[i] = bytes[address + i] ?? 0;
    else dst.set(bytes.subarray(address, address + n));
    return true;
  }

  /** Copies bytes into the guest; `false` (nothing written) if any byte is outside present frames. */
  write(address: number, src: Uint8Array): boolean {
    const n = src.length;
    if (!this.rangeOk(address, n)) return false;
    const bytes = this.bytes;
    if (n <= 64) for (let i = 0; i < n; i++) bytes[address + i] = src[i] ?? 0;
    else bytes.set(src, address);
    return true;
  }

  private rangeOk(address: number, length: number): boolean {
    if (!Number.isSafeInteger(address) || address < 0) return false;
    const end = address + length;
    if (end > this.bytes.length) return false;
    if (length === 0) return true;
    const first = address >>> PAGE_SHIFT;
    if (first === (end - 1) >>> PAGE_SHIFT) return this.present[first] === 1;
    for (let pfn = address >>> PAGE_SHIFT, last = (end - 1) >>> PAGE_SHIFT; pfn <= last; pfn++) {
      if (this.present[pfn] !== 1) return false;
    }
    return true;
  }

  private checkPfn(pfn: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.nrFrames) {
      throw new HypervisorError('INVALID_ARGUMENT', `frame ${pfn} outside 0..${this.nrFrames - 1}`);
    }
  }
}
