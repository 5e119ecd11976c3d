/**
 * PV direct paging as Xen's `mm.c`: page types and reference counts, validation of page-table
 * pages, and the guest-facing operations `mmu_update`, `update_va_mapping` and `mmuext_op`.
 *
 * This file implements: get_page/put_page, get_page_type/put_page_type (with validation and
 * devalidation of L1–L4 tables), get/put_page_from_lNe, mod_lN_entry, do_mmu_update,
 * do_update_va_mapping and do_mmuext_op. Guest input never throws: every failure is a negative
 * Xen errno.
 * @see xen/arch/x86/mm.c, xen/arch/x86/pv/mm.c, xen/include/public/xen.h
 * @module
 */
import {
  COMPAT_L2_FIRST_XEN_SLOT,
  DOMID,
  HYPERVISOR_COMPAT_VIRT_START,
  MMU_CMD,
  MMUEXT,
  ROOT_PAGETABLE_FIRST_XEN_SLOT,
  ROOT_PAGETABLE_LAST_XEN_SLOT,
  UVMF,
  VMASST,
  XEN_ERRNO,
} from '../abi.ts';
import { MmuError } from '../errors.ts';
import { PGT, PGT_TYPE_MASK } from '../frame-table.ts';
import type { DirtyMarker } from '../log-dirty.ts';
import type { Machine } from '../machine.ts';
import { checkDescriptor, FIRST_RESERVED_GDT_ENTRY } from './descriptors.ts';
import type { GrantMapPort, GuestWriteObserver, M2pViewPort, TlbFlushPort } from './ports.ts';
import { PvDomain, type PvDomainOptions, type PvVcpu } from './pv-domain.ts';

const P = 0x1;
const RW = 0x2;
const AD = 0x60;
/** `_PAGE_USER`. */
const US = 0x4;
/** `_PAGE_GUEST_KERNEL` (bit 52): in the high half of an entry. */
const GUEST_KERNEL_HI = 0x100000;
/** L1: PWT, PCD, PAT rejected for an ordinary domU. */
const L1_DISALLOW_LO = 0x98;
/** L2/L3/L4 (64-bit): PWT, PCD, PSE, G rejected. */
const LN_DISALLOW_LO = 0x198;
/** 32-bit PAE L3: also bits 52..63 (incl. NX). */
const L3_32_DISALLOW_HI = 0xfff00000 | 0;
const ENTRIES = 512;
const XEN_L4_SLOTS = ROOT_PAGETABLE_LAST_XEN_SLOT - ROOT_PAGETABLE_FIRST_XEN_SLOT + 1;
const XEN_L2_SLOTS = ENTRIES - COMPAT_L2_FIRST_XEN_SLOT;

/**
 * Xen's `__addr_ok` on x86-64 (from the high half `hi`): below 2^47, or at/after HYPERVISOR_VIRT_END (0xFFFF880000000000).
 * A 32-bit guest's (zero-extended) addresses always pass.
 * @see xen/arch/x86/include/asm/x86_64/uaccess.h
 */
function xenAddrOk(hi: number): boolean {
  return hi >>> 15 === 0 || hi >>> 0 >= 0xffff8800;
}

/** One decoded `struct mmuext_op`. `arg1` is an MFN or a linear address (as int32 halves). */
export interface MmuextOp {
  /** `MMUEXT_*` command. */
  readonly cmd: number;
  /** arg1 low 32 bits: `mfn` or `linear_addr`. */
  readonly arg1Lo: number;
  /** arg1 high 32 bits (64-bit linear addresses). */
  readonly arg1Hi: number;
  /** arg2: `nr_ents`, `src_mfn`, or a decoded vCPU bitmap for the `_MULTI` flushes. */
  readonly arg2: number;
}

/** Plain-data state of one PV vCPU. */
export interface PvVcpuState {
  /** Kernel base MFN or -1. */
  readonly baseMfn: number;
  /** User base MFN or -1. */
  readonly userBaseMfn: number;
  /** LDT base low word. */
  readonly ldtBaseLo: number;
  /** LDT base high word. */
  readonly ldtBaseHi: number;
  /** LDT entries. */
  readonly ldtEnts: number;
  /** GDT frames. */
  readonly gdtFrames: readonly number[];
  /** GDT entries. */
  readonly gdtEnts: number;
  /** Mapped LDT pages (Xen's shadow LDT; -1 = not mapped); absent in older saves. */
  readonly ldtFrames?: readonly number[];
}

/** Plain-data state of one PV domain's paging. */
export interface PvDomainState {
  /** Domain id. */
  readonly domid: number;
  /** 32 or 64. */
  readonly guestWidth: 32 | 64;
  /** Privileged flag. */
  readonly privileged: boolean;
  /** Enabled vm_assist types (bit set, types 0–5). */
  readonly vmAssist: number;
  /** Whether m2p_strict is enabled. */
  readonly m2pStrict: boolean;
  /** Whether vCPU 0 is initialised (absent in older saves: true). */
  readonly initialised?: boolean;
  /** vCPU registers. */
  readonly vcpus: readonly PvVcpuState[];
}

/** Plain-data state of {@link PvMm} (frame types and counts live in the machine's state). */
export interface PvMmState {
  /** Registered domains. */
  readonly domains: readonly PvDomainState[];
  /** Xen's L4 entries (slots 256–271) as lo/hi pairs. */
  readonly xenL4: readonly number[];
  /** Xen's compat L2 entries (slots 428–511) as lo/hi pairs. */
  readonly xenL2: readonly number[];
}

/** Options for {@link PvMm}. */
export interface PvMmOptions {
  /** Grant hook for mapping other domains' frames (no grants without it). */
  readonly grants?: GrantMapPort;
  /** Log-dirty marker for pages the hypervisor writes on the guest's behalf. */
  readonly dirtyLog?: DirtyMarker;
}

/** PV page-type validation and the MMU hypercalls, over a {@link Machine}. */
export class PvMm {
  /** The machine whose frames are managed. */
  readonly machine: Machine;
  /** Entries Xen writes into slots 256–271 of every validated 64-bit L4 (lo/hi pairs). */
  readonly xenL4Entries: Int32Array;
  /** Entries Xen writes into slots 428–511 of every 32-bit "PAE Xen L2" (lo/hi pairs). */
  readonly xenL2Entries: Int32Array;
  /** Requests completed by the last `mmuUpdate`/`mmuextOp` (the guest's `pdone`). */
  done: number;
  /** Whether the last {@link ptwrWrite} wrote (false after a failed compare or an error). */
  lastCompareOk: boolean;
  private readonly domains: Map<number, PvDomain>;
  private readonly grants: GrantMapPort | null;
  private readonly dirtyLog: DirtyMarker | null;
  private readonly descScratch: Int32Array;
  private readonly writeObservers: GuestWriteObserver[];
  private m2pView: M2pViewPort | null;

  /** Creates PV paging over `machine`. */
  constructor(machine: Machine, options: PvMmOptions = {}) {
    this.machine = machine;
    this.xenL4Entries = new Int32Array(XEN_L4_SLOTS * 2);
    this.xenL2Entries = new Int32Array(XEN_L2_SLOTS * 2);
    this.done = 0;
    this.lastCompareOk = false;
    this.domains = new Map();
    this.grants = options.grants ?? null;
    this.dirtyLog = options.dirtyLog ?? null;
    this.descScratch = new Int32Array(2);
    this.writeObservers = [];
    this.m2pView = null;
  }

