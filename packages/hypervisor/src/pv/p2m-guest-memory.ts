/**
 * A domain's pseudo-physical memory over machine memory and its P2M, as the {@link GuestMemory}
 * port the event-channel and grant-table code stand on: shared_info, grant frames and granted
 * pages are then the very machine frames the PV guest maps.
 */
import type { GuestMemory } from '../guest-memory.ts';
import type { MachineBytesPort } from './ports.ts';

/** A domain's PFN → MFN table (`@typevisor/mmu`'s `P2m`); unpopulated PFNs give `INVALID_MFN`. */
export interface P2mPort {
  /** The MFN backing `pfn` (out-of-range or unpopulated: a value ≥ the machine's frame count). */
  get(pfn: number): number;
}

/** Guest-physical memory of one domain, translated through its P2M to machine memory. */
export class P2mGuestMemory implements GuestMemory {
  private readonly p2m: P2mPort;
  private readonly machine: MachineBytesPort;

  /** Views `machine` through `p2m`. */
  constructor(p2m: P2mPort, machine: MachineBytesPort) {
    this.p2m = p2m;
    this.machine = machine;
  }

  /** The MFN of `pfn`, or -1 if the domain does not have it. */
  private mfn(pfn: number): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0) return -1;
    const mfn = this.p2m.get(pfn);
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.machine.frames ? mfn : -1;
  }

  /** Whether the domain has pseudo-physical frame `pfn`. */
  hasFrame(pfn: number): boolean {
    return this.mfn(pfn) >= 0;
  }

  private ok(address: number, length: number): boolean {
    if (!Number.isSafeInteger(address) || address < 0 || length < 0) return false;
    if (length === 0) return true;
    const last = Math.floor((address + length - 1) / 4096);
    for (let pfn = Math.floor(address / 4096); pfn <= last; pfn++) {
      if (this.mfn(pfn) < 0) return false;
    }
    return true;
  }

  /** Copies guest-physical bytes at `address` into `dst`; false if any frame is missing. */
  read(address: number, dst: Uint8Array): boolean {
    if (!this.ok(address, dst.length)) return false;
    for (let i = 0; i < dst.length; i++) {
      const a = address + i;
      dst[i] = this.machine.readMa8(this.mfn(Math.floor(a / 4096)) * 4096 + (a % 4096));
    }
    return true;
  }

  /** Copies `src` to guest-physical `address`; false, writing nothing, if any frame is missing. */
  write(address: number, src: Uint8Array): boolean {
    if (!this.ok(address, src.length)) return false;
    for (let i = 0; i < src.length; i++) {
      const a = address + i;
      this.machine.writeMa8(this.mfn(Math.floor(a / 4096)) * 4096 + (a % 4096), src[i] ?? 0);
    }
    return true;
  }
}
