/**
 * The vCPUs of one 64-bit PV domain as Xen's `struct domain` holds them: `max_vcpus` vCPUs,
 * vCPU 0 initialised by the domain builder and up, the others down and uninitialised until the
 * guest brings them up with VCPUOP_initialise and VCPUOP_up. It is the {@link PvSmpPort} of
 * every vCPU of the domain; what "up" and "down" mean for scheduling is the embedder's
 * (`hooks`), e.g. the scheduler's `up`/`down`.
 *
 * @see xen/common/domain.c (vcpu_create, do_vcpu_op), xen/include/xen/sched.h (is_initialised, _VPF_down)
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { HypervisorError } from '../errors.ts';
import type { VcpuRunstate } from '../hypercall/pv-vcpu-op.ts';
import type { PvSmpPort } from '../hypercall/smp-vcpu-op.ts';
import type { VcpuGuestContext64 } from '../hypercall/vcpu-initialise.ts';
import type { PvVcpu } from './pv-vcpu.ts';
import { loadVcpuGuestContext64, type PvContextMmPort } from './pv-vcpu-context.ts';

/** What the embedder does when a vCPU changes state. */
export interface PvDomainVcpusHooks {
  /** vCPU `vcpu` came up (make it runnable). */
  up(vcpu: number): void;
  /** vCPU `vcpu` went down (deschedule it). */
  down(vcpu: number): void;
  /** The runstate of vCPU `vcpu`, for VCPUOP_get_runstate_info. */
  runstate(vcpu: number): VcpuRunstate;
}

/** Plain-data state of a {@link PvDomainVcpus}. */
export interface PvDomainVcpusState {
  /** `max_vcpus`. */
  readonly count: number;
  /** The vCPUs that have a context. */
  readonly initialised: readonly number[];
  /** The vCPUs that are up. */
  readonly up: readonly number[];
}

/** A domain's vCPU set and its lifecycle flags. */
export class PvDomainVcpus implements PvSmpPort {
  /** `max_vcpus`. */
  readonly vcpuCount: number;
  private readonly initialisedFlags: Uint8Array;
  private readonly upFlags: Uint8Array;
  private readonly lookup: (vcpu: number) => PvVcpu | undefined;
  private readonly mm: PvContextMmPort;
  private readonly hooks: PvDomainVcpusHooks;

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
    if (!Number.isInteger(count) || count < 1 || count > 255) {
      throw new HypervisorError('INVALID_ARGUMENT', `max_vcpus must be 1..255, got ${count}`);
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

  /** The number of vCPUs that are up (`xl list`'s VCPUs column). */
  get online(): number {
    let n = 0;
    for (let i = 0; i < this.vcpuCount; i++) n += this.upFlags[i] ?? 0;
    return n;
  }

  /** Loads `c` into `vcpu` (see `loadVcpuGuestContext64`); 0 or -EINVAL. */
  initialise(vcpu: number, c: VcpuGuestContext64): number {
    const v = this.lookup(vcpu);
    if (v === undefined) return -XEN_EINVAL; // no vCPU object to load it into
    const rc = loadVcpuGuestContext64(v, c, this.mm);
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

  /** The flags as plain data. */
  getState(): PvDomainVcpusState {
    const pick = (flags: Uint8Array): number[] => [...flags.keys()].filter((i) => flags[i] === 1);
    return {
      count: this.vcpuCount,
      initialised: pick(this.initialisedFlags),
      up: pick(this.upFlags),
    };
  }

  /** Recreates the flags of {@link PvDomainVcpus.getState} (no hooks are called). */
  static fromState(
    state: PvDomainVcpusState,
    lookup: (vcpu: number) => PvVcpu | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ): PvDomainVcpus {
    const d = new PvDomainVcpus(state.count, lookup, mm, hooks);
    d.initialisedFlags.fill(0);
    d.upFlags.fill(0);
    for (const i of state.initialised) if (i >= 0 && i < d.vcpuCount) d.initialisedFlags[i] = 1;
    for (const i of state.up) if (i >= 0 && i < d.vcpuCount) d.upFlags[i] = 1;
    return d;
  }
}
