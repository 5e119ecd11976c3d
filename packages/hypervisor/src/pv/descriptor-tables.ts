/**
 * A PV vCPU's own descriptor tables: `set_gdt`, `update_descriptor`, the LDT of
 * `MMUEXT_SET_LDT` (mapped lazily on first use) and the GDT/LDT window the CPU model loads
 * selectors from.
 *
 * Xen maps a PV vCPU's GDT and LDT in its per-domain area, which no guest mapping can reach: GDT
 * pages 0–13 are the guest's `set_gdt` frames (or Xen's zero page), page 14 is Xen's reserved
 * page (FLAT_KERNEL_CS and friends), and the LDT pages are filled in by the #PF handler the first
 * time the CPU touches them (`pv_map_ldt_shadow_page`). Here the window is a translation placed
 * in front of the CPU's page walker: a walk of a window address resolves to the guest's
 * validated frames (through the MMU port, which holds the type references) or to Xen's pages
 * ({@link XEN_PAGE}); every other address goes to the CPU's own walker. The guest never has a
 * mapping of the window (supervisor-only, outside the guest's half), so it can change its
 * descriptors only through `update_descriptor`, and only to values `check_descriptor` accepts.
 * @see xen/arch/x86/pv/descriptor-tables.c (pv_set_gdt, do_set_gdt, compat_set_gdt,
 *   do_update_descriptor), xen/arch/x86/pv/mm.c (pv_map_ldt_shadow_page),
 *   xen/arch/x86/traps.c (handle_gdt_ldt_mapping_fault, handle_ldt_mapping_fault)
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../abi/errno.ts';
import type { GuestBytes } from '../guest-memory.ts';
import { FIRST_RESERVED_GDT_PAGE, fillCompatGdtPage } from './compat-gdt.ts';
import { XEN_PAGE, xenPageAddress } from './machine-physical-memory.ts';
import type {
  MachineBytesPort,
  PvCpuPort,
  PvDescriptorVcpuView,
  PvMmPort,
  PvWalkerPort,
  PvWalkRequest,
} from './ports.ts';
import {
  fillXenGdtPage64,
  GDT_LDT_WINDOW_BYTES,
  LAST_RESERVED_GDT_BYTE,
  LDT_SELECTOR,
  LDT_WINDOW_OFFSET,
} from './xen-gdt.ts';

/** `FIRST_RESERVED_GDT_ENTRY`: a guest GDT has at most this many entries. */
const FIRST_RESERVED_GDT_ENTRY = 7168;
/** The CPU model's LDTR slot in its segment arrays. */
const SEG_LDTR = 6;
/** Present LDT system descriptor (type 2) as the CPU caches its attributes. */
const LDT_ATTR = 0x82;
/** #PF error-code bits. */
const PF_PRESENT = 1;
const PF_WRITE = 2;
const PF_USER = 4;
const PF_RESERVED = 8;
const PF_FETCH = 16;
const VECTOR_GP = 13;
const VECTOR_PF = 14;
const TWO64 = 1n << 64n;
const HALF = 1n << 47n;

/** Options for {@link PvDescriptorTables}. */
export interface PvDescriptorTablesOptions {
  /** The vCPU's CPU model; its walker is wrapped. */
  readonly cpu: PvCpuPort;
  /** The MMU (type references, the GDT frames and LDT registers); null: no guest tables. */
  readonly mm: PvMmPort | null;
  /** The domain. */
  readonly domid: number;
  /** The vCPU. */
  readonly vcpuId: number;
  /** Machine memory (for the accessed bits of a compat guest's descriptors). */
  readonly machine: MachineBytesPort;
  /** Linear address of this vCPU's window (`GDT_VIRT_START(v)`). */
  readonly windowBase: number;
  /** 64 for `xen-3.0-x86_64` (8-byte frame list entries), 32 for the compat ABI. */
  readonly width: 32 | 64;
}

/**
 * The guest descriptor tables of one PV vCPU. Creating it installs its window in front of the
 * CPU's page walker (replacing the window of an earlier instance on the same CPU).
 */
