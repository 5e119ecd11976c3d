/**
 * Where a PV vCPU's descriptor tables live and what Xen puts in them: the per-vCPU GDT/LDT
 * window in Xen's per-domain area (64-bit: `GDT_VIRT_START(v)` in L4 slot 260, outside anything a
 * guest can map), and the content of Xen's reserved GDT page for 64-bit guests.
 * @see xen/arch/x86/include/asm/config.h (PERDOMAIN_VIRT_START, GDT_LDT_VCPU_VA_SHIFT,
 *   GDT_VIRT_START, LDT_VIRT_START), xen/arch/x86/include/asm/desc.h (LAST_RESERVED_GDT_BYTE),
 *   xen/arch/x86/x86_64/entry.S / boot/x86_64.S (gdt_table)
 */

/**
 * `GDT_VIRT_START` of vCPU 0 of a 64-bit PV guest: `PERDOMAIN_VIRT_START` = 0xFFFF820000000000
 * (L4 slot 260, Xen's), as the CPU model's canonical signed linear address.
 */
export const GDT_WINDOW_64: number = -0x7e0000000000;
/** Bytes of window per vCPU (`1 << GDT_LDT_VCPU_VA_SHIFT`): 64 KiB of GDT, then 64 KiB of LDT. */
export const GDT_LDT_WINDOW_BYTES = 0x20000;
/** Offset of the LDT in a vCPU's window (`LDT_VIRT_START(v) - GDT_VIRT_START(v)`). */
export const LDT_WINDOW_OFFSET = 0x10000;
/**
 * `LAST_RESERVED_GDT_BYTE`: the GDTR limit Xen loads for every PV vCPU whatever `set_gdt` said
 * (entries past the guest's count read from its frames or from Xen's zero page).
 */
export const LAST_RESERVED_GDT_BYTE = 0xefff;
/** `LDT_SELECTOR` for 64-bit Xen (the LDT descriptor's GDT slot; what `sldt` would return). */
export const LDT_SELECTOR = 0xe050;

/**
 * Xen's 64-bit `gdt_table` entries by selector (low dword, high dword); the per-CPU entry
 * (0xe060) has limit = the physical CPU (0 here). The TSS and LDT descriptors (0xe040, 0xe050)
 * are left out: they are DPL 0 system descriptors no guest can use, and the CPU model's TR/LDTR
 * caches are set directly.
 */
const XEN_GDT_64: readonly (readonly [number, number, number])[] = [
  [0xe008, 0x0000ffff, 0x00af9b00], // ring-0 code, 64-bit
  [0xe010, 0x0000ffff, 0x00cf9300], // ring-0 data
  [0xe020, 0x0000ffff, 0x00cffb00], // FLAT_RING3_CS32: ring-3 code, compatibility mode
  [0xe028, 0x0000ffff, 0x00cff300], // FLAT_RING3_DS32 / FLAT_KERNEL_SS: ring-3 data
  [0xe030, 0x0000ffff, 0x00affb00], // FLAT_RING3_CS64 / FLAT_KERNEL_CS: ring-3 code, 64-bit
  [0xe038, 0x0000ffff, 0x00cf9b00], // ring-0 code, compatibility mode
  [0xe060, 0x00000000, 0x00009100], // per-CPU entry (limit = CPU number)
];

/**
 * Writes Xen's reserved GDT page for a 64-bit PV guest (GDT page 14, selectors 0xe000–0xefff)
 * into `page` (4096 bytes). Every present descriptor has its accessed bit set, so loading one
 * never writes the page.
 */
export function fillXenGdtPage64(page: Uint8Array): void {
  page.fill(0, 0, 4096);
  const view = new DataView(page.buffer, page.byteOffset, 4096);
  for (const [sel, lo, hi] of XEN_GDT_64) {
    const off = sel & 0xff8;
    view.setUint32(off, lo, true);
    view.setUint32(off + 4, hi, true);
  }
}
