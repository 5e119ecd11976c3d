import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XEN_EINVAL, XEN_ESRCH } from '../src/abi/errno.ts';
import { RUNSTATE_runnable, RUNSTATE_running } from '../src/abi/vcpu.ts';
import { HypervisorError } from '../src/errors.ts';
import {
  Scheduler,
  type SchedVcpu,
  VirtualTime,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_CREDIT,
  XEN_SCHEDULER_SEDF,
  type XenDomctlSchedulerOp,
} from '../src/index.ts';

const MS = 1e6;

const action = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('advance' as const),
      dt: fc.integer({ min: 0, max: 40 * MS }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constantFrom('block' as const, 'wake' as const), i: fc.nat() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constantFrom(
        'yield' as const,
        'pause' as const,
        'unpause' as const,
        'down' as const,
        'up' as const,
      ),
      i: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('affinity' as const),
      i: fc.nat(),
      cpus: fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('credit' as const),
      d: fc.integer({ min: 0, max: 5 }),
      weight: fc.oneof(fc.integer({ min: 0, max: 1024 }), fc.integer({ min: -5, max: 70000 })),
      cap: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 150 }),
        fc.integer({ min: -5, max: 70000 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('sedf' as const),
      d: fc.integer({ min: 0, max: 5 }),
      period: fc.oneof(
        fc.integer({ min: 0, max: 50 * MS }),
        fc.constantFrom(0, 5_000, 10 * MS, 20 * MS),
      ),
      slice: fc.oneof(
        fc.integer({ min: 0, max: 20 * MS }),
        fc.constantFrom(0, 4_000, 1 * MS, 5 * MS),
      ),
      latency: fc.constantFrom(0, 500_000, 2 * MS),
      extratime: fc.constantFrom(0, 1),
      weight: fc.constantFrom(0, 0, 1, 3, 100),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('switch' as const),
      to: fc.constantFrom('credit', 'sedf'),
    }),
  },
);