export class PvDescriptorTables implements PvWalkerPort {
  /** The CPU's own page walker, which handles everything outside the window. */
  readonly inner: PvWalkerPort;
  /** Linear address of this vCPU's GDT; its LDT follows at {@link LDT_WINDOW_OFFSET}. */
  readonly windowBase: number;
  /** After {@link PvDescriptorTables.ldtFault}: the vector to deliver. */
  faultVector: number;
  /** After {@link PvDescriptorTables.ldtFault}: the error code to deliver. */
  faultCode: number;
  /** After {@link PvDescriptorTables.readDescriptor}: the descriptor's low dword. */
  descLo: number;
  /** After {@link PvDescriptorTables.readDescriptor}: the descriptor's high dword. */
  descHi: number;
  private readonly cpu: PvCpuPort;
  private readonly mm: PvMmPort | null;
  private readonly domid: number;
  private readonly vcpuId: number;
  private readonly zeroPage: number;
  private readonly reservedPage: number;
  private readonly width: 32 | 64;
  private readonly machine: MachineBytesPort;
  private readonly xenPage: Uint8Array;

  /** Creates the tables of vCPU `vcpuId` and puts its window in front of the CPU's walker. */
  constructor(options: PvDescriptorTablesOptions) {
    const cpu = options.cpu;
    const current = cpu.walker;
    this.inner = current instanceof PvDescriptorTables ? current.inner : current;
    this.windowBase = options.windowBase;
    this.faultVector = -1;
    this.faultCode = -1;
    this.descLo = 0;
    this.descHi = 0;
    this.xenPage = new Uint8Array(4096);
    if (options.width === 64) fillXenGdtPage64(this.xenPage);
    else fillCompatGdtPage(this.xenPage);
    this.cpu = cpu;
    this.mm = options.mm;
    this.domid = options.domid;
    this.vcpuId = options.vcpuId;
    this.width = options.width;
    this.machine = options.machine;
    this.zeroPage = xenPageAddress(options.machine.frames, XEN_PAGE.ZERO);
    this.reservedPage = xenPageAddress(
      options.machine.frames,
      options.width === 64 ? XEN_PAGE.GDT64 : XEN_PAGE.GDT32,
    );
    cpu.walker = this;
  }

  /** The MMU's view of this vCPU's GDT and LDT, or null (no MMU, unknown domain or vCPU). */
  private view(): PvDescriptorVcpuView | null {
    const mm = this.mm;
    if (mm === null || mm.domain === undefined) return null;
    try {
      return mm.domain(this.domid).vcpus[this.vcpuId] ?? null;
    } catch {
      return null; // the MMU does not know the domain: no guest tables
    }
  }

  /**
   * Points GDTR at the window with Xen's limit (`LAST_RESERVED_GDT_BYTE`) and loads LDTR from
   * the LDT registers (`load_LDT`: none when it has no entries, else base = the window's LDT
   * part, limit = entries × 8 − 1). Call at boot and after anything that may have run
   * `MMUEXT_SET_LDT`.
   */
  load(): void {
    const cpu = this.cpu;
    cpu.gdtBase = this.windowBase;
    cpu.gdtLimit = LAST_RESERVED_GDT_BYTE;
    this.loadLdtr();
  }

  /** Reloads LDTR from the MMU's LDT registers (after mmuext_op or a multicall). */
  loadLdtr(): void {
    const cpu = this.cpu;
    const ents = this.view()?.ldtEnts ?? 0;
    if (ents === 0) {
      cpu.segSel[SEG_LDTR] = 0;
      cpu.segBase[SEG_LDTR] = 0;
      cpu.segLimit[SEG_LDTR] = 0;
      cpu.segAttr[SEG_LDTR] = 0;
      return;
    }
    cpu.segSel[SEG_LDTR] = LDT_SELECTOR;
    cpu.segBase[SEG_LDTR] = this.windowBase + LDT_WINDOW_OFFSET;
    cpu.segLimit[SEG_LDTR] = ents * 8 - 1;
    cpu.segAttr[SEG_LDTR] = LDT_ATTR;
  }

