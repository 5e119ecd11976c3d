/**
 * Per-vCPU guest timers that raise VIRQ_TIMER: the periodic timer (PV vCPUs start with 10 ms),
 * the single-shot timer of `set_timer_op` and `VCPUOP_set_singleshot_timer`, and their stop
 * operations, with Xen's argument rules.
 *
 * @see xen/common/sched/core.c (do_set_timer_op, vcpu_periodic_timer_work, vcpu_singleshot_timer_fn)
 * @see xen/common/domain.c (VCPUOP_set_periodic_timer, VCPUOP_set_singleshot_timer)
 * @see xen/include/public/vcpu.h
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { HypervisorError } from '../errors.ts';
import type { SystemClock, TimerPort } from './clock.ts';

/** 1 ms in ns: the smallest periodic timer period Xen accepts. */
const MILLISECS_1 = 1_000_000;
/** The default periodic timer period of a PV vCPU (xen/arch/x86/pv/domain.c). */
export const PV_DEFAULT_PERIOD_NS = 10_000_000;
/** set_timer_op deadlines that look wrapped fire this long after now instead. */
const FAR_FALLBACK_NS = 100_000_000;
const TWO_POW_50 = 2 ** 50;

/** Plain-data state of one vCPU's timers. */
export interface VcpuTimerState {
  /** Domain. */
  readonly domid: number;
  /** vCPU. */
  readonly vcpu: number;
  /** Periodic period in ns (0 = stopped). */
  readonly periodNs: number;
  /** System time of the last periodic event. */
  readonly periodicLast: number;
  /** Single-shot deadline in ns, or -1 when not armed. */
  readonly singleshotAt: number;
}

interface Entry {
  readonly domid: number;
  readonly vcpu: number;
  periodNs: number;
  periodicLast: number;
  singleshotAt: number;
  readonly periodic: number;
  readonly singleshot: number;
}

/**
 * The guest timers of every vCPU, raising `raise(domid, vcpu)` (normally
 * `evtchn.sendVirq(domid, vcpu, VIRQ_TIMER)`) when one expires.
 */
export class VcpuTimers {
  private readonly clock: SystemClock;
  private readonly timers: TimerPort;
  private readonly raise: (domid: number, vcpu: number) => void;
  private readonly entries = new Map<string, Entry>();

  /** Creates the timer set over a clock, a timer port and the VIRQ_TIMER sender. */
  constructor(ports: {
    clock: SystemClock;
    timers: TimerPort;
    raise: (domid: number, vcpu: number) => void;
  }) {
    this.clock = ports.clock;
    this.timers = ports.timers;
    this.raise = ports.raise;
  }

  /** Restores timers from {@link VcpuTimers.getState}, re-arming them on `ports.timers`. */
  static fromState(
    state: readonly VcpuTimerState[],
    ports: { clock: SystemClock; timers: TimerPort; raise: (domid: number, vcpu: number) => void },
  ): VcpuTimers {
    const t = new VcpuTimers(ports);
    for (const s of state) {
      const e = t.attach(s.domid, s.vcpu, s.periodNs, s.periodicLast);
      if (s.singleshotAt >= 0) {
        e.singleshotAt = s.singleshotAt;
        t.timers.set(e.singleshot, s.singleshotAt);
      }
    }
    return t;
  }

  /** Plain, JSON-safe state of every vCPU's timers. */
  getState(): VcpuTimerState[] {
    return [...this.entries.values()].map((e) => ({
      domid: e.domid,
      vcpu: e.vcpu,
      periodNs: e.periodNs,
      periodicLast: e.periodicLast,
      singleshotAt: e.singleshotAt,
    }));
  }

  /** Adds a vCPU whose periodic timer starts now with `periodNs` (default 10 ms; 0 = none). */
  addVcpu(domid: number, vcpu: number, periodNs: number = PV_DEFAULT_PERIOD_NS): void {
    this.attach(domid, vcpu, periodNs, this.clock.now());
  }

  /** Removes every vCPU of a domain and frees its timers. */
  removeDomain(domid: number): void {
    for (const [key, e] of this.entries) {
      if (e.domid !== domid) continue;
      this.timers.destroy(e.periodic);
      this.timers.destroy(e.singleshot);
      this.entries.delete(key);
    }
  }

