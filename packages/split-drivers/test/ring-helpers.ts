import type { RingCodec } from '../src/index.ts';

/** A codec of one u32 in an entry of `size` bytes that records every offset it touched. */
export function u32Codec(size: number, touched?: number[]): RingCodec<number> {
  return {
    size,
    encode(view, offset, value) {
      touched?.push(offset);
      view.setUint32(offset, value >>> 0, true);
    },
    decode(view, offset) {
      touched?.push(offset);
      return view.getUint32(offset, true);
    },
  };
}

/** Byte-wise equality (vitest's deep equality on large typed arrays is slow). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