  /**
   * Reads the descriptor `selector` names, as the CPU would through the window (the guest's GDT
   * frames, Xen's reserved page, the LDT, which this maps if needed) into {@link descLo} and
   * {@link descHi}; false past the GDT limit or the LDT's entries, or where nothing is mapped
   * (a zero descriptor reads as such).
   */
  readDescriptor(selector: number): boolean {
    const index = selector & 0xfff8;
    let mfn = -1;
    if ((selector & 4) !== 0) {
      mfn = this.mapLdt(index);
    } else {
      if (index + 7 > LAST_RESERVED_GDT_BYTE) return false;
      const page = index >>> 12;
      if (page === FIRST_RESERVED_GDT_PAGE) {
        const v = new DataView(this.xenPage.buffer);
        this.descLo = v.getInt32(index & 0xfff, true);
        this.descHi = v.getInt32((index & 0xfff) + 4, true);
        return true;
      }
      mfn = this.view()?.gdtFrames[page] ?? -1;
      if (mfn < 0) {
        this.descLo = 0;
        this.descHi = 0;
        return true; // Xen's zero page
      }
    }
    if (mfn < 0) return false;
    const ma = mfn * 4096 + (index & 0xfff);
    this.descLo = this.machine.readMa32(ma);
    this.descHi = this.machine.readMa32(ma + 4);
    return true;
  }

  /** The page walk: window addresses here, everything else through the CPU's walker. */
  walk(req: PvWalkRequest): void {
    const off = req.linear - this.windowBase;
    if (off >= 0 && off < GDT_LDT_WINDOW_BYTES) this.walkWindow(req, off);
    else this.inner.walk(req);
  }

  private walkWindow(req: PvWalkRequest, off: number): void {
    let frame = -1;
    let writable = false;
    if (off < LDT_WINDOW_OFFSET) {
      const page = off >>> 12;
      if (page < FIRST_RESERVED_GDT_PAGE) {
        const mfn = this.view()?.gdtFrames[page];
        if (mfn !== undefined && mfn >= 0) {
          frame = mfn * 4096;
          writable = true; // mapped read-write for Xen: the CPU sets accessed bits
        } else frame = this.zeroPage;
      } else if (page === FIRST_RESERVED_GDT_PAGE) frame = this.reservedPage;
    } else {
      const mfn = this.mapLdt(off - LDT_WINDOW_OFFSET);
      if (mfn >= 0) {
        frame = mfn * 4096;
        writable = true;
      }
    }
    // A compat kernel runs in ring 1, a supervisor ring: its own accesses to the window cannot be
    // told from the CPU's descriptor reads, so for it the window is read-only (the accessed bit
    // is then set by windowFault).
    if (this.width === 32) writable = false;
    const write = req.access === 1;
    const fetch = req.access === 2;
    const rw = (write ? PF_WRITE : 0) | (fetch ? PF_FETCH : 0);
    req.frame = Math.max(frame, 0);
    req.userOk = false;
    req.writable = writable;
    req.noExec = true;
    if (frame < 0) req.fault = rw | (req.user ? PF_USER : 0);
    else if (req.user) req.fault = PF_PRESENT | PF_USER | rw;
    else if (fetch || (write && !writable)) req.fault = PF_PRESENT | rw;
    else req.fault = -1;
  }

  /** pv_map_ldt_shadow_page through the MMU: the LDT page's MFN, or -1. */
  private mapLdt(offset: number): number {
    const mm = this.mm;
    const v = this.view();
    if (mm === null || mm.mapLdtPage === undefined || v === null) return -1;
    if (offset >>> 3 >= v.ldtEnts) return -1;
    try {
      return mm.mapLdtPage(this.domid, this.vcpuId, offset);
    } catch {
      return -1;
    }
  }

  /**
   * Xen's #PF handling for the window (`handle_gdt_ldt_mapping_fault`): a supervisor fault in
   * the LDT part whose page could not be mapped goes to the guest as #PF at `ldt_base + offset`
   * (with the hardware error code), or #GP(offset | TI) if that address is not canonical; a
   * fault in the GDT part as #GP(offset). Returns false for any other #PF (deliver it as is);
   * else sets CR2 as the guest should see it, {@link faultVector} and {@link faultCode}
   * ({@link faultVector} -1: nothing to deliver, run the instruction again).
   */
  ldtFault(errorCode: number): boolean {
    const cpu = this.cpu;
    const off = cpu.cr2 - this.windowBase;
    if (!(off >= 0 && off < GDT_LDT_WINDOW_BYTES)) return false;
    if ((errorCode & (PF_USER | PF_RESERVED)) !== 0) return false;
    if (this.width === 32 && (errorCode & (PF_PRESENT | PF_WRITE)) === (PF_PRESENT | PF_WRITE)) {
      // The CPU setting a descriptor's accessed bit through the read-only compat window: set
      // it in the frame and retry. Any other write is the kernel's own: a #PF, as the hole is.
      if (!this.setAccessed(off)) return false;
      this.faultVector = -1;
      return true;
    }
    if (off < LDT_WINDOW_OFFSET) {
      this.faultVector = VECTOR_GP;
      this.faultCode = off & ~7;
      return true;
    }
    const offset = off - LDT_WINDOW_OFFSET;
    const v = this.view();
    const base = v === null ? 0n : (BigInt(v.ldtBaseHi >>> 0) << 32n) | BigInt(v.ldtBaseLo >>> 0);
    let linear = (base + BigInt(offset)) % TWO64;
    if (this.width === 32) linear &= 0xffffffffn;
    if (linear >= HALF && linear < TWO64 - HALF) {
      this.faultVector = VECTOR_GP;
      this.faultCode = (offset & ~3) | 4;
      return true;
    }
    cpu.cr2 = this.width === 32 ? Number(linear) : Number(BigInt.asIntN(64, linear));
    this.faultVector = VECTOR_PF;
    this.faultCode = errorCode;
    return true;
  }

