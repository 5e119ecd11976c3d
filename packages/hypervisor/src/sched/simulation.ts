/**
 * A deterministic scheduling simulation: a {@link Scheduler} on {@link VirtualTime} with two
 * kinds of synthetic vCPU workload, CPU-bound (always runnable) and I/O-like (runs a burst of
 * CPU, blocks, and is woken by an event some time later). It records, per vCPU, CPU time (from
 * the runstate), the run segments on each pCPU and the latency from each wake-up event to the
 * vCPU running. Used by the scheduler tests and benchmark, and handy for trying parameters.
 */

import { RUNSTATE_running } from '../abi/vcpu.ts';
import { HypervisorError } from '../errors.ts';
import type { SchedulerOps } from './ops.ts';
import { Scheduler } from './scheduler.ts';
import type { SchedVcpu } from './vcpu.ts';
import { VirtualTime } from './virtual-time.ts';

/** One stretch of a vCPU running on a pCPU. */
export interface RunSegment {
  /** The pCPU. */
  cpu: number;
  /** Domain id. */
  domid: number;
  /** vCPU number. */
  vcpuId: number;
  /** Start (ns). */
  start: number;
  /** End (ns), or -1 while the vCPU is still running there. */
  end: number;
}

/** Options for {@link SchedSimulation}. */
export interface SchedSimulationOptions {
  /** Number of pCPUs. */
  nrCpus: number;
  /** The scheduler (instance or `optName`). */
  scheduler: SchedulerOps | string;
  /** Record {@link RunSegment}s (default false; costs memory on long runs). */
  trace?: boolean;
}

/** Options for a simulated vCPU. */
export interface SimVcpuOptions {
  /** Hard affinity (default all pCPUs). */
  affinity?: readonly number[];
}

/** Options for an I/O-like vCPU. */
export interface SimIoVcpuOptions extends SimVcpuOptions {
  /** CPU time (ns) it needs after each wake-up before it blocks again. */
  burstNs: number;
  /** Time (ns) from blocking until the event that wakes it. */
  sleepNs: number;
}

class SimVcpu {
  readonly v: SchedVcpu;
  readonly io: boolean;
  readonly burst: number;
  readonly sleep: number;
  remaining: number;
  runStart = -1;
  wakeAt = -1;
  wakeTimer = -1;
  readonly latencies: number[] = [];
  openSegment: RunSegment | null = null;
  constructor(v: SchedVcpu, io: boolean, burst: number, sleep: number) {
    this.v = v;
    this.io = io;
    this.burst = burst;
    this.sleep = sleep;
    this.remaining = burst;
  }
}

/** A scheduler host on virtual time with synthetic CPU-bound and I/O-like vCPUs. */
export class SchedSimulation {
  /** The virtual clock and timers. */
  readonly time: VirtualTime;
  /** The scheduler host. */
  readonly host: Scheduler;
  /** Run segments, if tracing. */
  readonly segments: RunSegment[] = [];
  readonly #trace: boolean;
  readonly #sims = new Map<SchedVcpu, SimVcpu>();
  readonly #io: SimVcpu[] = [];

  /** Creates the clock and the host. */
  constructor(options: SchedSimulationOptions) {
    this.time = new VirtualTime(0);
    this.#trace = options.trace ?? false;
    this.host = new Scheduler({
      nrCpus: options.nrCpus,
      scheduler: options.scheduler,
      clock: this.time,
      timers: this.time,
      onContextSwitch: (cpu, prev, next, now) => this.#switched(cpu, prev, next, now),
    });
  }

  /** Creates a domain (if needed) and a vCPU that always wants to run. */
  addCpuBound(domid: number, vcpuId: number, options: SimVcpuOptions = {}): void {
    this.#add(domid, vcpuId, options, false, 0, 0);
  }

  /** Creates a domain (if needed) and an I/O-like vCPU: burst of CPU, block, woken by an event. */
  addIoBound(domid: number, vcpuId: number, options: SimIoVcpuOptions): void {
    if (!(options.burstNs > 0) || !(options.sleepNs > 0)) {
      throw new HypervisorError('INVALID_ARGUMENT', 'burstNs and sleepNs must be positive');
    }
    this.#add(domid, vcpuId, options, true, options.burstNs, options.sleepNs);
  }

  /** Delivers an event to a vCPU now, waking it if blocked (an event channel notification). */
  sendEvent(domid: number, vcpuId: number): void {
    const s = this.#sim(domid, vcpuId);
    if (this.host.isBlocked(domid, vcpuId) && s.wakeAt < 0) s.wakeAt = this.time.now();
    this.host.wake(domid, vcpuId);
  }