  /** Registers the guest-visible M2P tables, told about every `MMU_MACHPHYS_UPDATE`. */
  attachM2pView(view: M2pViewPort): void {
    this.m2pView = view;
  }

  /** Logs a write to `mfn` (the 8-byte entry at `offset`, or -1: the whole frame). */
  private markDirty(mfn: number, offset = -1): void {
    if (this.dirtyLog !== null) this.dirtyLog.markMfn(mfn);
    const obs = this.writeObservers;
    for (let i = 0; i < obs.length; i++) obs[i].guestFrameWritten(mfn, offset);
  }

  /**
   * Registers `observer` for every frame the hypervisor writes for a guest or newly validates
   * as a page table (a shadow pager's resync hook, see `PvShadow`).
   */
  observeWrites(observer: GuestWriteObserver): void {
    this.writeObservers.push(observer);
  }

  /** Removes an observer registered with {@link observeWrites}. */
  unobserveWrites(observer: GuestWriteObserver): void {
    const i = this.writeObservers.indexOf(observer);
    if (i >= 0) this.writeObservers.splice(i, 1);
  }

  /** Registers domain `domid` as a PV guest. */
  addDomain(domid: number, options: PvDomainOptions): PvDomain {
    if (this.domains.has(domid))
      throw new MmuError('INVALID_STATE', `domain ${domid} already registered`);
    const d = new PvDomain(domid, options);
    this.domains.set(domid, d);
    return d;
  }

  /** Whether domain `domid` is registered. */
  hasDomain(domid: number): boolean {
    return this.domains.has(domid);
  }

  /**
   * Forgets domain `domid` once it has been relinquished and its memory freed, so that its id
   * can be used again (Xen frees a dead domain's `struct domain` after
   * `domain_relinquish_resources` dropped every page reference). Throws `UNKNOWN_DOMAIN` if it
   * is not registered, and `DOMAIN_BUSY` while a vCPU still holds a base pointer, GDT or LDT
   * frame, or while the domain still owns a frame (pinned, typed or not): call
   * {@link relinquish}, then free every frame, first.
   * @see xen/common/domain.c (domain_destroy, domain_relinquish_resources)
   */
  removeDomain(domid: number): void {
    const d = this.domain(domid);
    for (const v of d.vcpus) {
      if (v.baseMfn >= 0 || v.userBaseMfn >= 0 || v.gdtFrames.length !== 0) {
        throw new MmuError(
          'DOMAIN_BUSY',
          `domain ${domid} vCPU ${v.id} still holds page tables or a GDT`,
        );
      }
      for (const mfn of v.ldtFrames) {
        if (mfn >= 0)
          throw new MmuError('DOMAIN_BUSY', `domain ${domid} vCPU ${v.id} still maps an LDT`);
      }
    }
    const pages = this.machine.frames.domainPages(domid);
    if (pages !== 0) {
      throw new MmuError('DOMAIN_BUSY', `domain ${domid} still owns ${pages} frame(s)`);
    }
    this.domains.delete(domid);
  }

  /** The registered domain `domid`; throws `UNKNOWN_DOMAIN` if absent. */
  domain(domid: number): PvDomain {
    const d = this.domains.get(domid);
    if (d === undefined) throw new MmuError('UNKNOWN_DOMAIN', `domain ${domid} is not registered`);
    return d;
  }

  /** Attaches a vCPU's TLB so that base-pointer switches and flush requests reach it. */
  attachTlb(domid: number, vcpu: number, tlb: TlbFlushPort): void {
    this.vcpu(this.domain(domid), vcpu).tlb = tlb;
  }

  private vcpu(d: PvDomain, id: number): PvVcpu {
    const v = d.vcpus[id];
    if (v === undefined)
      throw new MmuError('INVALID_ARGUMENT', `domain ${d.domid} has no vCPU ${id}`);
    return v;
  }

  // ---------------------------------------------------------------------------------------
  // Reference counting (get_page / get_page_type and friends).

  private getPage(mfn: number, owner: number): boolean {
    const ft = this.machine.frames;
    if (mfn < 0 || mfn >= ft.frames || ft.owner[mfn] !== owner) return false;
    ft.refCount[mfn]++;
    return true;
  }

  private putPage(mfn: number): void {
    this.machine.frames.refCount[mfn]--;
  }

  /** Takes a type reference, validating page tables on first use. Returns 0 or -errno. */
  private getPageType(mfn: number, type: number, d: PvDomain): number {
    const ft = this.machine.frames;
    if (ft.typeCount[mfn] > 0) {
      if (ft.type[mfn] !== type) return -XEN_ERRNO.EINVAL;
      // A "PAE Xen L2" may back only one L3 slot 3.
      if ((type & PGT.PGT_pae_xen_l2) !== 0) return -XEN_ERRNO.EINVAL;
      ft.typeCount[mfn]++;
      return 0;
    }
    ft.type[mfn] = type;
    ft.typeCount[mfn] = 1;
    const level = type & PGT_TYPE_MASK;
    // validate_page: "A page table is dirtied when its type count becomes non-zero."
    if (level !== PGT.PGT_writable_page) this.markDirty(mfn);
    if (level === PGT.PGT_seg_desc_page) {
      const rc = this.validateDescriptors(mfn, d);
      if (rc !== 0) {
        ft.typeCount[mfn] = 0;
        ft.type[mfn] = PGT.PGT_none;
        return rc;
      }
    } else if (level >= PGT.PGT_l1_page_table && level <= PGT.PGT_l4_page_table) {
      const rc = this.validateTable(mfn, type, d);
      if (rc !== 0) {
        ft.typeCount[mfn] = 0;
        ft.type[mfn] = PGT.PGT_none;
        return rc;
      }
    }
    return 0;
  }

  private validateDescriptors(mfn: number, d: PvDomain): number {
    const mem = this.machine.memory;
    const out = this.descScratch;
    for (let i = 0; i < 512; i++) {
      const lo = mem.read32(mfn, i * 8);
      const hi = mem.read32(mfn, i * 8 + 4);
      if (!checkDescriptor(d.is32, lo, hi, out)) return -XEN_ERRNO.EINVAL;
      if (out[0] !== lo || out[1] !== hi) {
        mem.write32(mfn, i * 8, out[0]);
        mem.write32(mfn, i * 8 + 4, out[1]);
        this.markDirty(mfn, i * 8);
      }
    }
    return 0;
  }

  private putPageType(mfn: number, d: PvDomain): void {
    const ft = this.machine.frames;
    if (--ft.typeCount[mfn] !== 0) return;
    const type = ft.type[mfn];
    ft.type[mfn] = PGT.PGT_none;
    const level = type & PGT_TYPE_MASK;
    if (level >= PGT.PGT_l1_page_table && level <= PGT.PGT_l4_page_table) {
      this.devalidateTable(mfn, type, d);
    }
  }

  private getPageAndType(mfn: number, owner: number, type: number, d: PvDomain): number {
    if (!this.getPage(mfn, owner)) return -XEN_ERRNO.EINVAL;
    const rc = this.getPageType(mfn, type, d);
    if (rc !== 0) this.putPage(mfn);
    return rc;
  }

