/**
 * Ports PV paging needs from the rest of the hypervisor, declared here so that other packages
 * satisfy them structurally.
 * @module
 */

/**
 * Grant-table hook: may domain `mapper` map machine frame `mfn`, owned by another domain,
 * through an L1 entry (read-only or writable)? The grant table answers from its active grants.
 * @see xen/common/grant_table.c (create_grant_host_mapping)
 */
export interface GrantMapPort {
  /** True when an active grant lets `mapper` map `mfn` (`writable` unless the grant is read-only). */
  mayMap(mapper: number, mfn: number, writable: boolean): boolean;
}

/** The TLB of one vCPU, as PV paging flushes it (a `Translator` satisfies this). */
export interface TlbFlushPort {
  /** Flushes non-global translations, or all with `includeGlobal`. */
  flush(includeGlobal: boolean): void;
  /** Flushes the translation of the page containing `hi:lo`. */
  invlpg(lo: number, hi: number): void;
}

/**
 * Told about every write the hypervisor makes to a frame on a PV guest's behalf (validated
 * entry updates, Xen slots written during validation, `CLEAR_PAGE`, `COPY_PAGE`, descriptor
 * updates) and about every frame newly validated as a page table or descriptor page: what a
 * shadow pager needs to resynchronise (`PvShadow` satisfies it).
 */
export interface GuestWriteObserver {
  /**
   * Frame `mfn` was written by the hypervisor: the 8-byte entry at byte `offset`, or (-1) the
   * whole frame, which is also how a new validation is reported.
   */
  guestFrameWritten(mfn: number, offset: number): void;
}

/** Where `PvMm` reports `MMU_MACHPHYS_UPDATE` (an `M2pMapping` satisfies it). */
export interface M2pViewPort {
  /** The M2P entry of machine frame `mfn` changed. */
  update(mfn: number): void;
}
