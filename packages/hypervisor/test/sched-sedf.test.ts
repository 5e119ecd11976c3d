import { describe, expect, it } from 'vitest';
import { XEN_EINVAL } from '../src/abi/errno.ts';
import {
  PERIOD_MAX,
  type RunSegment,
  SchedSimulation,
  type SedfState,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_SEDF,
  type XenDomctlSchedSedf,
  type XenDomctlSchedulerOp,
} from '../src/index.ts';

const S = 1e9;
const MS = 1e6;

function putSedf(sim: SchedSimulation, domid: number, p: Partial<XenDomctlSchedSedf>): number {
  const sedf = { period: 0, slice: 0, latency: 0, extratime: 0, weight: 0, ...p };
  return sim.host.schedulerOp(domid, {
    sched_id: XEN_SCHEDULER_SEDF,
    cmd: XEN_DOMCTL_SCHEDOP_putinfo,
    u: { sedf },
  });
}

function getSedf(sim: SchedSimulation, domid: number): XenDomctlSchedSedf | undefined {
  const op: XenDomctlSchedulerOp = {
    sched_id: XEN_SCHEDULER_SEDF,
    cmd: XEN_DOMCTL_SCHEDOP_getinfo,
    u: {},
  };
  expect(sim.host.schedulerOp(domid, op)).toBe(0);
  return op.u.sedf;
}

/** Time a vCPU ran inside [from, to), from the trace (open segments run until `now`). */
function ranIn(
  segs: readonly RunSegment[],
  domid: number,
  from: number,
  to: number,
  now: number,
): number {
  let t = 0;
  for (const s of segs) {
    if (s.domid !== domid) continue;
    const end = s.end < 0 ? now : s.end;
    t += Math.max(0, Math.min(end, to) - Math.max(s.start, from));
  }
  return t;
}

/** The current period boundaries of a vCPU, from the scheduler state. */
function deadlineOf(sim: SchedSimulation, domid: number): { deadline: number; period: number } {
  const st = sim.host.getState().priv as SedfState;
  const v = st.vcpus.find((x) => x.domid === domid);
  if (v === undefined) throw new Error('no such vCPU');
  return { deadline: v.deadlAbs, period: v.period };
}

/**
 * Checks that in every complete period of `domid` between `from` and now the vCPU ran at least
 * `slice` (its deadline was met). Periods are counted back from the current deadline.
 */
function expectDeadlinesMet(
  sim: SchedSimulation,
  domid: number,
  slice: number,
  from: number,
): number {
  const now = sim.time.now();
  const { deadline, period } = deadlineOf(sim, domid);
  let checked = 0;
  for (let end = deadline - period; end - period >= from; end -= period) {
    if (end > now) continue;
    expect(ranIn(sim.segments, domid, end - period, end, now)).toBeGreaterThanOrEqual(slice);
    checked++;
  }
  return checked;
}

