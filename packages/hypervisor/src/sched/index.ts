/**
 * CPU schedulers for `@typevisor/hypervisor`: the scheduler host (Xen's `sched/core.c`), the
 * {@link SchedulerOps} interface every scheduler fills, Xen's credit and sEDF schedulers,
 * deterministic virtual time, and a workload simulation. The package barrel re-exports this.
 *
 * @example
 * ```ts
 * import { SchedSimulation, XEN_SCHEDULER_CREDIT, XEN_DOMCTL_SCHEDOP_putinfo } from '@typevisor/hypervisor';
 * const sim = new SchedSimulation({ nrCpus: 1, scheduler: 'credit' });
 * sim.addCpuBound(1, 0);
 * sim.addCpuBound(2, 0);
 * sim.host.schedulerOp(2, { sched_id: XEN_SCHEDULER_CREDIT, cmd: XEN_DOMCTL_SCHEDOP_putinfo, u: { credit: { weight: 512, cap: 0 } } });
 * sim.runFor(10e9);
 * ```
 * @module
 */
export {
  CSCHED_CREDITS_PER_MSEC,
  CSCHED_CREDITS_PER_TSLICE,
  CSCHED_DEFAULT_TSLICE_MS,
  CSCHED_DEFAULT_WEIGHT,
  CSCHED_FLAG_VCPU_PARKED,
  CSCHED_FLAG_VCPU_YIELD,
  CSCHED_PRI_IDLE,
  CSCHED_PRI_TS_BOOST,
  CSCHED_PRI_TS_OVER,
  CSCHED_PRI_TS_UNDER,
  CSCHED_TICKS_PER_TSLICE,
  EXTRA_AWARE,
  EXTRA_QUANTUM,
  MICROSECS,
  MILLISECS,
  PERIOD_MAX,
  PERIOD_MIN,
  SCHED_MIN_TIMER,
  SLICE_MIN,
  WEIGHT_PERIOD,
  WEIGHT_SAFETY,
  XEN_DOMCTL_SCHEDOP_getinfo,
  XEN_DOMCTL_SCHEDOP_putinfo,
  XEN_SCHEDULER_ARINC653,
  XEN_SCHEDULER_CREDIT,
  XEN_SCHEDULER_CREDIT2,
  XEN_SCHEDULER_NULL,
  XEN_SCHEDULER_RTDS,
  XEN_SCHEDULER_SEDF,
} from './constants.ts';
export {
  type CreditDomainState,
  CreditScheduler,
  type CreditState,
  type CreditVcpuState,
} from './credit.ts';
export type {
  SchedHost,
  SchedulerOps,
  TaskSlice,
  XenDomctlSchedCredit,
  XenDomctlSchedSedf,
  XenDomctlSchedulerOp,
} from './ops.ts';
export type { SchedClock, SchedTimers } from './ports.ts';
export { RealTime } from './real-time.ts';
export { createSchedulerOps, SCHEDULER_NAMES } from './registry.ts';
export {
  type AddVcpuOptions,
  type ContextSwitchListener,
  type NewVcpuState,
  type SchedDomainState,
  type SchedPcpuState,
  Scheduler,
  type SchedulerOptions,
  type SchedulerState,
  type SchedVcpuState,
  type VcpuRunstateInfo,
} from './scheduler.ts';
export { type SedfCpuState, SedfScheduler, type SedfState, type SedfVcpuState } from './sedf.ts';
export {
  type RunSegment,
  SchedSimulation,
  type SchedSimulationOptions,
  type SimIoVcpuOptions,
  type SimVcpuOptions,
} from './simulation.ts';
export { SchedDomain, SchedVcpu, VPF_blocked, VPF_down, VPF_migrating } from './vcpu.ts';
export { VirtualTime } from './virtual-time.ts';
