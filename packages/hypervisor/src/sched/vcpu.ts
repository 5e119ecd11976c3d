/**
 * The scheduler host's view of domains and vCPUs: the fields Xen keeps in `struct vcpu` and
 * `struct domain` that the schedulers read (processor, hard affinity, pause flags and counts,
 * `is_running`, the runstate) plus one private slot for the active scheduler (`sched_priv`).
 *
 * @see xen/include/xen/sched.h
 * @see xen/include/public/vcpu.h (vcpu_runstate_info)
 */

import { RUNSTATE_offline } from '../abi/vcpu.ts';

/** `pause_flags` bit: blocked waiting for an event (SCHEDOP_block/poll). @see xen/include/xen/sched.h */
export const VPF_blocked: number = 1 << 0;
/** `pause_flags` bit: taken down (VCPUOP_down) or never brought up. @see xen/include/xen/sched.h */
export const VPF_down: number = 1 << 1;
/** `pause_flags` bit: being moved to another pCPU after an affinity change. @see xen/include/xen/sched.h */
export const VPF_migrating: number = 1 << 3;

/** A domain as the schedulers see it. */
export class SchedDomain {
  /** The domain id. */
  readonly domid: number;
  /** Domain-wide pause count (`domain_pause`); the domain's vCPUs run only while it is 0. */
  pauseCount = 0;
  /** The domain's vCPUs in creation order. */
  readonly vcpus: SchedVcpu[] = [];
  /** The active scheduler's private per-domain data (`sched_priv`). */
  priv: unknown = null;

  /** Creates an empty domain. */
  constructor(domid: number) {
    this.domid = domid;
  }
}

/** A vCPU as the schedulers see it. Only the host changes these fields (except `priv`). */
export class SchedVcpu {
  /** The owning domain's id. */
  readonly domid: number;
  /** The vCPU number within its domain. */
  readonly vcpuId: number;
  /** The owning domain. */
  readonly domain: SchedDomain;
  /** The pCPU the vCPU is assigned to (`v->processor`): where it runs or is queued. */
  processor = 0;
  /** Hard affinity: `affinity[cpu] === 1` when the vCPU may run on `cpu` (`cpu_hard_affinity`). */
  readonly affinity: Uint8Array;
  /** True while the vCPU is the current vCPU of some pCPU (`is_running`). */
  isRunning = false;
  /** `VPF_*` bits; the vCPU is runnable only while this and both pause counts are 0. */
  pauseFlags = 0;
  /** Per-vCPU pause count (`vcpu_pause`; credit parks capped vCPUs this way). */
  pauseCount = 0;
  /** Current `RUNSTATE_*`. */
  state: number = RUNSTATE_offline;
  /** System time (ns) at which `state` was entered. */
  stateEntryTime = 0;
  /** Nanoseconds spent in each `RUNSTATE_*` before the current state was entered. */
  readonly time: Float64Array = new Float64Array(4);
  /** The active scheduler's private per-vCPU data (`sched_priv`). */
  priv: unknown = null;

  /** Creates a vCPU with all pCPUs in its affinity. */
  constructor(domain: SchedDomain, vcpuId: number, nrCpus: number) {
    this.domid = domain.domid;
    this.vcpuId = vcpuId;
    this.domain = domain;
    this.affinity = new Uint8Array(nrCpus).fill(1);
  }

  /** Xen's `vcpu_runnable()`: no pause flag and no pause count, on the vCPU or its domain. */
  runnable(): boolean {
    return (this.pauseFlags | this.pauseCount | this.domain.pauseCount) === 0;
  }
}
