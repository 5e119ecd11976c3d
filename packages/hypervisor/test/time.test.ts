import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DeterministicClock,
  frequencyOf,
  type GuestBytes,
  HypervisorError,
  PagedGuestMemory,
  RealTimeClock,
  SHARED_INFO_X86_32,
  SHARED_INFO_X86_64,
  scaleDelta,
  timeScaleFor,
  writeVcpuTimeInfo,
  writeWallClock,
  XEN_PVCLOCK_TSC_STABLE_BIT,
} from '../src/index.ts';

/** What a PV guest computes from its vcpu_time_info at TSC value `tsc` (the ABI doc's formula). */
function guestNow(mem: PagedGuestMemory, at: number, tsc: bigint): bigint {
  const v = new DataView(mem.bytes.buffer, at, 32);
  const delta = tsc - v.getBigUint64(8, true);
  const shift = v.getInt8(28);
  const shifted = shift < 0 ? delta >> BigInt(-shift) : delta << BigInt(shift);
  return v.getBigUint64(16, true) + ((shifted * BigInt(v.getUint32(24, true))) >> 32n);
}

describe('TSC scale', () => {
  it("follows Xen's set_time_scale for common frequencies", () => {
    expect(timeScaleFor(2_000_000_000)).toEqual({ mul: 2 ** 31, shift: 0 });
    expect(timeScaleFor(1_000_000_000)).toEqual({ mul: 2 ** 31, shift: 1 });
    expect(timeScaleFor(3_000_000_000)).toEqual({ mul: 2863311530, shift: -1 });
    expect(timeScaleFor(1_000_000)).toEqual({ mul: 4194304000, shift: 10 });
    expect(() => timeScaleFor(0)).toThrow(HypervisorError);
  });

  it('turns one second of ticks into one second of nanoseconds, and back into the frequency', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 20_000_000_000 }), (hz) => {
        const scale = timeScaleFor(hz);
        expect(scale.mul).toBeGreaterThan(2 ** 31 - 1);
        expect(scale.mul).toBeLessThan(2 ** 32);
        const ns = scaleDelta(BigInt(hz), scale);
        expect(Number(ns)).toBeGreaterThanOrEqual(1e9 - 1 - 1e9 / hz);
        expect(Number(ns)).toBeLessThanOrEqual(1e9);
        expect(Math.abs(frequencyOf(scale) - hz) / hz).toBeLessThan(1e-6);
      }),
    );
  });
});

describe('vcpu_time_info', () => {
  it('gives a guest the system time for any later TSC reading', () => {
    const mem = new PagedGuestMemory(1);
    const scale = timeScaleFor(3_000_000_000);
    const at = 32; // vcpu_info[0].time
    writeVcpuTimeInfo(mem, at, {
      tscTimestamp: 5_000_000n,
      systemTime: 123_000n,
      scale,
      flags: XEN_PVCLOCK_TSC_STABLE_BIT,
    });
    expect(guestNow(mem, at, 5_000_000n + 3_000_000_000n)).toBe(123_000n + 1_000_000_000n - 1n);
    expect(mem.bytes[at + 29]).toBe(XEN_PVCLOCK_TSC_STABLE_BIT);
  });

  it('writes every field while the version is odd and leaves it even, even after a guest scribble', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (start) => {
        const mem = new PagedGuestMemory(1);
        const at = 64 + 32;
        new DataView(mem.bytes.buffer).setUint32(at, start, true);
        const versions: number[] = [];
        const spy: GuestBytes = {
          read: (a, d) => mem.read(a, d),
          write: (a, s) => {
            if (a !== at || s.length !== 4)
              versions.push(new DataView(mem.bytes.buffer).getUint32(at, true));
            return mem.write(a, s);
          },
        };
        const end = writeVcpuTimeInfo(spy, at, {
          tscTimestamp: 1n,
          systemTime: 2n,
          scale: timeScaleFor(2_500_000_000),
          flags: 0,
        });
        expect(versions.length).toBeGreaterThan(0);
        for (const v of versions) expect(v % 2).toBe(1);
        expect(end % 2).toBe(0);
        const odd = ((start + 1) | 1) >>> 0;
        expect(end).toBe(((odd + 1) & ~1) >>> 0);
        expect(new DataView(mem.bytes.buffer).getUint32(at, true)).toBe(end);
      }),
    );
  });

  it("reports -1 when the record is not in the domain's memory", () => {
    const mem = new PagedGuestMemory(1, { present: false });
    expect(
      writeVcpuTimeInfo(mem, 32, {
        tscTimestamp: 0n,
        systemTime: 0n,
        scale: timeScaleFor(1e9),
        flags: 0,
      }),
    ).toBe(-1);
  });
});

describe('wall clock', () => {
  it("puts seconds, nanoseconds and the high seconds at each ABI's offsets with an even version", () => {
    const sec = 2 ** 32 + 1_700_000_000;
    for (const layout of [SHARED_INFO_X86_32, SHARED_INFO_X86_64]) {
      const mem = new PagedGuestMemory(1);
      const v = new DataView(mem.bytes.buffer);
      expect(writeWallClock(mem, 0, layout, sec, 250)).toBe(2);
      expect(v.getUint32(layout.wc_sec, true)).toBe(1_700_000_000);
      expect(v.getUint32(layout.wc_nsec, true)).toBe(250);
      expect(v.getUint32(layout.wc_sec_hi, true)).toBe(1);
      expect(writeWallClock(mem, 0, layout, 5, 0)).toBe(4);
    }
    expect(SHARED_INFO_X86_32.wc_sec_hi).toBe(2340);
    expect(SHARED_INFO_X86_64.wc_sec_hi).toBe(3084);
  });
});

describe('clocks', () => {
  it('moves deterministic time only when advanced', () => {
    const clock = new DeterministicClock(10);
    expect(clock.now()).toBe(10);
    expect(clock.advance(5)).toBe(15);
    expect(clock.now()).toBe(15);
    expect(() => clock.advance(-1)).toThrow(HypervisorError);
  });

  it('fires deterministic timers in deadline order, ties in arming order, with the clock at the deadline', () => {
    const clock = new DeterministicClock();
    const log: string[] = [];
    const a = clock.create(() => log.push(`a@${clock.now()}`));
    const b = clock.create(() => log.push(`b@${clock.now()}`));
    const c = clock.create(() => {
      log.push(`c@${clock.now()}`);
      clock.set(c, clock.now() + 5); // re-arming from inside a callback works
    });
    clock.set(b, 20);
    clock.set(a, 20);
    clock.set(c, 7);
    clock.advance(15);
    clock.destroy(c);
    expect(clock.advance(10)).toBe(25);
    expect(log).toEqual(['c@7', 'c@12', 'b@20', 'a@20']);
    expect(() => clock.set(c, 1)).toThrow(HypervisorError);
  });

  it('keeps real time monotonic even if its source steps back', () => {
    const readings = [1000, 1000.5, 1002, 1001, 1003];
    let i = 0;
    const clock = new RealTimeClock(() => readings[Math.min(i++, readings.length - 1)] ?? 0);
    expect([clock.now(), clock.now(), clock.now(), clock.now()]).toEqual([
      500_000, 2_000_000, 2_000_000, 3_000_000,
    ]);
  });
});
