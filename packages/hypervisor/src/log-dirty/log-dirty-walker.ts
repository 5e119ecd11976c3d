/**
 * A PV vCPU's page walker in log-dirty mode: every successful write walk marks the frame it
 * reaches. The CPU model caches write permission only after a write walk, and the log-dirty
 * control flushes the vCPU's TLB when it enables and cleans the log, so the first write to each
 * page after that walks again: the role Xen's write-protected shadow entries play
 * (`sh_page_fault` → `paging_mark_dirty`). It catches stores that never reach the machine's
 * writers (a direct RAM view in the CPU), and the descriptor-table window's frames.
 * @see xen/arch/x86/mm/shadow/multi.c (sh_page_fault), xen/arch/x86/mm/paging.c (paging_mark_dirty)
 * @module
 */
import type { PvWalkerPort, PvWalkRequest } from '../pv/ports.ts';

/** Where the walker reports written frames (`@typevisor/mmu`'s `DirtyLog` fits). */
export interface FrameDirtyMarker {
  /** Marks machine frame `mfn` as written (ignored unless its owner is in log-dirty mode). */
  markMfn(mfn: number): void;
}

/** A walker that marks the frame of every successful write walk, then answers as `inner`. */
export class LogDirtyWalker implements PvWalkerPort {
  /** The walker wrapped (the vCPU's descriptor-table window over the CPU's own walker). */
  readonly inner: PvWalkerPort;
  private readonly marker: FrameDirtyMarker;

  /** Wraps `inner`, reporting to `marker`. */
  constructor(inner: PvWalkerPort, marker: FrameDirtyMarker) {
    this.inner = inner;
    this.marker = marker;
  }

  /** Walks through `inner`; a write that does not fault marks its frame. */
  walk(req: PvWalkRequest): void {
    this.inner.walk(req);
    if (req.access === 1 && req.fault < 0) this.marker.markMfn(Math.floor(req.frame / 4096));
  }
}
