/**
 * memory_op's frame owner over `@typevisor/mmu`'s Machine, for a domain booted by the toolstack's
 * `bootPvDomain`: reservations count the guest's RAM pages (shared_info and grant frames are
 * Xen-heap pages in Xen and not part of `tot_pages`), frames come from and go back to the frame
 * table, and the read-only M2P table the guest sees at HYPERVISOR_VIRT_START is kept in step.
 * `Host` passes it to every guest vCPU (keeping its compat M2P in step through `setM2p`), and
 * `bootPvDomain` takes it as its `memory` option.
 * @module
 */
import type { E820Entry, MemoryReservationPort } from '@typevisor/hypervisor';
import type { Machine } from '@typevisor/mmu';

/** DOMID_XEN: owner of the frames that hold the guest-visible M2P (`mapM2p` in the toolstack). */
const DOMID_XEN = 0x7ff2;
/** The M2P page frames follow Xen's L3, L2 and L1 in DOMID_XEN's P2M (see `mapM2p`). */
const M2P_FIRST = 3;
/** libxl's LIBXL_MAXMEM_CONSTANT (1 MiB) above the configured memory. */
const MAXMEM_SLACK_PAGES = 256;
/** Offset of `arch.max_pfn` in the 64-bit shared_info page. */
const SHARED_INFO_MAX_PFN = 3088;
const INVALID_MFN = 0xffffffff;

/** Options for {@link machineReservations}. */
export interface MachineReservationsBoot {
  /** The machine the domain was built in. */
  readonly machine: Machine;
  /** The guest. */
  readonly domid: number;
  /** Its RAM pages at boot. */
  readonly nrPages: number;
  /** Its shared_info frame. */
  readonly sharedInfoMfn: number;
  /**
   * Frames the domain owned when it was built (RAM plus Xen-heap pages such as shared_info and
   * grant frames); default: what it owns when the port is made.
   */
  readonly bootFrames?: number;
  /** The most RAM pages it may have (`maxmem`); default its boot pages. libxl's 1 MiB slack is added. */
  readonly maxPages?: number;
  /** Writes machine frame `mfn`'s entry in the guest-visible M2P (null: no longer the domain's). */
  readonly setM2p?: (mfn: number, pfn: number | null) => void;
  /**
   * The domain's `max_pages` now, slack included, when the toolstack changed it
   * (XEN_DOMCTL_max_mem, `xl mem-max`/`mem-set`); undefined: the boot maximum.
   */
  readonly maxPagesNow?: () => number | undefined;
}

/** Builds the port (pass as `bootPvDomain(kernel, mib, { memory: machineReservations })`). */
export function machineReservations(boot: MachineReservationsBoot): MemoryReservationPort {
  const { machine, domid, nrPages, sharedInfoMfn } = boot;
  const frames = machine.frames;
  const mem = machine.memory;
  const bootOwned = boot.bootFrames ?? frames.domainPages(domid);
  const m2pPages = Math.ceil((frames.frames * 8) / 4096);
  const xen = machine.p2m(DOMID_XEN);
  const writeM2p64 = (mfn: number, pfn: number | null): void => {
    const page = xen.get(M2P_FIRST + Math.floor(mfn / 512));
    const off = (mfn % 512) * 8;
    mem.write32(page, off, pfn === null ? -1 : pfn);
    mem.write32(page, off + 4, pfn === null ? -1 : 0);
  };
  const setM2p = boot.setM2p ?? writeM2p64;
  const current = (): number => nrPages + frames.domainPages(domid) - bootOwned;
  const bootMaximum = Math.max(nrPages, boot.maxPages ?? nrPages) + MAXMEM_SLACK_PAGES;
  const maxNow = boot.maxPagesNow;
  const maximum = (): number => maxNow?.() ?? bootMaximum;
  const allocate = (pfn: number | null): number => {
    // Xen's assign_pages refuses an allocation past max_pages (-E2BIG; memory_op reports the
    // extents done); a lowered maximum lets the domain ratchet down, never up.
    if (current() >= maximum()) return -12; // -ENOMEM: max_pages reached
    const mfn = frames.allocate(domid);
    if (mfn < 0) return -12;
    mem.clearFrame(mfn);
    if (pfn !== null) {
      frames.m2p[mfn] = pfn;
      const p2m = machine.p2m(domid);
      if (p2m.get(pfn) === INVALID_MFN) p2m.set(pfn, mfn);
    }
    setM2p(mfn, pfn);
    return mfn;
  };
  return {
    exists: (d) => d === 0 || d === domid,
    currentReservation: () => current(),
    maximumReservation: () => maximum(),
    maximumRamPage: () => frames.frames,
    maximumGpfn: () => {
      const lo = mem.read32(sharedInfoMfn, SHARED_INFO_MAX_PFN) >>> 0;
      const hi = mem.read32(sharedInfoMfn, SHARED_INFO_MAX_PFN + 4) >>> 0;
      const maxPfn = hi * 2 ** 32 + lo;
      return (maxPfn === 0 ? 1 : maxPfn) - 1;
    },
    memoryMap: (): readonly E820Entry[] => [{ addr: 0, size: bootMaximum * 4096, type: 1 }],
    m2pFrames: () => Array.from({ length: m2pPages }, (_, i) => xen.get(M2P_FIRST + i)),
    increase: () => allocate(null),
    populate: (_d, gpfn) => (gpfn >= 2 ** 32 - 1 ? -22 : allocate(gpfn)),
    decrease: (_d, mfn) => {
      if (!Number.isInteger(mfn) || mfn < 0 || mfn >= frames.frames) return -22;
      if (frames.owner[mfn] !== domid) return -22;
      const pfn = frames.m2p[mfn] ?? INVALID_MFN;
      const p2m = machine.p2m(domid);
      const rc =
        pfn !== INVALID_MFN && p2m.get(pfn) === mfn
          ? machine.depopulate(domid, pfn)
          : frames.free(domid, mfn);
      if (rc === 0) setM2p(mfn, null);
      return rc;
    },
  };
}
