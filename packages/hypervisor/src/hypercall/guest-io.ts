/**
 * Small copy helpers for the PV families in this directory: a guest struct read into a fresh
 * little-endian view, or written from one. These families are not hot paths (one call per
 * guest request, no per-instruction work), so a small allocation per call is fine.
 * @see xen/include/xen/guest_access.h (copy_from_guest, copy_to_guest)
 */
import type { GuestBytes } from '../guest-memory.ts';

/** Whether `address` can be a guest pointer at all (a non-negative safe integer). */
function pointerOk(address: number): boolean {
  return Number.isSafeInteger(address) && address >= 0;
}

/** Reads `size` bytes at `address`; null when the copy faults (the caller returns -EFAULT). */
export function readStruct(guest: GuestBytes, address: number, size: number): DataView | null {
  if (!pointerOk(address)) return null;
  const buf = new Uint8Array(size);
  return guest.read(address, buf) ? new DataView(buf.buffer) : null;
}

/** Writes `view` at `address`; false when the copy faults (the caller returns -EFAULT). */
export function writeStruct(guest: GuestBytes, address: number, view: DataView): boolean {
  if (!pointerOk(address)) return false;
  return guest.write(address, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

/** A 64-bit guest pointer field as a number, or -1 outside the canonical lower half. */
export function pointerField(view: DataView, offset: number): number {
  const v = view.getBigUint64(offset, true);
  return v >= 1n << 47n ? -1 : Number(v);
}

/** Whether a 64-bit value is a canonical x86-64 address (bits 63..47 all equal). */
export function isCanonical(value: bigint): boolean {
  const top = BigInt.asUintN(64, value) >> 47n;
  return top === 0n || top === 0x1ffffn;
}
