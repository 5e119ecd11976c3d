/**
 * Frame-number rewriting of a PV guest's pages for per-domain save images, as libxc's
 * `x86_pv_normalise_page` / `x86_pv_localise_page` do: page-table entries, grant-table entries,
 * start_info's ring frames and the guest's P2M list hold machine frame numbers, which the image
 * turns into PFNs on save and into the new domain's machine frames on restore. Xen's own slots
 * (the M2P mapping in L4 slots 256–271, the compat area in a PAE "Xen L2") are cleared on save
 * and filled from the restoring host's entries.
 * @see xen/tools/libs/guest/xg_sr_common_x86_pv.c, xg_sr_save_x86_pv.c (normalise_pagetable)
 * @module
 */
import { PGT } from '@typevisor/mmu';

/** `_PAGE_PRESENT`. */
const PRESENT = 1;
/** First and last Xen slot of a 64-bit L4. */
const L4_FIRST_XEN = 256;
const L4_LAST_XEN = 271;
/** First Xen slot of a PAE "Xen L2". */
const L2_FIRST_XEN = 428;
/** GTF_type_mask and GTF_permit_access in a v1 grant entry's flags. */
const GTF_TYPE_MASK = 3;
const GTF_permit_access = 1;

/**
 * Rewrites the frame of every present entry of a page-table `page` (a copy) of page type `type`
 * through `map` (which returns -1 for a frame it does not know). Xen's slots are set from
 * `xenSlots` (lo/hi pairs; all zero when saving). Returns -1, or the index of the first entry
 * whose frame `map` does not know (the page is then partly rewritten and must be dropped).
 */
export function rewritePageTable(
  page: Uint8Array,
  type: number,
  is32: boolean,
  map: (frame: number) => number,
  xenL4: Int32Array | null,
  xenL2: Int32Array | null,
): number {
  const level = type & 0xff;
  if (level < PGT.PGT_l1_page_table || level > PGT.PGT_l4_page_table) return -1;
  const words = new Int32Array(page.buffer, page.byteOffset, 1024);
  const isXenL2 = is32 && (type & PGT.PGT_pae_xen_l2) !== 0;
  const last = is32 && level === PGT.PGT_l3_page_table ? 3 : 511;
  for (let i = 0; i <= last; i++) {
    if (!is32 && level === PGT.PGT_l4_page_table && i >= L4_FIRST_XEN && i <= L4_LAST_XEN) {
      const k = (i - L4_FIRST_XEN) * 2;
      words[i * 2] = xenL4 === null ? 0 : (xenL4[k] ?? 0);
      words[i * 2 + 1] = xenL4 === null ? 0 : (xenL4[k + 1] ?? 0);
      continue;
    }
    if (isXenL2 && level === PGT.PGT_l2_page_table && i >= L2_FIRST_XEN) {
      const k = (i - L2_FIRST_XEN) * 2;
      words[i * 2] = xenL2 === null ? 0 : (xenL2[k] ?? 0);
      words[i * 2 + 1] = xenL2 === null ? 0 : (xenL2[k + 1] ?? 0);
      continue;
    }
    const lo = words[i * 2] ?? 0;
    if ((lo & PRESENT) === 0) continue;
    const hi = words[i * 2 + 1] ?? 0;
    const frame = ((lo >>> 12) | ((hi & 0xfffff) << 20)) >>> 0;
    const to = map(frame);
    if (to < 0) return i;
    words[i * 2] = (to << 12) | (lo & 0xfff);
    words[i * 2 + 1] = (hi & ~0xfffff) | (to >>> 20);
  }
  return -1;
}

/**
 * Rewrites the frame of every `GTF_permit_access` entry of a v1 grant-table frame (a copy)
 * through `map`; entries whose frame `map` does not know are left alone (the guest granted a
 * frame it does not own: a foreign domain mapping it would fail on the source too).
 */
export function rewriteGrantFrame(page: Uint8Array, map: (frame: number) => number): void {
  const dv = new DataView(page.buffer, page.byteOffset, 4096);
  for (let off = 0; off < 4096; off += 8) {
    if ((dv.getUint16(off, true) & GTF_TYPE_MASK) !== GTF_permit_access) continue;
    const to = map(dv.getUint32(off + 4, true));
    if (to >= 0) dv.setUint32(off + 4, to, true);
  }
}

/** The `start_info` fields holding frames: store_mfn and console.domU.mfn (offsets by ABI). */
function startInfoFrameOffsets(is32: boolean): readonly [number, number] {
  return is32 ? [44, 52] : [56, 72];
}

/**
 * Rewrites start_info's store and console frames (a copy of the page) through `map`, if the page
 * still holds start_info (it starts with the `xen-3.0-` magic; a guest may reuse the page).
 */
export function rewriteStartInfo(
  page: Uint8Array,
  is32: boolean,
  map: (frame: number) => number,
): void {
  const magic = 'xen-3.0-';
  for (let i = 0; i < magic.length; i++) if (page[i] !== magic.charCodeAt(i)) return;
  const dv = new DataView(page.buffer, page.byteOffset, 4096);
  for (const off of startInfoFrameOffsets(is32)) {
    const to = map(dv.getUint32(off, true));
    if (to >= 0) dv.setUint32(off, to, true);
  }
}

/**
 * Rewrites the words of the guest's P2M list (the builder's `phys2mach` segment) that fall in
 * `page` (a copy of PFN `pageIndex` of the segment, 4- or 8-byte words): entry `n` becomes
 * `value(n)` for every `n` below `nrPfns`.
 */
export function rewriteP2mList(
  page: Uint8Array,
  pageIndex: number,
  is32: boolean,
  nrPfns: number,
  value: (pfn: number) => number,
): void {
  const dv = new DataView(page.buffer, page.byteOffset, 4096);
  const per = is32 ? 1024 : 512;
  for (let i = 0; i < per; i++) {
    const n = pageIndex * per + i;
    if (n >= nrPfns) break;
    const v = value(n);
    if (is32) dv.setUint32(i * 4, v >>> 0, true);
    else {
      dv.setUint32(i * 8, v >>> 0, true);
      dv.setUint32(i * 8 + 4, v < 0 ? 0xffffffff : 0, true);
    }
  }
}
