/**
 * PV shadow mode: a PV guest keeps direct paging's interface (its tables hold machine frames
 * and change only through `mmu_update`, `update_va_mapping`, `mmuext_op` and ptwr, all
 * validated by {@link PvMm}), but the CPU walks shadow tables the hypervisor builds from them.
 * Xen runs PV guests this way for log-dirty (live migration) and debugging.
 *
 * Resynchronisation: {@link PvMm} reports every frame it writes for the guest, and every frame
 * it newly validates as a table, through {@link GuestWriteObserver}; the shadow leaves derived
 * from that frame are dropped (each leaf is recorded against every guest table its walk used).
 * Base-pointer switches, flushes and INVLPG reach the shadows through {@link TlbFlushPort}.
 * Guest tables need no write protection here: the PV type system already guarantees that no
 * guest mapping of a page-table frame is writable, so only the hypervisor ever writes one.
 * @see xen/arch/x86/mm/shadow/multi.c (sh_page_fault, sh_validate_guest_entry),
 *   xen/arch/x86/mm.c (paging_write_guest_entry)
 * @module
 */
import { MmuError } from '../errors.ts';
import { ACCESS, PAGING_MODE } from '../paging.ts';
import type { GuestWriteObserver, TlbFlushPort } from '../pv/ports.ts';
import type { PvMm } from '../pv/pv-mm.ts';
import type { TranslationPort, Translator } from '../translator.ts';
import { SHADOW_FAULT, ShadowPager } from './shadow-pager.ts';

/**
 * Shadow paging for one vCPU of a PV domain registered with {@link PvMm}. It is the vCPU's
 * translation port (use it where a direct-paging `Translator` would be used) and attaches
 * itself as the vCPU's TLB in `PvMm` and as a write observer.
 */
export class PvShadow implements TranslationPort, TlbFlushPort, GuestWriteObserver {
  /** The PV paging the guest's hypercalls go through. */
  readonly mm: PvMm;
  /** The guest domain. */
  readonly domid: number;
  /** The vCPU id. */
  readonly vcpu: number;
  /** The shadow pager (guest tables in machine frames). */
  readonly pager: ShadowPager;
  /** #PF error code of the last failed {@link translate}. */
  faultCode: number;
  /** Guest top-level table currently shadowed, or -1 before the first base pointer. */
  rootMfn: number;
  private user: boolean;
  private readonly is32: boolean;

  /** Starts shadow mode for vCPU `vcpu` of PV domain `domid`. */
  constructor(mm: PvMm, domid: number, vcpu = 0) {
    const d = mm.domain(domid);
    if (d.vcpus[vcpu] === undefined)
      throw new MmuError('INVALID_ARGUMENT', `domain ${domid} has no vCPU ${vcpu}`);
    this.mm = mm;
    this.domid = domid;
    this.vcpu = vcpu;
    this.is32 = d.is32;
    this.pager = new ShadowPager(mm.machine, domid, { guestTables: 'machine' });
    this.faultCode = 0;
    this.rootMfn = -2;
    this.user = false;
    mm.attachTlb(domid, vcpu, this);
    mm.observeWrites(this);
    this.sync();
  }

  /** The translator in front of the shadow tables (set its `dirtyLog` for log-dirty mode). */
  get translator(): Translator {
    return this.pager.translator;
  }

  /**
   * Selects the 64-bit guest's user base pointer (`NEW_USER_BASEPTR`) while `user` is true,
   * as Xen does on a switch to guest user mode; without one the kernel base stays.
   */
  setUserMode(user: boolean): void {
    this.user = user;
    this.sync();
  }

  /** Loads the shadows of the vCPU's current base pointer; true if it changed. */
  private sync(): boolean {
    const v = this.mm.domain(this.domid).vcpus[this.vcpu];
    const root = this.user && !this.is32 && v.userBaseMfn >= 0 ? v.userBaseMfn : v.baseMfn;
    if (root === this.rootMfn) return false;
    this.rootMfn = root;
    if (root >= 0) {
      this.pager.setGuestPaging({
        mode: this.is32 ? PAGING_MODE.PAE : PAGING_MODE.LONG,
        cr3Lo: (root * 4096) | 0,
        cr3Hi: this.is32 ? 0 : root >>> 20,
        wp: true,
        pse: false,
        nxe: true,
      });
    } else {
      this.pager.translator.flush(true);
    }
    return true;
  }

  /** {@inheritDoc TranslationPort.translate} */
  translate(lo: number, hi: number, access: number): number {
    const f = this.pager.translator.translate(lo, hi, access);
    if (f >= 0) return f;
    return this.miss(lo, hi, access);
  }

  private miss(lo: number, hi: number, access: number): number {
    // No base pointer (or a 32-bit L3 above 4 GiB, which a PAE CR3 cannot hold): nothing maps.
    if (this.rootMfn < 0 || (this.is32 && this.rootMfn >= 0x100000)) {
      this.faultCode = access & (ACCESS.WRITE | ACCESS.USER);
      return -1;
    }
    const f = this.pager.translate(lo, hi, access);
    if (f >= 0) return f;
    if (this.pager.status !== SHADOW_FAULT.GUEST_FAULT) {
      // Machine-frame tables have no P2M holes, and with CR0.WP set nothing needs emulation.
      throw new MmuError('INVALID_STATE', `PV shadow fault outcome ${this.pager.status}`);
    }
    this.faultCode = this.pager.errorCode;
    return -1;
  }

  /**
   * Flushes non-global translations, or all with `includeGlobal`; first picks up a new base
   * pointer (`PvMm` flushes after `NEW_BASEPTR`), whose kept shadows are then used.
   */
  flush(includeGlobal: boolean): void {
    if (!this.sync()) this.pager.translator.flush(includeGlobal);
  }

  /** {@inheritDoc TlbFlushPort.invlpg} */
  invlpg(lo: number, hi: number): void {
    this.sync();
    this.pager.invlpg(lo, hi);
  }

  /** {@inheritDoc GuestWriteObserver.guestFrameWritten} */
  guestFrameWritten(mfn: number, offset: number): void {
    this.pager.emulatedWrite(mfn, offset, 8);
  }

  /** Leaves shadow mode: stops observing writes and returns the shadow frames. */
  destroy(): void {
    this.mm.unobserveWrites(this);
    this.pager.destroy();
  }
}
