/**
 * The fast path of SSE arithmetic: round-to-nearest ADD/SUB/MUL/DIV/SQRT on JavaScript doubles
 * when the operands are zeros or normal numbers well inside the exponent range and the result
 * is normal. The precision flag stays exact through error-free transformations (TwoSum,
 * Dekker's TwoProduct with Veltkamp splitting, the exact division and square-root remainders);
 * binary32 results are the double result rounded once more (innocuous double rounding for
 * these operations, as 53 ≥ 2·24 + 2). Anything else returns false and takes the exact BigInt
 * path in `softfloat.ts`; the QEMU vectors check both.
 * @see Dekker, "A floating-point technique for extending the available precision" (1971);
 * Figueroa, "When is double rounding innocuous?" (1995)
 */

/** @internal Out-fields: the result and whether it was inexact. */
export const FAST_OUT: Float64Array = /* @__PURE__ */ new Float64Array(2);

const SPLIT = 134217729; // 2^27 + 1
const LO = 2 ** -400;
const HI = 2 ** 400;

/**
 * Zero or a normal number whose products and quotients stay far from overflow and underflow
 * (binary32 operands: any normal float, so denormals take the exact path for DE and DAZ).
 */
function safe(x: number, single: boolean): boolean {
  if (x === 0) return true;
  const m = x < 0 ? -x : x;
  return m >= (single ? 2 ** -126 : LO) && m <= HI;
}

/** The exact error of the product a × b rounded to `p` (Dekker's TwoProduct). */
function mulError(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * @internal `a op b` (op: 0 add, 1 sub, 2 mul, 3 div, 4 sqrt of b) rounded to nearest in
 * binary64, or in binary32 with `single`; result in FAST_OUT[0], 1 in FAST_OUT[1] if inexact.
 * Returns false when the exact path must decide.
 */
export function fastArith(op: number, a: number, b: number, single: boolean): boolean {
  if (!safe(b, single) || (op !== 4 && !safe(a, single))) return false;
  let r: number;
  let inexact: boolean;
  switch (op) {
    case 0:
    case 1: {
      const y = op === 0 ? b : -b;
      r = a + y;
      const bb = r - a;
      inexact = a - (r - bb) + (y - bb) !== 0;
      break;
    }
    case 2:
      r = a * b;
      inexact = mulError(a, b, r) !== 0;
      break;
    case 3:
      if (b === 0) return false;
      r = a / b;
      {
        // Exact iff a = r·b: r·b = p + e (TwoProduct), and a - p is exact (Sterbenz).
        const p = r * b;
        inexact = a - p !== mulError(r, b, p);
      }
      break;
    default:
      if (b < 0) return false;
      r = Math.sqrt(b);
      {
        const p = r * r;
        inexact = b - p !== mulError(r, r, p);
      }
  }
  if (single) {
    const f = Math.fround(r);
    if (f !== r) inexact = true;
    r = f;
    const m = r < 0 ? -r : r;
    if (
      Number.isNaN(r) ||
      m === Number.POSITIVE_INFINITY ||
      (m < 2 ** -126 && (r !== 0 || inexact))
    )
      return false;
  } else {
    const m = r < 0 ? -r : r;
    if (
      Number.isNaN(r) ||
      m === Number.POSITIVE_INFINITY ||
      (m < 2 ** -1022 && (r !== 0 || inexact))
    )
      return false;
  }
  FAST_OUT[0] = r;
  FAST_OUT[1] = inexact ? 1 : 0;
  return true;
}
