/**
 * The ports split drivers talk through. `@typevisor/hypervisor` (grant tables, event channels)
 * and `@typevisor/xenstore` (xenbus) satisfy them structurally; `@typevisor/split-drivers/testing`
 * has in-memory implementations.
 * @module
 */

/** A foreign page mapped by a backend (`GNTTABOP_map_grant_ref` result). */
export interface GrantMapping {
  /** The granted page's bytes, shared with the granting domain (4096 bytes). */
  readonly page: Uint8Array;
  /** The mapping handle, passed back on unmap. */
  readonly handle: number;
  /** Whether the mapping allows writes (mapped without `GNTMAP_readonly`). */
  readonly writable: boolean;
}

/**
 * Backend-side grant access: map and unmap pages other domains granted to this one.
 * @see xen/include/public/grant_table.h GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref
 */
export interface GrantMapper {
  /**
   * Maps grant `ref` of domain `domid`, writable unless `readonly`. Returns the mapping, or a
   * negative `GNTST_*` status (`GNTST_bad_gntref`, `GNTST_permission_denied`, …); never throws
   * for a bad guest-supplied ref.
   */
  mapGrant(domid: number, ref: number, readonly: boolean): GrantMapping | number;
  /** Unmaps a mapping returned by {@link GrantMapper.mapGrant}. */
  unmapGrant(mapping: GrantMapping): void;
}

/**
 * Frontend-side grant issuing (writing grant entries in the domain's own table).
 * @see xen/include/public/grant_table.h grant_entry_v1, GTF_permit_access
 */
export interface GrantIssuer {
  /** Grants domain `remoteDomid` access to `page` (one of this domain's pages); returns the grant ref. */
  grantAccess(remoteDomid: number, page: Uint8Array, readonly: boolean): number;
  /** Revokes a grant (`gnttab_end_foreign_access`); false if the remote still has it mapped. */
  endAccess(ref: number): boolean;
}

/** Allocates zeroed pages of the frontend domain's own memory, suitable for granting. */
export interface PageAllocator {
  /** Returns a zeroed 4096-byte page of this domain's memory. */
  allocPage(): Uint8Array;
  /** Returns a page to the allocator. */
  freePage(page: Uint8Array): void;
}

/**
 * One domain's event channels.
 * @see xen/include/public/event_channel.h
 */
export interface EventChannels {
  /** `EVTCHNOP_alloc_unbound`: a local port that `remoteDomid` may bind to; negative errno on failure. */
  allocUnbound(remoteDomid: number): number;
  /** `EVTCHNOP_bind_interdomain`: binds to `remotePort` of `remoteDomid`; local port or negative errno. */
  bindInterdomain(remoteDomid: number, remotePort: number): number;
  /** `EVTCHNOP_send`: raises the event at the other end of `port`. */
  notify(port: number): void;
  /** Sets the function called (asynchronously, coalesced like a pending bit) when `port` is raised. */
  onEvent(port: number, handler: () => void): void;
  /** `EVTCHNOP_close`. */
  close(port: number): void;
}

/**
 * The small asynchronous xenstore client drivers need. Paths are absolute
 * (`/local/domain/<id>/…`).
 * @see xen/include/public/io/xs_wire.h
 */
export interface XenbusClient {
  /** `XS_READ`: the value, or undefined if the node does not exist. */
  read(path: string): Promise<string | undefined>;
  /** `XS_WRITE`, creating missing parents. */
  write(path: string, value: string): Promise<void>;
  /** `XS_DIRECTORY`: child names, or an empty list if the node does not exist. */
  directory(path: string): Promise<string[]>;
  /** `XS_RM`: removes the node and its children; no error if missing. */
  remove(path: string): Promise<void>;
  /**
   * `XS_WATCH`: calls `callback` with the changed path whenever `path` or a descendant changes,
   * and once right after registration. Resolves to a function that removes the watch.
   */
  watch(path: string, callback: (changedPath: string) => void): Promise<() => Promise<void>>;
}

/** Time source (milliseconds, monotonic). Tests pass a deterministic clock. */
export interface Clock {
  /** Current time in milliseconds. */
  now(): number;
}
