/**
 * Log-dirty mode as a dom0 operation: `XEN_DOMCTL_shadow_op` with ENABLE_LOGDIRTY, PEEK, CLEAN
 * and OFF over a dirty log (`@typevisor/mmu`'s `DirtyLog`), for the toolstack's live migration.
 *
 * What marks a page, as in Xen:
 * - the guest's own stores: its vCPUs' walkers are wrapped in a {@link LogDirtyWalker} and their
 *   TLBs flushed on enable and on every clean, so each page's first write after that marks it;
 * - writes made through the machine's writers (the dirty log watches them): hypervisor writes
 *   into shared_info/vcpu_info (event pending bits, time, runstate), validated PTE updates and
 *   the CPU's accessed/dirty bits, grant copies into the domain;
 * - a writable grant mapping of one of its frames, when it is unmapped (`gnttab_mark_dirty`).
 *
 * Deliberate difference: dom0's native backends and xenstored/xenconsoled write through views
 * of the frame that no writer sees, so frames mapped writable at the time of a PEEK/CLEAN
 * (grant mappings, and the ring pages the toolstack names through
 * {@link LogDirtyDomainPort.foreignWritable}) are reported dirty in every result while mapped;
 * Xen reports them only at unmap and relies on the backends disconnecting before the last round.
 * @see xen/arch/x86/mm/paging.c (paging_domctl, paging_log_dirty_op), xen/common/grant_table.c
 * @module
 */
import { XEN_EINVAL, XEN_EPERM, XEN_ESRCH } from '../abi/errno.ts';
import type { GrantTables } from '../grant-table/grant-tables.ts';
import type { PvWalkerPort } from '../pv/ports.ts';
import { type FrameDirtyMarker, LogDirtyWalker } from './log-dirty-walker.ts';
import {
  type LogDirtyDomainState,
  type LogDirtyState,
  type ShadowOpRequest,
  type ShadowOpResult,
  type ShadowOpStats,
  XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
} from './shadow-op.ts';

/** The per-domain dirty bitmaps (`@typevisor/mmu`'s `DirtyLog` satisfies it). */
export interface DirtyLogPort extends FrameDirtyMarker {
  /** Starts logging `domid` with an empty bitmap of `pfns` PFNs. */
  enable(domid: number, pfns: number): void;
  /** Stops logging `domid`. */
  disable(domid: number): void;
  /** Whether `domid` is logging. */
  enabled(domid: number): boolean;
  /** A copy of the bitmap (bit `pfn & 7` of byte `pfn >> 3`), or null when not logging. */
  peek(domid: number): Uint8Array | null;
  /** The bitmap, cleared afterwards, or null when not logging. */
  clean(domid: number): Uint8Array | null;
  /** Statistics since enabling or the last clean, or null when not logging. */
  stats(domid: number): ShadowOpStats | null;
}

/** A vCPU's CPU model as log-dirty needs it (`X86Cpu` fits). */
export interface LogDirtyCpuPort {
  /** The page walker (wrapped while logging). */
  walker: PvWalkerPort;
  /** Drops every cached translation. */
  flushTlb(): void;
}

/** The domains, as the hypervisor's embedder knows them. */
export interface LogDirtyDomainPort {
  /** PFNs a bitmap of `domid` covers (its highest PFN + 1), or -1 when there is no such domain. */
  pages(domid: number): number;
  /** The CPU models of `domid`'s vCPUs. */
  cpus(domid: number): readonly LogDirtyCpuPort[];
  /**
   * PFNs of `domid` that dom0 writes through views it holds outside any grant (the xenstore and
   * console rings): reported dirty in every PEEK/CLEAN.
   */
  foreignWritable?(domid: number): readonly number[];
  /** Machine frame → PFN of `domid` (for frames mapped through grants), or -1. */
  pfnOf(domid: number, mfn: number): number;
}

/** Options of {@link LogDirtyControl}. */
export interface LogDirtyControlOptions {
  /** The dirty bitmaps. */
  readonly log: DirtyLogPort;
  /** The domains. */
  readonly domains: LogDirtyDomainPort;
  /** Grant tables: writable mappings are marked at unmap and reported while mapped. */
  readonly grants?: GrantTables;
  /** Whether `domid` may control others (default: dom0 only). */
  readonly privileged?: (domid: number) => boolean;
}

/** GNTPIN host-write and device-write counters (`GNTPIN_hstw_mask | GNTPIN_devw_mask`). */
const GNTPIN_WRITE_MASK = (0xff << 8) | (0xff << 24);

const NO_STATS: ShadowOpStats = { faultCount: 0, dirtyCount: 0 };

function fail(status: number): ShadowOpResult {
  return { status, pages: 0, dirty: [], stats: NO_STATS };
}

/** The log-dirty subset of `XEN_DOMCTL_shadow_op`; see the module comment. */
export class LogDirtyControl {
  private readonly log: DirtyLogPort;
  private readonly domains: LogDirtyDomainPort;
  private readonly grants: GrantTables | null;
  private readonly privileged: (domid: number) => boolean;
  /** Domains ever put in log-dirty mode (for {@link LogDirtyControl.getState}). */
  private readonly known: Set<number>;

