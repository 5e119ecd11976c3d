/**
 * What per-domain save and restore need of a {@link Host} beyond its public members: the
 * private pieces (the guest-visible M2P, the options a vCPU is built with, the scheduler hook,
 * dom0's drivers), handed over by `Host.saveContext` as closures, so that the save/restore code
 * lives in its own files.
 * @internal
 * @module
 */
import type {
  Pv32DomainVcpus,
  PvDomainVcpus,
  PvDomainVcpusState,
  PvVcpuOptions,
} from '@typevisor/hypervisor';
import type { CpuOptions, X86Cpu } from '@typevisor/x86-cpu';
import type { DomainConfig } from '../config/domain-config.ts';
import type { Host, HostDomain } from './host.ts';

/** Host internals used by `domain-save.ts` and `domain-restore.ts`. */
export interface DomainSaveContext {
  /** The host. */
  readonly host: Host;
  /** Whether {@link Host.run} is running now. */
  readonly running: () => boolean;
  /** How many native (TypeScript) domains besides dom0 exist. */
  readonly nativeDomains: () => number;
  /** Sets machine frame `mfn`'s entry in the guest-visible M2P tables (-1: none). */
  readonly setM2p: (mfn: number, pfn: number) => void;
  /** The options of a guest's CPU model. */
  readonly cpuOptions: (is32: boolean) => CpuOptions;
  /** The options of a guest's PV vCPU (`vcpuId`, default 0, of an SMP domain's `smp` set). */
  readonly vcpuOptions: (
    domid: number,
    is32: boolean,
    cpu: X86Cpu,
    config: DomainConfig,
    vcpuId?: number,
    smp?: PvDomainVcpus,
  ) => PvVcpuOptions & { readonly gdtAddress?: number };
  /** The vCPU set of a 64-bit domain with the host's hooks, its flags from `state`. */
  readonly domainVcpus: (domid: number, state: PvDomainVcpusState) => PvDomainVcpus;
  /** The vCPU set of a 32-bit domain with the host's hooks, its flags from `state`. */
  readonly domainVcpus32: (domid: number, state: PvDomainVcpusState) => Pv32DomainVcpus;
  /** Adds the domain's vCPUs to the scheduler (paused if the domain is). */
  readonly schedAdd: (d: HostDomain) => void;
  /** A fresh domain ID. */
  readonly allocDomid: () => number;
  /**
   * Takes domain ID `domid` (free, checked by the caller) for a restore: later allocations go
   * past it, as they would have after {@link DomainSaveContext.allocDomid}.
   */
  readonly claimDomid: (domid: number) => void;
  /** Lets dom0's work in flight finish. */
  readonly settleDom0: () => Promise<number>;
  /** Connects dom0's drivers (store ring, console, blkbacks) to a domain. */
  readonly attachDrivers: (d: HostDomain) => Promise<void>;
  /** Disconnects dom0's drivers from a domain. */
  readonly detachDrivers: (d: HostDomain) => Promise<void>;
  /** Drops the hypervisor's and the machine's state of a domain that was never started. */
  readonly teardown: (domid: number) => void;
  /** Number of grant-table frames a guest is given (libxl's max_grant_frames). */
  readonly maxGrantFrames: number;
}