  private putPageAndType(mfn: number, d: PvDomain): void {
    this.putPageType(mfn, d);
    this.putPage(mfn);
  }

  // ---------------------------------------------------------------------------------------
  // Entries (get_page_from_lNe / put_page_from_lNe).

  /** Whether slot `i` of a table of `type` belongs to Xen (not validated, not guest-writable). */
  private isXenSlot(type: number, i: number, d: PvDomain): boolean {
    const level = type & PGT_TYPE_MASK;
    if (level === PGT.PGT_l4_page_table) {
      return !d.is32 && i >= ROOT_PAGETABLE_FIRST_XEN_SLOT && i <= ROOT_PAGETABLE_LAST_XEN_SLOT;
    }
    if (level === PGT.PGT_l3_page_table) return d.is32 && i >= 4;
    if (level === PGT.PGT_l2_page_table) {
      return (type & PGT.PGT_pae_xen_l2) !== 0 && i >= COMPAT_L2_FIRST_XEN_SLOT;
    }
    return false;
  }

  private frameOf(lo: number, hi: number): number {
    // Bits 12–51: a frame number may pass 2^32 (always past the machine then), so no int32 math.
    return (lo >>> 12) + (hi & 0xfffff) * 0x100000;
  }

  /** Takes the references entry `lo/hi` at `slot` of a `level` table needs. Returns 0 or -errno. */
  private getFromEntry(
    level: number,
    slot: number,
    lo: number,
    hi: number,
    d: PvDomain,
    pgOwner: number,
  ): number {
    if ((lo & P) === 0) return 0;
    const ft = this.machine.frames;
    const mfn = this.frameOf(lo, hi);
    if (level === 1) {
      if ((lo & L1_DISALLOW_LO) !== 0) return -XEN_ERRNO.EINVAL;
      if (mfn >= ft.frames) return -XEN_ERRNO.EPERM; // MMIO: no iomem permission
      const writable = (lo & RW) !== 0;
      if (ft.owner[mfn] !== pgOwner) {
        if (this.grants === null || !this.grants.mayMap(d.domid, mfn, writable))
          return -XEN_ERRNO.EBUSY;
      }
      ft.refCount[mfn]++;
      if (writable && this.getPageType(mfn, PGT.PGT_writable_page, d) !== 0) {
        ft.refCount[mfn]--;
        return -XEN_ERRNO.EBUSY;
      }
      return 0;
    }
    let childType: number = level - 1;
    if (level === 3 && d.is32) {
      if ((lo & LN_DISALLOW_LO) !== 0 || (hi & L3_32_DISALLOW_HI) !== 0) return -XEN_ERRNO.EINVAL;
      if (slot === 3) childType = PGT.PGT_l2_page_table | PGT.PGT_pae_xen_l2;
    } else if ((lo & LN_DISALLOW_LO) !== 0) {
      return -XEN_ERRNO.EINVAL;
    }
    return this.getPageAndType(mfn, d.domid, childType, d);
  }

  private putFromEntry(level: number, lo: number, hi: number, d: PvDomain): void {
    if ((lo & P) === 0) return;
    const mfn = this.frameOf(lo, hi);
    if (level === 1) {
      if ((lo & RW) !== 0) this.putPageType(mfn, d);
      else this.blowLdtsMapping(mfn, d);
      this.putPage(mfn);
      return;
    }
    this.putPageAndType(mfn, d);
  }

  // ---------------------------------------------------------------------------------------
  // Table validation (alloc_lN_table / free_lN_table).

  private validateTable(mfn: number, type: number, d: PvDomain): number {
    const mem = this.machine.memory;
    const level = type & PGT_TYPE_MASK;
    if (level === PGT.PGT_l3_page_table && d.is32) {
      // promote_l3_table: without pae_extended_cr3 a 32-bit guest's L3 must sit below 4 GiB
      // (its CR3 is 32 bits), except while the toolstack builds the domain.
      if (
        mfn >= 0x100000 &&
        d.initialised &&
        (d.vmAssist & (1 << VMASST.VMASST_TYPE_pae_extended_cr3)) === 0
      ) {
        return -XEN_ERRNO.ERANGE;
      }
      // Only 4 entries are meaningful; slot 3 must be present (it holds Xen's mappings).
      if ((mem.read32(mfn, 3 * 8) & P) === 0) return -XEN_ERRNO.EINVAL;
    }
    for (let i = 0; i < ENTRIES; i++) {
      if (this.isXenSlot(type, i, d)) {
        this.writeXenSlot(mfn, type, i, d);
        continue;
      }
      const lo = mem.read32(mfn, i * 8);
      const hi = mem.read32(mfn, i * 8 + 4);
      const rc = this.getFromEntry(level, i, lo, hi, d, d.domid);
      if (rc !== 0) {
        for (let j = i - 1; j >= 0; j--) {
          if (this.isXenSlot(type, j, d)) continue;
          this.putFromEntry(level, mem.read32(mfn, j * 8), mem.read32(mfn, j * 8 + 4), d);
        }
        return rc;
      }
      // alloc_lN_table stores the adjusted entry back (pl1e[i] = adjust_guest_l1e(...)).
      const adjLo = this.adjustLo(level, lo, d);
      const adjHi = this.adjustHi(level, lo, hi, d);
      if (adjLo !== lo || adjHi !== hi) {
        mem.write32(mfn, i * 8, adjLo);
        mem.write32(mfn, i * 8 + 4, adjHi);
        this.markDirty(mfn, i * 8);
      }
    }
    return 0;
  }

  /**
   * Low half of entry `lo` as Xen stores it for `level` (adjust_guest_lNe): a 64-bit PV
   * kernel runs in ring 3, so every present entry of a 64-bit guest gets `_PAGE_USER`.
   * @see xen/arch/x86/mm.c (adjust_guest_l1e … adjust_guest_l4e)
   */
  private adjustLo(_level: number, lo: number, d: PvDomain): number {
    if (d.is32 || (lo & P) === 0) return lo;
    return lo | US;
  }

  /**
   * High half of entry `lo/hi` as Xen stores it: a 64-bit guest's L1 entry that lacked
   * `_PAGE_USER` (a kernel-only page) is tagged `_PAGE_GUEST_KERNEL` (bit 52).
   * @see xen/arch/x86/mm.c (adjust_guest_l1e)
   */
  private adjustHi(level: number, lo: number, hi: number, d: PvDomain): number {
    if (d.is32 || level !== 1 || (lo & P) === 0 || (lo & US) !== 0) return hi;
    return hi | GUEST_KERNEL_HI;
  }

  private writeXenSlot(mfn: number, type: number, i: number, d: PvDomain): void {
    const mem = this.machine.memory;
    const level = type & PGT_TYPE_MASK;
    let lo = 0;
    let hi = 0;
    if (level === PGT.PGT_l4_page_table) {
      const k = (i - ROOT_PAGETABLE_FIRST_XEN_SLOT) * 2;
      lo = this.xenL4Entries[k];
      hi = this.xenL4Entries[k + 1];
    } else if (level === PGT.PGT_l2_page_table && d.is32) {
      const k = (i - COMPAT_L2_FIRST_XEN_SLOT) * 2;
      lo = this.xenL2Entries[k];
      hi = this.xenL2Entries[k + 1];
    }
    if (mem.read32(mfn, i * 8) !== lo || mem.read32(mfn, i * 8 + 4) !== hi) {
      mem.write32(mfn, i * 8, lo);
      mem.write32(mfn, i * 8 + 4, hi);
      this.markDirty(mfn, i * 8);
    }
  }

