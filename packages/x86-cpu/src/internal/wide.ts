/**
 * 64- and 128-bit integer arithmetic on int32 halves, without BigInt (BigInt allocates on
 * every operation; DESIGN.md "Hot loop": `rol rbx, 3` in the 64-bit compute guest).
 * Results go to the preallocated {@link W} words, least significant first.
 */

/** Result words (int32), least significant first: 64-bit results in W[0..1], 128-bit in W[0..3]. */
export const W: Int32Array = new Int32Array(4);

const TWO32 = 4294967296;

/** W[0..1] = (lo, hi) << c for 0 <= c <= 63. */
export function shl64(lo: number, hi: number, c: number): void {
  if (c === 0) {
    W[0] = lo;
    W[1] = hi;
  } else if (c < 32) {
    W[1] = (hi << c) | (lo >>> (32 - c));
    W[0] = lo << c;
  } else {
    W[1] = lo << (c - 32);
    W[0] = 0;
  }
}

/** W[0..1] = (lo, hi) >>> c (logical) for 0 <= c <= 63. */
export function shr64(lo: number, hi: number, c: number): void {
  if (c === 0) {
    W[0] = lo;
    W[1] = hi;
  } else if (c < 32) {
    W[0] = (lo >>> c) | (hi << (32 - c));
    W[1] = hi >>> c;
  } else {
    W[0] = hi >>> (c - 32);
    W[1] = 0;
  }
}

/** W[0..1] = (lo, hi) >> c (arithmetic) for 0 <= c <= 63. */
export function sar64(lo: number, hi: number, c: number): void {
  if (c === 0) {
    W[0] = lo;
    W[1] = hi;
  } else if (c < 32) {
    W[0] = (lo >>> c) | (hi << (32 - c));
    W[1] = hi >> c;
  } else {
    W[0] = hi >> (c - 32);
    W[1] = hi >> 31;
  }
}

/** W[0..1] = the unsigned 64-bit product of two unsigned 32-bit values. */
export function mulU32(a: number, b: number): void {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const p0 = al * bl;
  const p1 = ah * bl;
  const p2 = al * bh;
  const mid = (p0 >>> 16) + (p1 & 0xffff) + (p2 & 0xffff);
  W[0] = Math.imul(a, b);
  W[1] = (ah * bh + (p1 >>> 16) + (p2 >>> 16) + (mid >>> 16)) | 0;
}

/** W[0..1] = the signed 64-bit product of two int32 values. */
export function mulS32(a: number, b: number): void {
  mulU32(a, b);
  W[1] = (W[1] - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** W[0..3] = the unsigned 128-bit product of two unsigned 64-bit values (int32 halves). */
export function mulU64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulU32(alo, blo);
  const w0 = W[0];
  const llHi = W[1] >>> 0;
  mulU32(alo, bhi);
  const lhLo = W[0] >>> 0;
  const lhHi = W[1] >>> 0;
  mulU32(ahi, blo);
  const hlLo = W[0] >>> 0;
  const hlHi = W[1] >>> 0;
  mulU32(ahi, bhi);
  const hhLo = W[0] >>> 0;
  const hhHi = W[1] >>> 0;
  const t1 = llHi + lhLo + hlLo;
  const c1 = t1 >= 2 * TWO32 ? 2 : t1 >= TWO32 ? 1 : 0;
  const t2 = lhHi + hlHi + hhLo + c1;
  const c2 = t2 >= 2 * TWO32 ? 2 : t2 >= TWO32 ? 1 : 0;
  W[0] = w0;
  W[1] = t1 | 0;
  W[2] = t2 | 0;
  W[3] = (hhHi + c2) | 0;
}

/** W[0..3] = the signed 128-bit product of two signed 64-bit values (int32 halves). */
export function mulS64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulU64(alo, ahi, blo, bhi);
  // Signed correction of the high 64 bits: subtract b when a < 0 and a when b < 0 (mod 2^64).
  let lo = W[2] >>> 0;
  let hi = W[3];
  if (ahi < 0) {
    const s = lo - (blo >>> 0);
    hi = (hi - bhi - (s < 0 ? 1 : 0)) | 0;
    lo = s < 0 ? s + TWO32 : s;
  }
  if (bhi < 0) {
    const s = lo - (alo >>> 0);
    hi = (hi - ahi - (s < 0 ? 1 : 0)) | 0;
    lo = s < 0 ? s + TWO32 : s;
  }
  W[2] = lo | 0;
  W[3] = hi;
}

/**
 * Unsigned 64/32 division with a 32-bit quotient (`hi < d` guaranteed by the caller):
 * W[0] = quotient, W[1] = remainder. Two 16-bit long-division steps keep every double exact
 * (each partial dividend is below 2^48).
 */
export function divU64by32(lo: number, hi: number, d: number): void {
  const dv = d >>> 0;
  const n1 = (hi >>> 0) * 65536 + (lo >>> 16);
  const q1 = Math.floor(n1 / dv);
  const r1 = n1 - q1 * dv;
  const n0 = r1 * 65536 + (lo & 0xffff);
  const q0 = Math.floor(n0 / dv);
  W[0] = (q1 * 65536 + q0) | 0;
  W[1] = (n0 - q0 * dv) | 0;
}