describe('sEDF scheduler: real-time guarantees', () => {
  it('gives each domain its slice in every period and meets all deadlines at utilisation 0.8', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf', trace: true });
    for (const d of [1, 2, 3]) sim.addCpuBound(d, 0);
    expect(putSedf(sim, 1, { period: 10 * MS, slice: 3 * MS })).toBe(0);
    expect(putSedf(sim, 2, { period: 20 * MS, slice: 8 * MS })).toBe(0);
    expect(putSedf(sim, 3, { period: 50 * MS, slice: 5 * MS, extratime: 1 })).toBe(0);
    sim.runFor(3 * S);
    const from = 1 * S;
    expect(expectDeadlinesMet(sim, 1, 3 * MS, from)).toBeGreaterThan(150);
    expect(expectDeadlinesMet(sim, 2, 8 * MS, from)).toBeGreaterThan(80);
    expect(expectDeadlinesMet(sim, 3, 5 * MS, from)).toBeGreaterThan(30);
    // Domains without extra time get exactly their reservation; the slack goes to domain 3.
    const share = (d: number) => ranIn(sim.segments, d, from, 3 * S, sim.time.now()) / (2 * S);
    expect(share(1)).toBeCloseTo(0.3, 2);
    expect(share(2)).toBeCloseTo(0.4, 2);
    expect(share(3)).toBeCloseTo(0.3, 2);
  });

  it('meets every deadline at utilisation exactly 1', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf', trace: true });
    // No slack at all: set the parameters while paused, so no vCPU starts with a deficit.
    for (const d of [1, 2, 3]) {
      sim.host.createDomain(d);
      sim.host.pauseDomain(d);
      sim.addCpuBound(d, 0);
    }
    putSedf(sim, 1, { period: 10 * MS, slice: 5 * MS });
    putSedf(sim, 2, { period: 20 * MS, slice: 6 * MS });
    putSedf(sim, 3, { period: 25 * MS, slice: 5 * MS });
    for (const d of [1, 2, 3]) sim.host.unpauseDomain(d);
    sim.runFor(3 * S);
    // Xen sets a first deadline of now + slice, so the first periods start 5 ms after the wake-up.
    expect(sim.domainCpuTime(1) + sim.domainCpuTime(2) + sim.domainCpuTime(3)).toBe(3 * S - 5 * MS);
    expect(expectDeadlinesMet(sim, 1, 5 * MS, 0)).toBeGreaterThan(290);
    expect(expectDeadlinesMet(sim, 2, 6 * MS, 0)).toBeGreaterThan(140);
    expect(expectDeadlinesMet(sim, 3, 5 * MS, 0)).toBeGreaterThan(110);
  });

  it('leaves the pCPU idle rather than give a domain without extra time more than its slice', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(1, 0);
    putSedf(sim, 1, { period: 10 * MS, slice: 2 * MS });
    sim.runFor(1 * S);
    const t0 = sim.domainCpuTime(1);
    sim.runFor(2 * S);
    expect((sim.domainCpuTime(1) - t0) / (2 * S)).toBeCloseTo(0.2, 3);
  });

  it('gives dom0 15 ms every 20 ms by default', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(0, 0);
    expect(getSedf(sim, 0)).toEqual({
      period: 20 * MS,
      slice: 15 * MS,
      latency: 0,
      extratime: 1,
      weight: 0,
    });
  });
});

describe('sEDF scheduler: several pCPUs', () => {
  it('keeps each vCPU on its own pCPU, spread by vCPU id, and honours pinning', () => {
    const sim = new SchedSimulation({ nrCpus: 2, scheduler: 'sedf', trace: true });
    sim.addCpuBound(1, 0);
    sim.addCpuBound(1, 1);
    sim.addCpuBound(2, 0, { affinity: [1] });
    putSedf(sim, 1, { period: 10 * MS, slice: 4 * MS });
    putSedf(sim, 2, { period: 10 * MS, slice: 5 * MS, extratime: 1 });
    sim.runFor(2 * S);
    const cpusOf = (d: number, v: number) =>
      new Set(sim.segments.filter((s) => s.domid === d && s.vcpuId === v).map((s) => s.cpu));
    expect([...cpusOf(1, 0)]).toEqual([0]);
    expect([...cpusOf(1, 1)]).toEqual([1]);
    expect([...cpusOf(2, 0)]).toEqual([1]);
    expect(sim.cpuTime(1, 0) / (2 * S)).toBeCloseTo(0.4, 1);
    expect(sim.cpuTime(2, 0) / (2 * S)).toBeGreaterThan(0.55);
  });
});

describe('sEDF scheduler: extra time', () => {
  it('shares extra time by weight among extra-only domains (1:3)', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(1, 0);
    sim.addCpuBound(2, 0);
    expect(putSedf(sim, 1, { extratime: 1, weight: 1 })).toBe(0);
    expect(putSedf(sim, 2, { extratime: 1, weight: 3 })).toBe(0);
    sim.runFor(4 * S);
    const a = sim.domainCpuTime(1);
    const b = sim.domainCpuTime(2);
    expect(a + b).toBe(4 * S);
    expect(b / a).toBeGreaterThan(3 * 0.95);
    expect(b / a).toBeLessThan(3 * 1.05);
  });

  it('runs best-effort domains (the default) round robin in extra time with equal shares', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    for (const d of [1, 2, 3, 4]) sim.addCpuBound(d, 0);
    expect(getSedf(sim, 1)).toEqual({
      period: 100 * MS,
      slice: 0,
      latency: 0,
      extratime: 1,
      weight: 0,
    });
    sim.runFor(2 * S);
    for (const d of [1, 2, 3, 4]) expect(sim.domainCpuTime(d) / (2 * S)).toBeCloseTo(0.25, 2);
  });

  it('derives slices from real-time weights over the 100 ms weight period', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(1, 0);
    sim.addCpuBound(2, 0);
    sim.addCpuBound(3, 0);
    putSedf(sim, 3, { period: 100 * MS, slice: 35 * MS });
    putSedf(sim, 1, { weight: 1, period: 1 });
    putSedf(sim, 2, { weight: 2, period: 1 });
    // (100 - 5 safety - 35 reserved) ms split 1:2.
    expect(getSedf(sim, 1)).toMatchObject({ period: 100 * MS, slice: 20 * MS, weight: 1 });
    expect(getSedf(sim, 2)).toMatchObject({ period: 100 * MS, slice: 40 * MS, weight: 2 });
  });
});