  /** Runs the simulation for `ns` nanoseconds of virtual time. */
  runFor(ns: number): void {
    this.runUntil(this.time.now() + ns);
  }

  /** Runs the simulation until virtual time `end`. */
  runUntil(end: number): void {
    for (;;) {
      this.#settleIo();
      if (this.time.now() >= end) break;
      // Settled bursts end strictly in the future, so every turn advances or fires a timer.
      let t = Math.min(this.time.nextDeadline(), end);
      for (const s of this.#io) {
        if (s.runStart >= 0 && s.runStart + s.remaining < t) t = s.runStart + s.remaining;
      }
      this.time.advanceTo(t);
    }
  }

  /** CPU time (ns) a vCPU has had so far. */
  cpuTime(domid: number, vcpuId: number): number {
    return this.host.runstate(domid, vcpuId).time[RUNSTATE_running];
  }

  /** CPU time (ns) of all of a domain's vCPUs so far. */
  domainCpuTime(domid: number): number {
    let t = 0;
    for (const v of this.host.vcpus()) if (v.domid === domid) t += this.cpuTime(domid, v.vcpuId);
    return t;
  }

  /** Latencies (ns) from each wake-up event to the vCPU running. */
  wakeLatencies(domid: number, vcpuId: number): readonly number[] {
    return this.#sim(domid, vcpuId).latencies;
  }

  #add(
    domid: number,
    vcpuId: number,
    options: SimVcpuOptions,
    io: boolean,
    burst: number,
    sleep: number,
  ): void {
    if (!this.host.hasDomain(domid)) this.host.createDomain(domid);
    // Register before the vCPU exists so its first context switch is seen.
    const pending = { domid, vcpuId, io, burst, sleep };
    this.#pendingAdd = pending;
    const add = options.affinity === undefined ? {} : { affinity: options.affinity };
    try {
      this.host.addVcpu(domid, vcpuId, add);
    } finally {
      this.#pendingAdd = null;
    }
    const v = this.host.vcpu(domid, vcpuId);
    let s = this.#sims.get(v);
    if (s === undefined) {
      s = new SimVcpu(v, io, burst, sleep);
      this.#sims.set(v, s);
    }
    if (io) {
      const sim = s;
      sim.wakeTimer = this.time.create(() => {
        this.sendEvent(sim.v.domid, sim.v.vcpuId);
      });
      this.#io.push(sim);
    }
  }

  #pendingAdd: { domid: number; vcpuId: number; io: boolean; burst: number; sleep: number } | null =
    null;

  #sim(domid: number, vcpuId: number): SimVcpu {
    const s = this.#sims.get(this.host.vcpu(domid, vcpuId));
    if (s === undefined)
      throw new HypervisorError('NOT_FOUND', `vCPU ${domid}.${vcpuId} is not simulated`);
    return s;
  }

  #simFor(v: SchedVcpu): SimVcpu | undefined {
    let s = this.#sims.get(v);
    const p = this.#pendingAdd;
    if (s === undefined && p !== null && p.domid === v.domid && p.vcpuId === v.vcpuId) {
      s = new SimVcpu(v, p.io, p.burst, p.sleep);
      this.#sims.set(v, s);
    }
    return s;
  }

  /** Blocks I/O vCPUs whose burst is used up and arms the event that will wake them. */
  #settleIo(): void {
    const now = this.time.now();
    for (const s of this.#io) {
      if (s.runStart >= 0 && now - s.runStart >= s.remaining) {
        this.host.block(s.v.domid, s.v.vcpuId);
        s.remaining = s.burst;
        this.time.set(s.wakeTimer, now + s.sleep);
      }
    }
  }

  #switched(cpu: number, prev: SchedVcpu | null, next: SchedVcpu | null, now: number): void {
    if (prev !== null) {
      const s = this.#simFor(prev);
      if (s !== undefined) {
        if (s.runStart >= 0) {
          s.remaining -= now - s.runStart;
          s.runStart = -1;
        }
        if (s.openSegment !== null) {
          s.openSegment.end = now;
          s.openSegment = null;
        }
      }
    }
    if (next !== null) {
      const s = this.#simFor(next);
      if (s !== undefined) {
        if (s.io) s.runStart = now;
        if (s.wakeAt >= 0) {
          s.latencies.push(now - s.wakeAt);
          s.wakeAt = -1;
        }
        if (this.#trace) {
          s.openSegment = { cpu, domid: next.domid, vcpuId: next.vcpuId, start: now, end: -1 };
          this.segments.push(s.openSegment);
        }
      }
    }
  }
}
