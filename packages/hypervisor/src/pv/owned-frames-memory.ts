/**
 * A PV domain's memory as the core families see it: a 64-bit PV guest is not translated, so the
 * frame numbers it hands to grant-table and event-channel code (gmfns, grant frames,
 * shared_info) are machine frames, and it may name exactly the frames it owns.
 * @see xen/common/grant_table.c (gnttab_copy_buf / get_page_from_gfn on a PV domain)
 */
import type { GuestMemory } from '../guest-memory.ts';
import type { MachineBytesPort } from './ports.ts';

/** Per-machine-frame ownership (`@typevisor/mmu`'s `FrameTable` has this shape). */
export interface FrameOwnerPort {
  /** The owning domain of each machine frame. */
  readonly owner: ArrayLike<number>;
}

/** Machine memory restricted to the frames one domain owns, addressed by machine address. */
export class OwnedFramesMemory implements GuestMemory {
  private readonly frames: FrameOwnerPort;
  private readonly machine: MachineBytesPort;
  private readonly domid: number;

  /** The frames of `machine` that `frames` says `domid` owns. */
  constructor(frames: FrameOwnerPort, machine: MachineBytesPort, domid: number) {
    this.frames = frames;
    this.machine = machine;
    this.domid = domid;
  }

  /** Whether the domain owns machine frame `mfn`. */
  hasFrame(mfn: number): boolean {
    return (
      Number.isSafeInteger(mfn) &&
      mfn >= 0 &&
      mfn < this.machine.frames &&
      this.frames.owner[mfn] === this.domid
    );
  }

  private ok(address: number, length: number): boolean {
    if (!Number.isSafeInteger(address) || address < 0 || length < 0) return false;
    if (length === 0) return true;
    const last = Math.floor((address + length - 1) / 4096);
    for (let mfn = Math.floor(address / 4096); mfn <= last; mfn++) {
      if (!this.hasFrame(mfn)) return false;
    }
    return true;
  }

  /** Copies bytes at machine address `address` into `dst`; false if any frame is not owned. */
  read(address: number, dst: Uint8Array): boolean {
    if (!this.ok(address, dst.length)) return false;
    for (let i = 0; i < dst.length; i++) dst[i] = this.machine.readMa8(address + i);
    return true;
  }

  /** Copies `src` to machine address `address`; false, writing nothing, if any frame is not owned. */
  write(address: number, src: Uint8Array): boolean {
    if (!this.ok(address, src.length)) return false;
    for (let i = 0; i < src.length; i++) this.machine.writeMa8(address + i, src[i] ?? 0);
    return true;
  }
}
