/**
 * Exact IEEE 754 binary32/binary64 arithmetic for SSE with every MXCSR rounding mode, DAZ/FTZ
 * and exact exception flags. Operands are unpacked to `m × 2^e` with a BigInt significand, the
 * exact result (or a quotient/root carried with a sticky bit) is rounded once. BigInt is slower
 * than doubles but SSE floating point is not the CPU's hot path, and it makes directed rounding,
 * inexact/underflow/overflow detection and denormals exact without special cases (DESIGN.md
 * "x87 and SSE"). Tininess is detected after rounding, as x86 does.
 * @see Intel SDM Vol. 1 §4.8 (real numbers), §4.9 (exceptions), §10.2.3 (MXCSR), §11.5 (SIMD FP exceptions)
 */
import { MXCSR } from './fpu-state.ts';

/** @internal A floating-point format. */
export interface FloatFormat {
  /** Significand bits including the integer bit. */
  readonly p: number;
  /** Largest unbiased exponent. */
  readonly emax: number;
  /** Smallest normal unbiased exponent. */
  readonly emin: number;
  /** Exponent field bits. */
  readonly eb: number;
  /** Stored fraction bits below the integer bit (p - 1, or 63 for the 80-bit format). */
  readonly fb: number;
  /** The integer bit is stored (x87 double extended). */
  readonly explicit: boolean;
}

/** @internal binary32. */
export const F32: FloatFormat = { p: 24, emax: 127, emin: -126, eb: 8, fb: 23, explicit: false };
/** @internal binary64. */
export const F64: FloatFormat = { p: 53, emax: 1023, emin: -1022, eb: 11, fb: 52, explicit: false };
/** @internal x87 double extended (64-bit significand with an explicit integer bit). */
export const F80: FloatFormat = {
  p: 64,
  emax: 16383,
  emin: -16382,
  eb: 15,
  fb: 63,
  explicit: true,
};
/** @internal F80 rounded to 24 bits (x87 precision control 00). */
export const F80_24: FloatFormat = { ...F80, p: 24 };
/** @internal F80 rounded to 53 bits (x87 precision control 10). */
export const F80_53: FloatFormat = { ...F80, p: 53 };

/** @internal Operand classes. */
export const CLS = {
  /** ±0. */ ZERO: 0,
  /** Normal or denormal. */ FINITE: 1,
  /** ±∞. */ INF: 2,
  /** Quiet NaN. */ QNAN: 3,
  /** Signalling NaN. */ SNAN: 4,
} as const;

/** @internal An unpacked operand: value = (-1)^sign × m × 2^e. */
export interface Unpacked {
  /** A {@link CLS} value. */
  cls: number;
  /** 1 for negative. */
  sign: number;
  /** Significand (finite values). */
  m: bigint;
  /** Exponent of the significand's least significant bit. */
  e: number;
  /** The raw bits (for NaN propagation). */
  bits: bigint;
  /** True if the operand was a denormal (before DAZ). */
  denormal: boolean;
}

/** @internal Exception flags raised by the current operation (MXCSR bit layout). */
export const FLAGS: Int32Array = /* @__PURE__ */ new Int32Array(1);
/** @internal 1 when the last explicit-format rounding rounded the magnitude up (x87 C1). */
export const LAST_ROUND_UP: Int32Array = /* @__PURE__ */ new Int32Array(1);

function mask(n: number): bigint {
  return (1n << BigInt(n)) - 1n;
}

