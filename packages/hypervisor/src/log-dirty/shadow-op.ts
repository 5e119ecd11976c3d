/**
 * `XEN_DOMCTL_shadow_op`'s log-dirty subset, as plain data: the operation codes, the request
 * and the JSON-safe result (the dirty bitmap as a sorted list of PFNs).
 * @see xen/include/public/domctl.h (xen_domctl_shadow_op, XEN_DOMCTL_SHADOW_OP_*)
 * @module
 */

/** `XEN_DOMCTL_shadow_op`: the domctl carrying {@link ShadowOpRequest}. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_shadow_op = 10;
/** Disables shadow (and so log-dirty) mode. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_OP_OFF = 0;
/** Legacy enable: log-dirty mode. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY = 2;
/** Returns the dirty bitmap and cleans it for the next round. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_OP_CLEAN = 11;
/** Returns the dirty bitmap without cleaning it. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_OP_PEEK = 12;
/** Enable with `mode` flags (only {@link XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY} is supported). @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_OP_ENABLE = 32;
/** `mode` flag of {@link XEN_DOMCTL_SHADOW_OP_ENABLE}: log-dirty. @see xen/include/public/domctl.h */
export const XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY: number = 1 << 2;

/** IN fields of a log-dirty `XEN_DOMCTL_shadow_op` (`struct xen_domctl_shadow_op`). */
export interface ShadowOpRequest {
  /** `XEN_DOMCTL_SHADOW_OP_*`. */
  readonly op: number;
  /** The target domain. */
  readonly domid: number;
  /** `XEN_DOMCTL_SHADOW_ENABLE_*` flags for {@link XEN_DOMCTL_SHADOW_OP_ENABLE}. */
  readonly mode?: number;
}

/** `struct xen_domctl_shadow_op_stats`: counts since enabling or the last clean. */
export interface ShadowOpStats {
  /** Writes reported (Xen's `fault_count`). */
  readonly faultCount: number;
  /** Pages newly marked dirty (Xen's `dirty_count`). */
  readonly dirtyCount: number;
}

/** OUT fields of a log-dirty `XEN_DOMCTL_shadow_op`; JSON-safe. */
export interface ShadowOpResult {
  /** 0, or a negative Xen errno (`-XEN_EPERM`, `-XEN_ESRCH`, `-XEN_EINVAL`). */
  readonly status: number;
  /** PFNs the bitmap covers (Xen's `pages` OUT field); 0 unless PEEK or CLEAN succeeded. */
  readonly pages: number;
  /** The dirty PFNs, ascending (Xen's `dirty_bitmap`); empty unless PEEK or CLEAN succeeded. */
  readonly dirty: readonly number[];
  /** Statistics before the operation (zeros unless PEEK or CLEAN succeeded). */
  readonly stats: ShadowOpStats;
}

/** One domain in log-dirty mode, in {@link LogDirtyState}. */
export interface LogDirtyDomainState {
  /** The domain. */
  readonly domid: number;
  /** PFNs its bitmap covers. */
  readonly pages: number;
  /** PFNs marked dirty since enabling or the last clean, ascending. */
  readonly dirty: readonly number[];
  /** Statistics since enabling or the last clean. */
  readonly stats: ShadowOpStats;
}

/** Plain-data state of the log-dirty control: the domains in log-dirty mode. */
export interface LogDirtyState {
  /** Domains in log-dirty mode, by domid. */
  readonly domains: readonly LogDirtyDomainState[];
}