  private devalidateTable(mfn: number, type: number, d: PvDomain): void {
    const mem = this.machine.memory;
    const level = type & PGT_TYPE_MASK;
    for (let i = 0; i < ENTRIES; i++) {
      if (this.isXenSlot(type, i, d)) continue;
      this.putFromEntry(level, mem.read32(mfn, i * 8), mem.read32(mfn, i * 8 + 4), d);
    }
  }

  // ---------------------------------------------------------------------------------------
  // mod_lN_entry.

  /** Validated update of entry `idx` in live table `mfn` (type count > 0). Returns 0 or -errno. */
  private modEntry(
    mfn: number,
    idx: number,
    lo: number,
    hi: number,
    d: PvDomain,
    pgOwner: number,
    preserveAd: boolean,
  ): number {
    const ft = this.machine.frames;
    const mem = this.machine.memory;
    const type = ft.type[mfn];
    const level = type & PGT_TYPE_MASK;
    // mod_l2_entry refuses Xen's L2 slots with -EPERM, mod_l4_entry Xen's L4 slots with -EINVAL.
    if (this.isXenSlot(type, idx, d))
      return level === PGT.PGT_l2_page_table ? -XEN_ERRNO.EPERM : -XEN_ERRNO.EINVAL;
    // 32-bit PAE: slot 3 of a live L3 cannot change.
    if (level === PGT.PGT_l3_page_table && d.is32 && idx >= 3) return -XEN_ERRNO.EINVAL;
    const off = idx * 8;
    const oldLo = mem.read32(mfn, off);
    const oldHi = mem.read32(mfn, off + 4);
    if (level === 1 && preserveAd) lo |= oldLo & AD;
    hi = this.adjustHi(level, lo, hi, d);
    lo = this.adjustLo(level, lo, d);
    // Fast path: only accessed/dirty differ (same frame, same rights): no reference changes.
    if (oldHi === hi && ((oldLo ^ lo) & ~AD) === 0) {
      mem.write32(mfn, off, lo);
      this.markDirty(mfn, off);
      return 0;
    }
    const rc = this.getFromEntry(level, idx, lo, hi, d, pgOwner);
    if (rc !== 0) return rc;
    mem.write32(mfn, off, lo);
    mem.write32(mfn, off + 4, hi);
    this.markDirty(mfn, off);
    this.putFromEntry(level, oldLo, oldHi, d);
    return 0;
  }

  private resolveOwner(d: PvDomain, fd: number): PvDomain | number {
    if (fd === DOMID.DOMID_SELF || fd === d.domid) return d;
    const other = this.domains.get(fd);
    if (!d.privileged) return -XEN_ERRNO.EPERM;
    if (other === undefined) return -XEN_ERRNO.ESRCH;
    return other;
  }

  // ---------------------------------------------------------------------------------------
  // Hypercalls.

  /**
   * `HYPERVISOR_mmu_update`: applies `count` requests from `reqs`, laid out as in guest memory
   * (`struct mmu_update { u64 ptr; u64 val; }` = 4 int32 each: ptrLo, ptrHi, valLo, valHi).
   * Stops at the first failure. Returns 0 or -errno; {@link done} holds the number completed.
   * @see xen/arch/x86/mm.c (do_mmu_update)
   */
  mmuUpdate(
    domid: number,
    reqs: Int32Array,
    count: number,
    foreigndom: number = DOMID.DOMID_SELF,
  ): number {
    this.done = 0;
    const d = this.domain(domid);
    if (!Number.isInteger(count) || count < 0 || count * 4 > reqs.length) {
      throw new MmuError('INVALID_ARGUMENT', 'mmuUpdate: count exceeds the request buffer');
    }
    const pg = this.resolveOwner(d, foreigndom & 0xffff);
    if (typeof pg === 'number') return pg;
    const pfd = (foreigndom >>> 16) & 0xffff;
    const pt = pfd === 0 ? d : this.resolveOwner(d, pfd - 1);
    if (typeof pt === 'number') return pt;
    const ft = this.machine.frames;
    const mem = this.machine.memory;
    for (let n = 0; n < count; n++) {
      const ptrLo = reqs[n * 4];
      const ptrHi = reqs[n * 4 + 1];
      const valLo = reqs[n * 4 + 2];
      const valHi = reqs[n * 4 + 3];
      const cmd = ptrLo & 7;
      const mfn = ((ptrLo >>> 12) | ((ptrHi & 0xfffff) << 20)) >>> 0;
      let rc: number;
      if (ptrHi >>> 20 !== 0 || mfn >= ft.frames) {
        rc = cmd <= MMU_CMD.MMU_PT_UPDATE_NO_TRANSLATE ? -XEN_ERRNO.EINVAL : -XEN_ERRNO.ENOSYS;
      } else if (
        cmd === MMU_CMD.MMU_NORMAL_PT_UPDATE ||
        cmd === MMU_CMD.MMU_PT_UPDATE_PRESERVE_AD ||
        cmd === MMU_CMD.MMU_PT_UPDATE_NO_TRANSLATE
      ) {
        if (ft.owner[mfn] !== pt.domid) {
          rc = -XEN_ERRNO.EINVAL;
        } else {
          const idx = (ptrLo & 0xfff) >>> 3;
          const level = ft.type[mfn] & PGT_TYPE_MASK;
          if (ft.typeCount[mfn] > 0 && level >= 1 && level <= 4) {
            rc = this.modEntry(
              mfn,
              idx,
              valLo,
              valHi,
              pt,
              pg.domid,
              cmd === MMU_CMD.MMU_PT_UPDATE_PRESERVE_AD,
            );
          } else if (this.getPageType(mfn, PGT.PGT_writable_page, pt) === 0) {
            mem.write32(mfn, idx * 8, valLo);
            mem.write32(mfn, idx * 8 + 4, valHi);
            this.markDirty(mfn, idx * 8);
            this.putPageType(mfn, pt);
            rc = 0;
          } else {
            rc = -XEN_ERRNO.EINVAL;
          }
        }
      } else if (cmd === MMU_CMD.MMU_MACHPHYS_UPDATE) {
        if (pt !== d) rc = -XEN_ERRNO.EPERM;
        else if (ft.owner[mfn] !== pg.domid) rc = -XEN_ERRNO.EINVAL;
        else {
          ft.m2p[mfn] = valLo >>> 0;
          if (this.m2pView !== null) this.m2pView.update(mfn);
          this.markDirty(mfn);
          rc = 0;
        }
      } else {
        rc = -XEN_ERRNO.ENOSYS;
      }
      if (rc !== 0) return rc;
      this.done = n + 1;
    }
    return 0;
  }

  /** Whether `hi:lo` is a guest-accessible linear address for `d` (Xen's `__addr_ok`, canonical). */
  private addrOk(d: PvDomain, lo: number, hi: number): boolean {
    if (d.is32) return hi === 0 && lo >>> 0 < HYPERVISOR_COMPAT_VIRT_START;
    const top = hi >> 15; // bits 47..63 must be a sign extension
    if (top !== 0 && top !== -1) return false;
    const l4 = (hi >>> 7) & 0x1ff;
    return l4 < ROOT_PAGETABLE_FIRST_XEN_SLOT || l4 > ROOT_PAGETABLE_LAST_XEN_SLOT;
  }

