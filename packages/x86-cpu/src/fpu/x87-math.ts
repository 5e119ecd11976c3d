/**
 * x87 partial remainders (FPREM/FPREM1, exact), packed BCD (FBLD/FBSTP) and the
 * transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1).
 * The transcendentals are evaluated in IEEE double precision (JavaScript's Math) and widened:
 * their results carry about 53 correct bits instead of the hardware's 64 (DESIGN.md lists the
 * difference; QEMU computes them in extended precision).
 * @see Intel SDM Vol. 2 (FPREM, FPREM1, FBLD, FBSTP, FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1)
 */
import {
  arith,
  CLS,
  convert,
  F64,
  F80,
  FLAGS,
  fromInt,
  OP,
  round,
  special,
  unpack,
} from './softfloat.ts';

/** @internal Result of {@link fprem}: the remainder, quotient low bits and completeness. */
export interface PremResult {
  /** The new ST(0). */
  value: bigint;
  /** The three low bits of the quotient (C0 = bit 2, C3 = bit 1, C1 = bit 0). */
  q: number;
  /** False for a partial remainder (C2 = 1). */
  complete: boolean;
}

/**
 * @internal FPREM (`ieee` false: truncated quotient) and FPREM1 (`ieee` true: quotient rounded
 * to nearest even) of ST(0) by ST(1). An exponent difference of 64 or more gives a partial
 * remainder reduced by 2^(32 + D mod 32), as AMD documents and QEMU does.
 */
export function fprem(a: bigint, b: bigint, ieee: boolean, mode: number): PremResult {
  const ua = unpack(F80, a, false);
  const ub = unpack(F80, b, false);
  const nan = ua.cls >= CLS.QNAN || ub.cls >= CLS.QNAN;
  if (nan) return { value: arith(F80, OP.ADD, a, b, mode), q: 0, complete: true };
  if (ua.denormal || ub.denormal) FLAGS[0] |= 0x2;
  if (ua.cls === CLS.INF || ub.cls === CLS.ZERO) {
    FLAGS[0] |= 0x1;
    return { value: 0xffffc000000000000000n, q: 0, complete: true };
  }
  if (ua.cls === CLS.ZERO || ub.cls === CLS.INF) return { value: a, q: 0, complete: true };
  const Ea = ua.e + ua.m.toString(2).length;
  const Eb = ub.e + ub.m.toString(2).length;
  const d = Ea - Eb;
  const e = Math.min(ua.e, ub.e);
  const A = ua.m << BigInt(ua.e - e);
  if (d >= 64) {
    const scale = d - (32 + (d % 32));
    const B = ub.m << BigInt(ub.e + scale - e);
    const q = A / B;
    const r = A - q * B;
    return {
      value: r === 0n ? special(F80, ua.sign, false) : round(F80, ua.sign, r, e, false, mode),
      q: 0,
      complete: false,
    };
  }
  const B = ub.m << BigInt(ub.e - e);
  let q = A / B;
  let r = A - q * B;
  if (ieee && (2n * r > B || (2n * r === B && (q & 1n) === 1n))) {
    q += 1n;
    r -= B;
  }
  const neg = r < 0n;
  const mag = neg ? -r : r;
  const sign = neg ? ua.sign ^ 1 : ua.sign;
  const value = mag === 0n ? special(F80, ua.sign, false) : round(F80, sign, mag, e, false, mode);
  return { value, q: Number(q & 7n), complete: true };
}

/** @internal FBLD: an 80-bit packed BCD operand (18 digits, sign in bit 79) as an 80-bit real. */
export function fromBcd(bytes: number[]): bigint {
  let v = 0n;
  for (let i = 8; i >= 0; i--) v = v * 100n + BigInt((bytes[i] >> 4) * 10 + (bytes[i] & 15));
  const x = fromInt(F80, v, 0x1f80);
  return (bytes[9] & 0x80) !== 0 ? x | (1n << 79n) : x;
}

/**
 * @internal FBSTP: ST(0) rounded by the rounding control to packed BCD bytes; NaN, infinity
 * or a magnitude of 10^18 or more is invalid (IE) and stores the BCD indefinite.
 */
export function toBcd(v: bigint, rc: number): number[] {
  const u = unpack(F80, v, false);
  const indefinite = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];
  if (u.cls !== CLS.FINITE && u.cls !== CLS.ZERO) {
    FLAGS[0] |= 0x1;
    return indefinite;
  }
  let r = 0n;
  if (u.cls === CLS.FINITE) {
    if (u.e >= 0) r = u.m << BigInt(u.e);
    else {
      const sh = BigInt(-u.e);
      r = u.m >> sh;
      const rem = u.m & ((1n << sh) - 1n);
      if (rem !== 0n) {
        FLAGS[0] |= 0x20;
        const half = 1n << (sh - 1n);
        if (
          rc === 0
            ? rem > half || (rem === half && (r & 1n) === 1n)
            : rc === 1
              ? u.sign === 1
              : rc === 2
                ? u.sign === 0
                : false
        )
          r += 1n;
      }
    }
  }
  if (r >= 10n ** 18n) {
    FLAGS[0] = (FLAGS[0] & ~0x20) | 0x1;
    return indefinite;
  }
  const out: number[] = [];
  for (let i = 0; i < 9; i++) {
    const two = Number(r % 100n);
    r /= 100n;
    out.push(((two / 10) << 4) | (two % 10));
  }
  out.push(u.sign ? 0x80 : 0);
  return out;
}

const F64_BITS = /* @__PURE__ */ new Float64Array(1);
const F64_U32 = /* @__PURE__ */ new Uint32Array(F64_BITS.buffer);

/** @internal An 80-bit value as the nearest double. */
export function toDouble(v: bigint): number {
  const saved = FLAGS[0];
  const d = convert(F80, F64, v, 0x1f80);
  FLAGS[0] = saved;
  F64_U32[0] = Number(d & 0xffffffffn);
  F64_U32[1] = Number(d >> 32n);
  return F64_BITS[0];
}

/** @internal A double widened exactly to 80 bits. */
export function fromDouble(x: number): bigint {
  F64_BITS[0] = x;
  const bits = (BigInt(F64_U32[1]) << 32n) | BigInt(F64_U32[0]);
  const saved = FLAGS[0];
  const r = convert(F64, F80, bits, 0x1f80);
  FLAGS[0] = saved;
  return r;
}

/** @internal True for a NaN or unsupported encoding. */
export function isNanX(v: bigint): boolean {
  const c = unpack(F80, v, false).cls;
  return c === CLS.QNAN || c === CLS.SNAN;
}

/**
 * @internal A transcendental result: NaN operands propagate (x87 rule), an invalid result
 * (NaN from non-NaN operands) gives IE and the indefinite, anything else sets PE.
 */
export function transResult(x: number, a: bigint, b: bigint | null, mode: number): bigint {
  if (isNanX(a) || (b !== null && isNanX(b))) return arith(F80, OP.ADD, b ?? a, a, mode);
  if (Number.isNaN(x)) {
    FLAGS[0] |= 0x1;
    return 0xffffc000000000000000n;
  }
  if (!Number.isFinite(x)) return fromDouble(x);
  FLAGS[0] |= 0x20;
  return fromDouble(x);
}
