import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { F80, FLAGS, unpack } from '../src/fpu/softfloat.ts';
import { f2xm1, fcos, fpatan, fsin, ftan, fyl2x, fyl2xp1 } from '../src/fpu/x87-trans.ts';

function haveBc(): boolean {
  try {
    execFileSync('bc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An 80-bit value as a bc expression (exact). */
function dec(v: bigint): string {
  const u = unpack(F80, v, false);
  return `(${u.sign ? '-' : ''}${u.m}*2^(${u.e}))`;
}

/**
 * Rounds a decimal string (bc's output, ~450 significant bits) to the 80-bit format's 64-bit
 * significand under rounding control `rc` (0 nearest, 1 down, 2 up, 3 toward zero); normal
 * results only. Returns the 80-bit encoding.
 */
function roundDecimal(text: string, rc: number): bigint {
  let s = text.trim();
  const neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  const [ip, fp = ''] = s.split('.');
  const num = BigInt((ip === '' ? '0' : ip) + fp);
  const den = 10n ** BigInt(fp.length);
  // Find e with 2^63 <= num/den * 2^-e < 2^64.
  let e = num.toString(2).length - den.toString(2).length - 63;
  let sig: bigint;
  let rem: bigint;
  let d: bigint;
  for (;;) {
    const n = e >= 0 ? num : num << BigInt(-e);
    d = e >= 0 ? den << BigInt(e) : den;
    sig = n / d;
    rem = n % d;
    if (sig >= 1n << 64n) e++;
    else if (sig < 1n << 63n) e--;
    else break;
  }
  let up = false;
  if (rem !== 0n) {
    if (rc === 0) up = 2n * rem > d || (2n * rem === d && (sig & 1n) === 1n);
    else if (rc === 1) up = neg;
    else if (rc === 2) up = !neg;
  }
  if (up) sig += 1n;
  if (sig === 1n << 64n) {
    sig >>= 1n;
    e++;
  }
  return (
    ((neg ? 1n : 0n) << 79n) |
    (BigInt(e + 63 + 16383) << 64n) |
    (sig & ((1n << 64n) - 1n)) |
    (1n << 63n)
  );
}

/** Evaluates bc expressions (one per line) at 140 decimal digits. */
function bc(exprs: string[]): string[] {
  const out = execFileSync('bc', ['-lq'], {
    input: `scale=140\n${exprs.join('\n')}\n`,
    maxBuffer: 1 << 24,
  }).toString();
  return out.replace(/\\\n/g, '').trim().split('\n');
}

const sig = fc.bigInt({ min: 1n << 63n, max: (1n << 64n) - 1n });
const x80 = (
  exp: fc.Arbitrary<number>,
  sign: fc.Arbitrary<number> = fc.integer({ min: 0, max: 1 }),
) => fc.tuple(sign, exp, sig).map(([s, e, m]) => (BigInt(s) << 79n) | (BigInt(e) << 64n) | m);
const rc = fc.integer({ min: 0, max: 3 });

interface Case {
  expr: string;
  got: bigint;
  rc: number;
  what: string;
}

function check(cases: Case[]): string[] {
  const want = bc(cases.map((c) => c.expr));
  const bad: string[] = [];
  cases.forEach((c, i) => {
    const w = roundDecimal(want[i], c.rc);
    if (w !== c.got)
      bad.push(`${c.what} rc=${c.rc}: bc ${w.toString(16)} model ${c.got.toString(16)}`);
  });
  return bad;
}

function mode(r: number): number {
  return 0x1f80 | (r << 13);
}

function run<T extends unknown[]>(
  arb: fc.Arbitrary<T>,
  seed: number,
  make: (...a: T) => Case,
): Case[] {
  return fc.sample(arb, { seed, numRuns: 60 }).map((a) => make(...a));
}

describe('x87 transcendentals on the range ends', () => {
  it('F2XM1 and FYL2XP1 of denormals give denormal results with PE and UE (tiny operands keep their precision)', () => {
    // 2^x - 1 = x ln 2 (1 + ...) for the smallest denormal x = 2^-16445: rounds to x itself.
    FLAGS[0] = 0;
    expect(f2xm1(0, 1n, -16445, 0x1f80)).toBe(1n);
    expect(FLAGS[0] & 0x30).toBe(0x30);
    // y log2(1 + x) with y = 1 and x = 3 * 2^-16445: 3 / ln 2 = 4.33 units, rounded to 4.
    FLAGS[0] = 0;
    expect(fyl2xp1(0, 1n << 63n, -63, 0, 3n, -16445, 0x1f80)).toBe(4n);
    expect(FLAGS[0] & 0x30).toBe(0x30);
    // Rounding up (RC = up) gives 5 units.
    expect(fyl2xp1(0, 1n << 63n, -63, 0, 3n, -16445, 0x1f80 | 0x4000)).toBe(5n);
  });

  it('FSIN, FCOS and FPTAN of a tiny x round in the right direction: sin x < x < tan x, cos x < 1', () => {
    const x = (BigInt(16383 - 100) << 64n) | (1n << 63n); // 2^-100
    const below = (BigInt(16383 - 101) << 64n) | ((1n << 64n) - 1n);
    const above = x + 1n;
    const one = 0x3fff8000000000000000n;
    const m = 1n << 63n;
    const e = -163;
    const [rn, up, chop] = [0x1f80, 0x1f80 | 0x4000, 0x1f80 | 0x6000];
    expect([fsin(0, m, e, rn), fsin(0, m, e, up), fsin(0, m, e, chop)]).toEqual([x, x, below]);
    expect([ftan(0, m, e, rn), ftan(0, m, e, up), ftan(0, m, e, chop)]).toEqual([x, above, x]);
    expect([fcos(0, m, e, rn), fcos(0, m, e, up), fcos(0, m, e, chop)]).toEqual([
      one,
      one,
      0x3ffeffffffffffffffffn,
    ]);
    // Negative: sin(-x) rounded toward zero is -below.
    expect(fsin(1, m, e, chop)).toBe(below | (1n << 79n));
  });

  it('FPATAN of a tiny quotient keeps its relative precision: atan2(2^-16000, 1) = 2^-16000 (inexact)', () => {
    FLAGS[0] = 0;
    const r = fpatan(0, 1n << 63n, -16063, 0, 1n << 63n, -63, 0x1f80);
    expect(r).toBe((BigInt(16383 - 16000) << 64n) | (1n << 63n));
    expect(FLAGS[0] & 0x20).toBe(0x20);
    // Rounded toward zero it is the next value below.
    const down = fpatan(0, 1n << 63n, -16063, 0, 1n << 63n, -63, 0x1f80 | 0x6000);
    expect(down).toBe((BigInt(16383 - 16001) << 64n) | ((1n << 64n) - 1n));
  });
});

describe.skipIf(!haveBc() && !process.env.CI)(
  'x87 transcendentals are correctly rounded (checked against bc -l)',
  () => {
    it('F2XM1 on |x| <= 1 in every rounding mode', () => {
      const cases = run(fc.tuple(x80(fc.integer({ min: 0x3f80, max: 0x3ffe })), rc), 1, (x, r) => {
        const u = unpack(F80, x, false);
        FLAGS[0] = 0;
        return {
          expr: `e(${dec(x)}*l(2))-1`,
          got: f2xm1(u.sign, u.m, u.e, mode(r)),
          rc: r,
          what: `f2xm1 ${x.toString(16)}`,
        };
      });
      expect(check(cases)).toEqual([]);
    });

    it('FYL2X and FYL2XP1 in every rounding mode', () => {
      const y = x80(fc.integer({ min: 0x3fe0, max: 0x401f }));
      const a = run(
        fc.tuple(x80(fc.integer({ min: 0x3f00, max: 0x40ff }), fc.constant(0)), y, rc),
        2,
        (x, yy, r) => {
          const ux = unpack(F80, x, false);
          const uy = unpack(F80, yy, false);
          return {
            expr: `${dec(yy)}*l(${dec(x)})/l(2)`,
            got: fyl2x(uy.sign, uy.m, uy.e, ux.m, ux.e, mode(r)),
            rc: r,
            what: `fyl2x ${x.toString(16)} ${yy.toString(16)}`,
          };
        },
      );
      const b = run(
        fc.tuple(x80(fc.integer({ min: 0x3f00, max: 0x3ffc })), y, rc),
        3,
        (x, yy, r) => {
          const ux = unpack(F80, x, false);
          const uy = unpack(F80, yy, false);
          return {
            expr: `${dec(yy)}*l(1+${dec(x)})/l(2)`,
            got: fyl2xp1(uy.sign, uy.m, uy.e, ux.sign, ux.m, ux.e, mode(r)),
            rc: r,
            what: `fyl2xp1 ${x.toString(16)} ${yy.toString(16)}`,
          };
        },
      );
      expect(check([...a, ...b])).toEqual([]);
    });

    it('FPATAN in all four quadrants and every rounding mode', () => {
      const v = x80(fc.integer({ min: 0x3fc0, max: 0x4040 }));
      const cases = run(fc.tuple(v, v, rc), 4, (x, y, r) => {
        const ux = unpack(F80, x, false);
        const uy = unpack(F80, y, false);
        // atan2 from bc's a(): quadrant by the signs of x and y.
        const base = `a(${dec(y)}/${dec(x)})`;
        const expr = ux.sign ? `${base}${uy.sign ? '-' : '+'}4*a(1)` : base;
        return {
          expr,
          got: fpatan(uy.sign, uy.m, uy.e, ux.sign, ux.m, ux.e, mode(r)),
          rc: r,
          what: `fpatan ${y.toString(16)} ${x.toString(16)}`,
        };
      });
      expect(check(cases)).toEqual([]);
    });

    it('FSIN, FCOS and FPTAN for |x| < pi/4 (no reduction) in every rounding mode', () => {
      const arb = fc.tuple(x80(fc.integer({ min: 0x3fa0, max: 0x3ffe })), rc).filter(([x]) => {
        const u = unpack(F80, x, false);
        return Number(u.m) * 2 ** u.e < 0.785;
      });
      const cases = run(arb, 5, (x, r) => {
        const u = unpack(F80, x, false);
        const pick = Number(u.m & 3n) % 3;
        const fn = [fsin, fcos, ftan][pick];
        const expr = [`s(${dec(x)})`, `c(${dec(x)})`, `s(${dec(x)})/c(${dec(x)})`][pick];
        return {
          expr,
          got: fn(u.sign, u.m, u.e, mode(r)),
          rc: r,
          what: `${fn.name} ${x.toString(16)}`,
        };
      });
      expect(check(cases)).toEqual([]);
    });

    it('FSIN and FCOS of larger operands reduce by multiples of the 66-bit pi/2 (SDM Vol. 1 §8.3.10)', () => {
      const p66 = 0x3243f6a8885a308d3n; // round(pi * 2^64)
      const cases = run(fc.tuple(x80(fc.integer({ min: 0x3fff, max: 0x403c })), rc), 6, (x, r) => {
        const u = unpack(F80, x, false);
        // k = round(x / (p66 / 2^65)) exactly, x = m * 2^e.
        const s = Math.max(-u.e, 65);
        const xs = (u.sign ? -1n : 1n) * (u.m << BigInt(u.e + s));
        const half = p66 << BigInt(s - 65);
        const twice = 2n * xs + half;
        let k = twice / (2n * half);
        if (twice < 0n && twice % (2n * half) !== 0n) k -= 1n;
        const red = `(${dec(x)}-(${k})*${p66}/2^65)`;
        const q = Number(((k % 4n) + 4n) % 4n);
        const sin = [`s(${red})`, `c(${red})`, `-s(${red})`, `-c(${red})`][q];
        const cos = [`c(${red})`, `-s(${red})`, `-c(${red})`, `s(${red})`][q];
        const useSin = (u.m & 1n) === 0n;
        return {
          expr: useSin ? sin : cos,
          got: (useSin ? fsin : fcos)(u.sign, u.m, u.e, mode(r)),
          rc: r,
          what: `${useSin ? 'fsin' : 'fcos'} ${x.toString(16)}`,
        };
      });
      expect(check(cases)).toEqual([]);
    });
  },
);