  /**
   * Sets the accessed bit of the code/data descriptor whose high dword holds window offset
   * `off`, in the guest frame behind it; false if that is not a present code/data descriptor
   * of a guest frame with the bit clear.
   */
  private setAccessed(off: number): boolean {
    if ((off & 7) < 4) return false;
    const v = this.view();
    if (v === null) return false;
    let mfn = -1;
    if (off < LDT_WINDOW_OFFSET) {
      const page = off >>> 12;
      if (page < FIRST_RESERVED_GDT_PAGE) mfn = v.gdtFrames[page] ?? -1;
    } else mfn = this.mapLdt(off - LDT_WINDOW_OFFSET);
    if (mfn < 0) return false;
    const ma = mfn * 4096 + (off & 0xfff & ~3);
    const machine = this.machine;
    const hi = machine.readMa32(ma);
    if ((hi & 0x9100) !== 0x9000) return false; // present, S, accessed clear
    machine.writeMa32(ma, hi | 0x100);
    return true;
  }

  /**
   * `HYPERVISOR_set_gdt(frame_list, entries)`: `entries` above FIRST_RESERVED_GDT_ENTRY is
   * -EINVAL, an unreadable list -EFAULT, frames the MMU refuses (not the domain's, writable
   * mappings, a descriptor `check_descriptor` rejects) -EINVAL; on success the old GDT's frames
   * are released and the CPU's cached translations dropped. The list holds 8-byte MFNs for a
   * 64-bit guest, 4-byte ones for a compat guest.
   */
  setGdt(guest: GuestBytes, list: number, entries: number): number {
    const mm = this.mm;
    if (mm === null || mm.setGdt === undefined) return -XEN_ENOSYS;
    const ents = entries >>> 0;
    if (ents > FIRST_RESERVED_GDT_ENTRY) return -XEN_EINVAL;
    const nr = Math.ceil(ents / 512);
    const size = this.width === 64 ? 8 : 4;
    const raw = new Uint8Array(nr * size);
    if (nr > 0 && (list < 0 || !guest.read(list, raw))) return -XEN_EFAULT;
    const view = new DataView(raw.buffer);
    const frames: number[] = [];
    for (let i = 0; i < nr; i++) {
      const hi = size === 8 ? view.getUint32(i * 8 + 4, true) : 0;
      const lo = view.getUint32(i * size, true);
      frames.push(hi === 0 && lo < 0x80000000 ? lo : -1);
    }
    const rc = mm.setGdt(this.domid, this.vcpuId, frames, ents);
    if (rc === 0) this.cpu.flushTlb();
    return rc;
  }

  /**
   * `HYPERVISOR_update_descriptor(maddr, desc)`: a descriptor `check_descriptor` accepts
   * written at 8-byte aligned machine address `maddr` in a frame of the domain that is a
   * descriptor page or may be written; anything else -EINVAL.
   */
  updateDescriptor(maddr: bigint, desc: bigint): number {
    const mm = this.mm;
    if (mm === null || mm.updateDescriptor === undefined) return -XEN_ENOSYS;
    const ma = BigInt.asUintN(64, maddr);
    if ((ma & 7n) !== 0n || ma >= 1n << 52n) return -XEN_EINVAL;
    const d = BigInt.asUintN(64, desc);
    const lo = Number(d & 0xffffffffn) | 0;
    const hi = Number(d >> 32n) | 0;
    return mm.updateDescriptor(this.domid, Number(ma), lo, hi);
  }
}
