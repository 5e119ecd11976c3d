/**
 * The x87 transcendentals on finite nonzero operands, computed in exact BigInt fixed point with
 * at least 128 guard bits and rounded once to the 64-bit significand (precision control does
 * not apply to them, SDM Vol. 1 §8.1.5.2): F2XM1 (2^x − 1), FYL2X (y·log2 x), FYL2XP1
 * (y·log2(1 + x)), FPATAN (atan2(y, x)), and FSIN/FCOS/FSINCOS/FPTAN. Tiny operands keep their
 * relative precision: the series are factored as x·S(x) with S near 1, and the working
 * precision grows with the operand's negative exponent where a quotient is involved.
 *
 * FSIN/FCOS/FSINCOS/FPTAN reduce the argument by multiples of π/2 taken from the 66-bit π the
 * hardware uses (SDM Vol. 1 §8.3.10: "the value of π … has 66 significant bits"). The reduction
 * itself is exact (both the operand and the constant are dyadic), so for |x| ≤ π/4 the result is
 * the correctly rounded sine/cosine/tangent; beyond that it is the correctly rounded function of
 * the hardware's reduced argument, as on real processors.
 * @see Intel SDM Vol. 2 (F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN); Vol. 1
 *   §8.3.10 (transcendental instruction accuracy)
 */
import { F80, round } from './softfloat.ts';

/** Fraction bits of the working fixed point. */
const W = 192;
const ONE = 1n << BigInt(W);

let ln2Cache = 0n;
let piCache = 0n;

/** Bits of n (n > 0). */
function bits(n: bigint): number {
  return n.toString(2).length;
}

/** m·2^e as a fixed-point integer with `p` fraction bits (truncated toward −∞). */
function fix(m: bigint, e: number, p: number): bigint {
  const s = e + p;
  return s >= 0 ? m << BigInt(s) : m >> BigInt(-s);
}

/** Σ_{k≥0} (±1)^k·z^{2k}/(2k+1) at `p` fraction bits, z2 = z² (atanh, or atan when `alternate`). */
function oddSeries(z2: bigint, p: number, alternate: boolean): bigint {
  const one = 1n << BigInt(p);
  let term = one;
  let sum = one;
  for (let k = 1; term !== 0n; k++) {
    term = (term * z2) >> BigInt(p);
    const t = term / BigInt(2 * k + 1);
    sum += alternate && (k & 1) === 1 ? -t : t;
    if (t === 0n) break;
  }
  return sum;
}

/** ln 2 with W fraction bits: 2·atanh(1/3). */
function ln2(): bigint {
  if (ln2Cache === 0n) {
    const p = W + 16;
    const u = (1n << BigInt(p)) / 3n;
    const s = oddSeries((u * u) >> BigInt(p), p, false);
    ln2Cache = (2n * u * s) >> BigInt(p + 16);
  }
  return ln2Cache;
}

/** atan(1/n) with `p` fraction bits. */
function atanInv(n: bigint, p: number): bigint {
  const u = (1n << BigInt(p)) / n;
  return (u * oddSeries((u * u) >> BigInt(p), p, true)) >> BigInt(p);
}

/** π with W + 64 fraction bits (Machin's formula). */
function pi(): bigint {
  if (piCache === 0n) {
    const p = W + 96;
    piCache = (16n * atanInv(5n, p) - 4n * atanInv(239n, p)) >> 32n;
  }
  return piCache;
}

/** Rounds (−1)^sign·m·2^e to the 80-bit format (inexact unless `exact`). */
function finish(sign: number, m: bigint, e: number, exact: boolean, mode: number): bigint {
  return round(F80, sign, m, e, !exact, mode);
}

/** Integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bits(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** @internal F2XM1: 2^x − 1 for finite nonzero x = (−1)^sign·m·2^e with |x| ≤ 1. */
export function f2xm1(sign: number, m: bigint, e: number, mode: number): bigint {
  // 2^1 - 1 = 1 and 2^-1 - 1 = -0.5 are exact.
  if (m === 1n << BigInt(-e)) return finish(sign, 1n, sign ? -1 : 0, true, mode);
  const l2 = ln2();
  // t = x·ln 2 at W bits (only feeds S, so absolute precision is enough).
  let t = fix(m * l2, e - W, W);
  if (sign) t = -t;
  // S(t) = (e^t − 1)/t = Σ t^k/(k+1)!.
  let term = ONE;
  let s = ONE;
  for (let k = 1; term !== 0n; k++) {
    term = (term * t) >> BigInt(W);
    term /= BigInt(k + 1);
    s += term;
  }
  return finish(sign, m * l2 * s, e - 2 * W, false, mode);
}