  /** Finds the L1 table and index mapping `hi:lo` under `root`; returns mfn * 512 + idx or -1. */
  private findL1(d: PvDomain, root: number, lo: number, hi: number): number {
    const mem = this.machine.memory;
    const frames = this.machine.frames.frames;
    let table = root;
    // Upper levels: PAE L3 → L2 for 32-bit guests, L4 → L3 → L2 for 64-bit (no allocation).
    const first = d.is32 ? 1 : 0;
    for (let k = first; k < 3; k++) {
      const idx =
        k === 0
          ? (hi >>> 7) & 0x1ff
          : k === 1
            ? d.is32
              ? lo >>> 30
              : ((hi & 0x7f) << 2) | (lo >>> 30)
            : (lo >>> 21) & 0x1ff;
      const e = mem.read32(table, idx * 8);
      const eh = mem.read32(table, idx * 8 + 4);
      if ((e & P) === 0 || (e & 0x80) !== 0) return -1;
      table = this.frameOf(e, eh);
      if (table >= frames) return -1;
    }
    return table * 512 + ((lo >>> 12) & 0x1ff);
  }

  private flushVcpus(
    d: PvDomain,
    self: PvVcpu,
    scope: number,
    mask: number,
    lo: number,
    hi: number,
    one: boolean,
  ): void {
    for (const v of d.vcpus) {
      if (scope === 0 ? v !== self : scope === 2 && (mask & (1 << v.id)) === 0) continue;
      if (v.tlb === null) continue;
      if (one) v.tlb.invlpg(lo, hi);
      else v.tlb.flush(false);
    }
  }

  /**
   * `HYPERVISOR_update_va_mapping`: validated update of the L1 entry mapping `vaHi:vaLo` in
   * vCPU `vcpu`'s current page tables, then the flush `flags` ask for (`UVMF_*`; a
   * `UVMF_MULTI` bitmap pointer is treated as all vCPUs). Returns 0 or -errno.
   * @see xen/arch/x86/mm.c (do_update_va_mapping)
   */
  updateVaMapping(
    domid: number,
    vcpu: number,
    vaLo: number,
    vaHi: number,
    valLo: number,
    valHi: number,
    flags: number,
  ): number {
    return this.updateVaMappingAs(this.domain(domid), vcpu, vaLo, vaHi, valLo, valHi, flags, -1);
  }

  private updateVaMappingAs(
    d: PvDomain,
    vcpu: number,
    vaLo: number,
    vaHi: number,
    valLo: number,
    valHi: number,
    flags: number,
    pgOwner: number,
  ): number {
    const v = this.vcpu(d, vcpu);
    if (!this.addrOk(d, vaLo, vaHi)) return -XEN_ERRNO.EINVAL;
    if (v.baseMfn < 0) return -XEN_ERRNO.EINVAL;
    const at = this.findL1(d, v.baseMfn, vaLo, vaHi);
    if (at < 0) return -XEN_ERRNO.EINVAL;
    const l1 = Math.floor(at / 512);
    const ft = this.machine.frames;
    if ((ft.type[l1] & PGT_TYPE_MASK) !== PGT.PGT_l1_page_table || ft.typeCount[l1] === 0) {
      return -XEN_ERRNO.EINVAL;
    }
    const rc = this.modEntry(l1, at % 512, valLo, valHi, d, pgOwner < 0 ? d.domid : pgOwner, false);
    if (rc !== 0) return rc;
    const kind = flags & UVMF.UVMF_FLUSHTYPE_MASK;
    if (kind !== UVMF.UVMF_NONE) {
      const scope = (flags & ~UVMF.UVMF_FLUSHTYPE_MASK) === 0 ? 0 : 1;
      this.flushVcpus(d, v, scope, 0, vaLo, vaHi, kind === UVMF.UVMF_INVLPG);
    }
    return 0;
  }

  /**
   * Xen's writable page-table emulation (ptwr) looks up a write fault at virtual address
   * `hi:lo` under the top-level table `rootMfn` (the faulting vCPU's CR3, a validated root of the
   * domain): the slot (`mfn * 512 + index`) of the L1 entry mapping it, when the domain enabled
   * `VMASST_TYPE_writable_pagetables` and that entry is present and read-only and maps an L1
   * page table of the domain (typed, in use); -1 otherwise.
   * The caller then applies the guest's write to that page as an `mmu_update`.
   * @see xen/arch/x86/pv/ro-page-fault.c (ptwr_do_page_fault, ptwr_emulated_update)
   */
  ptwrSlot(domid: number, rootMfn: number, lo: number, hi: number): number {
    if (!this.domains.has(domid)) return -1;
    const d = this.domain(domid);
    // VM_ASSIST(d, writable_pagetables): a guest that has not asked for it gets the #PF.
    if ((d.vmAssist & (1 << VMASST.VMASST_TYPE_writable_pagetables)) === 0) return -1;
    const ft = this.machine.frames;
    const rootType = d.is32 ? PGT.PGT_l3_page_table : PGT.PGT_l4_page_table;
    if (rootMfn < 0 || rootMfn >= ft.frames || ft.owner[rootMfn] !== domid) return -1;
    if ((ft.type[rootMfn] & PGT_TYPE_MASK) !== rootType || ft.typeCount[rootMfn] === 0) return -1;
    if (!this.addrOk(d, lo, hi)) return -1;
    const at = this.findL1(d, rootMfn, lo, hi);
    if (at < 0) return -1;
    const l1 = Math.floor(at / 512);
    const mem = this.machine.memory;
    const e = mem.read32(l1, (at % 512) * 8);
    const eh = mem.read32(l1, (at % 512) * 8 + 4);
    if ((e & P) === 0 || (e & RW) !== 0) return -1;
    const target = this.frameOf(e, eh);
    if (target >= ft.frames || ft.owner[target] !== domid) return -1;
    if ((ft.type[target] & PGT_TYPE_MASK) !== PGT.PGT_l1_page_table) return -1;
    if (ft.typeCount[target] === 0) return -1;
    return at;
  }

  /**
   * `HYPERVISOR_update_va_mapping_otherdomain`: as {@link updateVaMapping}, but the new entry
   * maps a frame of domain `foreignDomid` (privileged callers only: `-EPERM`, or `-ESRCH` for an
   * unknown domain).
   * @see xen/arch/x86/mm.c (do_update_va_mapping_otherdomain)
   */
  updateVaMappingOtherdomain(
    domid: number,
    vcpu: number,
    vaLo: number,
    vaHi: number,
    valLo: number,
    valHi: number,
    flags: number,
    foreignDomid: number,
  ): number {
    const d = this.domain(domid);
    const pg = this.resolveOwner(d, foreignDomid);
    if (typeof pg === 'number') return pg;
    return this.updateVaMappingAs(d, vcpu, vaLo, vaHi, valLo, valHi, flags, pg.domid);
  }