  /**
   * `set_timer_op(timeout)`: 0 cancels the single-shot timer; a deadline that is negative as a
   * signed 64-bit value, or 2^50 ns or more ahead, fires in 100 ms; otherwise it fires at
   * `timeout` (at once if already past). Always returns 0.
   */
  setTimerOp(domid: number, vcpu: number, timeout: bigint): number {
    const e = this.entry(domid, vcpu);
    const t = BigInt.asIntN(64, timeout);
    if (t === 0n) {
      this.stopSingleshot(domid, vcpu);
      return 0;
    }
    const now = this.clock.now();
    const at = t < 0n || t - BigInt(now) >= BigInt(TWO_POW_50) ? now + FAR_FALLBACK_NS : Number(t);
    this.armSingleshot(e, at);
    return 0;
  }

  /**
   * `VCPUOP_set_singleshot_timer`: arms the single-shot timer for `timeoutAbsNs`. A deadline
   * already in the past fires at once. VCPU_SSHOTTMR_future is accepted and ignored, as Xen 4.17
   * does (Linux set it on deadlines that could already have passed, so Xen stopped refusing them
   * with -ETIME; the real Xen 4.17.7 returns 0 in `packages/hypervisor/test/abi-ref`'s golden run).
   */
  setSingleshot(domid: number, vcpu: number, timeoutAbsNs: bigint, _flags: number): number {
    const e = this.entry(domid, vcpu);
    const t = BigInt.asUintN(64, timeoutAbsNs);
    this.armSingleshot(
      e,
      t > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(t),
    );
    return 0;
  }

  /** `VCPUOP_stop_singleshot_timer` (and set_timer_op(0)). */
  stopSingleshot(domid: number, vcpu: number): number {
    const e = this.entry(domid, vcpu);
    e.singleshotAt = -1;
    this.timers.stop(e.singleshot);
    return 0;
  }

  /**
   * `VCPUOP_set_periodic_timer`: periods under 1 ms or above STIME_DELTA_MAX are -EINVAL;
   * otherwise the timer restarts from now with the new period.
   */
  setPeriodic(domid: number, vcpu: number, periodNs: bigint): number {
    const e = this.entry(domid, vcpu);
    const p = BigInt.asUintN(64, periodNs);
    if (p < BigInt(MILLISECS_1) || p > 0x3fffffffffffffffn) return -XEN_EINVAL;
    const period = p > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(p);
    if (e.periodNs === period) return 0;
    e.periodNs = period;
    e.periodicLast = this.clock.now();
    this.timers.set(e.periodic, Math.min(Number.MAX_SAFE_INTEGER, e.periodicLast + period));
    return 0;
  }

  /** `VCPUOP_stop_periodic_timer`. */
  stopPeriodic(domid: number, vcpu: number): number {
    const e = this.entry(domid, vcpu);
    e.periodNs = 0;
    this.timers.stop(e.periodic);
    return 0;
  }

  private attach(domid: number, vcpu: number, periodNs: number, last: number): Entry {
    const key = `${domid}:${vcpu}`;
    if (this.entries.has(key))
      throw new HypervisorError('INVALID_STATE', `d${domid}v${vcpu} already has timers`);
    if (!Number.isSafeInteger(periodNs) || periodNs < 0) {
      throw new HypervisorError('INVALID_ARGUMENT', `bad periodNs ${periodNs}`);
    }
    const e: Entry = {
      domid,
      vcpu,
      periodNs,
      periodicLast: last,
      singleshotAt: -1,
      periodic: this.timers.create(() => this.periodicFired(e)),
      singleshot: this.timers.create(() => this.singleshotFired(e)),
    };
    this.entries.set(key, e);
    if (periodNs > 0) this.timers.set(e.periodic, last + periodNs);
    return e;
  }

  private entry(domid: number, vcpu: number): Entry {
    const e = this.entries.get(`${domid}:${vcpu}`);
    if (!e) throw new HypervisorError('NOT_FOUND', `no timers for d${domid}v${vcpu}`);
    return e;
  }

  private armSingleshot(e: Entry, at: number): void {
    e.singleshotAt = at;
    this.timers.set(e.singleshot, at);
  }

  /** vcpu_periodic_timer_work: raise, restart the period from now. */
  private periodicFired(e: Entry): void {
    if (e.periodNs === 0) return;
    const now = this.clock.now();
    e.periodicLast = now;
    this.timers.set(e.periodic, now + e.periodNs);
    this.raise(e.domid, e.vcpu);
  }

  private singleshotFired(e: Entry): void {
    e.singleshotAt = -1;
    this.raise(e.domid, e.vcpu);
  }
}
