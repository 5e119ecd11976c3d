/**
 * The scheduler host: Xen's `common/sched/core.c` for a set of physical CPUs. It owns the
 * per-pCPU current vCPU and slice timer, each vCPU's pause state and runstate accounting
 * (`vcpu_runstate_info`), and calls a pluggable {@link SchedulerOps} for every decision.
 *
 * Reschedule requests (`SCHEDULE_SOFTIRQ`) are collected while a host call runs and processed
 * before it returns, so callers always see a settled state: after `block()` returns, the blocked
 * vCPU is no longer running anywhere.
 *
 * @see xen/common/sched/core.c (schedule, vcpu_wake, vcpu_sleep_nosync, vcpu_set_affinity, sched_adjust)
 * @see xen/include/public/vcpu.h (vcpu_runstate_info)
 */

import { XEN_EINVAL, XEN_ESRCH } from '../abi/errno.ts';
import {
  RUNSTATE_blocked,
  RUNSTATE_offline,
  RUNSTATE_runnable,
  RUNSTATE_running,
} from '../abi/vcpu.ts';
import { HypervisorError } from '../errors.ts';
import {
  SCHED_MIN_TIMER,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
} from './constants.ts';
import { show } from './internal/state-check.ts';
import type { SchedHost, SchedulerOps, TaskSlice, XenDomctlSchedulerOp } from './ops.ts';
import type { SchedClock, SchedTimers } from './ports.ts';
import { createSchedulerOps } from './registry.ts';
import { SchedDomain, SchedVcpu, VPF_blocked, VPF_down, VPF_migrating } from './vcpu.ts';

/** Called after a pCPU switched vCPUs (`context_switch`); null means the idle vCPU. */
export type ContextSwitchListener = (
  cpu: number,
  prev: SchedVcpu | null,
  next: SchedVcpu | null,
  now: number,
) => void;

/** How to build a {@link Scheduler}. */
export interface SchedulerOptions {
  /** Number of physical CPUs (1–4096). */
  nrCpus: number;
  /** The scheduler: an instance, or an `optName` known to {@link createSchedulerOps} ("credit", "sedf"). */
  scheduler: SchedulerOps | string;
  /** The system clock (ns). */
  clock: SchedClock;
  /** One-shot timers on that clock. */
  timers: SchedTimers;
  /** Told about every context switch. */
  onContextSwitch?: ContextSwitchListener;
}

/** Initial state of a new vCPU. */
export type NewVcpuState = 'runnable' | 'blocked' | 'offline';

/** Options for {@link Scheduler.addVcpu}. */
export interface AddVcpuOptions {
  /** Hard affinity: the pCPUs it may run on (default all). */
  affinity?: readonly number[];
  /** `runnable` (default), `blocked` (waiting for an event) or `offline` (down until {@link Scheduler.up}). */
  state?: NewVcpuState;
}

/** A copy of a vCPU's runstate, as `struct vcpu_runstate_info`. @see xen/include/public/vcpu.h */
export interface VcpuRunstateInfo {
  /** `RUNSTATE_*`. */
  state: number;
  /** System time (ns) at which `state` was entered. */
  state_entry_time: number;
  /** Nanoseconds in each `RUNSTATE_*`, including the current state up to now. */
  time: [number, number, number, number];
}

/** Plain-data state of one vCPU in {@link SchedulerState}. */
export interface SchedVcpuState {
  /** Domain id. */
  domid: number;
  /** vCPU number. */
  vcpuId: number;
  /** Assigned pCPU. */
  processor: number;
  /** Hard affinity as a list of pCPUs. */
  affinity: number[];
  /** `VPF_*` bits. */
  pauseFlags: number;
  /** Per-vCPU pause count. */
  pauseCount: number;
  /** `RUNSTATE_*`. */
  state: number;
  /** When `state` was entered (ns). */
  stateEntryTime: number;
  /** Time per runstate before `state` was entered (ns). */
  time: number[];
}

/** Plain-data state of one domain in {@link SchedulerState}. */
export interface SchedDomainState {
  /** Domain id. */
  domid: number;
  /** Domain pause count. */
  pauseCount: number;
}

