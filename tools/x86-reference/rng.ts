/**
 * Seeded pseudo-random numbers (sfc32, seeded from a string with FNV-1a), so every vector file
 * is reproducible from `(seed, mode, mnemonic)` alone, independent of generation order.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds the generator from a string. */
  constructor(seed: string) {
    let h = 0x811c9dc5;
    const words: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < seed.length; i++) {
        h ^= seed.charCodeAt(i);
        h = Math.imul(h, 0x01000193);
      }
      h ^= round + 1;
      h = Math.imul(h, 0x01000193);
      words.push(h >>> 0);
    }
    this.a = words[0] ?? 1;
    this.b = words[1] ?? 2;
    this.c = words[2] ?? 3;
    this.d = words[3] ?? 4;
    for (let i = 0; i < 16; i++) this.next32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  next32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return Math.floor((this.next32() / 0x100000000) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next32() / 0x100000000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty array');
    return item;
  }

  /** A uniformly distributed unsigned integer of `bits` bits. */
  bits(bits: number): bigint {
    if (bits > 64) return (this.bits(bits - 64) << 64n) | this.bits(64);
    const lo = BigInt(this.next32());
    const hi = BigInt(this.next32());
    return ((hi << 32n) | lo) & ((1n << BigInt(bits)) - 1n);
  }
}