/** @internal Unpacks `bits` of `fmt`; with `daz`, denormals read as zero. */
export function unpack(fmt: FloatFormat, bits: bigint, daz: boolean): Unpacked {
  const fb = fmt.fb;
  const eb = fmt.eb;
  const sb = fmt.explicit ? 64 : fb;
  const sign = Number((bits >> BigInt(sb + eb)) & 1n);
  const be = Number((bits >> BigInt(sb)) & mask(eb));
  const frac = bits & mask(fb);
  const bias = fmt.emax;
  const u: Unpacked = { cls: CLS.FINITE, sign, m: 0n, e: 0, bits, denormal: false };
  if (fmt.explicit) {
    const j = (bits >> 63n) & 1n;
    if (be === 0x7fff)
      u.cls =
        j === 0n ? CLS.SNAN : frac === 0n ? CLS.INF : (frac >> 62n) & 1n ? CLS.QNAN : CLS.SNAN;
    else if (be === 0) {
      if (frac === 0n && j === 0n) u.cls = CLS.ZERO;
      else if (daz) u.cls = CLS.ZERO;
      else {
        u.denormal = true;
        u.m = bits & mask(64);
        u.e = fmt.emin - fb;
      }
    } else if (j === 0n)
      u.cls = CLS.SNAN; // Unnormal: an invalid operand.
    else {
      u.m = bits & mask(64);
      u.e = be - bias - fb;
    }
    return u;
  }
  if (be === (1 << eb) - 1) {
    if (frac === 0n) u.cls = CLS.INF;
    else u.cls = (frac >> BigInt(fb - 1)) & 1n ? CLS.QNAN : CLS.SNAN;
  } else if (be === 0) {
    if (frac === 0n) u.cls = CLS.ZERO;
    else if (daz) {
      u.cls = CLS.ZERO;
    } else {
      u.denormal = true;
      u.m = frac;
      u.e = fmt.emin - fb;
    }
  } else {
    u.m = frac | (1n << BigInt(fb));
    u.e = be - bias - fb;
  }
  return u;
}

/** @internal The bits of ±0 or ±∞ of `fmt`. */
export function special(fmt: FloatFormat, sign: number, inf: boolean): bigint {
  const fb = fmt.explicit ? 64 : fmt.fb;
  const eb = fmt.eb;
  const s = BigInt(sign) << BigInt(fb + eb);
  if (fmt.explicit) return inf ? s | (0x7fffn << 64n) | (1n << 63n) : s;
  return inf ? s | (mask(eb) << BigInt(fb)) : s;
}

/** @internal The default NaN (negative quiet NaN, "real indefinite") of `fmt`. */
export function defaultNan(fmt: FloatFormat): bigint {
  if (fmt.explicit) return 0xffffc000000000000000n;
  return fmt === F32 ? 0xffc00000n : 0xfff8000000000000n;
}

/** @internal `bits` with the quiet bit set. */
export function quiet(fmt: FloatFormat, bits: bigint): bigint {
  return bits | (1n << BigInt(fmt.fb - 1));
}

function bitLength(m: bigint): number {
  return m.toString(2).length;
}

/**
 * @internal Rounds (-1)^sign × (m + sticky) × 2^e to `fmt` under `mxcsr` (RC, FTZ, UM) and
 * returns the bits, raising PE/UE/OE in {@link FLAGS}. `sticky` means nonzero bits lie below
 * m's least significant bit (the caller keeps at least p + 2 bits then).
 */
