/**
 * How one ring entry is laid out: a fixed size and a little-endian encoder/decoder pair.
 * Codecs copy the entry out of shared memory on decode, so a peer that rewrites the slot after
 * it was read cannot change what the consumer validated.
 */
export interface RingCodec<T> {
  /** `sizeof` the C struct, including its trailing alignment padding. */
  readonly size: number;
  /** Writes `value` at `offset` of `view` (exactly `size` bytes). */
  encode(view: DataView, offset: number, value: T): void;
  /** Reads an entry at `offset` of `view` (at most `size` bytes); never throws on any bytes. */
  decode(view: DataView, offset: number): T;
}
