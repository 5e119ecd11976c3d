/**
 * The frame table: per machine frame its owner, page type, type count, general reference count
 * and pin state (Xen's `struct page_info`), the global M2P table and the free-frame allocator.
 * @see xen/arch/x86/include/asm/mm.h (struct page_info, PGT_*), xen/arch/x86/mm.c
 * @module
 */
import { DOMID, INVALID_P2M_ENTRY, XEN_ERRNO } from './abi.ts';
import { MmuError } from './errors.ts';

/**
 * Page types (Xen's `PGT_*`, as small integers). A frame's type only changes while its type
 * count is zero; page-table types are validated when taken.
 * @see xen/arch/x86/include/asm/mm.h (PGT_none … PGT_writable_page)
 */
export const PGT: {
  readonly PGT_none: 0;
  readonly PGT_l1_page_table: 1;
  readonly PGT_l2_page_table: 2;
  readonly PGT_l3_page_table: 3;
  readonly PGT_l4_page_table: 4;
  readonly PGT_seg_desc_page: 5;
  readonly PGT_writable_page: 6;
  readonly PGT_pae_xen_l2: 0x100;
} = {
  PGT_none: 0,
  PGT_l1_page_table: 1,
  PGT_l2_page_table: 2,
  PGT_l3_page_table: 3,
  PGT_l4_page_table: 4,
  PGT_seg_desc_page: 5,
  PGT_writable_page: 6,
  PGT_pae_xen_l2: 0x100,
} as const;

/** Mask of the base type in a frame's type value (without the `PGT_pae_xen_l2` flag). */
export const PGT_TYPE_MASK: 0xff = 0xff;

/** Plain-data state of one in-use frame. */
export interface FrameState {
  /** Machine frame number. */
  readonly mfn: number;
  /** Owning domain id. */
  readonly owner: number;
  /** Page type value (`PGT`, possibly with `PGT_pae_xen_l2`). */
  readonly type: number;
  /** Type reference count. */
  readonly typeCount: number;
  /** General reference count. */
  readonly refCount: number;
  /** Whether the frame is pinned by its owner. */
  readonly pinned: boolean;
}

/** Plain-data state of a {@link FrameTable}. */
export interface FrameTableState {
  /** Number of frames in the machine. */
  readonly frames: number;
  /** Every frame with an owner, in MFN order. */
  readonly used: readonly FrameState[];
  /** M2P entries that are not `INVALID_P2M_ENTRY`, as `[mfn, pfn]` pairs. */
  readonly m2p: readonly (readonly [number, number])[];
}

/**
 * Per-frame bookkeeping for a machine of `frames` frames. Arrays are indexed by MFN.
 * Frames without an owner hold `DOMID_INVALID` and sit on the free list.
 */
export class FrameTable {
  /** Number of frames. */
  readonly frames: number;
  /** Owner domain per frame (`DOMID_INVALID` when free). */
  readonly owner: Int32Array;
  /** Page type per frame (`PGT` value). */
  readonly type: Int32Array;
  /** Type reference count per frame. */
  readonly typeCount: Int32Array;
  /** General reference count per frame (mappings, table references, pins, base pointers). */
  readonly refCount: Int32Array;
  /** Pin flag per frame. */
  readonly pinned: Uint8Array;
  /**
   * The global machine-to-physical table, readable by every domain (as Xen's
   * `machine_to_phys_mapping`): MFN → PFN, `INVALID_P2M_ENTRY` when unset.
   */
  readonly m2p: Uint32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly pagesPerDomain: Map<number, number>;

  /** Creates a table of `frames` free frames. */
  constructor(frames: number) {
    if (!Number.isInteger(frames) || frames <= 0) {
      throw new MmuError('INVALID_ARGUMENT', `frame count ${frames} is not a positive integer`);
    }
    this.frames = frames;
    this.owner = new Int32Array(frames).fill(DOMID.DOMID_INVALID);
    this.type = new Int32Array(frames);
    this.typeCount = new Int32Array(frames);
    this.refCount = new Int32Array(frames);
    this.pinned = new Uint8Array(frames);
    this.m2p = new Uint32Array(frames).fill(INVALID_P2M_ENTRY);
    this.freeStack = new Int32Array(frames);
    this.freeTop = 0;
    this.pagesPerDomain = new Map();
    // Push in descending order so that allocation hands out ascending MFNs.
    for (let mfn = frames - 1; mfn >= 0; mfn--) this.freeStack[this.freeTop++] = mfn;
  }