describe('sEDF scheduler: waking and latency hints', () => {
  function ioLatency(latency: number): number {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(1, 0);
    sim.addIoBound(2, 0, { burstNs: 200_000, sleepNs: 45 * MS });
    putSedf(sim, 1, { period: 20 * MS, slice: 14 * MS });
    putSedf(sim, 2, { period: 100 * MS, slice: 20 * MS, latency });
    sim.runFor(5 * S);
    const lat = sim.wakeLatencies(2, 0);
    expect(lat.length).toBeGreaterThan(50);
    return Math.max(...lat);
  }

  it('runs an I/O domain with a 1 ms latency hint within 1 ms of its wake-up event', () => {
    expect(ioLatency(1 * MS)).toBeLessThanOrEqual(1 * MS);
  });

  it('can make the same domain wait behind earlier deadlines without a latency hint', () => {
    expect(ioLatency(0)).toBeGreaterThan(5 * MS);
  });

  it('puts a domain that blocked briefly on the penalty queue and repays the lost slice in extra time', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(1, 0);
    sim.addCpuBound(2, 0);
    putSedf(sim, 1, { period: 10 * MS, slice: 4 * MS, extratime: 1 });
    putSedf(sim, 2, { period: 10 * MS, slice: 4 * MS, extratime: 1 });
    sim.runFor(1 * S);
    // Block domain 1 for 100 µs: a short block within its period.
    const cur = sim.host.current(0);
    expect(cur).not.toBeNull();
    const d = cur?.domid ?? 0;
    sim.host.block(d, 0);
    sim.time.advance(100_000);
    sim.host.wake(d, 0);
    const st = sim.host.getState().priv as SedfState;
    const inf = st.vcpus.find((v) => v.domid === d);
    expect(inf?.status ?? 0).toBeGreaterThan(0);
    expect(st.cpus[0]?.extraq[0]).toEqual([[d, 0]]);
    sim.runFor(1 * S);
    // The pCPU never idles: the other domain ran while this one was blocked.
    expect(sim.domainCpuTime(1) + sim.domainCpuTime(2)).toBe(sim.time.now());
  });
});

describe('sEDF scheduler: XEN_DOMCTL_scheduler_op', () => {
  it('round-trips time-driven parameters and the latency hint', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(5, 0);
    expect(
      putSedf(sim, 5, { period: 30 * MS, slice: 10 * MS, latency: 2 * MS, extratime: 1 }),
    ).toBe(0);
    expect(getSedf(sim, 5)).toEqual({
      period: 30 * MS,
      slice: 10 * MS,
      latency: 2 * MS,
      extratime: 1,
      weight: 0,
    });
  });

  it('returns -EINVAL for out-of-range values and leaves the parameters alone', () => {
    const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'sedf' });
    sim.addCpuBound(5, 0);
    putSedf(sim, 5, { period: 30 * MS, slice: 10 * MS });
    const bad: Array<Partial<XenDomctlSchedSedf>> = [
      {},
      { period: PERIOD_MAX + 1, slice: 10 * MS },
      { period: 5_000, slice: 4_000 },
      { period: 10 * MS, slice: 11 * MS },
      { period: 10 * MS, slice: 4_000 },
      { period: -1, slice: 1 * MS },
      { period: 10 * MS, slice: 1 * MS, weight: 70000 },
      { period: 10 * MS, slice: 1 * MS, extratime: -1 },
      { period: 10 * MS + 0.5, slice: 1 * MS },
      { period: 10 * MS, slice: 1 * MS, latency: Number.POSITIVE_INFINITY },
    ];
    for (const p of bad) expect(putSedf(sim, 5, p)).toBe(-XEN_EINVAL);
    expect(getSedf(sim, 5)).toEqual({
      period: 30 * MS,
      slice: 10 * MS,
      latency: 0,
      extratime: 0,
      weight: 0,
    });
    sim.host.createDomain(9);
    const op: XenDomctlSchedulerOp = {
      sched_id: XEN_SCHEDULER_SEDF,
      cmd: XEN_DOMCTL_SCHEDOP_getinfo,
      u: {},
    };
    expect(sim.host.schedulerOp(9, op)).toBe(-XEN_EINVAL);
  });
});
