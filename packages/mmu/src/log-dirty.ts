/**
 * Log-dirty mode for live migration: while enabled for a domain, every guest page written is
 * marked in a per-PFN bitmap that the toolstack can peek at and clean (Xen's
 * `XEN_DOMCTL_SHADOW_OP_PEEK` / `_CLEAN`).
 *
 * Writes are caught at TLB-fill time: a {@link Translator} with a dirty log grants write
 * permission only on a write access and marks the frame then; enabling and cleaning flush the
 * domain's TLBs so the next write to every page misses again (the role write-protection plays
 * in Xen's shadow/HAP log-dirty). Writes made by the hypervisor itself (validated PTE updates,
 * `CLEAR_PAGE`, `COPY_PAGE`) are marked by {@link PvMm}. Given the machine's memory
 * ({@link DirtyLogOptions.memory}), the log also watches every write made through
 * {@link MachineMemory}'s writers while some domain is in log-dirty mode (hypervisor writes into
 * shared_info and vcpu_info, grant copies, PTE updates, the CPU model's stores through the
 * hypervisor's physical-memory port).
 * @see xen/arch/x86/mm/paging.c (paging_mark_dirty, paging_log_dirty_op)
 * @module
 */
import { INVALID_P2M_ENTRY } from './abi.ts';
import type { FrameTable } from './frame-table.ts';
import type { MachineMemory } from './machine-memory.ts';
import type { TlbFlushPort } from './pv/ports.ts';

/** Options of {@link DirtyLog}. */
export interface DirtyLogOptions {
  /**
   * The machine's memory: while any domain is in log-dirty mode the log is its
   * {@link MachineMemory.writeWatch}, so every write through its writers is marked.
   */
  readonly memory?: MachineMemory;
}

/** Statistics of one domain's log since enabling or the last clean (`xen_domctl_shadow_op_stats`). */
export interface DirtyLogStats {
  /** Marks recorded (Xen's `fault_count`: every write reported, repeated or not). */
  readonly faultCount: number;
  /** Pages newly marked dirty (Xen's `dirty_count`). */
  readonly dirtyCount: number;
}

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
  private readonly memory: MachineMemory | null;
  private readonly faults: Map<number, number>;
  private readonly dirty: Map<number, number>;
  /**
   * The frame marked last, with its owner and PFN then (repeated writes to one page skip the
   * lookups while all three are unchanged); -1 after enable, disable and clean.
   */
  private lastMfn: number;
  private lastOwner: number;
  private lastPfn: number;
  /** Number of marks recorded (statistics). */
  marks: number;

  /** Creates a log over `frames` (for owners and the M2P). */
  constructor(frames: FrameTable, options: DirtyLogOptions = {}) {
    this.frames = frames;
    this.bitmaps = new Map();
    this.tlbs = new Map();
    this.memory = options.memory ?? null;
    this.faults = new Map();
    this.dirty = new Map();
    this.lastMfn = -1;
    this.lastOwner = -1;
    this.lastPfn = -1;
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
    this.faults.set(domid, 0);
    this.dirty.set(domid, 0);
    this.lastMfn = -1;
    if (this.memory !== null) this.memory.writeWatch = this;
    this.flush(domid);
  }

  /** Stops log-dirty mode for `domid`. */
  disable(domid: number): void {
    this.bitmaps.delete(domid);
    this.faults.delete(domid);
    this.dirty.delete(domid);
    this.lastMfn = -1;
    if (this.memory !== null && this.bitmaps.size === 0 && this.memory.writeWatch === this) {
      this.memory.writeWatch = null;
    }
  }

  /** Number of PFNs `domid`'s bitmap covers (0 when not enabled; it grows with the domain). */
  pages(domid: number): number {
    return (this.bitmaps.get(domid)?.length ?? 0) * 8;
  }

  /** Statistics since enabling or the last clean, or null when not enabled. */
  stats(domid: number): DirtyLogStats | null {
    const f = this.faults.get(domid);
    if (f === undefined) return null;
    return { faultCount: f, dirtyCount: this.dirty.get(domid) ?? 0 };
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
    if (this.bitmaps.size === 0 || !(mfn >= 0 && mfn < this.frames.frames)) return;
    const owner = this.frames.owner[mfn];
    if (mfn === this.lastMfn && owner === this.lastOwner && this.frames.m2p[mfn] === this.lastPfn)
      return;
    let bm = this.bitmaps.get(owner);
    if (bm === undefined) return;
    const pfn = this.frames.m2p[mfn];
    if (pfn === INVALID_P2M_ENTRY) return;
    if (pfn >>> 3 >= bm.length) {
      // A PFN past the bitmap (the domain grew, e.g. ballooned up): the bitmap grows, as Xen's
      // log-dirty trie does.
      const grown = new Uint8Array(Math.max((pfn >>> 3) + 1, bm.length * 2));
      grown.set(bm);
      this.bitmaps.set(owner, grown);
      bm = grown;
    }
    const bit = 1 << (pfn & 7);
    const faults = this.faults.get(owner) ?? 0;
    this.faults.set(owner, faults + 1);
    if ((bm[pfn >>> 3] & bit) === 0) {
      bm[pfn >>> 3] |= bit;
      this.dirty.set(owner, (this.dirty.get(owner) ?? 0) + 1);
    }
    this.lastMfn = mfn;
    this.lastOwner = owner;
    this.lastPfn = pfn;
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
    this.faults.set(domid, 0);
    this.dirty.set(domid, 0);
    this.lastMfn = -1;
    this.flush(domid);
    return out;
  }

  private flush(domid: number): void {
    for (const t of this.tlbs.get(domid) ?? []) t.flush(true);
  }
}