/** @internal FYL2X: y·log2 x for finite nonzero y and finite x > 0. */
export function fyl2x(
  ys: number,
  ym: bigint,
  ye: number,
  xm: bigint,
  xe: number,
  mode: number,
): bigint {
  const n = bits(xm);
  const k = xe + n - 1;
  if (xm === 1n << BigInt(n - 1)) {
    // x is a power of two: log2 x = k exactly.
    const kk = BigInt(k < 0 ? -k : k);
    return finish(ys ^ (k < 0 ? 1 : 0), ym * kk, ye, true, mode);
  }
  // f = x / 2^k in (1, 2); ln f = 2·atanh((f − 1)/(f + 1)).
  const f = fix(xm, 1 - n, W);
  const u = ((f - ONE) << BigInt(W)) / (f + ONE);
  const lnf = (2n * u * oddSeries((u * u) >> BigInt(W), W, false)) >> BigInt(W);
  const total = BigInt(k) * ONE + (lnf << BigInt(W)) / ln2();
  const neg = total < 0n;
  return finish(ys ^ (neg ? 1 : 0), ym * (neg ? -total : total), ye - W, false, mode);
}

/** @internal FYL2XP1: y·log2(1 + x) for finite nonzero y and finite nonzero x > −1. */
export function fyl2xp1(
  ys: number,
  ym: bigint,
  ye: number,
  xs: number,
  xm: bigint,
  xe: number,
  mode: number,
): bigint {
  // Extra bits for tiny x keep the quotient's relative precision.
  const p = W + Math.max(0, -(xe + bits(xm)));
  const one = 1n << BigInt(p);
  let x = fix(xm, xe, p);
  if (xs) x = -x;
  // ln(1 + x) = 2·atanh(u), u = x/(2 + x).
  const u = (x << BigInt(p)) / (2n * one + x);
  const t = oddSeries((u * u) >> BigInt(p), p, false);
  const ln = (2n * u * t) >> BigInt(p);
  const l2 = (ln << BigInt(W)) / ln2();
  const neg = l2 < 0n;
  return finish(ys ^ (neg ? 1 : 0), ym * (neg ? -l2 : l2), ye - p, false, mode);
}

/** atan(z) for 0 < z = n/d ≤ 1 (n = nm·2^ne, d = dm·2^de); returns θ with `p` fraction bits. */
function atanRatio(nm: bigint, ne: number, dm: bigint, de: number, p: number): bigint {
  const sh = ne - de + p;
  let z = sh >= 0 ? (nm << BigInt(sh)) / dm : nm / (dm << BigInt(-sh));
  const one = 1n << BigInt(p);
  // Two halvings atan(z) = 2·atan(z / (1 + √(1 + z²))) bring z below tan(π/16).
  let doublings = 0;
  while (z > one >> 4n && doublings < 3) {
    const r = isqrt(one * one + z * z);
    z = (z << BigInt(p)) / (one + r);
    doublings++;
  }
  // When every correction term vanished below the working precision, atan z < z: step one
  // unit down so the rounding's sticky bit ("the value lies above") is right.
  const series = oddSeries((z * z) >> BigInt(p), p, true);
  const theta = (z * series - (series === one ? 1n : 0n)) >> BigInt(p);
  return theta << BigInt(doublings);
}

/**
 * @internal FPATAN: atan2(y, x) for finite nonzero y and x (ST(1) = y, ST(0) = x), in
 * (−π, π] with the sign of y.
 */
export function fpatan(
  ys: number,
  ym: bigint,
  ye: number,
  xs: number,
  xm: bigint,
  xe: number,
  mode: number,
): bigint {
  const ly = ye + bits(ym);
  const lx = xe + bits(xm);
  const yBig = compareMag(ym, ye, xm, xe) > 0;
  const ratioExp = yBig ? lx - ly : ly - lx;
  const p = W + Math.max(0, -ratioExp);
  let theta = yBig ? atanRatio(xm, xe, ym, ye, p) : atanRatio(ym, ye, xm, xe, p);
  const piP = p >= W + 64 ? pi() << BigInt(p - W - 64) : pi() >> BigInt(W + 64 - p);
  if (yBig) theta = (piP >> 1n) - theta;
  if (xs) theta = piP - theta;
  return finish(ys, theta, -p, false, mode);
}

