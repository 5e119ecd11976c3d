/**
 * Xen's reserved GDT entries for 32-bit PAE PV guests: the four flat compat segments a guest may
 * load by selector (FLAT_RING1_CS/DS, FLAT_RING3_CS32/DS32) live in the first reserved GDT page
 * (page 14, selectors 0xe000 and up), above the guest's own 14 pages of GDT.
 * @see xen/arch/x86/boot/x86_64.S (compat_gdt), xen/include/public/arch-x86/xen.h
 *   (FIRST_RESERVED_GDT_PAGE)
 */

/** FIRST_RESERVED_GDT_PAGE: the GDT page holding Xen's entries (guests own pages 0–13). */
export const FIRST_RESERVED_GDT_PAGE = 14;
/** The GDT limit that reaches the last of Xen's compat entries (0xe033 | 7). */
export const COMPAT_GDT_LIMIT = 0xe037;
/** Pages a compat GDT mapping spans: the guest's 14 and Xen's first reserved one. */
export const COMPAT_GDT_PAGES: number = FIRST_RESERVED_GDT_PAGE + 1;

/** Xen's compat descriptors by selector (low dword, high dword). */
const COMPAT_DESCRIPTORS: readonly (readonly [number, number, number])[] = [
  [0xe018, 0x0000ffff, 0x00cfbb00], // FLAT_RING1_CS: ring-1 code, 4 GiB
  [0xe020, 0x0000ffff, 0x00cfb300], // FLAT_RING1_DS: ring-1 data, 4 GiB
  [0xe028, 0x0000ffff, 0x00cffb00], // FLAT_RING3_CS32: ring-3 code, 4 GiB
  [0xe030, 0x0000ffff, 0x00cff300], // FLAT_RING3_DS32: ring-3 data, 4 GiB
];

/**
 * Writes Xen's compat descriptors into `page` (4096 bytes), the content of GDT page
 * {@link FIRST_RESERVED_GDT_PAGE}; everything else is zero (not-present descriptors). The
 * descriptors have their accessed bits set, so loading them never writes the page.
 */
export function fillCompatGdtPage(page: Uint8Array): void {
  page.fill(0, 0, 4096);
  const view = new DataView(page.buffer, page.byteOffset, 4096);
  for (const [sel, lo, hi] of COMPAT_DESCRIPTORS) {
    const off = (sel & 0xfff8) - FIRST_RESERVED_GDT_PAGE * 4096;
    view.setUint32(off, lo, true);
    view.setUint32(off + 4, hi, true);
  }
}
