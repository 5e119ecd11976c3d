/**
 * The lifecycle flags every PV domain's vCPU set keeps, whatever its guest ABI: `max_vcpus`
 * vCPUs, each initialised (it has a context) or not and up or down, vCPU 0 initialised by the
 * domain builder and up. {@link PvDomainVcpus} (64-bit) and {@link Pv32DomainVcpus} (32-bit PAE)
 * add the loading of their ABI's `vcpu_guest_context`.
 *
 * @see xen/include/xen/sched.h (is_initialised, _VPF_down)
 * @module
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { HypervisorError } from '../errors.ts';
import type { VcpuRunstate } from '../hypercall/pv-vcpu-op.ts';
import type { PvContextMmPort } from './pv-vcpu-context.ts';

/** What the embedder does when a vCPU changes state. */
export interface PvDomainVcpusHooks {
  /** vCPU `vcpu` came up (make it runnable). */
  up(vcpu: number): void;
  /** vCPU `vcpu` went down (deschedule it). */
  down(vcpu: number): void;
  /** The runstate of vCPU `vcpu`, for VCPUOP_get_runstate_info. */
  runstate(vcpu: number): VcpuRunstate;
}

/** Plain-data state of a vCPU set (the same shape for both ABIs). */
export interface PvDomainVcpusState {
  /** `max_vcpus`. */
  readonly count: number;
  /** The vCPUs that have a context. */
  readonly initialised: readonly number[];
  /** The vCPUs that are up. */
  readonly up: readonly number[];
}

/** A domain's vCPU set of vCPU objects `V` and its lifecycle flags. */
export abstract class PvVcpuSet<V> {
  /** `max_vcpus`. */
  readonly vcpuCount: number;
  private readonly initialisedFlags: Uint8Array;
  private readonly upFlags: Uint8Array;
  /** Finds the vCPU object of an id. */
  protected readonly lookup: (vcpu: number) => V | undefined;
  /** Validates and types the page tables a context names. */
  protected readonly mm: PvContextMmPort;
  private readonly hooks: PvDomainVcpusHooks;

  /** `count` vCPUs (1..`max`, else a typed error naming `what`); vCPU 0 initialised and up. */
  protected constructor(
    count: number,
    max: number,
    what: string,
    lookup: (vcpu: number) => V | undefined,
    mm: PvContextMmPort,
    hooks: PvDomainVcpusHooks,
  ) {
    if (!Number.isInteger(count) || count < 1 || count > max) {
      throw new HypervisorError('INVALID_ARGUMENT', `${what} must be 1..${max}, got ${count}`);
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

  /**
   * Loads context `c` into `vcpu` with the ABI's `load` (0 or an errno) and marks it initialised
   * on success; -EINVAL when there is no vCPU object for the id.
   */
  protected loadContext<C>(
    vcpu: number,
    c: C,
    load: (v: V, c: C, mm: PvContextMmPort) => number,
  ): number {
    const v = this.lookup(vcpu);
    if (v === undefined) return -XEN_EINVAL; // no vCPU object to load it into
    const rc = load(v, c, this.mm);
    if (rc === 0) this.initialisedFlags[vcpu] = 1;
    return rc;
  }

  /** Replaces the flags with those of `state` (ids out of range ignored; no hooks called). */
  protected setFlags(state: PvDomainVcpusState): void {
    this.initialisedFlags.fill(0);
    this.upFlags.fill(0);
    for (const i of state.initialised)
      if (i >= 0 && i < this.vcpuCount) this.initialisedFlags[i] = 1;
    for (const i of state.up) if (i >= 0 && i < this.vcpuCount) this.upFlags[i] = 1;
  }
}