/** Plain-data state of one pCPU in {@link SchedulerState}. */
export interface SchedPcpuState {
  /** The running vCPU as `[domid, vcpuId]`, or null when idle. */
  curr: [number, number] | null;
  /** When the slice timer fires (ns), or null if it is not armed. */
  sliceEnd: number | null;
}

/** Plain-data state of a {@link Scheduler}, JSON-safe. */
export interface SchedulerState {
  /** `optName` of the active scheduler. */
  scheduler: string;
  /** Number of pCPUs. */
  nrCpus: number;
  /** Domains in creation order. */
  domains: SchedDomainState[];
  /** vCPUs, grouped by domain in creation order. */
  vcpus: SchedVcpuState[];
  /** Per pCPU: the running vCPU (`[domid, vcpuId]`, null for idle) and the slice timer expiry (null if none). */
  pcpus: SchedPcpuState[];
  /** The active scheduler's own state ({@link SchedulerOps.getState}). */
  priv: unknown;
}

const MAX_CPUS = 4096;

/** Checks a pCPU list against `nrCpus`; returns the mask or null if invalid or empty. */
function cpuMask(cpus: unknown, nrCpus: number): Uint8Array | null {
  if (!Array.isArray(cpus) || cpus.length === 0 || cpus.length > 65536) return null;
  const mask = new Uint8Array(nrCpus);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= nrCpus) return null;
    mask[c] = 1;
  }
  return mask;
}

/**
 * The scheduler host. One per machine (or cpupool): all domains' vCPUs on `nrCpus` pCPUs,
 * scheduled by one {@link SchedulerOps} that can be switched at run time.
 */
export class Scheduler {
  /** Number of pCPUs. */
  readonly nrCpus: number;
  readonly #clock: SchedClock;
  readonly #timers: SchedTimers;
  #ops: SchedulerOps;
  #listener: ContextSwitchListener | undefined;
  readonly #curr: Array<SchedVcpu | null>;
  readonly #sliceTimer: number[];
  readonly #sliceEnd: Float64Array;
  readonly #pending: Uint8Array;
  #anyPending = false;
  #inSoftirq = false;
  readonly #domains = new Map<number, SchedDomain>();
  readonly #domainList: SchedDomain[] = [];
  readonly #vcpus = new Map<number, SchedVcpu>();
  readonly #slice: TaskSlice = { task: null, time: -1 };
  readonly #host: SchedHost;
  #decisions = 0;

  /** Builds a host with idle pCPUs and no domains, and initialises the scheduler. */
  constructor(options: SchedulerOptions) {
    const n = options.nrCpus;
    if (!Number.isInteger(n) || n < 1 || n > MAX_CPUS) {
      throw new HypervisorError(
        'INVALID_ARGUMENT',
        `nrCpus must be an integer in 1..${MAX_CPUS}, got ${n}`,
      );
    }
    this.nrCpus = n;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#listener = options.onContextSwitch;
    this.#curr = new Array<SchedVcpu | null>(n).fill(null);
    this.#sliceEnd = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.#pending = new Uint8Array(n);
    this.#sliceTimer = [];
    this.#host = this.#makeHostPort();
    this.#ops =
      typeof options.scheduler === 'string'
        ? createSchedulerOps(options.scheduler)
        : options.scheduler;
    this.#ops.init(this.#host);
    this.#createSliceTimers();
  }

  /** The active scheduler. */
  get ops(): SchedulerOps {
    return this.#ops;
  }

  /** Number of `do_schedule` calls so far (scheduling decisions). */
  get decisions(): number {
    return this.#decisions;
  }

  /** Replaces the context-switch listener (undefined removes it). */
  setContextSwitchListener(listener: ContextSwitchListener | undefined): void {
    this.#listener = listener;
  }

  // ---------------------------------------------------------------- domains and vCPUs

