import { SRING_HEADER_SIZE } from '../ring/ring-abi.ts';

/** A little-endian DataView over a whole ring page, after checking it can hold the header. */
export function pageView(page: Uint8Array): DataView {
  if (!(page instanceof Uint8Array) || page.byteLength < SRING_HEADER_SIZE) {
    throw new RangeError('split-drivers: a ring page must be a Uint8Array of at least 64 bytes');
  }
  return new DataView(page.buffer, page.byteOffset, page.byteLength);
}

/** Adds one to a free-running u32 ring index. */
export function inc32(idx: number): number {
  return (idx + 1) >>> 0;
}

/** `(a − b) mod 2^32`, the distance between two free-running ring indices. */
export function dist32(a: number, b: number): number {
  return (a - b) >>> 0;
}
