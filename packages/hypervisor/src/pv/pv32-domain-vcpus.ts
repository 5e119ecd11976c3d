/**
 * The vCPUs of one 32-bit PAE PV domain: `max_vcpus` {@link Pv32Vcpu}s, vCPU 0 initialised by
 * the domain builder and up, the others down and uninitialised until the guest brings them up
 * with the compat VCPUOP_initialise and VCPUOP_up. It is the {@link Pv32SmpPort} of every vCPU
 * of the domain; what "up" and "down" mean for scheduling is the embedder's (`hooks`), as for
 * the 64-bit `PvDomainVcpus`.
 *
 * @see xen/common/domain.c (vcpu_create, do_vcpu_op), xen/common/compat/domain.c
 */
import type { Pv32SmpPort } from '../hypercall/compat-smp-vcpu-op.ts';
import type { VcpuGuestContext32 } from '../hypercall/compat-vcpu-context.ts';
import type { PvContextMmPort } from './pv-vcpu-context.ts';
import type { Pv32Vcpu } from './pv32-vcpu.ts';
import { loadVcpuGuestContext32 } from './pv32-vcpu-context.ts';
import { type PvDomainVcpusHooks, type PvDomainVcpusState, PvVcpuSet } from './vcpu-set.ts';

/** A 32-bit PV domain's vCPU set and its lifecycle flags. */
export class Pv32DomainVcpus extends PvVcpuSet<Pv32Vcpu> implements Pv32SmpPort {
  /**
   * `count` vCPUs (1..32: a compat shared_info holds 32 vcpu_info slots); vCPU 0 initialised
   * and up. `lookup` finds the Pv32Vcpu of an id.
   */
  constructor(
    count: number,
    lookup: (vcpu: number) => Pv32Vcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ) {
    super(count, 32, '32-bit max_vcpus', lookup, mm, hooks);
  }

  /** Loads `c` into `vcpu` (see `loadVcpuGuestContext32`); 0 or -EINVAL. */
  initialise32(vcpu: number, c: VcpuGuestContext32): number {
    return this.loadContext(vcpu, c, loadVcpuGuestContext32);
  }

  /** Recreates the flags of {@link Pv32DomainVcpus.getState} (no hooks are called). */
  static fromState(
    state: PvDomainVcpusState,
    lookup: (vcpu: number) => Pv32Vcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ): Pv32DomainVcpus {
    const d = new Pv32DomainVcpus(state.count, lookup, mm, hooks);
    d.setFlags(state);
    return d;
  }
}