  /** Creates a domain with the active scheduler's default parameters. Throws if it exists. */
  createDomain(domid: number): void {
    if (!Number.isInteger(domid) || domid < 0 || domid > 0x7fef) {
      throw new HypervisorError('INVALID_ARGUMENT', `bad domain id ${show(domid)}`);
    }
    if (this.#domains.has(domid))
      throw new HypervisorError('INVALID_STATE', `domain ${domid} already exists`);
    const d = new SchedDomain(domid);
    this.#domains.set(domid, d);
    this.#domainList.push(d);
    this.#ops.insertDomain(d);
  }

  /** Destroys a domain and all its vCPUs. */
  destroyDomain(domid: number): void {
    const d = this.#domain(domid);
    for (const v of [...d.vcpus]) this.removeVcpu(domid, v.vcpuId);
    this.#ops.removeDomain(d);
    this.#domains.delete(domid);
    this.#domainList.splice(this.#domainList.indexOf(d), 1);
  }

  /** True if the domain exists. */
  hasDomain(domid: number): boolean {
    return this.#domains.has(domid);
  }

  /** Adds a vCPU to a domain; a runnable one is woken at once. Throws on misuse. */
  addVcpu(domid: number, vcpuId: number, options: AddVcpuOptions = {}): SchedVcpu {
    const d = this.#domain(domid);
    if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId > 0xffff) {
      throw new HypervisorError('INVALID_ARGUMENT', `bad vCPU id ${show(vcpuId)}`);
    }
    const key = domid * 0x10000 + vcpuId;
    if (this.#vcpus.has(key))
      throw new HypervisorError('INVALID_STATE', `vCPU ${domid}.${vcpuId} already exists`);
    const v = new SchedVcpu(d, vcpuId, this.nrCpus);
    if (options.affinity !== undefined) {
      const mask = cpuMask(options.affinity, this.nrCpus);
      if (mask === null)
        throw new HypervisorError('INVALID_ARGUMENT', `bad affinity for ${domid}.${vcpuId}`);
      v.affinity.set(mask);
    }
    const state = options.state ?? 'runnable';
    if (state === 'blocked') v.pauseFlags |= VPF_blocked;
    else if (state === 'offline') v.pauseFlags |= VPF_down;
    else if (state !== 'runnable')
      throw new HypervisorError('INVALID_ARGUMENT', `bad vCPU state ${show(state)}`);
    v.processor = this.#initialCpu(v);
    const now = this.#clock.now();
    v.stateEntryTime = now;
    v.state = state === 'blocked' ? RUNSTATE_blocked : RUNSTATE_offline;
    this.#vcpus.set(key, v);
    d.vcpus.push(v);
    this.#ops.insertVcpu(v);
    this.#wake(v);
    this.#flush();
    return v;
  }

  /** Removes a vCPU (descheduling it first if it is running). */
  removeVcpu(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    v.pauseCount++;
    this.#sleep(v);
    this.#flush();
    this.#mustNotRun(v, 'remove');
    this.#ops.removeVcpu(v);
    this.#runstateChange(v, RUNSTATE_offline, this.#clock.now());
    this.#vcpus.delete(domid * 0x10000 + vcpuId);
    v.domain.vcpus.splice(v.domain.vcpus.indexOf(v), 1);
  }

  /** Looks a vCPU up; throws `NOT_FOUND` if absent. */
  vcpu(domid: number, vcpuId: number): SchedVcpu {
    return this.#vcpu(domid, vcpuId);
  }

  /** All vCPUs, grouped by domain in creation order. */
  vcpus(): SchedVcpu[] {
    const out: SchedVcpu[] = [];
    for (const d of this.#domainList) for (const v of d.vcpus) out.push(v);
    return out;
  }

  // ---------------------------------------------------------------- run-state changes

  /** Blocks a vCPU until {@link Scheduler.wake} (SCHEDOP_block with no event pending). */
  block(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    v.pauseFlags |= VPF_blocked;
    this.#sleep(v);
    this.#flush();
  }

  /** Wakes a blocked vCPU, e.g. because an event arrived (`vcpu_unblock`); no-op if not blocked. */
  wake(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    if ((v.pauseFlags & VPF_blocked) === 0) return;
    v.pauseFlags &= ~VPF_blocked;
    this.#wake(v);
    this.#flush();
  }

  /** True if the vCPU is blocked waiting for an event. */
  isBlocked(domid: number, vcpuId: number): boolean {
    return (this.#vcpu(domid, vcpuId).pauseFlags & VPF_blocked) !== 0;
  }

  /** The running vCPU gives up its pCPU (SCHEDOP_yield); a no-op for a vCPU that is not running. */
  yield(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    if (!v.isRunning) return;
    this.#ops.yield(v);
    this.#raise(v.processor);
    this.#flush();
  }

  /** Pauses one vCPU (`vcpu_pause`); pauses nest. */
  pause(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    v.pauseCount++;
    this.#sleep(v);
    this.#flush();
  }

  /** Undoes one {@link Scheduler.pause}. Throws if the vCPU is not paused. */
  unpause(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    if (v.pauseCount === 0)
      throw new HypervisorError('INVALID_STATE', `vCPU ${domid}.${vcpuId} is not paused`);
    if (--v.pauseCount === 0) this.#wake(v);
    this.#flush();
  }

  /** Pauses a whole domain (`domain_pause`); pauses nest. */
  pauseDomain(domid: number): void {
    const d = this.#domain(domid);
    d.pauseCount++;
    for (const v of d.vcpus) this.#sleep(v);
    this.#flush();
  }

  /** Undoes one {@link Scheduler.pauseDomain}. Throws if the domain is not paused. */
  unpauseDomain(domid: number): void {
    const d = this.#domain(domid);
    if (d.pauseCount === 0)
      throw new HypervisorError('INVALID_STATE', `domain ${domid} is not paused`);
    if (--d.pauseCount === 0) for (const v of d.vcpus) this.#wake(v);
    this.#flush();
  }

  /** Brings a vCPU up (VCPUOP_up). */
  up(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    if ((v.pauseFlags & VPF_down) === 0) return;
    v.pauseFlags &= ~VPF_down;
    this.#wake(v);
    this.#flush();
  }

  /** Takes a vCPU down (VCPUOP_down); its runstate becomes offline. */
  down(domid: number, vcpuId: number): void {
    const v = this.#vcpu(domid, vcpuId);
    v.pauseFlags |= VPF_down;
    this.#sleep(v);
    this.#flush();
  }

  /**
   * Sets a vCPU's hard affinity (pinning, `XEN_DOMCTL_setvcpuaffinity`). Returns 0, or -EINVAL
   * for an empty list or a pCPU that does not exist. A vCPU outside its new affinity is moved.
   */
  setAffinity(domid: number, vcpuId: number, cpus: readonly number[]): number {
    const v = this.#vcpu(domid, vcpuId);
    const mask = cpuMask(cpus, this.nrCpus);
    if (mask === null) return -XEN_EINVAL;
    v.affinity.set(mask);
    this.#ops.adjustAffinity(v);
    if (v.affinity[v.processor] !== 1) {
      v.pauseFlags |= VPF_migrating;
      this.#sleep(v);
      this.#flush();
      this.#mustNotRun(v, 'migrate');
      const cpu = this.#ops.pickCpu(v);
      if (v.affinity[cpu] !== 1) {
        throw new HypervisorError(
          'INVALID_STATE',
          `${this.#ops.optName}: pick_cpu chose pCPU ${cpu} outside the affinity`,
        );
      }
      v.processor = cpu;
      v.pauseFlags &= ~VPF_migrating;
      this.#wake(v);
    }
    this.#flush();
    return 0;
  }

  /** A vCPU's hard affinity as a sorted list of pCPUs. */
  getAffinity(domid: number, vcpuId: number): number[] {
    const v = this.#vcpu(domid, vcpuId);
    const out: number[] = [];
    for (let c = 0; c < this.nrCpus; c++) if (v.affinity[c] === 1) out.push(c);
    return out;
  }

  // ---------------------------------------------------------------- parameters

  /**
   * `XEN_DOMCTL_scheduler_op`: reads or sets a domain's scheduling parameters. Returns 0,
   * -ESRCH for an unknown domain, or -EINVAL for a wrong `sched_id`, command or value. Never
   * throws for malformed input.
   */
  schedulerOp(domid: number, op: XenDomctlSchedulerOp): number {
    const d = this.#domains.get(domid);
    if (d === undefined) return -XEN_ESRCH;
    if (typeof op !== 'object' || op === null || typeof op.u !== 'object' || op.u === null)
      return -XEN_EINVAL;
    if (op.sched_id !== this.#ops.schedId) return -XEN_EINVAL;
    if (op.cmd !== XEN_DOMCTL_SCHEDOP_putinfo && op.cmd !== XEN_DOMCTL_SCHEDOP_getinfo)
      return -XEN_EINVAL;
    const rc = this.#ops.adjust(d, op);
    this.#flush();
    return rc;
  }

  /**
   * Switches every domain to another scheduler at run time (as moving all domains to a
   * cpupool with a different scheduler): running vCPUs are descheduled, the old scheduler is
   * torn down and the new one starts with its default parameters for every domain.
   */
  switchScheduler(scheduler: SchedulerOps | string): void {
    if (this.#inSoftirq)
      throw new HypervisorError('INVALID_STATE', 'cannot switch schedulers from a context switch');
    const next = typeof scheduler === 'string' ? createSchedulerOps(scheduler) : scheduler;
    const now = this.#clock.now();
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      this.#timers.destroy(this.#sliceTimer[cpu] as number);
      this.#sliceEnd[cpu] = Number.POSITIVE_INFINITY;
      const prev = this.#curr[cpu] ?? null;
      if (prev === null) continue;
      prev.isRunning = false;
      this.#curr[cpu] = null;
      this.#runstateChange(prev, this.#descheduledState(prev), now);
      this.#listener?.(cpu, prev, null, now);
    }
    const old = this.#ops;
    for (const d of this.#domainList) for (const v of d.vcpus) old.removeVcpu(v);
    for (const d of this.#domainList) old.removeDomain(d);
    old.deinit();
    this.#ops = next;
    next.init(this.#host);
    this.#createSliceTimers();
    for (const d of this.#domainList) next.insertDomain(d);
    for (const d of this.#domainList) {
      for (const v of d.vcpus) {
        next.insertVcpu(v);
        if (v.runnable()) next.wake(v);
      }
    }
    for (let cpu = 0; cpu < this.nrCpus; cpu++) this.#raise(cpu);
    this.#flush();
  }

  // ---------------------------------------------------------------- queries

  /** The vCPU running on `cpu`, or null when the pCPU is idle. */
  current(cpu: number): SchedVcpu | null {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus) {
      throw new HypervisorError('INVALID_ARGUMENT', `no pCPU ${cpu}`);
    }
    return this.#curr[cpu] ?? null;
  }

  /** When the current slice on `cpu` ends (ns), or Infinity if no slice timer is armed. */
  sliceEnd(cpu: number): number {
    this.current(cpu);
    return this.#sliceEnd[cpu] as number;
  }

  /** `VCPUOP_get_runstate_info`: the runstate with the current state's time counted up to now. */
  runstate(domid: number, vcpuId: number): VcpuRunstateInfo {
    const v = this.#vcpu(domid, vcpuId);
    const time: [number, number, number, number] = [
      v.time[0] ?? 0,
      v.time[1] ?? 0,
      v.time[2] ?? 0,
      v.time[3] ?? 0,
    ];
    const delta = this.#clock.now() - v.stateEntryTime;
    if (delta > 0) time[v.state & 3] = (time[v.state & 3] as number) + delta;
    return { state: v.state, state_entry_time: v.stateEntryTime, time };
  }

  /**
   * Work that is not a scheduled vCPU took pCPU `cpu` for a moment: the host's native dom0
   * serving a guest's request, which under Xen is dom0's vCPU waking BOOSTed there and
   * preempting the current vCPU. Deschedules the current vCPU (back onto the runqueue behind
   * vCPUs of its priority) and lets the scheduler pick again, so a vCPU that yielded while
   * waiting for dom0 runs as soon as dom0 has answered. A no-op on an idle pCPU.
   *
   * @see xen/common/sched/credit.c (csched_unit_wake, __runq_tickle, csched_schedule)
   */
  preempt(cpu: number): void {
    if (this.current(cpu) === null) return;
    this.#raise(cpu);
    this.#flush();
  }

  /** Processes pending reschedules now (host calls already do this before returning). */
  reschedule(): void {
    this.#flush();
  }

  // ---------------------------------------------------------------- state

  /** Plain-data state of the host and the active scheduler. */
  getState(): SchedulerState {
    const vcpus: SchedVcpuState[] = [];
    for (const d of this.#domainList) {
      for (const v of d.vcpus) {
        const affinity: number[] = [];
        for (let c = 0; c < this.nrCpus; c++) if (v.affinity[c] === 1) affinity.push(c);
        vcpus.push({
          domid: v.domid,
          vcpuId: v.vcpuId,
          processor: v.processor,
          affinity,
          pauseFlags: v.pauseFlags,
          pauseCount: v.pauseCount,
          state: v.state,
          stateEntryTime: v.stateEntryTime,
          time: Array.from(v.time),
        });
      }
    }
    const pcpus: SchedPcpuState[] = [];
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const c = this.#curr[cpu] ?? null;
      const end = this.#sliceEnd[cpu] as number;
      pcpus.push({
        curr: c === null ? null : [c.domid, c.vcpuId],
        sliceEnd: Number.isFinite(end) ? end : null,
      });
    }
    return {
      scheduler: this.#ops.optName,
      nrCpus: this.nrCpus,
      domains: this.#domainList.map((d) => ({ domid: d.domid, pauseCount: d.pauseCount })),
      vcpus,
      pcpus,
      priv: this.#ops.getState(),
    };
  }

  /**
   * Rebuilds a host from {@link Scheduler.getState} output on the given ports (whose clock
   * should read the time the state was taken at). Throws `INVALID_ARGUMENT` for malformed state.
   */
  static fromState(
    state: SchedulerState,
    ports: { clock: SchedClock; timers: SchedTimers; onContextSwitch?: ContextSwitchListener },
    scheduler?: SchedulerOps,
  ): Scheduler {
    const bad = (why: string): never => {
      throw new HypervisorError('INVALID_ARGUMENT', `scheduler state: ${why}`);
    };
    if (typeof state !== 'object' || state === null) bad('not an object');
    if (typeof state.scheduler !== 'string') bad('scheduler name is not a string');
    const ops = scheduler ?? createSchedulerOps(state.scheduler);
    if (ops.optName !== state.scheduler)
      bad(`scheduler ${ops.optName} given for state of ${show(state.scheduler)}`);
    const options: SchedulerOptions = {
      nrCpus: state.nrCpus,
      scheduler: ops,
      clock: ports.clock,
      timers: ports.timers,
    };
    if (ports.onContextSwitch) options.onContextSwitch = ports.onContextSwitch;
    const host = new Scheduler(options);
    if (!Array.isArray(state.domains) || !Array.isArray(state.vcpus) || !Array.isArray(state.pcpus))
      bad('missing arrays');
    if (state.pcpus.length !== host.nrCpus) bad('pcpus length');
    for (const ds of state.domains) {
      host.#restoreDomain(ds.domid);
      const d = host.#domain(ds.domid);
      if (!Number.isInteger(ds.pauseCount) || ds.pauseCount < 0) bad('domain pauseCount');
      d.pauseCount = ds.pauseCount;
    }
    for (const vs of state.vcpus) {
      const d = host.#domains.get(vs.domid) ?? bad(`vCPU of unknown domain ${show(vs.domid)}`);
      if (!Number.isInteger(vs.vcpuId) || vs.vcpuId < 0 || vs.vcpuId > 0xffff) bad('vcpuId');
      const key = vs.domid * 0x10000 + vs.vcpuId;
      if (host.#vcpus.has(key)) bad(`duplicate vCPU ${show(vs.domid)}.${show(vs.vcpuId)}`);
      const v = new SchedVcpu(d, vs.vcpuId, host.nrCpus);
      const mask = cpuMask(vs.affinity, host.nrCpus) ?? bad('affinity');
      v.affinity.set(mask);
      if (!Number.isInteger(vs.processor) || v.affinity[vs.processor] !== 1)
        bad('processor outside affinity');
      v.processor = vs.processor;
      if (!Number.isInteger(vs.pauseFlags) || !Number.isInteger(vs.pauseCount) || vs.pauseCount < 0)
        bad('pause');
      v.pauseFlags = vs.pauseFlags & (VPF_blocked | VPF_down);
      v.pauseCount = vs.pauseCount;
      if (!Number.isInteger(vs.state) || vs.state < 0 || vs.state > 3) bad('runstate');
      v.state = vs.state;
      const okTime = (x: unknown): x is number =>
        typeof x === 'number' && Number.isFinite(x) && x >= 0;
      if (!okTime(vs.stateEntryTime) || vs.stateEntryTime > ports.clock.now())
        bad('state entry time');
      v.stateEntryTime = vs.stateEntryTime;
      if (!Array.isArray(vs.time) || vs.time.length !== 4 || !vs.time.every(okTime))
        bad('runstate times');
      for (let i = 0; i < 4; i++) v.time[i] = vs.time[i] as number;
      host.#vcpus.set(key, v);
      d.vcpus.push(v);
    }
    for (let cpu = 0; cpu < host.nrCpus; cpu++) {
      const p = state.pcpus[cpu] ?? bad('pcpu');
      if (p.curr !== null) {
        const v =
          host.#vcpus.get(p.curr[0] * 0x10000 + p.curr[1]) ??
          bad(`pCPU ${show(cpu)} runs an unknown vCPU`);
        if (v.isRunning || v.processor !== cpu || !v.runnable() || v.state !== RUNSTATE_running) {
          bad(`pCPU ${show(cpu)} current vCPU inconsistent`);
        }
        v.isRunning = true;
        host.#curr[cpu] = v;
      }
      if (p.sliceEnd !== null && (typeof p.sliceEnd !== 'number' || !Number.isFinite(p.sliceEnd)))
        bad('sliceEnd');
      if (p.sliceEnd !== null) {
        host.#sliceEnd[cpu] = p.sliceEnd;
        host.#timers.set(host.#sliceTimer[cpu] as number, p.sliceEnd);
      }
    }
    for (const v of host.#vcpus.values()) {
      if (v.state === RUNSTATE_running && !v.isRunning)
        bad(`vCPU ${v.domid}.${v.vcpuId} running on no pCPU`);
    }
    for (const d of host.#domainList) for (const v of d.vcpus) ops.insertVcpu(v);
    ops.restoreState(state.priv);
    return host;
  }

  // ---------------------------------------------------------------- internals

  /**
   * Creates the per-pCPU slice timers after the scheduler's own timers, so that when a tick or
   * the credit accounting falls at the same instant as a slice end, the scheduler's bookkeeping
   * runs first and the decision sees its result (with virtual time such ties are exact).
   */
  #createSliceTimers(): void {
    this.#sliceTimer.length = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      this.#sliceTimer.push(
        this.#timers.create(() => {
          this.#sliceEnd[cpu] = Number.POSITIVE_INFINITY;
          this.#raise(cpu);
          this.#flush();
        }),
      );
    }
  }

  #restoreDomain(domid: number): void {
    this.createDomain(domid);
  }

  #domain(domid: number): SchedDomain {
    const d = this.#domains.get(domid);
    if (d === undefined) throw new HypervisorError('NOT_FOUND', `no domain ${domid}`);
    return d;
  }

  #vcpu(domid: number, vcpuId: number): SchedVcpu {
    const v = this.#vcpus.get(domid * 0x10000 + vcpuId);
    if (v === undefined || !Number.isInteger(vcpuId)) {
      throw new HypervisorError('NOT_FOUND', `no vCPU ${domid}.${vcpuId}`);
    }
    return v;
  }