/** −1, 0 or 1 as |a| (am·2^ae) compares with |b|. */
function compareMag(am: bigint, ae: number, bm: bigint, be: number): number {
  const e = Math.min(ae, be);
  const a = am << BigInt(ae - e);
  const b = bm << BigInt(be - e);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** @internal The correctly rounded atan2 of (±0 or ±∞) cases: ±π, ±π/2, ±π/4, ±3π/4 (`num`/4 of π). */
export function piMultiple(sign: number, num: number, mode: number): bigint {
  return finish(sign, pi() * BigInt(num), -(W + 64) - 2, false, mode);
}

/** The hardware's 66-bit π: round(π·2^64), value P66·2^−64. */
const P66 = 0x3243f6a8885a308d3n;

/** Results of {@link sinCos}: sine and cosine as signed m·2^e. */
interface SinCos {
  sm: bigint;
  se: number;
  cm: bigint;
  ce: number;
}

/**
 * sin and cos of x = (−1)^sign·m·2^e (finite, nonzero, |x| < 2^63) after the hardware's
 * reduction by k·π66/2.
 */
function sinCos(sign: number, m: bigint, e: number): SinCos {
  // x and k·P66·2^-65 share the scale 2^-s.
  const s = Math.max(-e, 65);
  let xr = m << BigInt(e + s);
  if (sign) xr = -xr;
  const half = P66 << BigInt(s - 65);
  // k = round(x / (π66/2)).
  let k = (2n * xr + half) / (2n * half);
  if (2n * xr + half < 0n && (2n * xr + half) % (2n * half) !== 0n) k -= 1n;
  const r = xr - k * half;
  const q = Number(((k % 4n) + 4n) % 4n);
  // r at W bits for the series (|r| ≤ π/4), exact r for the leading factor of sin.
  const rf = fix(r, -s, W);
  const r2 = (rf * rf) >> BigInt(W);
  let term = ONE;
  let sinS = ONE;
  let cosS = ONE;
  for (let j = 1; term !== 0n; j++) {
    term = (term * r2) >> BigInt(W);
    const c = term / BigInt((2 * j - 1) * (2 * j));
    const sn = c / BigInt(2 * j + 1);
    if ((j & 1) === 1) {
      cosS -= c;
      sinS -= sn;
    } else {
      cosS += c;
      sinS += sn;
    }
    // `term` is now r^{2j}/(2j)!: the next step divides by (2j+1)(2j+2).
    term = c;
  }
  // Tiny r: when the corrections vanished, |sin r| < |r| and cos r < 1. Step one unit toward
  // zero so that the rounding's sticky bit ("the value lies above") is right.
  const sinM = sinS === ONE ? r * ONE - (r < 0n ? -1n : 1n) : r * sinS;
  if (cosS === ONE) cosS = ONE - 1n;
  const sinE = -s - W;
  switch (q) {
    case 0:
      return { sm: sinM, se: sinE, cm: cosS, ce: -W };
    case 1:
      return { sm: cosS, se: -W, cm: -sinM, ce: sinE };
    case 2:
      return { sm: -sinM, se: sinE, cm: -cosS, ce: -W };
    default:
      return { sm: -cosS, se: -W, cm: sinM, ce: sinE };
  }
}

function roundSigned(m: bigint, e: number, mode: number): bigint {
  return finish(m < 0n ? 1 : 0, m < 0n ? -m : m, e, false, mode);
}

/** @internal FSIN of a finite nonzero x with |x| < 2^63. */
export function fsin(sign: number, m: bigint, e: number, mode: number): bigint {
  const r = sinCos(sign, m, e);
  return roundSigned(r.sm, r.se, mode);
}

/** @internal FCOS of a finite nonzero x with |x| < 2^63. */
export function fcos(sign: number, m: bigint, e: number, mode: number): bigint {
  const r = sinCos(sign, m, e);
  return roundSigned(r.cm, r.ce, mode);
}

/** @internal FPTAN's tangent of a finite nonzero x with |x| < 2^63. */
export function ftan(sign: number, m: bigint, e: number, mode: number): bigint {
  const r = sinCos(sign, m, e);
  const shift =
    W + 80 + Math.max(0, bits(r.cm < 0n ? -r.cm : r.cm) - bits(r.sm < 0n ? -r.sm : r.sm));
  return roundSigned((r.sm << BigInt(shift)) / r.cm, r.se - r.ce - shift, mode);
}
