import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAST_OUT, fastArith } from '../src/fpu/fast-float.ts';
import { arith, F32, F64, FLAGS } from '../src/fpu/softfloat.ts';

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Doubles that stress the fast path's edges: near 1, near its range limits, cancellations. */
const double = fc.oneof(
  fc.double({ noNaN: true }),
  fc.double({ min: 0.5, max: 4, noNaN: true }),
  fc
    .integer({ min: -1100, max: 1100 })
    .chain((e) => fc.double({ min: 1, max: 2, noNaN: true }).map((m) => m * 2 ** e)),
  fc.constantFrom(0, -0, 1, -1, 2 ** -400, 2 ** 400, 2 ** -1022, Number.MAX_VALUE),
);

describe('SSE fast path (round to nearest on doubles)', () => {
  for (const single of [false, true]) {
    it(`agrees with the exact soft-float on result bits and the precision flag (${single ? 'binary32' : 'binary64'})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 4 }),
          double,
          double,
          fc.boolean(),
          (op, x, y, near) => {
            const a = single ? Math.fround(x) : x;
            let b = single ? Math.fround(y) : y;
            // Half the time a nearby second operand: cancellation and exact quotients.
            if (near) b = single ? Math.fround(a * (1 + 2 ** -20)) : a * (1 + 2 ** -50);
            if (!fastArith(op, a, b, single)) return;
            const got = FAST_OUT[0];
            const gotPe = FAST_OUT[1] !== 0;
            FLAGS[0] = 0;
            let want: bigint;
            if (single) {
              f32[0] = a;
              const ab = BigInt(u32[0]);
              f32[0] = b;
              want = arith(F32, op, ab, BigInt(u32[0]), 0x1f80);
              f32[0] = got;
              expect(BigInt(u32[0])).toBe(want);
            } else {
              f64[0] = a;
              const ab = u64[0];
              f64[0] = b;
              want = arith(F64, op, ab, u64[0], 0x1f80);
              f64[0] = got;
              expect(u64[0]).toBe(want);
            }
            expect(gotPe).toBe((FLAGS[0] & 0x20) !== 0);
            expect(FLAGS[0] & ~0x20).toBe(0);
          },
        ),
        { numRuns: 20000 },
      );
    });
  }
});