  #mustNotRun(v: SchedVcpu, what: string): void {
    if (v.isRunning) {
      throw new HypervisorError(
        'INVALID_STATE',
        `cannot ${what} vCPU ${v.domid}.${v.vcpuId} from inside a context switch`,
      );
    }
  }

  /** Spreads a domain's vCPUs over their affinity: the (vcpuId mod n)-th allowed pCPU. */
  #initialCpu(v: SchedVcpu): number {
    let count = 0;
    for (let c = 0; c < this.nrCpus; c++) count += v.affinity[c] as number;
    let k = v.vcpuId % count;
    for (let c = 0; c < this.nrCpus; c++) {
      if (v.affinity[c] === 1 && k-- === 0) return c;
    }
    return 0;
  }

  #descheduledState(v: SchedVcpu): number {
    if ((v.pauseFlags & VPF_blocked) !== 0) return RUNSTATE_blocked;
    return v.runnable() ? RUNSTATE_runnable : RUNSTATE_offline;
  }

  #runstateChange(v: SchedVcpu, state: number, now: number): void {
    const delta = now - v.stateEntryTime;
    if (delta > 0) {
      v.time[v.state] = (v.time[v.state] as number) + delta;
      v.stateEntryTime = now;
    }
    v.state = state;
  }

  /** `vcpu_wake`. */
  #wake(v: SchedVcpu): void {
    if (v.runnable()) {
      if (v.state >= RUNSTATE_blocked)
        this.#runstateChange(v, RUNSTATE_runnable, this.#clock.now());
      this.#ops.wake(v);
    } else if ((v.pauseFlags & VPF_blocked) === 0 && v.state === RUNSTATE_blocked) {
      this.#runstateChange(v, RUNSTATE_offline, this.#clock.now());
    }
  }

  /** `vcpu_sleep_nosync`. */
  #sleep(v: SchedVcpu): void {
    if (v.runnable()) return;
    if (v.state === RUNSTATE_runnable)
      this.#runstateChange(v, this.#descheduledState(v), this.#clock.now());
    this.#ops.sleep(v);
  }

  #raise(cpu: number): void {
    this.#pending[cpu] = 1;
    this.#anyPending = true;
  }

  /** Runs `schedule()` on every pCPU with a pending request, until none is left. */
  #flush(): void {
    if (this.#inSoftirq || !this.#anyPending) return;
    this.#inSoftirq = true;
    try {
      let rounds = 0;
      while (this.#anyPending) {
        this.#anyPending = false;
        for (let cpu = 0; cpu < this.nrCpus; cpu++) {
          if (this.#pending[cpu] === 0) continue;
          this.#pending[cpu] = 0;
          this.#schedule(cpu);
        }
        if (++rounds > 64 + 4 * this.nrCpus) {
          throw new HypervisorError(
            'INVALID_STATE',
            `${this.#ops.optName}: reschedule requests do not settle`,
          );
        }
      }
    } finally {
      this.#inSoftirq = false;
    }
  }

  /** Xen's `schedule()` for one pCPU. */
  #schedule(cpu: number): void {
    const now = this.#clock.now();
    const prev = this.#curr[cpu] ?? null;
    const timer = this.#sliceTimer[cpu] as number;
    this.#timers.stop(timer);
    const slice = this.#slice;
    slice.task = null;
    slice.time = -1;
    this.#decisions++;
    this.#ops.doSchedule(cpu, now, slice);
    const next = slice.task as SchedVcpu | null;
    if (next !== null) {
      if (
        (next.isRunning && next !== prev) ||
        !next.runnable() ||
        next.affinity[cpu] !== 1 ||
        next.priv === null
      ) {
        throw new HypervisorError(
          'INVALID_STATE',
          `${this.#ops.optName}: chose vCPU ${next.domid}.${next.vcpuId} that cannot run on pCPU ${cpu}`,
        );
      }
    }
    if (slice.time >= 0) {
      const end = now + Math.max(slice.time, SCHED_MIN_TIMER);
      this.#sliceEnd[cpu] = end;
      this.#timers.set(timer, end);
    } else {
      this.#sliceEnd[cpu] = Number.POSITIVE_INFINITY;
    }
    if (prev === next) return;
    if (prev !== null) {
      prev.isRunning = false;
      this.#runstateChange(prev, this.#descheduledState(prev), now);
    }
    if (next !== null) {
      next.isRunning = true;
      next.processor = cpu;
      this.#runstateChange(next, RUNSTATE_running, now);
    }
    this.#curr[cpu] = next;
    this.#listener?.(cpu, prev, next, now);
  }

  #makeHostPort(): SchedHost {
    const timers = this.#timers;
    return {
      nrCpus: this.nrCpus,
      clock: this.#clock,
      curr: (cpu) => this.#curr[cpu] ?? null,
      raiseSoftirq: (cpu) => this.#raise(cpu),
      pauseVcpu: (v) => {
        v.pauseCount++;
        this.#sleep(v);
      },
      unpauseVcpu: (v) => {
        if (v.pauseCount > 0 && --v.pauseCount === 0) this.#wake(v);
      },
      createTimer: (callback) =>
        timers.create(() => {
          callback();
          this.#flush();
        }),
      setTimer: (h, at) => timers.set(h, at),
      stopTimer: (h) => timers.stop(h),
      destroyTimer: (h) => timers.destroy(h),
      domains: () => this.#domainList,
      vcpu: (domid, vcpuId) => this.#vcpus.get(domid * 0x10000 + vcpuId),
    };
  }
}
