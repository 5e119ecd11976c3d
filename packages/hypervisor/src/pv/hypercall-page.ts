/**
 * The PV hypercall pages (64-bit and 32-bit) Xen writes into the page a kernel names with
 * XEN_ELFNOTE_HYPERCALL_PAGE.
 * @see xen/arch/x86/pv/hypercall.c (pv_ring3_init_hypercall_page, pv_ring1_init_hypercall_page)
 */

/** `__HYPERVISOR_iret`, whose stub pushes RAX and never returns. */
const HYPERVISOR_IRET = 23;

/**
 * Fills `page` (4096 bytes) as Xen does for a 64-bit PV guest: 0xCC everywhere, then for each
 * hypercall `i` at `i * 32`: `push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret`
 * (the iret entry: `push %rcx; push %r11; push %rax; mov $23,%eax; syscall`).
 */
export function fillHypercallPage64(page: Uint8Array): void {
  page.fill(0xcc, 0, 4096);
  for (let i = 0; i < 128; i++) {
    const o = i * 32;
    const iret = i === HYPERVISOR_IRET;
    const stub = iret
      ? [0x51, 0x41, 0x53, 0x50, 0xb8, i, 0, 0, 0, 0x0f, 0x05]
      : [0x51, 0x41, 0x53, 0xb8, i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3];
    page.set(stub, o);
  }
}

/**
 * Fills `page` (4096 bytes) as Xen does for a 32-bit PAE PV guest: 0xCC everywhere, then for each
 * hypercall `i` at `i * 32`: `mov $i,%eax; int $0x82; ret` (the iret entry: `push %eax;
 * mov $23,%eax; int $0x82`, which never returns).
 * @see xen/arch/x86/pv/hypercall.c (pv_ring1_init_hypercall_page)
 */
export function fillHypercallPage32(page: Uint8Array): void {
  page.fill(0xcc, 0, 4096);
  for (let i = 0; i < 128; i++) {
    const o = i * 32;
    const stub =
      i === HYPERVISOR_IRET
        ? [0x50, 0xb8, i, 0, 0, 0, 0xcd, 0x82]
        : [0xb8, i, 0, 0, 0, 0xcd, 0x82, 0xc3];
    page.set(stub, o);
  }
}
