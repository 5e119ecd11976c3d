import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCpuList, hostCpuList } from '../src/index.ts';

describe('xl CPU lists for vcpu-pin', () => {
  it('parses all, ranges, single CPUs and exclusions against the host', () => {
    expect(hostCpuList('all', 4)).toEqual([0, 1, 2, 3]);
    expect(hostCpuList('0-1,3', 4)).toEqual([0, 1, 3]);
    expect(hostCpuList(' 2 ', 4)).toEqual([2]);
    expect(hostCpuList('0-3,^2', 4)).toEqual([0, 1, 3]);
    expect(hostCpuList('^0', 2)).toEqual([1]);
    expect(hostCpuList('4', 4)).toBeNull(); // no such CPU
    expect(hostCpuList('3-1', 4)).toBeNull();
    expect(hostCpuList('^0,^1', 2)).toBeNull(); // nothing left
    expect(hostCpuList('', 4)).toBeNull();
    expect(hostCpuList('1;2', 4)).toBeNull();
  });

  it('formats as xl does: all, or ranges', () => {
    expect(formatCpuList([0, 1, 2, 3], 4)).toBe('all');
    expect(formatCpuList([0, 1, 3], 4)).toBe('0-1,3');
    expect(formatCpuList([2], 4)).toBe('2');
  });

  it('never throws for any text, and what it accepts is a sorted set of existing CPUs that formats back to itself', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .array(
              fc
                .tuple(fc.boolean(), fc.nat(40), fc.option(fc.nat(40)))
                .map(([neg, a, b]) => `${neg ? '^' : ''}${a}${b === null ? '' : `-${b}`}`),
              { minLength: 1, maxLength: 6 },
            )
            .map((parts) => parts.join(',')),
        ),
        fc.integer({ min: 1, max: 64 }),
        (text, n) => {
          const cpus = hostCpuList(text, n);
          if (cpus === null) return;
          expect(cpus.length).toBeGreaterThan(0);
          for (let i = 0; i < cpus.length; i++) {
            expect(cpus[i]).toBeGreaterThanOrEqual(0);
            expect(cpus[i]).toBeLessThan(n);
            if (i > 0) expect(cpus[i]).toBeGreaterThan(cpus[i - 1] as number);
          }
          expect(hostCpuList(formatCpuList(cpus, n), n)).toEqual(cpus);
        },
      ),
    );
  });
});