  /**
   * `HYPERVISOR_vm_assist`: enables or disables an assist type. Returns 0, `-EINVAL` for a type
   * not valid for the guest's width, `-ENOSYS` for an unknown command.
   * @see xen/common/kernel.c (do_vm_assist), xen/include/public/xen.h (VMASST_*)
   */
  vmAssist(domid: number, cmd: number, type: number): number {
    const d = this.domain(domid);
    const valid =
      (Number.isInteger(type) && type >= 0 && type <= 5) ||
      (!d.is32 && type === VMASST.VMASST_TYPE_m2p_strict);
    if (cmd !== VMASST.VMASST_CMD_enable && cmd !== VMASST.VMASST_CMD_disable)
      return -XEN_ERRNO.ENOSYS;
    if (!valid) return -XEN_ERRNO.EINVAL;
    const on = cmd === VMASST.VMASST_CMD_enable;
    if (type === VMASST.VMASST_TYPE_m2p_strict) d.m2pStrict = on;
    else d.vmAssist = on ? d.vmAssist | (1 << type) : d.vmAssist & ~(1 << type);
    return 0;
  }

  /**
   * `HYPERVISOR_mmuext_op`: applies decoded `ops` for vCPU `vcpu`. Stops at the first failure.
   * Returns 0 or -errno; {@link done} holds the number completed.
   * @see xen/arch/x86/mm.c (do_mmuext_op)
   */
  mmuextOp(
    domid: number,
    vcpu: number,
    ops: readonly MmuextOp[],
    foreigndom: number = DOMID.DOMID_SELF,
  ): number {
    this.done = 0;
    const d = this.domain(domid);
    const v = this.vcpu(d, vcpu);
    const pg = this.resolveOwner(d, foreigndom & 0xffff);
    if (typeof pg === 'number') return pg;
    for (let n = 0; n < ops.length; n++) {
      const rc = this.mmuextOne(d, v, pg, ops[n]);
      if (rc !== 0) return rc;
      this.done = n + 1;
    }
    return 0;
  }

  private mmuextOne(d: PvDomain, v: PvVcpu, pg: PvDomain, op: MmuextOp): number {
    const ft = this.machine.frames;
    const mfn = op.arg1Lo >>> 0;
    const foreign = pg !== d;
    switch (op.cmd) {
      case MMUEXT.MMUEXT_PIN_L1_TABLE:
      case MMUEXT.MMUEXT_PIN_L2_TABLE:
      case MMUEXT.MMUEXT_PIN_L3_TABLE:
      case MMUEXT.MMUEXT_PIN_L4_TABLE: {
        const type = op.cmd - MMUEXT.MMUEXT_PIN_L1_TABLE + 1;
        if (d.is32 && type === PGT.PGT_l4_page_table) return 0; // ignored for 32-bit PV
        if (op.arg1Hi !== 0) return -XEN_ERRNO.EINVAL;
        const rc = this.getPageAndType(mfn, pg.domid, type, pg);
        if (rc !== 0) return rc;
        if (ft.pinned[mfn] === 1) {
          this.putPageAndType(mfn, pg);
          return -XEN_ERRNO.EINVAL;
        }
        ft.pinned[mfn] = 1;
        this.markDirty(mfn); // "A page is dirtied when its pin status is set."
        return 0;
      }
      case MMUEXT.MMUEXT_UNPIN_TABLE: {
        if (op.arg1Hi !== 0 || mfn >= ft.frames || ft.owner[mfn] !== pg.domid)
          return -XEN_ERRNO.EINVAL;
        if (ft.pinned[mfn] !== 1) return -XEN_ERRNO.EINVAL;
        ft.pinned[mfn] = 0;
        this.putPageAndType(mfn, pg);
        this.markDirty(mfn); // "A page is dirtied when its pin status is cleared."
        return 0;
      }
      case MMUEXT.MMUEXT_NEW_BASEPTR: {
        if (foreign) return -XEN_ERRNO.EPERM;
        if (op.arg1Hi !== 0) return -XEN_ERRNO.EINVAL;
        const root = d.is32 ? PGT.PGT_l3_page_table : PGT.PGT_l4_page_table;
        // A 32-bit guest's L3 above 4 GiB is refused by validation (-ERANGE, promote_l3_table).
        const rc = this.getPageAndType(mfn, d.domid, root, d);
        if (rc !== 0) return rc;
        const old = v.baseMfn;
        v.baseMfn = mfn;
        if (old >= 0) this.putPageAndType(old, d);
        this.destroyLdt(d, v); // new_guest_cr3: pv_destroy_ldt
        if (v.tlb !== null) v.tlb.flush(false);
        return 0;
      }
      case MMUEXT.MMUEXT_NEW_USER_BASEPTR: {
        if (foreign) return -XEN_ERRNO.EPERM;
        if (d.is32 || op.arg1Hi !== 0) return -XEN_ERRNO.EINVAL;
        if (mfn !== 0) {
          const rc = this.getPageAndType(mfn, d.domid, PGT.PGT_l4_page_table, d);
          if (rc !== 0) return rc;
        }
        const old = v.userBaseMfn;
        v.userBaseMfn = mfn === 0 ? -1 : mfn;
        if (old >= 0) this.putPageAndType(old, d);
        return 0;
      }
      case MMUEXT.MMUEXT_TLB_FLUSH_LOCAL:
        if (foreign) return -XEN_ERRNO.EPERM;
        if (v.tlb !== null) v.tlb.flush(false);
        return 0;
      case MMUEXT.MMUEXT_INVLPG_LOCAL:
        if (foreign) return -XEN_ERRNO.EPERM;
        if (v.tlb !== null && this.addrOk(d, op.arg1Lo, op.arg1Hi))
          v.tlb.invlpg(op.arg1Lo, op.arg1Hi);
        return 0;
      case MMUEXT.MMUEXT_TLB_FLUSH_MULTI:
      case MMUEXT.MMUEXT_INVLPG_MULTI:
      case MMUEXT.MMUEXT_TLB_FLUSH_ALL:
      case MMUEXT.MMUEXT_INVLPG_ALL: {
        if (foreign) return -XEN_ERRNO.EPERM;
        const one = op.cmd === MMUEXT.MMUEXT_INVLPG_MULTI || op.cmd === MMUEXT.MMUEXT_INVLPG_ALL;
        if (one && !this.addrOk(d, op.arg1Lo, op.arg1Hi)) return 0;
        const multi =
          op.cmd === MMUEXT.MMUEXT_TLB_FLUSH_MULTI || op.cmd === MMUEXT.MMUEXT_INVLPG_MULTI;
        this.flushVcpus(d, v, multi ? 2 : 1, op.arg2, op.arg1Lo, op.arg1Hi, one);
        return 0;
      }
      case MMUEXT.MMUEXT_FLUSH_CACHE:
        if (foreign) return -XEN_ERRNO.EPERM;
        return d.privileged ? 0 : -XEN_ERRNO.EACCES;
      case MMUEXT.MMUEXT_FLUSH_CACHE_GLOBAL:
        if (foreign) return -XEN_ERRNO.EPERM;
        return d.privileged ? 0 : -XEN_ERRNO.EINVAL;
      case MMUEXT.MMUEXT_SET_LDT: {
        if (foreign) return -XEN_ERRNO.EPERM;
        const ents = op.arg2 >>> 0;
        // With no entries the base is ignored (Xen: ptr = ents ? linear_addr : 0).
        const lo = ents === 0 ? 0 : op.arg1Lo;
        const hi = ents === 0 ? 0 : op.arg1Hi;
        if ((lo & 0xfff) !== 0 || !xenAddrOk(hi) || ents > 8192) return -XEN_ERRNO.EINVAL;
        if (v.ldtEnts !== ents || v.ldtBaseLo !== lo || v.ldtBaseHi !== hi) {
          this.destroyLdt(d, v);
          v.ldtBaseLo = lo;
          v.ldtBaseHi = hi;
          v.ldtEnts = ents;
        }
        return 0;
      }
      case MMUEXT.MMUEXT_CLEAR_PAGE: {
        if (op.arg1Hi !== 0) return -XEN_ERRNO.EINVAL;
        if (this.getPageAndType(mfn, pg.domid, PGT.PGT_writable_page, pg) !== 0)
          return -XEN_ERRNO.EINVAL;
        this.machine.memory.clearFrame(mfn);
        this.markDirty(mfn);
        this.putPageAndType(mfn, pg);
        return 0;
      }
      case MMUEXT.MMUEXT_COPY_PAGE: {
        const src = op.arg2 >>> 0;
        if (op.arg1Hi !== 0 || !this.getPage(src, pg.domid)) return -XEN_ERRNO.EINVAL;
        if (this.getPageAndType(mfn, pg.domid, PGT.PGT_writable_page, pg) !== 0) {
          this.putPage(src);
          return -XEN_ERRNO.EINVAL;
        }
        this.machine.memory.copyFrame(mfn, src);
        this.markDirty(mfn);
        this.putPageAndType(mfn, pg);
        this.putPage(src);
        return 0;
      }
      case MMUEXT.MMUEXT_MARK_SUPER:
      case MMUEXT.MMUEXT_UNMARK_SUPER:
        return -XEN_ERRNO.EOPNOTSUPP;
      default:
        return -XEN_ERRNO.ENOSYS;
    }
  }

