/**
 * Xen's read-only machine-to-phys tables as PV guests see them: 8-byte entries at
 * `RO_MPT_VIRT_START` (0xFFFF800000000000, L4 slot 256) for 64-bit guests, and 4-byte entries
 * at `HYPERVISOR_COMPAT_VIRT_START` (0xF5800000, slots 428+ of the PAE Xen L2) for 32-bit
 * guests, both built in frames owned by `DOMID_XEN` and installed through
 * {@link PvMm.xenL4Entries} / {@link PvMm.xenL2Entries}, so every table validated afterwards
 * carries them.
 * @see xen/include/public/arch-x86/xen-x86_64.h (RO_MPT_VIRT_START),
 *   xen/include/public/arch-x86/xen-x86_32.h (MACH2PHYS_VIRT_START), xen/arch/x86/x86_64/mm.c
 * @module
 */
import { DOMID, INVALID_P2M_ENTRY } from '../abi.ts';
import { MmuError } from '../errors.ts';
import type { M2pViewPort } from './ports.ts';
import type { PvMm } from './pv-mm.ts';

/** `_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED`: readable by guest kernels and users, never writable. */
const RO_USER = 0x25;
/** The compat M2P spans 16 MiB (0xF5800000–0xF6800000): 4 Mi entries, so MFNs below 4 Mi. */
const COMPAT_MAX_FRAMES = 4 * 1024 * 1024;

/** The guest-visible M2P tables of a machine, kept in step with its frame table. */
export class M2pMapping implements M2pViewPort {
  /** The PV paging whose Xen slots carry the mappings. */
  readonly mm: PvMm;
  /** Frames holding the 64-bit table (512 entries each), in MFN order. */
  readonly widePages: Int32Array;
  /** Frames holding the compat table (1024 entries each), in MFN order. */
  readonly compatPages: Int32Array;
  private readonly tables: number[];

  /**
   * Builds both tables for every frame of `mm.machine` (the compat one for MFNs below 4 Mi),
   * installs them in `mm`'s Xen slots, fills them from the frame table and registers for
   * `MMU_MACHPHYS_UPDATE`. Throws `OUT_OF_MEMORY` when the machine has no frames left for them.
   */
  constructor(mm: PvMm) {
    this.mm = mm;
    this.tables = [];
    const frames = mm.machine.frames.frames;
    // 64-bit: L3 → L2s → L1s → pages of 8-byte entries.
    const widePages = Math.ceil(frames / 512);
    this.widePages = this.allocMany(widePages);
    const wideL1 = this.allocMany(Math.ceil(widePages / 512));
    const wideL2 = this.allocMany(Math.ceil(wideL1.length / 512));
    if (wideL2.length > 512)
      throw new MmuError('INVALID_ARGUMENT', 'machine too large for one M2P L3');
    const l3 = this.allocMany(1)[0];
    const mem = mm.machine.memory;
    const link = (table: number, slot: number, target: number) => {
      mem.write32(table, slot * 8, (target << 12) | RO_USER | 0);
      mem.write32(table, slot * 8 + 4, target >>> 20);
    };
    for (let i = 0; i < widePages; i++) link(wideL1[i >>> 9], i & 511, this.widePages[i]);
    for (let i = 0; i < wideL1.length; i++) link(wideL2[i >>> 9], i & 511, wideL1[i]);
    for (let i = 0; i < wideL2.length; i++) link(l3, i, wideL2[i]);
    mm.xenL4Entries[0] = (l3 << 12) | RO_USER | 0;
    mm.xenL4Entries[1] = l3 >>> 20;
    // Compat: L1s in the PAE Xen L2's slots 428+ → pages of 4-byte entries.
    const compatPages = Math.ceil(Math.min(frames, COMPAT_MAX_FRAMES) / 1024);
    this.compatPages = this.allocMany(compatPages);
    const compatL1 = this.allocMany(Math.ceil(compatPages / 512));
    for (let i = 0; i < compatPages; i++) link(compatL1[i >>> 9], i & 511, this.compatPages[i]);
    compatL1.forEach((t, i) => {
      mm.xenL2Entries[i * 2] = (t << 12) | RO_USER | 0; // slot COMPAT_L2_FIRST_XEN_SLOT + i
      mm.xenL2Entries[i * 2 + 1] = t >>> 20;
    });
    this.refresh();
    mm.attachM2pView(this);
  }

  private allocMany(n: number): Int32Array {
    const out = new Int32Array(n);
    const ft = this.mm.machine.frames;
    for (let i = 0; i < n; i++) {
      const mfn = ft.allocate(DOMID.DOMID_XEN);
      if (mfn < 0) throw new MmuError('OUT_OF_MEMORY', 'no free frame for the M2P tables');
      this.mm.machine.memory.clearFrame(mfn);
      out[i] = mfn;
      this.tables.push(mfn);
    }
    return out;
  }

  /** {@inheritDoc M2pViewPort.update} */
  update(mfn: number): void {
    const ft = this.mm.machine.frames;
    if (!Number.isInteger(mfn) || mfn < 0 || mfn >= ft.frames) return;
    const pfn = ft.m2p[mfn];
    const invalid = pfn === INVALID_P2M_ENTRY;
    const mem = this.mm.machine.memory;
    const wide = this.widePages[mfn >>> 9];
    mem.write32(wide, (mfn & 511) * 8, pfn | 0);
    mem.write32(wide, (mfn & 511) * 8 + 4, invalid ? -1 : 0);
    if (mfn < this.compatPages.length * 1024) {
      mem.write32(this.compatPages[mfn >>> 10], (mfn & 1023) * 4, pfn | 0);
    }
  }

  /** Rewrites every entry from the frame table (after populating or ballooning). */
  refresh(): void {
    const n = this.mm.machine.frames.frames;
    for (let mfn = 0; mfn < n; mfn++) this.update(mfn);
  }

  /** Every frame the mappings use (tables and entry pages), owned by `DOMID_XEN`. */
  frames(): number[] {
    return this.tables.slice();
  }
}
