/**
 * A domain's physical-to-machine table (P2M): PFN → MFN, `INVALID_MFN` for unpopulated PFNs.
 * Each domain sees pseudo-physical frames starting at 0; machine frames need not be contiguous.
 * @see xen/include/public/xen.h (start_info.mfn_list), xen/arch/x86/mm/p2m.c
 * @module
 */
import { INVALID_MFN } from './abi.ts';
import { MmuError } from './errors.ts';

/** Plain-data state of a {@link P2m}: populated `[pfn, mfn]` pairs and the table size. */
export interface P2mState {
  /** Number of PFN slots. */
  readonly size: number;
  /** Populated slots as `[pfn, mfn]` pairs, in PFN order. */
  readonly entries: readonly (readonly [number, number])[];
}

/** A per-domain P2M table backed by a `Uint32Array` that grows on demand. */
export class P2m {
  /** The entries; slots past {@link size} are unused. */
  table: Uint32Array;
  /** Number of PFN slots in use (the domain's highest PFN + 1). */
  size: number;

  /** Creates an empty P2M with room for `capacity` PFNs. */
  constructor(capacity = 256) {
    this.table = new Uint32Array(Math.max(1, capacity)).fill(INVALID_MFN);
    this.size = 0;
  }

  /** Returns the MFN backing `pfn`, or `INVALID_MFN`. */
  get(pfn: number): number {
    return pfn >= 0 && pfn < this.size ? this.table[pfn] : INVALID_MFN;
  }

  /** Sets the MFN backing `pfn` (`INVALID_MFN` to unpopulate), growing the table if needed. */
  set(pfn: number, mfn: number): void {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= 0x10000000) {
      throw new MmuError('INVALID_ARGUMENT', `pfn ${pfn} out of range`);
    }
    if (pfn >= this.table.length) {
      let cap = this.table.length;
      while (cap <= pfn) cap *= 2;
      const t = new Uint32Array(cap).fill(INVALID_MFN);
      t.set(this.table);
      this.table = t;
    }
    this.table[pfn] = mfn;
    if (pfn >= this.size) this.size = pfn + 1;
  }

  /** Returns the plain-data state. */
  getState(): P2mState {
    const entries: [number, number][] = [];
    for (let pfn = 0; pfn < this.size; pfn++) {
      if (this.table[pfn] !== INVALID_MFN) entries.push([pfn, this.table[pfn]]);
    }
    return { size: this.size, entries };
  }

  /** Rebuilds a P2M from {@link getState} output. */
  static fromState(state: P2mState): P2m {
    const p = new P2m(state.size);
    for (const [pfn, mfn] of state.entries) p.set(pfn, mfn);
    p.size = state.size;
    return p;
  }
}
