/**
 * A machine: lazily allocated host RAM, the frame table with its M2P, and one P2M per domain.
 * This is what the hypervisor owns; PV paging (`PvMm`) and the translators work on it.
 * @module
 */
import { INVALID_MFN, XEN_ERRNO } from './abi.ts';
import { MmuError } from './errors.ts';
import { FrameTable, type FrameTableState } from './frame-table.ts';
import { MachineMemory } from './machine-memory.ts';
import { P2m, type P2mState } from './p2m.ts';

/** Options for {@link Machine}. */
export interface MachineOptions {
  /** Machine address space in bytes (multiple of 2 MiB). */
  readonly bytes: number;
}

/** Plain-data state of a {@link Machine} (ownership, types, P2M, M2P; RAM contents are not included). */
export interface MachineState {
  /** Machine size in bytes. */
  readonly bytes: number;
  /** Frame table state. */
  readonly frames: FrameTableState;
  /** P2M per domain, as `[domid, state]` pairs. */
  readonly p2m: readonly (readonly [number, P2mState])[];
}

/** Host memory plus ownership and translation tables. */
export class Machine {
  /** Host RAM. */
  readonly memory: MachineMemory;
  /** Per-frame owner/type/refcounts, the M2P and the allocator. */
  readonly frames: FrameTable;
  private readonly p2ms: Map<number, P2m>;

  /** Creates a machine of `options.bytes` bytes with every frame free (or with `frames`, from a saved state). */
  constructor(options: MachineOptions, frames?: FrameTable) {
    this.memory = new MachineMemory({ bytes: options.bytes });
    if (frames !== undefined && frames.frames !== this.memory.frames) {
      throw new MmuError('INVALID_ARGUMENT', 'frame table does not match the machine size');
    }
    this.frames = frames ?? new FrameTable(this.memory.frames);
    this.p2ms = new Map();
  }

  /** The P2M of `domid` (created empty on first use). */
  p2m(domid: number): P2m {
    let p = this.p2ms.get(domid);
    if (p === undefined) {
      p = new P2m();
      this.p2ms.set(domid, p);
    }
    return p;
  }

  /** Whether `domid` has a P2M (it was populated, or its P2M was asked for, and not removed since). */
  hasP2m(domid: number): boolean {
    return this.p2ms.has(domid);
  }

  /**
   * Forgets `domid`'s P2M once the domain has no frames left (Xen frees a dead domain's P2M in
   * `p2m_teardown`), so that a domain created later with the same id starts with an empty one.
   * Throws `DOMAIN_BUSY` while the domain still owns a frame. Removing an unknown domain does
   * nothing.
   * @see xen/arch/x86/mm/p2m.c (p2m_teardown), xen/common/domain.c (domain_destroy)
   */
  removeDomain(domid: number): void {
    const pages = this.frames.domainPages(domid);
    if (pages !== 0) {
      throw new MmuError('DOMAIN_BUSY', `domain ${domid} still owns ${pages} frame(s)`);
    }
    this.p2ms.delete(domid);
  }

  /**
   * Gives `domid` `count` new frames at PFNs `firstPfn …`, setting P2M and M2P as Xen's domain
   * builder does. Returns 0, or `-ENOMEM` (nothing allocated) when the machine has too few free
   * frames, or `-EEXIST` if a PFN in the range is already populated.
   */
  populate(domid: number, firstPfn: number, count: number): number {
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(firstPfn) || firstPfn < 0) {
      throw new MmuError('INVALID_ARGUMENT', 'populate: bad pfn range');
    }
    if (this.frames.freeFrames < count) return -XEN_ERRNO.ENOMEM;
    const p = this.p2m(domid);
    for (let i = 0; i < count; i++)
      if (p.get(firstPfn + i) !== INVALID_MFN) return -XEN_ERRNO.EEXIST;
    for (let i = 0; i < count; i++) {
      const mfn = this.frames.allocate(domid);
      this.memory.clearFrame(mfn);
      p.set(firstPfn + i, mfn);
      this.frames.m2p[mfn] = firstPfn + i;
    }
    return 0;
  }

  /**
   * Takes the frame at `pfn` away from `domid` (balloon out). Returns 0, `-EINVAL` if unpopulated,
   * or `-EBUSY` while the frame is still referenced (mapped, pinned, in use as a page table).
   */
  depopulate(domid: number, pfn: number): number {
    const p = this.p2m(domid);
    const mfn = p.get(pfn);
    if (mfn === INVALID_MFN) return -XEN_ERRNO.EINVAL;
    const rc = this.frames.free(domid, mfn);
    if (rc === 0) p.set(pfn, INVALID_MFN);
    return rc;
  }

  /** Returns the plain-data state (RAM contents excluded: save them per frame). */
  getState(): MachineState {
    const p2m: [number, P2mState][] = [];
    for (const [d, p] of this.p2ms) p2m.push([d, p.getState()]);
    return { bytes: this.memory.frames * 4096, frames: this.frames.getState(), p2m };
  }

  /** Rebuilds a machine (with zeroed RAM) from {@link getState} output. */
  static fromState(state: MachineState): Machine {
    const m = new Machine({ bytes: state.bytes }, FrameTable.fromState(state.frames));
    for (const [d, p] of state.p2m) m.p2ms.set(d, P2m.fromState(p));
    return m;
  }
}
