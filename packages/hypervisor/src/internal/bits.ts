/**
 * Bit operations on little-endian guest bitmaps through a {@link GuestBytes} port, one byte at a
 * time (a bit of a little-endian 32- or 64-bit word lives in the byte `bit >> 3` of the bitmap, so
 * both ABIs share this code). A failed guest access reads as "bit set" and writes nothing, so a
 * missing shared_info frame can never cause an upcall or a throw.
 */
import type { GuestBytes } from '../guest-memory.ts';

const scratch = /* @__PURE__ */ new Uint8Array(1);

/** Sets bit `bit` of the bitmap at `base`; returns its previous value (true on access failure). */
export function guestTestAndSetBit(mem: GuestBytes, base: number, bit: number): boolean {
  const address = base + (bit >>> 3);
  if (!mem.read(address, scratch)) return true;
  const mask = 1 << (bit & 7);
  const old = scratch[0] ?? 0;
  if ((old & mask) !== 0) return true;
  scratch[0] = old | mask;
  mem.write(address, scratch);
  return false;
}

/** Clears bit `bit` of the bitmap at `base`; returns its previous value (false on access failure). */
export function guestTestAndClearBit(mem: GuestBytes, base: number, bit: number): boolean {
  const address = base + (bit >>> 3);
  if (!mem.read(address, scratch)) return false;
  const mask = 1 << (bit & 7);
  const old = scratch[0] ?? 0;
  if ((old & mask) === 0) return false;
  scratch[0] = old & ~mask;
  mem.write(address, scratch);
  return true;
}

/** Reads bit `bit` of the bitmap at `base` (`fallback` on access failure). */
export function guestTestBit(
  mem: GuestBytes,
  base: number,
  bit: number,
  fallback: boolean,
): boolean {
  if (!mem.read(base + (bit >>> 3), scratch)) return fallback;
  return ((scratch[0] ?? 0) & (1 << (bit & 7))) !== 0;
}

/** Reads one byte of guest memory (`-1` on access failure). */
export function guestReadU8(mem: GuestBytes, address: number): number {
  return mem.read(address, scratch) ? (scratch[0] ?? 0) : -1;
}

/** Writes one byte of guest memory; `false` on access failure. */
export function guestWriteU8(mem: GuestBytes, address: number, value: number): boolean {
  scratch[0] = value;
  return mem.write(address, scratch);
}
