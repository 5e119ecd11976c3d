/**
 * The interface every scheduler fills, like Xen's `struct scheduler`, and the host services a
 * scheduler may call back into.
 *
 * @see xen/include/xen/sched-if.h (struct scheduler)
 * @see xen/common/sched/core.c
 * @see xen/include/public/domctl.h (xen_domctl_scheduler_op)
 */

import type { SchedClock } from './ports.ts';
import type { SchedDomain, SchedVcpu } from './vcpu.ts';

/** Credit parameters, as `struct xen_domctl_sched_credit`. @see xen/include/public/domctl.h */
export interface XenDomctlSchedCredit {
  /** Relative weight, 1–65535 (0 in putinfo: leave unchanged). */
  weight: number;
  /** Cap in percent of one pCPU, 0 = no cap (65535 in putinfo: leave unchanged). */
  cap: number;
}

/** sEDF parameters, as `struct xen_domctl_sched_sedf` (times in ns). @see xen/include/public/domctl.h (Xen ≤ 4.5) */
export interface XenDomctlSchedSedf {
  /** Period in ns (0 with a weight: weight-driven). */
  period: number;
  /** Guaranteed slice per period in ns. */
  slice: number;
  /** Latency hint in ns: after a long block the vCPU runs with this shorter period for a while (0 = none). */
  latency: number;
  /** Bit 0 (`EXTRA_AWARE`): the domain may run in extra time. */
  extratime: number;
  /** Weight: with `period` 0 and `extratime` set, the share of extra time; otherwise a share of real time. */
  weight: number;
}

/** `struct xen_domctl_scheduler_op`. @see xen/include/public/domctl.h */
export interface XenDomctlSchedulerOp {
  /** The scheduler the caller means (`XEN_SCHEDULER_*`); a mismatch is -EINVAL. */
  sched_id: number;
  /** `XEN_DOMCTL_SCHEDOP_putinfo` or `XEN_DOMCTL_SCHEDOP_getinfo`. */
  cmd: number;
  /** Parameters; putinfo reads the member of the active scheduler, getinfo fills it. */
  u: {
    /** Credit parameters. */
    credit?: XenDomctlSchedCredit;
    /** sEDF parameters. */
    sedf?: XenDomctlSchedSedf;
  };
}

/** What `do_schedule` returns (Xen's `struct task_slice`), filled in place to avoid allocation. */
export interface TaskSlice {
  /** The vCPU to run next, or null for the idle vCPU. */
  task: SchedVcpu | null;
  /** How long (ns) before the scheduler wants to decide again; negative for "until something happens". */
  time: number;
}

/** Host services available to a scheduler (what Xen's schedulers reach through globals). */
export interface SchedHost {
  /** Number of physical CPUs, numbered from 0. */
  readonly nrCpus: number;
  /** The system clock. */
  readonly clock: SchedClock;
  /** The vCPU currently running on `cpu`, or null when it is idle (`curr_on_cpu`). */
  curr(cpu: number): SchedVcpu | null;
  /** Asks for `do_schedule` on `cpu` as soon as the current host call finishes (`SCHEDULE_SOFTIRQ`). */
  raiseSoftirq(cpu: number): void;
  /** `vcpu_pause_nosync`: makes the vCPU unrunnable until a matching {@link SchedHost.unpauseVcpu}. */
  pauseVcpu(v: SchedVcpu): void;
  /** `vcpu_unpause`. */
  unpauseVcpu(v: SchedVcpu): void;
  /** Creates a timer whose callback runs scheduler code; pending reschedules are processed after it. */
  createTimer(callback: () => void): number;
  /** Arms a timer created by {@link SchedHost.createTimer} at absolute time `at`. */
  setTimer(handle: number, at: number): void;
  /** Disarms a timer. */
  stopTimer(handle: number): void;
  /** Frees a timer. */
  destroyTimer(handle: number): void;
  /** All domains, in creation order. */
  domains(): readonly SchedDomain[];
  /** Looks a vCPU up, for restoring state. */
  vcpu(domid: number, vcpuId: number): SchedVcpu | undefined;
}

/**
 * A CPU scheduler, like Xen's `struct scheduler`. The host calls these with its own bookkeeping
 * (runstate, pause state, `is_running`) already updated; the scheduler keeps its queues in the
 * `priv` slots and its own fields.
 */
export interface SchedulerOps {
  /** Human-readable name, e.g. "SMP Credit Scheduler". */
  readonly name: string;
  /** Command-line name, e.g. "credit" or "sedf" (`sched=` on Xen's command line). */
  readonly optName: string;
  /** `XEN_SCHEDULER_*` id checked by `XEN_DOMCTL_scheduler_op`. */
  readonly schedId: number;
  /** Sets the scheduler up on a host (allocates per-pCPU data, arms its timers). */
  init(host: SchedHost): void;
  /** Tears the scheduler down (destroys its timers). */
  deinit(): void;
  /** Allocates per-domain data (`alloc_domdata`) with default parameters. */
  insertDomain(d: SchedDomain): void;
  /** Frees per-domain data; the domain has no vCPUs left. */
  removeDomain(d: SchedDomain): void;
  /** Allocates per-vCPU data (`alloc_vdata` + `insert_vcpu`); the host wakes it afterwards if runnable. */
  insertVcpu(v: SchedVcpu): void;
  /** Removes a vCPU that is not running from every queue and frees its data. */
  removeVcpu(v: SchedVcpu): void;
  /** The vCPU stopped being runnable (blocked, paused, down, migrating). */
  sleep(v: SchedVcpu): void;
  /** The vCPU became runnable. */
  wake(v: SchedVcpu): void;
  /** The running vCPU yields (SCHEDOP_yield); the host reschedules its pCPU afterwards. */
  yield(v: SchedVcpu): void;
  /** Chooses what `cpu` runs next at time `now`; `host.curr(cpu)` is the vCPU being descheduled. */
  doSchedule(cpu: number, now: number, out: TaskSlice): void;
  /** Chooses a pCPU in the vCPU's affinity for it to move to (`pick_cpu`). */
  pickCpu(v: SchedVcpu): number;
  /** `XEN_DOMCTL_scheduler_op` for one domain; returns 0 or a negative Xen errno, never throws. */
  adjust(d: SchedDomain, op: XenDomctlSchedulerOp): number;
  /** The vCPU's hard affinity changed (the host migrates it afterwards if needed). */
  adjustAffinity(v: SchedVcpu): void;
  /** Plain-data state: parameters, credits, deadlines, queue orders, timer expiries. */
  getState(): unknown;
  /** Restores {@link SchedulerOps.getState} output after the host re-inserted every domain and vCPU. */
  restoreState(state: unknown): void;
}