  /**
   * Maps the LDT page holding byte `offset` of vCPU `vcpu`'s LDT, as Xen does lazily on the
   * first access fault (`pv_map_ldt_shadow_page`): looks up the guest kernel's L1 entry for
   * `ldt_base + offset`, which must be present and map a frame of the domain that validates as
   * a segment-descriptor page (every descriptor passes {@link checkDescriptor}, and no writable
   * mapping of it exists). Returns the MFN (already mapped: the same), or -1: the hypervisor
   * then delivers the fault to the guest. The type reference is held until the LDT is
   * destroyed (`SET_LDT` with other arguments, `NEW_BASEPTR`, unmapping the page, relinquish).
   * @see xen/arch/x86/pv/mm.c (pv_map_ldt_shadow_page)
   */
  mapLdtPage(domid: number, vcpu: number, offset: number): number {
    const d = this.domain(domid);
    const v = this.vcpu(d, vcpu);
    if (!Number.isInteger(offset) || offset < 0 || offset >>> 3 >= v.ldtEnts) return -1;
    const page = offset >>> 12;
    const have = v.ldtFrames[page];
    if (have !== undefined && have >= 0) return have;
    if (v.baseMfn < 0) return -1;
    // The linear address; a 32-bit guest's wraps at 4 GiB.
    let lo = (v.ldtBaseLo >>> 0) + page * 4096;
    let hi = v.ldtBaseHi;
    if (lo > 0xffffffff) {
      lo -= 0x100000000;
      hi = d.is32 ? 0 : (hi + 1) | 0;
    }
    lo |= 0;
    const at = this.findL1(d, v.baseMfn, lo, hi);
    if (at < 0) return -1;
    const l1 = Math.floor(at / 512);
    const idx = at - l1 * 512;
    const mem = this.machine.memory;
    const e = mem.read32(l1, idx * 8);
    if ((e & P) === 0) return -1;
    const mfn = this.frameOf(e, mem.read32(l1, idx * 8 + 4));
    if (mfn >= this.machine.frames.frames) return -1;
    if (this.getPageAndType(mfn, d.domid, PGT.PGT_seg_desc_page, d) !== 0) return -1;
    while (v.ldtFrames.length <= page) v.ldtFrames.push(-1);
    v.ldtFrames[page] = mfn;
    return mfn;
  }

  /** pv_destroy_ldt: drops every mapped LDT page of `v`; true if there was one. */
  private destroyLdt(d: PvDomain, v: PvVcpu): boolean {
    let any = false;
    for (const mfn of v.ldtFrames) {
      if (mfn < 0) continue;
      this.putPageAndType(mfn, d);
      any = true;
    }
    v.ldtFrames = [];
    if (any && v.tlb !== null) v.tlb.flush(false);
    return any;
  }

  /**
   * put_page_from_l1e: unmapping (read-only) a live segment-descriptor page of the table's own
   * domain blows the mapped LDT pages of all its vCPUs ("We expect this is rare").
   */
  private blowLdtsMapping(mfn: number, d: PvDomain): void {
    const ft = this.machine.frames;
    if (
      ft.type[mfn] !== PGT.PGT_seg_desc_page ||
      ft.typeCount[mfn] === 0 ||
      ft.owner[mfn] !== d.domid
    ) {
      return;
    }
    for (const v of d.vcpus) if (v.ldtFrames.length !== 0) this.destroyLdt(d, v);
  }

  /**
   * `HYPERVISOR_set_gdt`: installs `entries` GDT entries held in `frames` (one MFN per 512
   * entries) for vCPU `vcpu`. Every frame must belong to the domain and validate as a
   * segment-descriptor page (so it has no writable mapping and only safe descriptors); the old
   * GDT's frames are released. Returns 0 or `-EINVAL`.
   * @see xen/arch/x86/pv/descriptor-tables.c (pv_set_gdt)
   */
  setGdt(domid: number, vcpu: number, frames: readonly number[], entries: number): number {
    const d = this.domain(domid);
    const v = this.vcpu(d, vcpu);
    if (!Number.isInteger(entries) || entries < 0 || entries > FIRST_RESERVED_GDT_ENTRY) {
      return -XEN_ERRNO.EINVAL;
    }
    const nr = Math.ceil(entries / 512);
    if (frames.length < nr) return -XEN_ERRNO.EFAULT;
    for (let i = 0; i < nr; i++) {
      const mfn = frames[i];
      if (
        !Number.isInteger(mfn) ||
        this.getPageAndType(mfn, d.domid, PGT.PGT_seg_desc_page, d) !== 0
      ) {
        for (let j = i - 1; j >= 0; j--) this.putPageAndType(frames[j], d);
        return -XEN_ERRNO.EINVAL;
      }
    }
    for (const old of v.gdtFrames) this.putPageAndType(old, d);
    v.gdtFrames = frames.slice(0, nr);
    v.gdtEnts = entries;
    if (v.tlb !== null) v.tlb.flush(false);
    return 0;
  }

