import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/index.ts';
import {
  divU64by32,
  mulS32,
  mulS64,
  mulU32,
  mulU64,
  sar64,
  shl64,
  shr64,
  W,
} from '../src/internal/wide.ts';
import { asm, CODE, runToHlt, setup } from './helpers.ts';

const M64 = (1n << 64n) - 1n;
const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const s64 = (lo: number, hi: number): bigint => BigInt.asIntN(64, u64(lo, hi));
const words = (n: number): bigint => {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 32n) | BigInt(W[i] >>> 0);
  return v;
};
const int32 = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, -1, 1, 0x7fffffff, -0x80000000, 0xffff, 0x10000),
);

describe('int32-halves wide arithmetic (checked against BigInt)', () => {
  it('shifts 64-bit values left, right and arithmetically right by 0..63', () => {
    fc.assert(
      fc.property(int32, int32, fc.integer({ min: 0, max: 63 }), (lo, hi, c) => {
        const v = u64(lo, hi);
        shl64(lo, hi, c);
        expect(words(2)).toBe((v << BigInt(c)) & M64);
        shr64(lo, hi, c);
        expect(words(2)).toBe(v >> BigInt(c));
        sar64(lo, hi, c);
        expect(words(2)).toBe((s64(lo, hi) >> BigInt(c)) & M64);
      }),
      { numRuns: 2000 },
    );
  });

  it('multiplies 32 x 32 -> 64 bits, unsigned and signed', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        mulU32(a, b);
        expect(words(2)).toBe(BigInt(a >>> 0) * BigInt(b >>> 0));
        mulS32(a, b);
        expect(words(2)).toBe((BigInt(a) * BigInt(b)) & M64);
      }),
      { numRuns: 2000 },
    );
  });

  it('multiplies 64 x 64 -> 128 bits, unsigned and signed', () => {
    const M128 = (1n << 128n) - 1n;
    fc.assert(
      fc.property(int32, int32, int32, int32, (alo, ahi, blo, bhi) => {
        mulU64(alo, ahi, blo, bhi);
        expect(words(4)).toBe(u64(alo, ahi) * u64(blo, bhi));
        mulS64(alo, ahi, blo, bhi);
        expect(words(4)).toBe((s64(alo, ahi) * s64(blo, bhi)) & M128);
      }),
      { numRuns: 2000 },
    );
  });

  it('divides 64 by 32 bits whenever the quotient fits in 32 bits', () => {
    fc.assert(
      fc.property(int32, int32, int32, (lo, hi, d) => {
        fc.pre(d !== 0 && hi >>> 0 < d >>> 0);
        const n = u64(lo, hi);
        const dv = BigInt(d >>> 0);
        divU64by32(lo, hi, d);
        expect(BigInt(W[0] >>> 0)).toBe(n / dv);
        expect(BigInt(W[1] >>> 0)).toBe(n % dv);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('DIV and MUL through the CPU on int32 halves (checked against BigInt)', () => {
  // div rbx ; mul rcx ; div ecx ; hlt (RDX < divisor arranged by the property).
  const code = asm(
    'div rbx\nmov r8, rax\nmov r9, rdx\nmul rcx\nmov r10, rax\nmov r11, rdx\nhlt',
    64,
    CODE,
  );
  const code32 = asm('div ecx\nhlt', 32, CODE);

  it('64-bit DIV with small divisors and MUL give BigInt quotient, remainder and product', () => {
    fc.assert(
      fc.property(int32, int32, int32, int32, int32, (alo, ahi, d, rdx, clo) => {
        fc.pre(d !== 0 && rdx >>> 0 < d >>> 0);
        const { cpu } = setup('long64', code);
        cpu.lo[0] = alo;
        cpu.hi[0] = ahi;
        cpu.lo[2] = rdx;
        cpu.lo[3] = d;
        cpu.lo[1] = clo;
        cpu.hi[1] = ahi ^ clo;
        runToHlt(cpu, 100);
        const n = (BigInt(rdx >>> 0) << 64n) | u64(alo, ahi);
        const q = n / BigInt(d >>> 0);
        expect(u64(cpu.lo[8], cpu.hi[8])).toBe(q);
        expect(u64(cpu.lo[9], cpu.hi[9])).toBe(n % BigInt(d >>> 0));
        const p = q * u64(clo, ahi ^ clo);
        expect(u64(cpu.lo[10], cpu.hi[10])).toBe(p & M64);
        expect(u64(cpu.lo[11], cpu.hi[11])).toBe(p >> 64n);
        expect((cpu.getRflags() & 0x801) !== 0).toBe(p >> 64n !== 0n);
      }),
      { numRuns: 300 },
    );
  });

  it('32-bit DIV of EDX:EAX gives the BigInt quotient and remainder, and #DE on overflow', () => {
    fc.assert(
      fc.property(int32, int32, int32, (eax, edx, d) => {
        const { cpu } = setup('prot32', code32, { intercepts: { exceptionBitmap: 1 } });
        cpu.lo[0] = eax;
        cpu.lo[2] = edx;
        cpu.lo[1] = d;
        const r = cpu.run(100);
        const n = u64(eax, edx);
        if (d === 0 || n / BigInt(d >>> 0) > 0xffffffffn) {
          expect(r).toBe(EXIT.EXCEPTION);
          expect(cpu.exit.vector).toBe(0);
          expect(cpu.lo[0]).toBe(eax);
        } else {
          expect(r).toBe(EXIT.HLT);
          expect(BigInt(cpu.lo[0] >>> 0)).toBe(n / BigInt(d >>> 0));
          expect(BigInt(cpu.lo[2] >>> 0)).toBe(n % BigInt(d >>> 0));
        }
      }),
      { numRuns: 300 },
    );
  });
});