const scenario = fc.record({
  nrCpus: fc.integer({ min: 1, max: 4 }),
  scheduler: fc.constantFrom('credit', 'sedf'),
  domains: fc.array(
    fc.record({
      weight: fc.integer({ min: 1, max: 1024 }),
      cap: fc.constantFrom(0, 0, 10, 50, 100, 150),
      vcpus: fc.array(
        fc.option(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 })),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  actions: fc.array(action, { maxLength: 60 }),
});

/** The invariants that must hold whenever the host returns. */
function checkInvariants(
  host: Scheduler,
  time: VirtualTime,
  created: Map<SchedVcpu, number>,
  paused: Map<string, number>,
): void {
  const running = new Set<SchedVcpu>();
  for (let cpu = 0; cpu < host.nrCpus; cpu++) {
    const v = host.current(cpu);
    if (v === null) continue;
    // No vCPU runs on two pCPUs at once; a running vCPU is allowed here and runnable.
    expect(running.has(v)).toBe(false);
    running.add(v);
    expect(v.isRunning).toBe(true);
    expect(v.processor).toBe(cpu);
    expect(v.affinity[cpu]).toBe(1);
    expect(v.runnable()).toBe(true);
    expect(v.state).toBe(RUNSTATE_running);
  }
  for (const v of host.vcpus()) {
    if (!running.has(v)) {
      expect(v.isRunning).toBe(false);
      expect(v.state).not.toBe(RUNSTATE_running);
      expect(v.state === RUNSTATE_runnable).toBe(v.runnable());
    }
    // Only credit's cap parking adds a pause of its own, and never more than one.
    const extra = v.pauseCount - (paused.get(`${v.domid}.${v.vcpuId}`) ?? 0);
    expect(extra >= 0 && extra <= (host.ops.optName === 'credit' ? 1 : 0)).toBe(true);
    // Runstate times add up to the time since the vCPU was created.
    const t = host.runstate(v.domid, v.vcpuId).time;
    expect(t[0] + t[1] + t[2] + t[3]).toBe(time.now() - (created.get(v) ?? 0));
  }
  if (host.ops.optName === 'credit') {
    // Work conservation: no pCPU idles while a runnable vCPU allowed there waits.
    for (let cpu = 0; cpu < host.nrCpus; cpu++) {
      if (host.current(cpu) !== null) continue;
      for (const v of host.vcpus()) {
        if (v.runnable() && !v.isRunning) expect(v.affinity[cpu]).toBe(0);
      }
    }
  }
}

describe('scheduler host: properties under random parameters and block/wake sequences', () => {
  it('never runs a vCPU twice or outside its affinity, keeps runstate times whole, conserves work under credit, and never throws', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const time = new VirtualTime();
        const outsideAffinity: Array<[number, number, number]> = [];
        let switches = 0;
        const host = new Scheduler({
          nrCpus: sc.nrCpus,
          scheduler: sc.scheduler,
          clock: time,
          timers: time,
          onContextSwitch: (cpu, _prev, next) => {
            switches++;
            if (next !== null && next.affinity[cpu] !== 1)
              outsideAffinity.push([next.domid, next.vcpuId, cpu]);
          },
        });
        const created = new Map<SchedVcpu, number>();
        const vcpus: Array<[number, number]> = [];
        const paused = new Map<string, number>();
        sc.domains.forEach((d, i) => {
          const domid = i + 1;
          host.createDomain(domid);
          d.vcpus.forEach((aff, vcpuId) => {
            const cpus = aff === null ? undefined : aff.map((c) => c % sc.nrCpus);
            const v = host.addVcpu(domid, vcpuId, cpus === undefined ? {} : { affinity: cpus });
            created.set(v, time.now());
            vcpus.push([domid, vcpuId]);
          });
          if (sc.scheduler === 'credit') {
            const op = {
              sched_id: XEN_SCHEDULER_CREDIT,
              cmd: XEN_DOMCTL_SCHEDOP_putinfo,
              u: { credit: { weight: d.weight, cap: d.cap } },
            };
            expect(host.schedulerOp(domid, op)).toBe(0);
          }
        });
        checkInvariants(host, time, created, paused);
        for (const a of sc.actions) {
          const pick = (i: number): [number, number] => vcpus[i % vcpus.length] as [number, number];
          switch (a.k) {
            case 'advance':
              time.advance(a.dt);
              break;
            case 'block':
              host.block(...pick(a.i));
              break;
            case 'wake':
              host.wake(...pick(a.i));
              break;
            case 'yield':
              host.yield(...pick(a.i));
              break;
            case 'pause': {
              const [d, v] = pick(a.i);
              host.pause(d, v);
              paused.set(`${d}.${v}`, (paused.get(`${d}.${v}`) ?? 0) + 1);
              break;
            }
            case 'unpause': {
              const [d, v] = pick(a.i);
              const n = paused.get(`${d}.${v}`) ?? 0;
              if (n > 0) {
                host.unpause(d, v);
                paused.set(`${d}.${v}`, n - 1);
              }
              break;
            }
            case 'down':
              host.down(...pick(a.i));
              break;
            case 'up':
              host.up(...pick(a.i));
              break;
            case 'affinity': {
              const [d, v] = pick(a.i);
              const valid = a.cpus.length > 0 && a.cpus.every((c) => c >= 0 && c < sc.nrCpus);
              expect(host.setAffinity(d, v, a.cpus)).toBe(valid ? 0 : -XEN_EINVAL);
              break;
            }
            case 'credit': {
              const op = {
                sched_id: XEN_SCHEDULER_CREDIT,
                cmd: XEN_DOMCTL_SCHEDOP_putinfo,
                u: { credit: { weight: a.weight, cap: a.cap } },
              };
              expect([0, -XEN_EINVAL, -XEN_ESRCH]).toContain(host.schedulerOp(a.d, op));
              break;
            }
            case 'sedf': {
              const { period, slice, latency, extratime, weight } = a;
              const op = {
                sched_id: XEN_SCHEDULER_SEDF,
                cmd: XEN_DOMCTL_SCHEDOP_putinfo,
                u: { sedf: { period, slice, latency, extratime, weight } },
              };
              expect([0, -XEN_EINVAL, -XEN_ESRCH]).toContain(host.schedulerOp(a.d, op));
              break;
            }
            case 'switch':
              host.switchScheduler(a.to);
              break;
          }
          checkInvariants(host, time, created, paused);
        }
        time.advance(200 * MS);
        checkInvariants(host, time, created, paused);
        // Pinning, seen from the context-switch log: every switch-in was to an allowed pCPU.
        expect(outsideAffinity).toEqual([]);
        expect(switches).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });

  it('answers any XEN_DOMCTL_scheduler_op input with 0 or a Xen errno, never an exception', () => {
    const time = new VirtualTime();
    const host = new Scheduler({ nrCpus: 2, scheduler: 'credit', clock: time, timers: time });
    host.createDomain(1);
    host.addVcpu(1, 0);
    fc.assert(
      fc.property(
        fc.anything(),
        fc.integer({ min: -2, max: 3 }),
        fc.constantFrom('credit', 'sedf'),
        (junk, domid, s) => {
          if (host.ops.optName !== s) host.switchScheduler(s);
          const rc = host.schedulerOp(domid, junk as XenDomctlSchedulerOp);
          expect([0, -XEN_EINVAL, -XEN_ESRCH]).toContain(rc);
          const ops = [
            {
              sched_id: host.ops.schedId,
              cmd: XEN_DOMCTL_SCHEDOP_putinfo,
              u: { credit: junk, sedf: junk },
            },
            { sched_id: host.ops.schedId, cmd: junk, u: junk },
          ];
          for (const op of ops)
            expect([0, -XEN_EINVAL, -XEN_ESRCH]).toContain(
              host.schedulerOp(domid, op as XenDomctlSchedulerOp),
            );
          expect([0, -XEN_EINVAL]).toContain(host.setAffinity(1, 0, junk as number[]));
          time.advance(3 * MS);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('scheduler host: hostile saved state', () => {
  /** Every path to a leaf of a JSON value. */
  function leaves(
    v: unknown,
    path: Array<string | number> = [],
    out: Array<Array<string | number>> = [],
  ) {
    if (typeof v === 'object' && v !== null) {
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
      if (entries.length === 0) out.push(path);
      for (const [k, x] of entries) leaves(x, [...path, k], out);
    } else {
      out.push(path);
    }
    return out;
  }

  for (const scheduler of ['credit', 'sedf']) {
    it(`restores a state with one corrupted field or refuses it with HypervisorError (${scheduler})`, () => {
      const time = new VirtualTime();
      const host = new Scheduler({ nrCpus: 2, scheduler, clock: time, timers: time });
      for (const d of [1, 2]) {
        host.createDomain(d);
        host.addVcpu(d, 0);
        host.addVcpu(d, 1, { affinity: [1] });
      }
      time.advance(95 * MS);
      host.block(2, 1);
      time.advance(7 * MS);
      const good = JSON.stringify(host.getState());
      const paths = leaves(JSON.parse(good));
      fc.assert(
        fc.property(fc.nat(), fc.anything(), (i, junk) => {
          const state = JSON.parse(good);
          const path = paths[i % paths.length] as Array<string | number>;
          let o = state;
          for (const k of path.slice(0, -1)) o = o[k];
          if (path.length === 0) return;
          o[path[path.length - 1] as string] = junk;
          const t = new VirtualTime(time.now());
          let restored: Scheduler | undefined;
          try {
            restored = Scheduler.fromState(state, { clock: t, timers: t });
          } catch (e) {
            expect(e).toBeInstanceOf(HypervisorError);
            return;
          }
          // Whatever was accepted must keep running without throwing.
          t.advance(100 * MS);
          restored.wake(2, 1);
          t.advance(100 * MS);
          for (const v of restored.vcpus()) {
            const rs = restored.runstate(v.domid, v.vcpuId);
            for (const x of [...rs.time, rs.state_entry_time]) {
              expect(Number.isFinite(x) && x >= 0).toBe(true);
            }
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});

describe('scheduler host: hostile values in saved state (regression)', () => {
  // fast-check found `{ toString: 0 }` in a domain id turning into a TypeError while the
  // error message was built; restore must refuse it with a HypervisorError instead.
  it('refuses objects without a usable toString with a HypervisorError', () => {
    const time = new VirtualTime();
    const host = new Scheduler({ nrCpus: 1, scheduler: 'credit', clock: time, timers: time });
    host.createDomain(1);
    host.addVcpu(1, 0);
    const good = host.getState() as unknown as {
      domains: { domid: unknown }[];
      vcpus: { domid: unknown }[];
    };
    for (const mutate of [
      (s: typeof good) => {
        (s.domains[0] as { domid: unknown }).domid = { toString: 0 };
      },
      (s: typeof good) => {
        (s.vcpus[0] as { domid: unknown }).domid = { toString: 0 };
      },
    ]) {
      const s = JSON.parse(JSON.stringify(good)) as typeof good;
      mutate(s);
      expect(() => Scheduler.fromState(s as never, { clock: time, timers: time })).toThrow(
        HypervisorError,
      );
    }
  });
});