  /** Number of free frames. */
  get freeFrames(): number {
    return this.freeTop;
  }

  /** Number of frames owned by `domid`. */
  domainPages(domid: number): number {
    return this.pagesPerDomain.get(domid) ?? 0;
  }

  /** Hands a free frame to `domid`; returns its MFN, or -1 when the machine is full. */
  allocate(domid: number): number {
    if (this.freeTop === 0) return -1;
    const mfn = this.freeStack[--this.freeTop];
    this.claim(mfn, domid);
    return mfn;
  }

  private claim(mfn: number, domid: number): void {
    this.owner[mfn] = domid;
    this.type[mfn] = 0;
    this.typeCount[mfn] = 0;
    this.refCount[mfn] = 0;
    this.pinned[mfn] = 0;
    this.pagesPerDomain.set(domid, this.domainPages(domid) + 1);
  }

  /**
   * Returns frame `mfn` to the free list. Fails with `-EBUSY` (negative Xen errno) while any
   * reference is held, `-EINVAL` if the frame is not owned by `domid`; returns 0 on success.
   * The caller clears the frame's P2M slot; its M2P entry is reset here.
   */
  free(domid: number, mfn: number): number {
    if (mfn < 0 || mfn >= this.frames || this.owner[mfn] !== domid) return -XEN_ERRNO.EINVAL;
    if (this.refCount[mfn] !== 0 || this.typeCount[mfn] !== 0) return -XEN_ERRNO.EBUSY;
    this.owner[mfn] = DOMID.DOMID_INVALID;
    this.type[mfn] = 0;
    this.m2p[mfn] = INVALID_P2M_ENTRY;
    const left = this.domainPages(domid) - 1;
    if (left === 0) this.pagesPerDomain.delete(domid);
    else this.pagesPerDomain.set(domid, left);
    this.freeStack[this.freeTop++] = mfn;
    return 0;
  }

  /** Returns the plain-data state (in-use frames and set M2P entries). */
  getState(): FrameTableState {
    const used: FrameState[] = [];
    const m2p: [number, number][] = [];
    for (let mfn = 0; mfn < this.frames; mfn++) {
      if (this.owner[mfn] !== DOMID.DOMID_INVALID) {
        used.push({
          mfn,
          owner: this.owner[mfn],
          type: this.type[mfn],
          typeCount: this.typeCount[mfn],
          refCount: this.refCount[mfn],
          pinned: this.pinned[mfn] === 1,
        });
      }
      if (this.m2p[mfn] !== INVALID_P2M_ENTRY) m2p.push([mfn, this.m2p[mfn]]);
    }
    return { frames: this.frames, used, m2p };
  }

  /** Rebuilds a table from {@link getState} output. */
  static fromState(state: FrameTableState): FrameTable {
    const t = new FrameTable(state.frames);
    const inUse = new Uint8Array(state.frames);
    for (const f of state.used) {
      if (f.mfn < 0 || f.mfn >= state.frames || inUse[f.mfn] === 1) {
        throw new MmuError('INVALID_ARGUMENT', `bad frame ${f.mfn} in state`);
      }
      inUse[f.mfn] = 1;
      t.claim(f.mfn, f.owner);
      t.type[f.mfn] = f.type;
      t.typeCount[f.mfn] = f.typeCount;
      t.refCount[f.mfn] = f.refCount;
      t.pinned[f.mfn] = f.pinned ? 1 : 0;
    }
    t.freeTop = 0;
    for (let mfn = state.frames - 1; mfn >= 0; mfn--) {
      if (inUse[mfn] === 0) t.freeStack[t.freeTop++] = mfn;
    }
    for (const [mfn, pfn] of state.m2p) t.m2p[mfn] = pfn >>> 0;
    return t;
  }
}