export function round(
  fmt: FloatFormat,
  sign: number,
  m: bigint,
  e: number,
  sticky: boolean,
  mxcsr: number,
): bigint {
  LAST_ROUND_UP[0] = 0;
  if (m === 0n && !sticky) return special(fmt, sign, false);
  const p = fmt.p;
  const rc = (mxcsr >> 13) & 3;
  let nb = bitLength(m);
  const E = e + nb - 1;
  // Quantum exponent: the weight of the last kept bit (denormals keep a fixed quantum).
  let q = Math.max(E - (p - 1), fmt.emin - (p - 1));
  let kept: bigint;
  let inexact: boolean;
  let roundUp = false;
  if (q > e) {
    const sh = BigInt(q - e);
    kept = m >> sh;
    const rem = m & mask(q - e);
    const half = 1n << (sh - 1n);
    inexact = rem !== 0n || sticky;
    if (inexact) {
      if (rc === 0) roundUp = rem > half || (rem === half && (sticky || (kept & 1n) === 1n));
      else if (rc === 1) roundUp = sign === 1;
      else if (rc === 2) roundUp = sign === 0;
    }
  } else {
    kept = m << BigInt(e - q);
    inexact = sticky;
    if (sticky) {
      // Not reached by the callers (they keep enough bits); round toward the sticky side.
      if (rc === 1) roundUp = sign === 1;
      else if (rc === 2) roundUp = sign === 0;
    }
  }
  if (roundUp) kept += 1n;
  nb = bitLength(kept);
  if (nb > p) {
    kept >>= 1n;
    q += 1;
    nb = p;
  }
  const rE = kept === 0n ? fmt.emin - 1 : q + nb - 1;
  // Tininess after rounding: the value rounded with an unbounded exponent is below 2^emin.
  const tiny = E < fmt.emin && !roundsToMinNormal(fmt, sign, m, e, sticky, rc);
  if (rE > fmt.emax) {
    FLAGS[0] |= MXCSR.OE | MXCSR.PE;
    const toInf = rc === 0 || (rc === 1 && sign === 1) || (rc === 2 && sign === 0);
    LAST_ROUND_UP[0] = toInf ? 1 : 0;
    return toInf ? special(fmt, sign, true) : maxFinite(fmt, sign);
  }
  if (tiny) {
    if ((mxcsr & MXCSR.FTZ) !== 0 && (mxcsr & MXCSR.UM) !== 0) {
      FLAGS[0] |= MXCSR.UE | MXCSR.PE;
      return special(fmt, sign, false);
    }
    if (inexact || (mxcsr & MXCSR.UM) === 0) FLAGS[0] |= MXCSR.UE;
  }
  if (inexact) FLAGS[0] |= MXCSR.PE;
  const biased = nb === p ? BigInt(rE + fmt.emax) : 0n;
  LAST_ROUND_UP[0] = roundUp ? 1 : 0;
  if (fmt.explicit) {
    return (BigInt(sign) << 79n) | (biased << 64n) | (kept << BigInt(64 - p));
  }
  const fb = p - 1;
  const eb = fmt.eb;
  return (BigInt(sign) << BigInt(fb + eb)) | (biased << BigInt(fb)) | (kept & mask(fb));
}

/** With an unbounded exponent, does the value round to at least 2^emin in magnitude? */
function roundsToMinNormal(
  fmt: FloatFormat,
  sign: number,
  m: bigint,
  e: number,
  sticky: boolean,
  rc: number,
): boolean {
  const nb = bitLength(m);
  const q = e + nb - 1 - (fmt.p - 1);
  if (q <= e) return false;
  const sh = BigInt(q - e);
  let kept = m >> sh;
  const rem = m & mask(q - e);
  const half = 1n << (sh - 1n);
  let up = false;
  if (rem !== 0n || sticky) {
    if (rc === 0) up = rem > half || (rem === half && (sticky || (kept & 1n) === 1n));
    else if (rc === 1) up = sign === 1;
    else if (rc === 2) up = sign === 0;
  }
  if (up) kept += 1n;
  return bitLength(kept) > fmt.p && e + bitLength(m) >= fmt.emin;
}

function maxFinite(fmt: FloatFormat, sign: number): bigint {
  if (fmt.explicit)
    return (BigInt(sign) << 79n) | (0x7ffen << 64n) | (mask(fmt.p) << BigInt(64 - fmt.p));
  const fb = fmt.p - 1;
  const eb = fmt.eb;
  return (BigInt(sign) << BigInt(fb + eb)) | (BigInt((1 << eb) - 2) << BigInt(fb)) | mask(fb);
}

/** @internal Exact sum of two finite unpacked values as `[sign, m, e]` (m ≥ 0). */
function addExact(a: Unpacked, b: Unpacked, bneg: number): [number, bigint, number] {
  const e = Math.min(a.e, b.e);
  const ma = (a.sign ? -a.m : a.m) << BigInt(a.e - e);
  const sb = a === b ? a.sign : b.sign ^ bneg;
  const mb = (sb ? -b.m : b.m) << BigInt(b.e - e);
  const s = ma + mb;
  return [s < 0n ? 1 : 0, s < 0n ? -s : s, e];
}

