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
