/**
 * The vCPUs of one 64-bit PV domain as Xen's `struct domain` holds them: `max_vcpus` vCPUs,
 * vCPU 0 initialised by the domain builder and up, the others down and uninitialised until the
 * guest brings them up with VCPUOP_initialise and VCPUOP_up. It is the {@link PvSmpPort} of
 * every vCPU of the domain; what "up" and "down" mean for scheduling is the embedder's
 * (`hooks`), e.g. the scheduler's `up`/`down`.
 *
 * @see xen/common/domain.c (vcpu_create, do_vcpu_op), xen/include/xen/sched.h (is_initialised, _VPF_down)
 */
import type { PvSmpPort } from '../hypercall/smp-vcpu-op.ts';
import type { VcpuGuestContext64 } from '../hypercall/vcpu-initialise.ts';
import type { PvVcpu } from './pv-vcpu.ts';
import { loadVcpuGuestContext64, type PvContextMmPort } from './pv-vcpu-context.ts';
import { type PvDomainVcpusHooks, type PvDomainVcpusState, PvVcpuSet } from './vcpu-set.ts';

export type { PvDomainVcpusHooks, PvDomainVcpusState } from './vcpu-set.ts';

/** A 64-bit domain's vCPU set and its lifecycle flags. */
export class PvDomainVcpus extends PvVcpuSet<PvVcpu> implements PvSmpPort {
  /**
   * `count` vCPUs (1..255); vCPU 0 initialised and up. `lookup` finds the PvVcpu of an id (the
   * vCPUs are created with this object as their `smp` option, so they come after it).
   */
  constructor(
    count: number,
    lookup: (vcpu: number) => PvVcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ) {
    super(count, 255, 'max_vcpus', lookup, mm, hooks);
  }

  /** Loads `c` into `vcpu` (see `loadVcpuGuestContext64`); 0 or -EINVAL. */
  initialise(vcpu: number, c: VcpuGuestContext64): number {
    return this.loadContext(vcpu, c, loadVcpuGuestContext64);
  }

  /** Recreates the flags of {@link PvDomainVcpus.getState} (no hooks are called). */
  static fromState(
    state: PvDomainVcpusState,
    lookup: (vcpu: number) => PvVcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ): PvDomainVcpus {
    const d = new PvDomainVcpus(state.count, lookup, mm, hooks);
    d.setFlags(state);
    return d;
  }
}
