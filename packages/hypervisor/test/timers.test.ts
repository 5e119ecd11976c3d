import { describe, expect, it } from 'vitest';
import {
  DeterministicClock,
  HypervisorError,
  VCPU_SSHOTTMR_future,
  VcpuTimers,
  VIRQ_TIMER,
  XEN_EINVAL,
  XEN_ETIME,
} from '../src/index.ts';
import { evtchnHost, pending } from './helpers.ts';

const MS = 1_000_000;

function setup(start = 0) {
  const clock = new DeterministicClock(start);
  const fired: Array<[number, number, number]> = [];
  const timers = new VcpuTimers({
    clock,
    timers: clock,
    raise: (d, v) => fired.push([d, v, clock.now()]),
  });
  return { clock, timers, fired };
}

describe('periodic timer', () => {
  it('starts at 10 ms for a PV vCPU and restarts its period from each event', () => {
    const { clock, timers, fired } = setup();
    timers.addVcpu(1, 0);
    clock.advance(35 * MS);
    expect(fired).toEqual([
      [1, 0, 10 * MS],
      [1, 0, 20 * MS],
      [1, 0, 30 * MS],
    ]);
  });

  it('accepts periods from 1 ms to STIME_DELTA_MAX and stops on request', () => {
    const { clock, timers, fired } = setup();
    timers.addVcpu(1, 0);
    expect(timers.setPeriodic(1, 0, BigInt(MS - 1))).toBe(-XEN_EINVAL);
    expect(timers.setPeriodic(1, 0, 2n ** 62n)).toBe(-XEN_EINVAL);
    expect(timers.setPeriodic(1, 0, 2n ** 64n - 1n)).toBe(-XEN_EINVAL);
    expect(timers.setPeriodic(1, 0, BigInt(3 * MS))).toBe(0);
    clock.advance(7 * MS);
    expect(fired.map((f) => f[2])).toEqual([3 * MS, 6 * MS]);
    expect(timers.stopPeriodic(1, 0)).toBe(0);
    clock.advance(100 * MS);
    expect(fired).toHaveLength(2);
  });
});

describe('single-shot timer', () => {
  it('fires once at the set_timer_op deadline and is cancelled by 0', () => {
    const { clock, timers, fired } = setup();
    timers.addVcpu(1, 0, 0);
    expect(timers.setTimerOp(1, 0, BigInt(5 * MS))).toBe(0);
    clock.advance(20 * MS);
    expect(fired).toEqual([[1, 0, 5 * MS]]);
    timers.setTimerOp(1, 0, BigInt(30 * MS));
    timers.setTimerOp(1, 0, 0n);
    clock.advance(20 * MS);
    expect(fired).toHaveLength(1);
  });

  it('turns wrapped or absurdly distant set_timer_op deadlines into 100 ms and fires past ones at once', () => {
    const { clock, timers, fired } = setup(1000 * MS);
    timers.addVcpu(1, 0, 0);
    timers.setTimerOp(1, 0, 2n ** 64n - 1n); // -1 as s64
    clock.advance(99 * MS);
    expect(fired).toEqual([]);
    clock.advance(MS);
    expect(fired).toEqual([[1, 0, 1100 * MS]]);
    timers.setTimerOp(1, 0, BigInt(clock.now()) + 2n ** 50n);
    clock.advance(100 * MS);
    expect(fired.map((f) => f[2])).toEqual([1100 * MS, 1200 * MS]);
    timers.setTimerOp(1, 0, BigInt(clock.now()) + 2n ** 50n - 1n);
    timers.setTimerOp(1, 0, 5n);
    clock.advance(0);
    expect(fired).toHaveLength(3);
  });

  it('refuses a past deadline with -ETIME only when VCPU_SSHOTTMR_future is set', () => {
    const { clock, timers, fired } = setup(50 * MS);
    timers.addVcpu(2, 1, 0);
    expect(timers.setSingleshot(2, 1, BigInt(10 * MS), VCPU_SSHOTTMR_future)).toBe(-XEN_ETIME);
    clock.advance(MS);
    expect(fired).toEqual([]);
    expect(timers.setSingleshot(2, 1, BigInt(10 * MS), 0)).toBe(0);
    clock.advance(0);
    expect(fired).toEqual([[2, 1, 51 * MS]]);
    expect(timers.setSingleshot(2, 1, BigInt(60 * MS), VCPU_SSHOTTMR_future)).toBe(0);
    expect(timers.stopSingleshot(2, 1)).toBe(0);
    clock.advance(20 * MS);
    expect(fired).toHaveLength(1);
    expect(() => timers.setTimerOp(3, 0, 1n)).toThrow(HypervisorError);
  });
});

describe('timers and event channels', () => {
  it('raise VIRQ_TIMER on the bound port of the right vCPU', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 1, vcpus: 2 }]);
    const clock = new DeterministicClock();
    const timers = new VcpuTimers({
      clock,
      timers: clock,
      raise: (d, v) => evtchn.sendVirq(d, v, VIRQ_TIMER),
    });
    timers.addVcpu(1, 0);
    timers.addVcpu(1, 1, 0);
    const p1 = evtchn.bindVirq(1, VIRQ_TIMER, 1);
    timers.setTimerOp(1, 1, BigInt(3 * MS));
    clock.advance(4 * MS);
    expect(pending(dom(1), p1)).toBe(true);
  });

  it('round-trip through plain state and fire at the same times afterwards', () => {
    const a = setup();
    a.timers.addVcpu(1, 0);
    a.timers.addVcpu(1, 1, 0);
    a.timers.setTimerOp(1, 1, BigInt(17 * MS));
    a.clock.advance(12 * MS);
    const state = JSON.parse(JSON.stringify(a.timers.getState()));
    const clock = new DeterministicClock(a.clock.now());
    const fired: Array<[number, number, number]> = [];
    const b = VcpuTimers.fromState(state, {
      clock,
      timers: clock,
      raise: (d, v) => fired.push([d, v, clock.now()]),
    });
    expect(b.getState()).toEqual(a.timers.getState());
    a.clock.advance(20 * MS);
    clock.advance(20 * MS);
    expect(fired).toEqual(a.fired.slice(1));
    b.removeDomain(1);
    clock.advance(100 * MS);
    expect(fired).toHaveLength(a.fired.length - 1);
  });
});