  /** Creates the control; with `grants`, it becomes their {@link GrantTables.dirtyPort}. */
  constructor(options: LogDirtyControlOptions) {
    this.log = options.log;
    this.domains = options.domains;
    this.grants = options.grants ?? null;
    this.privileged = options.privileged ?? ((domid) => domid === 0);
    this.known = new Set();
    if (this.grants !== null) {
      const log = this.log;
      this.grants.dirtyPort = { grantFrameWritten: (_granter, frame) => log.markMfn(frame) };
    }
  }

  /** Whether `domid` is in log-dirty mode. */
  enabled(domid: number): boolean {
    return this.log.enabled(domid);
  }

  /**
   * Drops `domid`'s log without any check, for a domain being destroyed (Xen's
   * `paging_teardown`): a domain that dies while a migration logs it leaves nothing behind.
   */
  teardown(domid: number): void {
    if (!this.log.enabled(domid)) return;
    this.log.disable(domid);
    for (const cpu of this.domains.cpus(domid)) {
      if (cpu.walker instanceof LogDirtyWalker) cpu.walker = cpu.walker.inner;
    }
  }

  /**
   * `XEN_DOMCTL_shadow_op` from `caller`: never throws; failures are a negative errno in
   * `status` (`-EPERM` unprivileged caller, `-ESRCH` no such domain, `-EINVAL` the caller itself,
   * an unknown op or mode, ENABLE while enabled, PEEK/CLEAN while not).
   */
  shadowOp(caller: number, req: ShadowOpRequest): ShadowOpResult {
    if (!this.privileged(caller)) return fail(-XEN_EPERM);
    const domid = req.domid;
    if (!Number.isInteger(domid) || this.domains.pages(domid) < 0) return fail(-XEN_ESRCH);
    if (domid === caller) return fail(-XEN_EINVAL); // "Tried to do a paging op on itself."
    switch (req.op) {
      case XEN_DOMCTL_SHADOW_OP_OFF:
        this.teardown(domid);
        return fail(0);
      case XEN_DOMCTL_SHADOW_OP_ENABLE:
      case XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY: {
        if (
          req.op === XEN_DOMCTL_SHADOW_OP_ENABLE &&
          req.mode !== XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY
        )
          return fail(-XEN_EINVAL);
        if (this.log.enabled(domid)) return fail(-XEN_EINVAL);
        this.log.enable(domid, this.domains.pages(domid));
        this.trackCpus(domid);
        return fail(0);
      }
      case XEN_DOMCTL_SHADOW_OP_PEEK:
      case XEN_DOMCTL_SHADOW_OP_CLEAN:
        return this.bitmapOp(domid, req.op === XEN_DOMCTL_SHADOW_OP_CLEAN);
      default:
        return fail(-XEN_EINVAL);
    }
  }

  /** Plain-data state: the domains in log-dirty mode with their current (uncleaned) marks. */
  getState(): LogDirtyState {
    const domains: LogDirtyDomainState[] = [];
    for (const domid of this.loggingDomains()) {
      const bm = this.log.peek(domid);
      if (bm === null) continue;
      domains.push({
        domid: domid,
        pages: this.domains.pages(domid),
        dirty: this.pfnsOf(domid, bm),
        stats: this.log.stats(domid) ?? NO_STATS,
      });
    }
    return { domains };
  }

  private loggingDomains(): number[] {
    return [...this.known].filter((d) => this.log.enabled(d)).sort((a, b) => a - b);
  }

  /** Wraps the walkers of `domid`'s vCPUs (idempotent; covers vCPUs brought up since) and flushes their TLBs. */
  private trackCpus(domid: number): void {
    this.known.add(domid);
    for (const cpu of this.domains.cpus(domid)) {
      if (!(cpu.walker instanceof LogDirtyWalker)) {
        cpu.walker = new LogDirtyWalker(cpu.walker, this.log);
      }
      cpu.flushTlb();
    }
  }

  private bitmapOp(domid: number, clean: boolean): ShadowOpResult {
    if (!this.log.enabled(domid)) return fail(-XEN_EINVAL);
    const stats = this.log.stats(domid) ?? NO_STATS;
    const bm = clean ? this.log.clean(domid) : this.log.peek(domid);
    if (bm === null) return fail(-XEN_EINVAL);
    if (clean) this.trackCpus(domid);
    return { status: 0, pages: bm.length * 8, dirty: this.pfnsOf(domid, bm), stats };
  }

  /** The PFNs set in `bm`, with the frames dom0 may be writing through its views. */
  private pfnsOf(domid: number, bm: Uint8Array): number[] {
    const set = (pfn: number): void => {
      if (pfn >= 0 && pfn >>> 3 < bm.length)
        bm[pfn >>> 3] = (bm[pfn >>> 3] ?? 0) | (1 << (pfn & 7));
    };
    for (const pfn of this.domains.foreignWritable?.(domid) ?? []) set(pfn);
    if (this.grants !== null) {
      const g = this.grants.getState().domains.find((x) => x.domid === domid);
      for (const a of g?.active ?? []) {
        if ((a.pin & GNTPIN_WRITE_MASK) !== 0) set(this.domains.pfnOf(domid, a.frame));
      }
    }
    const out: number[] = [];
    for (let i = 0; i < bm.length; i++) {
      const b = bm[i] ?? 0;
      if (b === 0) continue;
      for (let k = 0; k < 8; k++) if ((b & (1 << k)) !== 0) out.push(i * 8 + k);
    }
    return out;
  }
}
