/**
 * The translation port for one vCPU: a TLB in front of the page walker. The CPU model reaches it
 * through the hypervisor as {@link TranslationPort}; `@typevisor/x86-cpu` declares the same shape
 * structurally, so neither package imports the other.
 * @module
 */
import type { DirtyMarker } from './log-dirty.ts';
import type { MachineMemory } from './machine-memory.ts';
import { ACCESS, type PagingMode, RIGHTS } from './paging.ts';
import { TLB_PERM, Tlb } from './tlb.ts';
import { PageWalker, type PagingConfig } from './walker.ts';

/**
 * What a CPU model needs from the MMU: translate a linear address (int32 halves) for an access
 * (an {@link ACCESS} combination) to a machine frame, or report the #PF error code; and the
 * flush operations behind MOV CR3, INVLPG and CR4.PGE changes.
 */
export interface TranslationPort {
  /** Returns the machine frame of the page containing `hi:lo`, or -1 with {@link faultCode} set. */
  translate(lo: number, hi: number, access: number): number;
  /** #PF error code of the last failed {@link translate}. */
  readonly faultCode: number;
  /** Flushes non-global translations, or all with `includeGlobal`. */
  flush(includeGlobal: boolean): void;
  /** Flushes the translation of one page (INVLPG). */
  invlpg(lo: number, hi: number): void;
}

/** Maps an access combination (bits W=2, U=4, I=16) to the TLB permission bit it needs. */
const NEED = /* @__PURE__ */ (() => {
  const t = new Uint8Array(32);
  for (let a = 0; a < 32; a++) {
    const user = (a & ACCESS.USER) !== 0;
    if ((a & ACCESS.FETCH) !== 0) t[a] = user ? TLB_PERM.USER_EXEC : TLB_PERM.EXEC;
    else if ((a & ACCESS.WRITE) !== 0) t[a] = user ? TLB_PERM.USER_WRITE : TLB_PERM.WRITE;
    else t[a] = user ? TLB_PERM.USER_READ : TLB_PERM.READ;
  }
  return t;
})();

/** Options for {@link Translator}. */
export interface TranslatorOptions {
  /** MAXPHYADDR (32–40, default 36). */
  readonly physAddrBits?: number;
}

/** A vCPU's TLB plus walker, implementing {@link TranslationPort}. */
export class Translator implements TranslationPort {
  /** The walker (its out-fields describe the last miss). */
  readonly walker: PageWalker;
  /** The TLB. */
  readonly tlb: Tlb;
  /** #PF error code of the last failed translation. */
  faultCode: number;
  /** CR4.PGE as 0/1: whether global entries survive non-global flushes. */
  pge: number;
  /** Number of TLB misses (walks) so far. */
  misses: number;
  /** Log-dirty marker, or null: with one, write permission is cached only on write accesses. */
  dirtyLog: DirtyMarker | null;
  // The TLB's arrays, held directly so a hit costs no extra indirection (bench/mmu/translate).
  private readonly perm: Uint8Array;
  private readonly tag: Int32Array;
  private readonly frame: Int32Array;

  /** Creates a translator over `memory` with paging off. */
  constructor(memory: MachineMemory, options: TranslatorOptions = {}) {
    this.walker = new PageWalker(memory, options.physAddrBits ?? 36);
    this.tlb = new Tlb();
    this.faultCode = 0;
    this.pge = 0;
    this.misses = 0;
    this.dirtyLog = null;
    this.perm = this.tlb.perm;
    this.tag = this.tlb.tag;
    this.frame = this.tlb.frame;
  }

  /**
   * Loads paging state (MOV CR0/CR3/CR4, EFER writes) and flushes as hardware would: every
   * change flushes non-global entries; changes other than CR3 flush global ones too.
   */
  setPaging(config: PagingConfig & { readonly pge?: boolean }): void {
    const w = this.walker;
    const onlyCr3 =
      w.mode === config.mode &&
      w.wp === (config.wp ? 1 : 0) &&
      w.pse === (config.pse ? 1 : 0) &&
      w.nxe === (config.nxe ? 1 : 0) &&
      this.pge === (config.pge === true ? 1 : 0);
    w.configure(config);
    this.pge = config.pge === true ? 1 : 0;
    this.tlb.flush(!onlyCr3 || this.pge === 0);
  }

  /** Loads a new CR3 (a full non-global flush, as MOV CR3). */
  setCr3(lo: number, hi: number): void {
    this.walker.cr3Lo = lo | 0;
    this.walker.cr3Hi = hi | 0;
    this.tlb.flush(this.pge === 0);
  }

  /** The current paging mode. */
  get mode(): PagingMode {
    return this.walker.mode as PagingMode;
  }

  /** {@inheritDoc TranslationPort.translate} */
  translate(lo: number, hi: number, access: number): number {
    const i = lo >>> 12;
    if ((this.perm[i] & NEED[access & 0x1f]) !== 0 && this.tag[i] === hi) return this.frame[i];
    return this.miss(lo, hi, access);
  }

  private miss(lo: number, hi: number, access: number): number {
    this.misses++;
    const w = this.walker;
    if (!w.walk(lo, hi, access)) {
      this.faultCode = w.errorCode;
      return -1;
    }
    const r = w.rights;
    const rw = (r & RIGHTS.WRITABLE) !== 0;
    const us = (r & RIGHTS.USER) !== 0;
    const x = (r & RIGHTS.NO_EXEC) === 0;
    // Write permission needs a dirty leaf; in log-dirty mode, also a write access, which
    // is the moment the frame is marked.
    let dirtyOk = w.dirty === 1;
    const log = this.dirtyLog;
    if (log !== null) {
      if (log.tracking(w.frame)) {
        dirtyOk = dirtyOk && (access & ACCESS.WRITE) !== 0;
        if (dirtyOk) log.markMfn(w.frame);
      }
    }
    let perm = TLB_PERM.READ;
    if (dirtyOk && (rw || w.wp === 0)) perm |= TLB_PERM.WRITE;
    if (x) perm |= TLB_PERM.EXEC;
    if (us) {
      perm |= TLB_PERM.USER_READ;
      if (rw && dirtyOk) perm |= TLB_PERM.USER_WRITE;
      if (x) perm |= TLB_PERM.USER_EXEC;
    }
    this.tlb.fill(lo, hi, w.frame, perm, this.pge & w.global, w.pageShift);
    return w.frame;
  }

  /** {@inheritDoc TranslationPort.flush} */
  flush(includeGlobal: boolean): void {
    this.tlb.flush(includeGlobal);
  }

  /** {@inheritDoc TranslationPort.invlpg} */
  invlpg(lo: number, hi: number): void {
    this.tlb.invlpg(lo, hi);
  }
}
