/**
 * What per-domain save and restore need of a {@link Host} beyond its public members: the
 * private pieces (the guest-visible M2P, the options a vCPU is built with, the scheduler hook,
 * dom0's drivers) handed over by `Host` as closures, so that the save/restore code lives in its
 * own files without widening Host's public API.
 * @internal
 * @module
 */
import type { PvVcpuOptions } from '@typevisor/hypervisor';
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
  /** The options of a guest's PV vCPU. */
  readonly vcpuOptions: (
    domid: number,
    is32: boolean,
    cpu: X86Cpu,
    config: DomainConfig,
  ) => PvVcpuOptions & { readonly gdtAddress?: number };
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

/** The private members of {@link Host} the context is made of. */
interface HostPrivates {
  readonly running: boolean;
  readonly nativeDomains: ReadonlyMap<number, unknown>;
  nextDomid: number;
  setM2p(mfn: number, pfn: number): void;
  cpuOptions(is32: boolean): CpuOptions;
  vcpuOptions(
    domid: number,
    is32: boolean,
    cpu: X86Cpu,
    config: DomainConfig,
  ): PvVcpuOptions & { readonly gdtAddress?: number };
  schedAdd(d: HostDomain): void;
  allocDomid(): number;
  settleDom0(): Promise<number>;
  attachDrivers(d: HostDomain): Promise<void>;
  detachDrivers(d: HostDomain): Promise<void>;
  teardown(domid: number): void;
}

/**
 * The save context of `host`. It reaches Host's private members (as `Host.save` and
 * `Host.restore` use them) without adding to Host's public API; `host.ts` is edited by several
 * people at once, so the per-domain code stays in its own files.
 */
export function saveContextOf(host: Host): DomainSaveContext {
  const p = host as unknown as HostPrivates;
  return {
    host,
    running: () => p.running,
    nativeDomains: () => p.nativeDomains.size,
    setM2p: (mfn, pfn) => p.setM2p(mfn, pfn),
    cpuOptions: (is32) => p.cpuOptions(is32),
    vcpuOptions: (domid, is32, cpu, config) => p.vcpuOptions(domid, is32, cpu, config),
    schedAdd: (d) => p.schedAdd(d),
    allocDomid: () => p.allocDomid(),
    claimDomid: (domid) => {
      if (p.nextDomid <= domid) p.nextDomid = domid + 1 >= 0x7ff0 ? 1 : domid + 1;
    },
    settleDom0: () => p.settleDom0(),
    attachDrivers: (d) => p.attachDrivers(d),
    detachDrivers: (d) => p.detachDrivers(d),
    teardown: (domid) => p.teardown(domid),
    maxGrantFrames: 64,
  };
}
