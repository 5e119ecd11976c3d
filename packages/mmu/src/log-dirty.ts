/**
 * Log-dirty mode for live migration: while enabled for a domain, every guest page written is
 * marked in a per-PFN bitmap that the toolstack can peek at and clean (Xen's
 * `XEN_DOMCTL_SHADOW_OP_PEEK` / `_CLEAN`).
 *
 * Writes are caught at TLB-fill time: a {@link Translator} with a dirty log grants write
 * permission only on a write access and marks the frame then; enabling and cleaning flush the
 * domain's TLBs so the next write to every page misses again (the role write-protection plays
 * in Xen's shadow/HAP log-dirty). Writes made by the hypervisor itself (validated PTE updates,
 * `CLEAR_PAGE`, `COPY_PAGE`) are marked by {@link PvMm}.
 * @see xen/arch/x86/mm/paging.c (paging_mark_dirty, paging_log_dirty_op)
 * @module
 */
import { INVALID_P2M_ENTRY } from './abi.ts';
import type { FrameTable } from './frame-table.ts';
import type { TlbFlushPort } from './pv/ports.ts';

/** Where writes are reported (a {@link DirtyLog} satisfies it). */
export interface DirtyMarker {
  /** Marks machine frame `mfn` as written (ignored unless its owner is in log-dirty mode). */
  markMfn(mfn: number): void;
  /** True when the owner of `mfn` is in log-dirty mode. */
  tracking(mfn: number): boolean;
}

/** Per-domain dirty bitmaps over PFNs. */
export class DirtyLog implements DirtyMarker {
  private readonly frames: FrameTable;
  private readonly bitmaps: Map<number, Uint8Array>;
  private readonly tlbs: Map<number, TlbFlushPort[]>;
  /** Number of marks recorded (statistics). */
  marks: number;

  /** Creates a log over `frames` (for owners and the M2P). */
  constructor(frames: FrameTable) {
    this.frames = frames;
    this.bitmaps = new Map();
    this.tlbs = new Map();
    this.marks = 0;
  }

  /** Registers a vCPU TLB of `domid`, flushed on enable and clean. */
  attachTlb(domid: number, tlb: TlbFlushPort): void {
    const list = this.tlbs.get(domid) ?? [];
    list.push(tlb);
    this.tlbs.set(domid, list);
  }

  /** Starts log-dirty mode for `domid` with an empty bitmap of `pfns` PFNs. */
  enable(domid: number, pfns: number): void {
    this.bitmaps.set(domid, new Uint8Array(Math.ceil(pfns / 8)));
    this.flush(domid);
  }

  /** Stops log-dirty mode for `domid`. */
  disable(domid: number): void {
    this.bitmaps.delete(domid);
  }

  /** Whether `domid` is in log-dirty mode. */
  enabled(domid: number): boolean {
    return this.bitmaps.has(domid);
  }

  /** {@inheritDoc DirtyMarker.tracking} */
  tracking(mfn: number): boolean {
    return this.bitmaps.size !== 0 && this.bitmaps.has(this.frames.owner[mfn]);
  }

  /** {@inheritDoc DirtyMarker.markMfn} */
  markMfn(mfn: number): void {
    if (this.bitmaps.size === 0 || mfn < 0 || mfn >= this.frames.frames) return;
    const bm = this.bitmaps.get(this.frames.owner[mfn]);
    if (bm === undefined) return;
    const pfn = this.frames.m2p[mfn];
    if (pfn === INVALID_P2M_ENTRY || pfn >>> 3 >= bm.length) return;
    bm[pfn >>> 3] |= 1 << (pfn & 7);
    this.marks++;
  }

  /** Returns a copy of `domid`'s bitmap (bit `pfn & 7` of byte `pfn >> 3`), or null if not enabled. */
  peek(domid: number): Uint8Array | null {
    const bm = this.bitmaps.get(domid);
    return bm === undefined ? null : bm.slice();
  }

  /** Returns the bitmap and clears it, flushing the domain's TLBs so new writes are caught. */
  clean(domid: number): Uint8Array | null {
    const bm = this.bitmaps.get(domid);
    if (bm === undefined) return null;
    const out = bm.slice();
    bm.fill(0);
    this.flush(domid);
    return out;
  }

  private flush(domid: number): void {
    for (const t of this.tlbs.get(domid) ?? []) t.flush(true);
  }
}
