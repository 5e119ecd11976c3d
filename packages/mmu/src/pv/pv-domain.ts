/**
 * Per-domain and per-vCPU PV paging state: guest width, privilege, base pointers and LDT.
 * @module
 */
import type { TlbFlushPort } from './ports.ts';

/** A PV vCPU's paging registers as Xen keeps them (`arch.guest_table`, `guest_table_user`, LDT). */
export class PvVcpu {
  /** vCPU id within its domain. */
  readonly id: number;
  /** MFN of the kernel top-level table (`NEW_BASEPTR`), or -1 before the first one. */
  baseMfn: number;
  /** MFN of the 64-bit user top-level table (`NEW_USER_BASEPTR`), or -1. */
  userBaseMfn: number;
  /** LDT linear base, low 32 bits. */
  ldtBaseLo: number;
  /** LDT linear base, high 32 bits. */
  ldtBaseHi: number;
  /** LDT entry count (0 = no LDT). */
  ldtEnts: number;
  /** MFNs of the GDT frames installed with `set_gdt` (typed `PGT_seg_desc_page`). */
  gdtFrames: number[];
  /** GDT entry count. */
  gdtEnts: number;
  /**
   * MFNs of the LDT pages mapped so far (Xen's shadow LDT, filled lazily by
   * `PvMm.mapLdtPage` and typed `PGT_seg_desc_page`), one slot per 4 KiB of the LDT; -1 where
   * none is mapped.
   */
  ldtFrames: number[];
  /** The vCPU's TLB, or null if the hypervisor has not attached one. */
  tlb: TlbFlushPort | null;

  /** Creates a vCPU with no base pointers and no LDT. */
  constructor(id: number) {
    this.id = id;
    this.baseMfn = -1;
    this.userBaseMfn = -1;
    this.ldtBaseLo = 0;
    this.ldtBaseHi = 0;
    this.ldtEnts = 0;
    this.gdtFrames = [];
    this.gdtEnts = 0;
    this.ldtFrames = [];
    this.tlb = null;
  }
}

/** Options when registering a PV domain with {@link PvDomain}. */
export interface PvDomainOptions {
  /** Guest ABI width: 64 (4-level, root L4) or 32 (PAE, root L3). */
  readonly guestWidth: 32 | 64;
  /** Number of vCPUs (default 1). */
  readonly vcpus?: number;
  /** Privileged (dom0-like): may act on other domains' pages via `foreigndom`, flush caches. */
  readonly privileged?: boolean;
  /**
   * Whether vCPU 0 is initialised (default true). Before that, Xen lets the toolstack validate a
   * 32-bit guest's L3 above 4 GiB without `pae_extended_cr3`; afterwards that is `-ERANGE`.
   */
  readonly initialised?: boolean;
}

/** A PV domain as paging sees it. */
export class PvDomain {
  /** Domain id. */
  readonly domid: number;
  /** True for a 32-bit PAE guest. */
  readonly is32: boolean;
  /** Whether the domain is privileged. */
  readonly privileged: boolean;
  /** The domain's vCPUs. */
  readonly vcpus: PvVcpu[];
  /** Enabled `vm_assist` types as a bit set (bit n = type n; m2p_strict is bit 32 → kept apart). */
  vmAssist: number;
  /** Whether `VMASST_TYPE_m2p_strict` is enabled. */
  m2pStrict: boolean;
  /** Whether vCPU 0 is initialised (see {@link PvDomainOptions.initialised}). */
  initialised: boolean;

  /** Creates the paging view of domain `domid`. */
  constructor(domid: number, options: PvDomainOptions) {
    this.domid = domid;
    this.is32 = options.guestWidth === 32;
    this.privileged = options.privileged === true;
    this.vcpus = [];
    this.vmAssist = 0;
    this.m2pStrict = false;
    this.initialised = options.initialised !== false;
    const n = options.vcpus ?? 1;
    for (let i = 0; i < n; i++) this.vcpus.push(new PvVcpu(i));
  }
}
