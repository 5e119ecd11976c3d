/**
 * copy_from_guest / copy_to_guest for hypercall argument structs: one module-level scratch
 * buffer (no allocation per hypercall), little-endian field accessors, 64-bit fields as numbers.
 */
import type { GuestBytes } from '../guest-memory.ts';

/** Largest argument struct copied through the scratch buffer (gnttab_copy on x86_64 is 40). */
const MAX_STRUCT = 64;

/** The scratch bytes of the struct being processed. */
export const argBuf: Uint8Array = /* @__PURE__ */ new Uint8Array(MAX_STRUCT);
/** A little-endian view of {@link argBuf}. */
export const argView: DataView = /* @__PURE__ */ new DataView(argBuf.buffer);

const TWO32 = 4294967296;

/**
 * Views of argBuf by (offset, size), created once: a fresh subarray per hypercall was half the
 * cost of event_channel_op(EVTCHNOP_send) (bench/hypervisor/evtchn-send.bench.ts).
 */
const views: Array<Uint8Array | undefined> = [];

function view(offset: number, size: number): Uint8Array {
  const key = offset * (MAX_STRUCT + 1) + size;
  let v = views[key];
  if (v === undefined) {
    v = argBuf.subarray(offset, offset + size);
    views[key] = v;
  }
  return v;
}

/** Whether `address` can be a guest pointer at all (a non-negative safe integer). */
export function guestPointerOk(address: number): boolean {
  return Number.isSafeInteger(address) && address >= 0;
}

/**
 * Copies `size` bytes at `address` into argBuf; false = -EFAULT. Bytes past `size` keep stale
 * values: callers only read and write back fields inside the struct they copied.
 */
export function copyFromGuest(mem: GuestBytes, address: number, size: number): boolean {
  return guestPointerOk(address) && mem.read(address, view(0, size));
}

/** Copies argBuf[offset, offset + size) to `address + offset`; false = -EFAULT. */
export function copyToGuest(
  mem: GuestBytes,
  address: number,
  offset: number,
  size: number,
): boolean {
  return (
    guestPointerOk(address + offset) &&
    mem.write(address + offset, argBuf.subarray(offset, offset + size))
  );
}

/** Reads an unsigned little-endian 64-bit field as a number (exact below 2^53). */
export function getU64(offset: number): number {
  return argView.getUint32(offset, true) + argView.getUint32(offset + 4, true) * TWO32;
}

/** Writes a non-negative number as a little-endian 64-bit field. */
export function setU64(offset: number, value: number): void {
  argView.setUint32(offset, (value % TWO32) >>> 0, true);
  argView.setUint32(offset + 4, Math.floor(value / TWO32) >>> 0, true);
}

/** Reads an unsigned field of 4 or 8 bytes (xen_ulong_t / xen_pfn_t / handles). */
export function getULong(offset: number, size: 4 | 8): number {
  return size === 4 ? argView.getUint32(offset, true) : getU64(offset);
}
