import { describe, expect, it } from 'vitest';
import {
  DeterministicClock,
  type HypercallContext,
  HypervisorError,
  setTimerOp,
  VCPU_SSHOTTMR_future,
  VCPUOP_register_vcpu_info,
  VCPUOP_set_periodic_timer,
  VCPUOP_set_singleshot_timer,
  VCPUOP_stop_periodic_timer,
  VCPUOP_stop_singleshot_timer,
  VcpuTimers,
  VIRQ_TIMER,
  vcpuOp,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSYS,
} from '../src/index.ts';
import { evtchnHost, pending } from './helpers.ts';

const MS = 1_000_000;
const ARG = 8 * 4096;

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

  it('fires a past deadline at once, ignoring VCPU_SSHOTTMR_future as Xen 4.17 does', () => {
    const { clock, timers, fired } = setup(50 * MS);
    timers.addVcpu(2, 1, 0);
    expect(timers.setSingleshot(2, 1, BigInt(10 * MS), VCPU_SSHOTTMR_future)).toBe(0);
    clock.advance(0);
    expect(fired).toEqual([[2, 1, 50 * MS]]);
    clock.advance(MS);
    expect(timers.setSingleshot(2, 1, BigInt(10 * MS), 0)).toBe(0);
    clock.advance(0);
    expect(fired).toEqual([
      [2, 1, 50 * MS],
      [2, 1, 51 * MS],
    ]);
    expect(timers.setSingleshot(2, 1, BigInt(60 * MS), VCPU_SSHOTTMR_future)).toBe(0);
    expect(timers.stopSingleshot(2, 1)).toBe(0);
    clock.advance(20 * MS);
    expect(fired).toHaveLength(2);
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

describe('vcpu_op timer subset and set_timer_op', () => {
  function host(abi: 'x86_32' | 'x86_64' = 'x86_64') {
    const { evtchn, dom } = evtchnHost([{ domid: 1, vcpus: 2, abi }]);
    const clock = new DeterministicClock();
    const fired: Array<[number, number]> = [];
    const timers = new VcpuTimers({
      clock,
      timers: clock,
      raise: (_d, v) => fired.push([v, clock.now()]),
    });
    timers.addVcpu(1, 0);
    timers.addVcpu(1, 1);
    const mem = dom(1).mem;
    const ctx: HypercallContext = { domid: 1, vcpu: 0, abi, guest: mem };
    const v = new DataView(mem.bytes.buffer, ARG, 16);
    return { evtchn, timers, clock, fired, mem, ctx, v };
  }

  it('sets and stops the periodic timer from a guest struct', () => {
    const { evtchn, timers, clock, fired, ctx, v } = host();
    v.setBigUint64(0, BigInt(4 * MS), true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_periodic_timer, 1, ARG)).toBe(0);
    v.setBigUint64(0, 999n, true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_periodic_timer, 1, ARG)).toBe(-XEN_EINVAL);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_stop_periodic_timer, 0, ARG)).toBe(0);
    clock.advance(9 * MS);
    expect(fired).toEqual([
      [1, 4 * MS],
      [1, 8 * MS],
    ]);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_periodic_timer, 2, ARG)).toBe(-XEN_ENOENT);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_periodic_timer, 0, 99 * 4096)).toBe(
      -XEN_EFAULT,
    );
    expect(vcpuOp({ evtchn, timers }, ctx, 0, 0, ARG)).toBe(-XEN_ENOSYS);
  });

  it('allows single-shot operations only on the calling vCPU', () => {
    const { evtchn, timers, clock, fired, ctx, v } = host();
    timers.stopPeriodic(1, 0);
    timers.stopPeriodic(1, 1);
    v.setBigUint64(0, BigInt(2 * MS), true);
    v.setUint32(8, VCPU_SSHOTTMR_future, true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_singleshot_timer, 1, ARG)).toBe(-XEN_EINVAL);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_singleshot_timer, 0, ARG)).toBe(0);
    clock.advance(3 * MS);
    expect(fired).toEqual([[0, 2 * MS]]);
    // Past, with VCPU_SSHOTTMR_future: accepted and fired at once (Xen 4.17 ignores the flag).
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_set_singleshot_timer, 0, ARG)).toBe(0);
    clock.advance(0);
    expect(fired).toEqual([
      [0, 2 * MS],
      [0, 3 * MS],
    ]);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_stop_singleshot_timer, 1, ARG)).toBe(-XEN_EINVAL);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_stop_singleshot_timer, 0, ARG)).toBe(0);
  });

  it('registers a vcpu_info by frame and offset', () => {
    const { evtchn, timers, mem, ctx, v } = host();
    v.setBigUint64(0, 3n, true);
    v.setUint32(8, 4096 - 32, true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_register_vcpu_info, 1, ARG)).toBe(-XEN_EINVAL);
    v.setUint32(8, 256, true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_register_vcpu_info, 1, ARG)).toBe(0);
    expect(mem.bytes[3 * 4096 + 256]).toBe(1);
    v.setBigUint64(0, 2n ** 63n, true);
    expect(vcpuOp({ evtchn, timers }, ctx, VCPUOP_register_vcpu_info, 0, ARG)).toBe(-XEN_EINVAL);
  });

  it("joins a 32-bit guest's split set_timer_op deadline", () => {
    const { timers, clock, fired, ctx } = host('x86_32');
    timers.stopPeriodic(1, 0);
    timers.stopPeriodic(1, 1);
    const deadline = 2n ** 32n + 5n;
    expect(setTimerOp(timers, ctx, deadline & 0xffffffffn, deadline >> 32n)).toBe(0);
    clock.advance(2 ** 32 + 4);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([[0, 2 ** 32 + 5]]);
  });
});