  /**
   * `HYPERVISOR_update_descriptor`: validated write of descriptor `lo:hi` at machine address
   * `ma` (8-byte aligned) in one of the domain's frames that is a descriptor page or may be
   * written (not a page table). Returns 0 or `-EINVAL`.
   * @see xen/arch/x86/pv/descriptor-tables.c (do_update_descriptor)
   */
  updateDescriptor(domid: number, ma: number, lo: number, hi: number): number {
    const d = this.domain(domid);
    const ft = this.machine.frames;
    const out = this.descScratch;
    if (!Number.isSafeInteger(ma) || ma < 0 || ma % 8 !== 0) return -XEN_ERRNO.EINVAL;
    if (!checkDescriptor(d.is32, lo, hi, out)) return -XEN_ERRNO.EINVAL;
    const mfn = Math.floor(ma / 4096);
    if (!this.getPage(mfn, d.domid)) return -XEN_ERRNO.EINVAL;
    const type =
      ft.typeCount[mfn] > 0 && ft.type[mfn] === PGT.PGT_seg_desc_page
        ? PGT.PGT_seg_desc_page
        : PGT.PGT_writable_page;
    if (this.getPageType(mfn, type, d) !== 0) {
      this.putPage(mfn);
      return -XEN_ERRNO.EINVAL;
    }
    const off = ma - mfn * 4096;
    this.machine.memory.write32(mfn, off, out[0]);
    this.machine.memory.write32(mfn, off + 4, out[1]);
    this.markDirty(mfn);
    this.putPageAndType(mfn, d);
    return 0;
  }

  /**
   * Writable page-table emulation ("ptwr"): a PV kernel write of `size` (4 or 8) bytes at
   * `offset` of frame `mfn` that faulted on a read-only mapping of one of its L1 tables is
   * applied as a validated L1 update. A 4-byte write is merged with the other half of the
   * entry; for 32-bit guests an upper-half write that would make the entry present has its
   * present bit cleared (Xen assumes the halves come in the wrong order). With `cmpxchg`, the
   * write happens only if the entry equals `expLo:expHi`, and {@link lastCompareOk} says
   * whether it did.
   *
   * Returns 0 when handled, `-EFAULT` when this is not a ptwr case (the frame is not a live L1
   * of the domain, or a misaligned/odd size: the hypervisor injects the #PF), or the
   * validation errno (also a #PF for the guest).
   * @see xen/arch/x86/pv/ro-page-fault.c (ptwr_emulated_update)
   */
  ptwrWrite(
    domid: number,
    mfn: number,
    offset: number,
    lo: number,
    hi: number,
    size: 4 | 8,
    cmpxchg = false,
    expLo = 0,
    expHi = 0,
  ): number {
    const d = this.domain(domid);
    const ft = this.machine.frames;
    this.lastCompareOk = false;
    if (!Number.isInteger(mfn) || mfn < 0 || mfn >= ft.frames || ft.owner[mfn] !== domid) {
      return -XEN_ERRNO.EFAULT;
    }
    if ((ft.type[mfn] & PGT_TYPE_MASK) !== PGT.PGT_l1_page_table || ft.typeCount[mfn] === 0) {
      return -XEN_ERRNO.EFAULT;
    }
    if ((size !== 4 && size !== 8) || (offset & (size - 1)) !== 0 || offset < 0 || offset >= 4096) {
      return -XEN_ERRNO.EFAULT;
    }
    const mem = this.machine.memory;
    const base = offset & ~7;
    const oldLo = mem.read32(mfn, base);
    const oldHi = mem.read32(mfn, base + 4);
    let newLo = lo;
    let newHi = hi;
    if (size === 4) {
      if ((offset & 4) === 0) {
        newHi = oldHi;
        expHi = oldHi;
      } else {
        newHi = lo;
        newLo = oldLo;
        expHi = expLo;
        expLo = oldLo;
        if (d.is32 && !cmpxchg && (newLo & P) !== 0) newLo &= ~P;
      }
    }
    if (cmpxchg && (oldLo !== expLo || oldHi !== expHi)) return 0;
    const rc = this.modEntry(mfn, base >>> 3, newLo, newHi, d, d.domid, false);
    if (rc === 0) this.lastCompareOk = true;
    return rc;
  }

  /**
   * Drops every paging reference domain `domid` holds through its vCPUs and pins (base
   * pointers, user base pointers, pinned tables), as Xen's domain_relinquish_resources does.
   * Afterwards every frame of the domain has type and reference counts zero unless another
   * domain still maps it.
   */
  relinquish(domid: number): void {
    const d = this.domain(domid);
    const ft = this.machine.frames;
    for (const v of d.vcpus) {
      if (v.baseMfn >= 0) this.putPageAndType(v.baseMfn, d);
      if (v.userBaseMfn >= 0) this.putPageAndType(v.userBaseMfn, d);
      v.baseMfn = -1;
      v.userBaseMfn = -1;
      for (const g of v.gdtFrames) this.putPageAndType(g, d);
      v.gdtFrames = [];
      this.destroyLdt(d, v);
      v.gdtEnts = 0;
      if (v.tlb !== null) v.tlb.flush(true);
    }
    for (let mfn = 0; mfn < ft.frames; mfn++) {
      if (ft.pinned[mfn] === 1 && ft.owner[mfn] === domid) {
        ft.pinned[mfn] = 0;
        this.putPageAndType(mfn, d);
      }
    }
  }

  /** Returns the plain-data state (frame types and counts are in the machine's state). */
  getState(): PvMmState {
    const domains: PvDomainState[] = [];
    for (const d of this.domains.values()) {
      domains.push({
        domid: d.domid,
        guestWidth: d.is32 ? 32 : 64,
        privileged: d.privileged,
        vmAssist: d.vmAssist,
        m2pStrict: d.m2pStrict,
        initialised: d.initialised,
        vcpus: d.vcpus.map((v) => ({
          baseMfn: v.baseMfn,
          userBaseMfn: v.userBaseMfn,
          ldtBaseLo: v.ldtBaseLo,
          ldtBaseHi: v.ldtBaseHi,
          ldtEnts: v.ldtEnts,
          gdtFrames: v.gdtFrames.slice(),
          gdtEnts: v.gdtEnts,
          ldtFrames: v.ldtFrames.slice(),
        })),
      });
    }
    return { domains, xenL4: Array.from(this.xenL4Entries), xenL2: Array.from(this.xenL2Entries) };
  }

  /** Rebuilds PV paging over `machine` (restored from the same save) from {@link getState} output. */
  static fromState(state: PvMmState, machine: Machine, options: PvMmOptions = {}): PvMm {
    const mm = new PvMm(machine, options);
    mm.xenL4Entries.set(state.xenL4);
    mm.xenL2Entries.set(state.xenL2);
    for (const ds of state.domains) {
      const d = mm.addDomain(ds.domid, {
        guestWidth: ds.guestWidth,
        privileged: ds.privileged,
        vcpus: ds.vcpus.length,
        initialised: ds.initialised !== false,
      });
      d.vmAssist = ds.vmAssist;
      d.m2pStrict = ds.m2pStrict;
      ds.vcpus.forEach((vs, i) => {
        const v = d.vcpus[i];
        v.baseMfn = vs.baseMfn;
        v.userBaseMfn = vs.userBaseMfn;
        v.ldtBaseLo = vs.ldtBaseLo;
        v.ldtBaseHi = vs.ldtBaseHi;
        v.ldtEnts = vs.ldtEnts;
        v.gdtFrames = vs.gdtFrames.slice();
        v.gdtEnts = vs.gdtEnts;
        v.ldtFrames = vs.ldtFrames === undefined ? [] : vs.ldtFrames.slice();
      });
    }
    return mm;
  }
}
