/**
 * The vCPUs of one 32-bit PAE PV domain: `max_vcpus` {@link Pv32Vcpu}s, vCPU 0 initialised by
 * the domain builder and up, the others down and uninitialised until the guest brings them up
 * with the compat VCPUOP_initialise and VCPUOP_up. It is the {@link Pv32SmpPort} of every vCPU
 * of the domain; what "up" and "down" mean for scheduling is the embedder's (`hooks`), as for
 * the 64-bit `PvDomainVcpus`.
 *
 * @see xen/common/domain.c (vcpu_create, do_vcpu_op), xen/common/compat/domain.c
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { HypervisorError } from '../errors.ts';
import type { Pv32SmpPort } from '../hypercall/compat-smp-vcpu-op.ts';
import type { VcpuGuestContext32 } from '../hypercall/compat-vcpu-context.ts';
import type { VcpuRunstate } from '../hypercall/pv-vcpu-op.ts';
import type { PvDomainVcpusHooks, PvDomainVcpusState } from './pv-domain-vcpus.ts';
import type { PvContextMmPort } from './pv-vcpu-context.ts';
import type { Pv32Vcpu } from './pv32-vcpu.ts';
import { loadVcpuGuestContext32 } from './pv32-vcpu-context.ts';

/** A 32-bit PV domain's vCPU set and its lifecycle flags. */
export class Pv32DomainVcpus implements Pv32SmpPort {
  /** `max_vcpus`. */
  readonly vcpuCount: number;
  private readonly initialisedFlags: Uint8Array;
  private readonly upFlags: Uint8Array;
  private readonly lookup: (vcpu: number) => Pv32Vcpu | undefined;
  private readonly mm: PvContextMmPort;
  private readonly hooks: PvDomainVcpusHooks;

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
    if (!Number.isInteger(count) || count < 1 || count > 32) {
      throw new HypervisorError('INVALID_ARGUMENT', `32-bit max_vcpus must be 1..32, got ${count}`);
    }
    this.vcpuCount = count;
    this.initialisedFlags = new Uint8Array(count);
    this.upFlags = new Uint8Array(count);
    this.initialisedFlags[0] = 1;
    this.upFlags[0] = 1;
    this.lookup = lookup;
    this.mm = mm;
    this.hooks = hooks;
  }

  /** Whether `vcpu` has a context. */
  isInitialised(vcpu: number): boolean {
    return this.initialisedFlags[vcpu] === 1;
  }

  /** Whether `vcpu` is up. */
  isUp(vcpu: number): boolean {
    return this.upFlags[vcpu] === 1;
  }

  /** The number of vCPUs that are up. */
  get online(): number {
    let n = 0;
    for (let i = 0; i < this.vcpuCount; i++) n += this.upFlags[i] ?? 0;
    return n;
  }

  /** Loads `c` into `vcpu` (see `loadVcpuGuestContext32`); 0 or -EINVAL. */
  initialise32(vcpu: number, c: VcpuGuestContext32): number {
    const v = this.lookup(vcpu);
    if (v === undefined) return -XEN_EINVAL;
    const rc = loadVcpuGuestContext32(v, c, this.mm);
    if (rc === 0) this.initialisedFlags[vcpu] = 1;
    return rc;
  }

  /** Brings `vcpu` up. */
  up(vcpu: number): void {
    if (this.upFlags[vcpu] === 1) return;
    this.upFlags[vcpu] = 1;
    this.hooks.up(vcpu);
  }

  /** Takes `vcpu` down. */
  down(vcpu: number): void {
    if (this.upFlags[vcpu] !== 1) return;
    this.upFlags[vcpu] = 0;
    this.hooks.down(vcpu);
  }

  /** The runstate of `vcpu`. */
  runstate(vcpu: number): VcpuRunstate {
    return this.hooks.runstate(vcpu);
  }

  /** The flags as plain data (the same shape as the 64-bit set's). */
  getState(): PvDomainVcpusState {
    const pick = (flags: Uint8Array): number[] => [...flags.keys()].filter((i) => flags[i] === 1);
    return {
      count: this.vcpuCount,
      initialised: pick(this.initialisedFlags),
      up: pick(this.upFlags),
    };
  }

  /** Recreates the flags of {@link Pv32DomainVcpus.getState} (no hooks are called). */
  static fromState(
    state: PvDomainVcpusState,
    lookup: (vcpu: number) => Pv32Vcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ): Pv32DomainVcpus {
    const d = new Pv32DomainVcpus(state.count, lookup, mm, hooks);
    d.initialisedFlags.fill(0);
    d.upFlags.fill(0);
    for (const i of state.initialised) if (i >= 0 && i < d.vcpuCount) d.initialisedFlags[i] = 1;
    for (const i of state.up) if (i >= 0 && i < d.vcpuCount) d.upFlags[i] = 1;
    return d;
  }
}