/** Arithmetic operation codes for {@link arith}. */
export const OP = {
  /** a + b. */ ADD: 0,
  /** a - b. */ SUB: 1,
  /** a × b. */ MUL: 2,
  /** a ÷ b. */ DIV: 3,
  /** √b (a ignored). */ SQRT: 4,
} as const;

function isNan(u: Unpacked): boolean {
  return u.cls === CLS.QNAN || u.cls === CLS.SNAN;
}

/**
 * @internal SSE NaN propagation (SDM Table 4-7): an SNaN operand raises IE; the result is the
 * first source if it is a NaN, else the second, quieted.
 */
function propagate(fmt: FloatFormat, a: Unpacked | null, b: Unpacked): bigint {
  if ((a !== null && a.cls === CLS.SNAN) || b.cls === CLS.SNAN) FLAGS[0] |= MXCSR.IE;
  if (fmt.explicit) return quietX87(pickX87(a, b).bits);
  if (a !== null && isNan(a)) return quiet(fmt, a.bits);
  return quiet(fmt, b.bits);
}

/** A quieted x87 NaN; an invalid encoding (unnormal, pseudo-NaN) gives the default NaN. */
function quietX87(bits: bigint): bigint {
  const be = (bits >> 64n) & 0x7fffn;
  if (be !== 0x7fffn || ((bits >> 63n) & 1n) === 0n) return 0xffffc000000000000000n;
  return bits | (1n << 62n);
}

/**
 * The x87 NaN rule (SDM Table 4-7): a QNaN beats an SNaN, otherwise the larger significand
 * (then the positive sign); a single NaN is the result.
 */
function pickX87(a: Unpacked | null, b: Unpacked): Unpacked {
  if (a === null || !isNan(a)) return b;
  if (!isNan(b)) return a;
  if (a.cls !== b.cls) return a.cls === CLS.QNAN ? a : b;
  const fa = a.bits & mask(64);
  const fb = b.bits & mask(64);
  if (fa !== fb) return fa > fb ? a : b;
  return a.sign <= b.sign ? a : b;
}

