import { describe, expect, it } from 'vitest';
import { XEN_EINVAL } from '../src/abi/errno.ts';
import {
  RUNSTATE_blocked,
  RUNSTATE_offline,
  RUNSTATE_runnable,
  RUNSTATE_running,
} from '../src/abi/vcpu.ts';
import { HypervisorError } from '../src/errors.ts';
import {
  RealTime,
  Scheduler,
  type SchedulerState,
  VirtualTime,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_CREDIT,
  XEN_SCHEDULER_SEDF,
  type XenDomctlSchedulerOp,
} from '../src/index.ts';

const MS = 1e6;
const S = 1e9;

function makeHost(scheduler: string, nrCpus: number, time = new VirtualTime()): Scheduler {
  return new Scheduler({ nrCpus, scheduler, clock: time, timers: time });
}

function sumRunstate(host: Scheduler, domid: number, vcpuId: number): number {
  const t = host.runstate(domid, vcpuId).time;
  return t[0] + t[1] + t[2] + t[3];
}

describe('VirtualTime', () => {
  it('fires timers in expiry order, ties in creation order, and reads each expiry inside the callback', () => {
    const time = new VirtualTime(100);
    const log: Array<[string, number]> = [];
    const a = time.create(() => log.push(['a', time.now()]));
    const b = time.create(() => log.push(['b', time.now()]));
    const c = time.create(() => {
      log.push(['c', time.now()]);
      time.set(a, time.now() + 5);
    });
    time.set(b, 300);
    time.set(a, 300);
    time.set(c, 200);
    expect(time.nextDeadline()).toBe(200);
    time.advanceTo(400);
    expect(log).toEqual([
      ['c', 200],
      ['a', 205],
      ['b', 300],
    ]);
    expect(time.now()).toBe(400);
    expect(time.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses to go back in time and rejects unknown or destroyed handles', () => {
    const time = new VirtualTime(10);
    expect(() => time.advanceTo(5)).toThrow(HypervisorError);
    const h = time.create(() => {});
    time.destroy(h);
    expect(() => time.set(h, 20)).toThrow(HypervisorError);
    expect(() => time.stop(99)).toThrow(HypervisorError);
    expect(() => new VirtualTime(-1)).toThrow(HypervisorError);
  });
});

describe('Scheduler host: runstate accounting', () => {
  it('tracks running, runnable, blocked and offline time as vcpu_runstate_info does', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 1, time);
    host.createDomain(1);
    host.createDomain(2);
    host.addVcpu(1, 0);
    host.addVcpu(2, 0);
    const first = host.current(0);
    expect(first).not.toBeNull();
    const other = first?.domid === 1 ? 2 : 1;
    expect(host.runstate(other, 0).state).toBe(RUNSTATE_runnable);
    time.advanceTo(10 * MS);
    host.block(first?.domid ?? 0, 0);
    expect(host.runstate(first?.domid ?? 0, 0).state).toBe(RUNSTATE_blocked);
    expect(host.current(0)?.domid).toBe(other);
    time.advanceTo(25 * MS);
    host.down(other, 0);
    expect(host.runstate(other, 0).state).toBe(RUNSTATE_offline);
    expect(host.current(0)).toBeNull();
    time.advanceTo(40 * MS);
    const a = host.runstate(first?.domid ?? 0, 0);
    const b = host.runstate(other, 0);
    expect(a.time).toEqual([10 * MS, 0, 30 * MS, 0]);
    expect(b.time).toEqual([15 * MS, 10 * MS, 0, 15 * MS]);
    expect(b.state_entry_time).toBe(25 * MS);
    host.up(other, 0);
    expect(host.current(0)?.domid).toBe(other);
    expect(host.runstate(other, 0).state).toBe(RUNSTATE_running);
  });

  it('shows a paused vCPU as offline and resumes it on unpause; pauses nest', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 1, time);
    host.createDomain(1);
    host.addVcpu(1, 0);
    host.pauseDomain(1);
    host.pause(1, 0);
    expect(host.runstate(1, 0).state).toBe(RUNSTATE_offline);
    host.unpauseDomain(1);
    expect(host.current(0)).toBeNull();
    host.unpause(1, 0);
    expect(host.current(0)?.domid).toBe(1);
    expect(() => host.unpause(1, 0)).toThrow(HypervisorError);
    expect(() => host.unpauseDomain(1)).toThrow(HypervisorError);
  });

  it('deschedules a running vCPU that is removed, and a destroyed domain disappears', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 1, time);
    host.createDomain(1);
    host.createDomain(2);
    host.addVcpu(1, 0);
    host.addVcpu(2, 0, { state: 'blocked' });
    expect(host.current(0)?.domid).toBe(1);
    time.advanceTo(5 * MS);
    host.destroyDomain(1);
    expect(host.hasDomain(1)).toBe(false);
    expect(host.current(0)).toBeNull();
    host.wake(2, 0);
    expect(host.current(0)?.domid).toBe(2);
    expect(() => host.vcpu(1, 0)).toThrow(HypervisorError);
  });

  it('throws HypervisorError for library misuse', () => {
    const time = new VirtualTime();
    expect(() => makeHost('bvt', 1, time)).toThrow(/unknown scheduler/);
    expect(() => makeHost('credit', 0, time)).toThrow(HypervisorError);
    const host = makeHost('credit', 2, time);
    host.createDomain(1);
    expect(() => host.createDomain(1)).toThrow(HypervisorError);
    expect(() => host.createDomain(-3)).toThrow(HypervisorError);
    host.addVcpu(1, 0);
    expect(() => host.addVcpu(1, 0)).toThrow(HypervisorError);
    expect(() => host.addVcpu(1, 1, { affinity: [3] })).toThrow(HypervisorError);
    expect(() => host.addVcpu(2, 0)).toThrow(HypervisorError);
    expect(() => host.block(1, 7)).toThrow(HypervisorError);
    expect(() => host.current(2)).toThrow(HypervisorError);
  });
});

