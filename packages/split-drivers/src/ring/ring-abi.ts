/**
 * The shared-ring page layout of `xen/include/public/io/ring.h` (`struct NAME_sring`), the same
 * on x86_32 and x86_64: four free-running u32 indices, 48 bytes of padding, then the entries.
 * @module
 */

/** Byte offsets of the `struct NAME_sring` header fields. @see xen/include/public/io/ring.h */
export const SRING_OFFSETS: {
  /** `req_prod`: requests produced by the frontend. */
  readonly req_prod: 0;
  /** `req_event`: the backend wants an event when `req_prod` reaches this value. */
  readonly req_event: 4;
  /** `rsp_prod`: responses produced by the backend. */
  readonly rsp_prod: 8;
  /** `rsp_event`: the frontend wants an event when `rsp_prod` reaches this value. */
  readonly rsp_event: 12;
  /** `pvt`: per-protocol private bytes (netif `smartpoll_active`). */
  readonly pvt: 16;
  /** `ring[]`: the first entry. */
  readonly ring: 64;
} = { req_prod: 0, req_event: 4, rsp_prod: 8, rsp_event: 12, pvt: 16, ring: 64 } as const;

/** Size of the shared-ring header in bytes (indices, `pvt` and `__pad[44]`). */
export const SRING_HEADER_SIZE = 64;

/** Size of a ring page (x86 `PAGE_SIZE`). */
export const XEN_PAGE_SIZE = 4096;

/**
 * Number of entries of `entrySize` bytes in a shared ring of `pageSize` bytes: the largest power of
 * two that fits after the 64-byte header (`__CONST_RING_SIZE` / `__RD32`).
 * @see xen/include/public/io/ring.h
 */
export function ringSizeFor(entrySize: number, pageSize: number = XEN_PAGE_SIZE): number {
  if (!Number.isInteger(entrySize) || entrySize <= 0) {
    throw new RangeError(
      `split-drivers: ring entry size must be a positive integer, got ${entrySize}`,
    );
  }
  const fit = Math.floor((pageSize - SRING_HEADER_SIZE) / entrySize);
  if (fit < 1)
    throw new RangeError(
      `split-drivers: a ${entrySize}-byte entry does not fit a ${pageSize}-byte ring`,
    );
  let size = 1;
  while (size * 2 <= fit) size *= 2;
  return size;
}

/**
 * `SHARED_RING_INIT`, done by the frontend only: `req_prod = rsp_prod = 0`,
 * `req_event = rsp_event = 1`, `pvt` and `__pad` zeroed. Entries are left untouched.
 * @see xen/include/public/io/ring.h
 */
export function sharedRingInit(page: Uint8Array): void {
  if (page.byteLength < SRING_HEADER_SIZE)
    throw new RangeError('split-drivers: ring page too small');
  const view = new DataView(page.buffer, page.byteOffset, SRING_HEADER_SIZE);
  page.fill(0, 0, SRING_HEADER_SIZE);
  view.setUint32(SRING_OFFSETS.req_event, 1, true);
  view.setUint32(SRING_OFFSETS.rsp_event, 1, true);
}

/**
 * The ring.h notification rule shared by requests and responses: after moving a producer index
 * from `oldProd` to `newProd`, the peer must be notified iff its event index lies in
 * `(oldProd, newProd]`, i.e. `(u32)(new − event) < (u32)(new − old)`.
 * @see xen/include/public/io/ring.h RING_PUSH_REQUESTS_AND_CHECK_NOTIFY
 */
export function ringNeedsNotify(oldProd: number, newProd: number, event: number): boolean {
  return (newProd - event) >>> 0 < (newProd - oldProd) >>> 0;
}