/** @internal One scalar operation on raw bits of `fmt` (ADD/SUB/MUL/DIV/SQRT) under `mxcsr`. */
export function arith(
  fmt: FloatFormat,
  op: number,
  abits: bigint,
  bbits: bigint,
  mxcsr: number,
): bigint {
  const daz = (mxcsr & MXCSR.DAZ) !== 0;
  const b = unpack(fmt, bbits, daz);
  const a = op === OP.SQRT ? null : unpack(fmt, abits, daz);
  if ((a !== null && isNan(a)) || isNan(b)) return propagate(fmt, a, b);
  if (a?.denormal || b.denormal) FLAGS[0] |= MXCSR.DE;
  if (op === OP.SQRT) {
    if (b.cls === CLS.ZERO) return special(fmt, b.sign, false);
    if (b.sign === 1) {
      FLAGS[0] |= MXCSR.IE;
      return defaultNan(fmt);
    }
    if (b.cls === CLS.INF) return special(fmt, 0, true);
    // √(m × 2^e): make e even and m long enough for p + 2 result bits.
    let m = b.m;
    let e = b.e;
    if ((e & 1) !== 0) {
      m <<= 1n;
      e -= 1;
    }
    const want = 2 * (fmt.p + 3);
    const nb = bitLength(m);
    if (nb < want) {
      const sh = want - nb + ((want - nb) & 1);
      m <<= BigInt(sh);
      e -= sh;
    }
    const r = isqrt(m);
    return round(fmt, 0, r, e / 2, r * r !== m, mxcsr);
  }
  const A = a as Unpacked;
  const sign = A.sign ^ b.sign;
  switch (op) {
    case OP.ADD:
    case OP.SUB: {
      const bs = b.sign ^ (op === OP.SUB ? 1 : 0);
      if (A.cls === CLS.INF || b.cls === CLS.INF) {
        if (A.cls === CLS.INF && b.cls === CLS.INF && A.sign !== bs) {
          FLAGS[0] |= MXCSR.IE;
          return defaultNan(fmt);
        }
        return special(fmt, A.cls === CLS.INF ? A.sign : bs, true);
      }
      if (A.cls === CLS.ZERO && b.cls === CLS.ZERO) {
        const rc = (mxcsr >> 13) & 3;
        return special(fmt, A.sign === bs ? A.sign : rc === 1 ? 1 : 0, false);
      }
      if (b.cls === CLS.ZERO) return round(fmt, A.sign, A.m, A.e, false, mxcsr);
      if (A.cls === CLS.ZERO) return round(fmt, bs, b.m, b.e, false, mxcsr);
      const [s, m, e] = addExact(A, b, op === OP.SUB ? 1 : 0);
      if (m === 0n) return special(fmt, ((mxcsr >> 13) & 3) === 1 ? 1 : 0, false);
      return round(fmt, s, m, e, false, mxcsr);
    }
    case OP.MUL:
      if (A.cls === CLS.INF || b.cls === CLS.INF) {
        if (A.cls === CLS.ZERO || b.cls === CLS.ZERO) {
          FLAGS[0] |= MXCSR.IE;
          return defaultNan(fmt);
        }
        return special(fmt, sign, true);
      }
      if (A.cls === CLS.ZERO || b.cls === CLS.ZERO) return special(fmt, sign, false);
      return round(fmt, sign, A.m * b.m, A.e + b.e, false, mxcsr);
    default: {
      // DIV
      if (A.cls === CLS.INF) {
        if (b.cls === CLS.INF) {
          FLAGS[0] |= MXCSR.IE;
          return defaultNan(fmt);
        }
        return special(fmt, sign, true);
      }
      if (b.cls === CLS.INF) return special(fmt, sign, false);
      if (b.cls === CLS.ZERO) {
        if (A.cls === CLS.ZERO) {
          FLAGS[0] |= MXCSR.IE;
          return defaultNan(fmt);
        }
        FLAGS[0] |= MXCSR.ZE;
        return special(fmt, sign, true);
      }
      if (A.cls === CLS.ZERO) return special(fmt, sign, false);
      const sh = fmt.p + 3 + bitLength(b.m) - bitLength(A.m) + 1;
      const num = A.m << BigInt(Math.max(sh, 0));
      const qt = num / b.m;
      return round(fmt, sign, qt, A.e - Math.max(sh, 0) - b.e, qt * b.m !== num, mxcsr);
    }
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Newton steps from the double estimate until stable.
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x -= 1n;
  while ((x + 1n) * (x + 1n) <= n) x += 1n;
  return x;
}

/**
 * @internal Compares two operands: returns 0 (a < b), 1 (equal), 2 (a > b) or 3 (unordered).
 * `signalQnan`: a QNaN operand raises IE too (COMISS, CMPLT/LE/NLT/NLE, MIN/MAX).
 */
export function compare(
  fmt: FloatFormat,
  abits: bigint,
  bbits: bigint,
  mxcsr: number,
  signalQnan: boolean,
): number {
  const daz = (mxcsr & MXCSR.DAZ) !== 0;
  const a = unpack(fmt, abits, daz);
  const b = unpack(fmt, bbits, daz);
  if (isNan(a) || isNan(b)) {
    if (a.cls === CLS.SNAN || b.cls === CLS.SNAN || signalQnan) FLAGS[0] |= MXCSR.IE;
    return 3;
  }
  if (a.denormal || b.denormal) FLAGS[0] |= MXCSR.DE;
  const va = value(a);
  const vb = value(b);
  return va.lt(vb) ? 0 : vb.lt(va) ? 2 : 1;
}

/** A comparable exact value: sign-magnitude as a scaled BigInt pair. */
function value(u: Unpacked): {
  lt: (o: { k: bigint; e: number; inf: number }) => boolean;
  k: bigint;
  e: number;
  inf: number;
} {
  const inf = u.cls === CLS.INF ? (u.sign ? -1 : 1) : 0;
  const k = u.cls === CLS.FINITE ? (u.sign ? -u.m : u.m) : 0n;
  const e = u.cls === CLS.FINITE ? u.e : 0;
  return {
    k,
    e,
    inf,
    lt(o): boolean {
      if (inf !== o.inf) return inf < o.inf;
      if (inf !== 0) return false;
      const m = Math.min(e, o.e);
      return k << BigInt(e - m) < o.k << BigInt(o.e - m);
    },
  };
}

/**
 * @internal Converts `bits` of `fmt` to a signed integer of `width` (32 or 64) bits with the
 * MXCSR rounding mode, or truncating; NaN and out-of-range give the integer indefinite with IE.
 */
export function toInt(
  fmt: FloatFormat,
  bits: bigint,
  width: number,
  truncate: boolean,
  mxcsr: number,
): bigint {
  const u = unpack(fmt, bits, (mxcsr & MXCSR.DAZ) !== 0);
  const indefinite = 1n << BigInt(width - 1);
  if (isNan(u) || u.cls === CLS.INF) {
    FLAGS[0] |= MXCSR.IE;
    return indefinite;
  }
  // Conversions to integers report no denormal-operand exception (SDM CVTSS2SI, FIST).
  if (u.cls === CLS.ZERO) return 0n;
  let r: bigint;
  let inexact = false;
  if (u.e >= 0) r = u.m << BigInt(u.e);
  else {
    const sh = BigInt(-u.e);
    r = u.m >> sh;
    const rem = u.m & ((1n << sh) - 1n);
    if (rem !== 0n) {
      inexact = true;
      const rc = truncate ? 3 : (mxcsr >> 13) & 3;
      const half = 1n << (sh - 1n);
      if (rc === 0) {
        if (rem > half || (rem === half && (r & 1n) === 1n)) r += 1n;
      } else if (rc === 1) {
        if (u.sign) r += 1n;
      } else if (rc === 2) {
        if (!u.sign) r += 1n;
      }
    }
  }
  const v = u.sign ? -r : r;
  if (v < -indefinite || v >= indefinite) {
    FLAGS[0] |= MXCSR.IE;
    return indefinite;
  }
  if (inexact) FLAGS[0] |= MXCSR.PE;
  return BigInt.asUintN(width, v);
}

/** @internal Converts a signed integer to `fmt` with the MXCSR rounding mode. */
export function fromInt(fmt: FloatFormat, v: bigint, mxcsr: number): bigint {
  if (v === 0n) return 0n;
  const sign = v < 0n ? 1 : 0;
  return round(fmt, sign, sign ? -v : v, 0, false, mxcsr & ~MXCSR.FTZ);
}

/** @internal Converts between binary32 and binary64 (`from` → `to`) under `mxcsr`. */
export function convert(from: FloatFormat, to: FloatFormat, bits: bigint, mxcsr: number): bigint {
  const u = unpack(from, bits, (mxcsr & MXCSR.DAZ) !== 0);
  if (isNan(u)) {
    if (u.cls === CLS.SNAN) FLAGS[0] |= MXCSR.IE;
    // Keep the sign and the top payload bits, quieted.
    const fbFrom = from.p - 1;
    const fbTo = to.p - 1;
    const payload = bits & mask(fbFrom);
    const moved =
      fbTo > fbFrom ? payload << BigInt(fbTo - fbFrom) : payload >> BigInt(fbFrom - fbTo);
    return quiet(to, special(to, u.sign, true) | moved);
  }
  if (u.denormal) FLAGS[0] |= MXCSR.DE;
  if (u.cls === CLS.INF) return special(to, u.sign, true);
  if (u.cls === CLS.ZERO) return special(to, u.sign, false);
  return round(to, u.sign, u.m, u.e, false, mxcsr);
}

/** @internal MIN/MAX (SSE semantics): either NaN, or both zero, returns the second operand; IE on any NaN. */
export function minMax(
  fmt: FloatFormat,
  abits: bigint,
  bbits: bigint,
  max: boolean,
  mxcsr: number,
): bigint {
  const c = compare(fmt, abits, bbits, mxcsr, true);
  if (c === 3) return bbits;
  if (max) return c === 2 ? abits : bbits;
  return c === 0 ? abits : bbits;
}