describe('Scheduler host: switching schedulers at run time', () => {
  it('moves every domain from credit to sEDF and back, keeping runstate time whole', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 2, time);
    for (const d of [1, 2, 3]) {
      host.createDomain(d);
      host.addVcpu(d, 0);
    }
    host.setAffinity(3, 0, [1]);
    time.advanceTo(1 * S);
    host.switchScheduler('sedf');
    expect(host.ops.optName).toBe('sedf');
    const getCredit: XenDomctlSchedulerOp = {
      sched_id: XEN_SCHEDULER_CREDIT,
      cmd: XEN_DOMCTL_SCHEDOP_getinfo,
      u: {},
    };
    expect(host.schedulerOp(1, getCredit)).toBe(-XEN_EINVAL);
    const getSedf: XenDomctlSchedulerOp = {
      sched_id: XEN_SCHEDULER_SEDF,
      cmd: XEN_DOMCTL_SCHEDOP_getinfo,
      u: {},
    };
    expect(host.schedulerOp(1, getSedf)).toBe(0);
    expect(getSedf.u.sedf?.period).toBe(100 * MS);
    time.advanceTo(2 * S);
    host.switchScheduler('credit');
    time.advanceTo(3 * S);
    let running = 0;
    for (const d of [1, 2, 3]) {
      expect(sumRunstate(host, d, 0)).toBe(3 * S);
      running += host.runstate(d, 0).time[RUNSTATE_running];
    }
    // Two pCPUs were busy the whole time under both schedulers.
    expect(running).toBeGreaterThan(6 * S - 2 * MS);
    expect(host.getAffinity(3, 0)).toEqual([1]);
  });
});

describe('Scheduler host: switching away from a parked vCPU', () => {
  it('unparks a vCPU that credit parked for its cap when the domain moves to sEDF', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 1, time);
    host.createDomain(1);
    host.addVcpu(1, 0);
    const op = {
      sched_id: XEN_SCHEDULER_CREDIT,
      cmd: XEN_DOMCTL_SCHEDOP_putinfo,
      u: { credit: { weight: 256, cap: 10 } },
    };
    expect(host.schedulerOp(1, op)).toBe(0);
    // Run until the cap parks it.
    let guard = 0;
    while (host.vcpu(1, 0).pauseCount === 0 && guard++ < 100) time.advance(10 * MS);
    expect(host.vcpu(1, 0).pauseCount).toBe(1);
    expect(host.current(0)).toBeNull();
    host.switchScheduler('sedf');
    expect(host.vcpu(1, 0).pauseCount).toBe(0);
    expect(host.current(0)?.domid).toBe(1);
    time.advance(1 * S);
    expect(host.runstate(1, 0).state).toBe(RUNSTATE_running);
  });
});

describe('Scheduler host: plain-data state', () => {
  for (const scheduler of ['credit', 'sedf']) {
    it(`continues identically after a JSON round trip of its state (${scheduler})`, () => {
      const setup = (host: Scheduler): void => {
        for (const d of [1, 2, 3, 4]) {
          host.createDomain(d);
          host.addVcpu(d, 0);
          host.addVcpu(d, 1, { affinity: [d & 1] });
        }
        if (scheduler === 'credit') {
          const put = (d: number, weight: number, cap: number) =>
            host.schedulerOp(d, {
              sched_id: XEN_SCHEDULER_CREDIT,
              cmd: XEN_DOMCTL_SCHEDOP_putinfo,
              u: { credit: { weight, cap } },
            });
          expect(put(2, 512, 0)).toBe(0);
          expect(put(3, 128, 40)).toBe(0);
        } else {
          const put = (d: number, period: number, slice: number, extratime: number) =>
            host.schedulerOp(d, {
              sched_id: XEN_SCHEDULER_SEDF,
              cmd: XEN_DOMCTL_SCHEDOP_putinfo,
              u: { sedf: { period, slice, latency: 0, extratime, weight: 0 } },
            });
          expect(put(2, 20 * MS, 5 * MS, 0)).toBe(0);
          expect(put(3, 30 * MS, 10 * MS, 1)).toBe(0);
        }
      };
      const script = (host: Scheduler, time: VirtualTime): void => {
        time.advance(333 * MS);
        host.block(1, 0);
        time.advance(17 * MS);
        host.wake(1, 0);
        host.yield(2, 0);
        time.advance(41 * MS);
        host.setAffinity(4, 0, [1]);
        host.block(3, 1);
        time.advance(1 * S);
        host.wake(3, 1);
        time.advance(777 * MS);
      };
      const t1 = new VirtualTime();
      const h1 = makeHost(scheduler, 2, t1);
      setup(h1);
      t1.advanceTo(1234 * MS + 567);
      h1.block(4, 1);
      const saved = JSON.parse(JSON.stringify(h1.getState())) as SchedulerState;
      const t2 = new VirtualTime(t1.now());
      const h2 = Scheduler.fromState(saved, { clock: t2, timers: t2 });
      expect(h2.getState()).toEqual(h1.getState());
      script(h1, t1);
      script(h2, t2);
      expect(h2.getState()).toEqual(h1.getState());
      expect(h2.decisions).toBeGreaterThan(10);
    });
  }

  it('rejects malformed state with INVALID_ARGUMENT', () => {
    const time = new VirtualTime();
    const host = makeHost('credit', 2, time);
    host.createDomain(1);
    host.addVcpu(1, 0);
    host.addVcpu(1, 1, { state: 'blocked' });
    time.advanceTo(50 * MS);
    const good = host.getState();
    const variants: Array<(s: SchedulerState) => unknown> = [
      (s) => ({ ...s, scheduler: 'bvt' }),
      (s) => ({ ...s, nrCpus: 0 }),
      (s) => ({ ...s, pcpus: [] }),
      (s) => ({ ...s, vcpus: s.vcpus.map((v) => ({ ...v, affinity: [] })) }),
      (s) => ({ ...s, vcpus: [...s.vcpus, s.vcpus[0]] }),
      (s) => ({ ...s, vcpus: s.vcpus.map((v) => ({ ...v, state: 9 })) }),
      (s) => ({ ...s, priv: null }),
      (s) => ({ ...s, priv: { ...(s.priv as object), runqs: [[[1, 1]], []] } }),
      (s) => ({ ...s, pcpus: s.pcpus.map(() => ({ curr: [7, 7], sliceEnd: null })) }),
    ];
    for (const mutate of variants) {
      const bad = mutate(JSON.parse(JSON.stringify(good)) as SchedulerState) as SchedulerState;
      const t = new VirtualTime(time.now());
      let err: unknown;
      try {
        Scheduler.fromState(bad, { clock: t, timers: t });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HypervisorError);
      expect((err as HypervisorError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('RealTime', () => {
  it('drives the credit scheduler on wall-clock timers', async () => {
    const time = new RealTime();
    const host = new Scheduler({ nrCpus: 1, scheduler: 'credit', clock: time, timers: time });
    host.createDomain(1);
    host.createDomain(2);
    host.addVcpu(1, 0);
    host.addVcpu(2, 0);
    const before = host.decisions;
    await new Promise((resolve) => setTimeout(resolve, 150));
    time.stopAll();
    // 30 ms slices: at least a few slice-end decisions happened on their own.
    expect(host.decisions - before).toBeGreaterThanOrEqual(2);
    const now = time.now();
    expect(now).toBeGreaterThan(100 * MS);
    const a = host.runstate(1, 0).time;
    const b = host.runstate(2, 0).time;
    expect(a[RUNSTATE_running] + b[RUNSTATE_running]).toBeGreaterThan(0);
    expect(a[0] + a[1] + a[2] + a[3]).toBeLessThanOrEqual(time.now());
  });
});
