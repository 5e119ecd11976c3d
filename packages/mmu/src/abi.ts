/**
 * Xen ABI constants used by the MMU: errno values, `mmu_update` commands, `mmuext_op` commands,
 * `update_va_mapping` flags, reserved domain ids and the invalid-frame markers. Names keep Xen's
 * spelling.
 * @module
 */

/**
 * Xen errno values. Hypercalls return them negated (`-XEN_ERRNO.EINVAL`).
 * @see xen/include/public/errno.h
 */
export const XEN_ERRNO: {
  readonly EPERM: 1;
  readonly ENOENT: 2;
  readonly ESRCH: 3;
  readonly ENOMEM: 12;
  readonly EACCES: 13;
  readonly EFAULT: 14;
  readonly EBUSY: 16;
  readonly EEXIST: 17;
  readonly EINVAL: 22;
  readonly ERANGE: 34;
  readonly ENOSYS: 38;
  readonly EOPNOTSUPP: 95;
} = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ERANGE: 34,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
} as const;

/**
 * `mmu_update` commands, taken from the low 3 bits of `ptr`.
 * @see xen/include/public/xen.h (MMU_NORMAL_PT_UPDATE …)
 */
export const MMU_CMD: {
  readonly MMU_NORMAL_PT_UPDATE: 0;
  readonly MMU_MACHPHYS_UPDATE: 1;
  readonly MMU_PT_UPDATE_PRESERVE_AD: 2;
  readonly MMU_PT_UPDATE_NO_TRANSLATE: 3;
} = {
  MMU_NORMAL_PT_UPDATE: 0,
  MMU_MACHPHYS_UPDATE: 1,
  MMU_PT_UPDATE_PRESERVE_AD: 2,
  MMU_PT_UPDATE_NO_TRANSLATE: 3,
} as const;

/**
 * `mmuext_op` commands.
 * @see xen/include/public/xen.h (MMUEXT_PIN_L1_TABLE …)
 */
export const MMUEXT: {
  readonly MMUEXT_PIN_L1_TABLE: 0;
  readonly MMUEXT_PIN_L2_TABLE: 1;
  readonly MMUEXT_PIN_L3_TABLE: 2;
  readonly MMUEXT_PIN_L4_TABLE: 3;
  readonly MMUEXT_UNPIN_TABLE: 4;
  readonly MMUEXT_NEW_BASEPTR: 5;
  readonly MMUEXT_TLB_FLUSH_LOCAL: 6;
  readonly MMUEXT_INVLPG_LOCAL: 7;
  readonly MMUEXT_TLB_FLUSH_MULTI: 8;
  readonly MMUEXT_INVLPG_MULTI: 9;
  readonly MMUEXT_TLB_FLUSH_ALL: 10;
  readonly MMUEXT_INVLPG_ALL: 11;
  readonly MMUEXT_FLUSH_CACHE: 12;
  readonly MMUEXT_SET_LDT: 13;
  readonly MMUEXT_NEW_USER_BASEPTR: 15;
  readonly MMUEXT_CLEAR_PAGE: 16;
  readonly MMUEXT_COPY_PAGE: 17;
  readonly MMUEXT_FLUSH_CACHE_GLOBAL: 18;
  readonly MMUEXT_MARK_SUPER: 19;
  readonly MMUEXT_UNMARK_SUPER: 20;
} = {
  MMUEXT_PIN_L1_TABLE: 0,
  MMUEXT_PIN_L2_TABLE: 1,
  MMUEXT_PIN_L3_TABLE: 2,
  MMUEXT_PIN_L4_TABLE: 3,
  MMUEXT_UNPIN_TABLE: 4,
  MMUEXT_NEW_BASEPTR: 5,
  MMUEXT_TLB_FLUSH_LOCAL: 6,
  MMUEXT_INVLPG_LOCAL: 7,
  MMUEXT_TLB_FLUSH_MULTI: 8,
  MMUEXT_INVLPG_MULTI: 9,
  MMUEXT_TLB_FLUSH_ALL: 10,
  MMUEXT_INVLPG_ALL: 11,
  MMUEXT_FLUSH_CACHE: 12,
  MMUEXT_SET_LDT: 13,
  MMUEXT_NEW_USER_BASEPTR: 15,
  MMUEXT_CLEAR_PAGE: 16,
  MMUEXT_COPY_PAGE: 17,
  MMUEXT_FLUSH_CACHE_GLOBAL: 18,
  MMUEXT_MARK_SUPER: 19,
  MMUEXT_UNMARK_SUPER: 20,
} as const;

/**
 * `update_va_mapping` flags (ORable): flush kind in bits 0–1, scope in bit 2.
 * @see xen/include/public/xen.h (UVMF_*)
 */
export const UVMF: {
  readonly UVMF_NONE: 0;
  readonly UVMF_TLB_FLUSH: 1;
  readonly UVMF_INVLPG: 2;
  readonly UVMF_FLUSHTYPE_MASK: 3;
  readonly UVMF_MULTI: 0;
  readonly UVMF_LOCAL: 0;
  readonly UVMF_ALL: 4;
} = {
  UVMF_NONE: 0,
  UVMF_TLB_FLUSH: 1,
  UVMF_INVLPG: 2,
  UVMF_FLUSHTYPE_MASK: 3,
  UVMF_MULTI: 0,
  UVMF_LOCAL: 0,
  UVMF_ALL: 4,
} as const;

/**
 * Reserved domain ids.
 * @see xen/include/public/xen.h (DOMID_SELF …)
 */
export const DOMID: {
  readonly DOMID_SELF: 0x7ff0;
  readonly DOMID_IO: 0x7ff1;
  readonly DOMID_XEN: 0x7ff2;
  readonly DOMID_INVALID: 0x7ff4;
} = {
  DOMID_SELF: 0x7ff0,
  DOMID_IO: 0x7ff1,
  DOMID_XEN: 0x7ff2,
  DOMID_INVALID: 0x7ff4,
} as const;

/**
 * Marker for "no machine frame", as stored in a P2M slot of an unpopulated PFN. Xen's value is
 * all-ones (`~0UL`); frames are held as unsigned 32-bit numbers here, so all-ones is
 * `0xffffffff`, which a guest-visible 64-bit P2M entry extends to all-ones.
 * @see xen/include/xen/mm-frame.h (INVALID_MFN)
 */
export const INVALID_MFN: 0xffffffff = 0xffffffff;

/**
 * Marker for "no pseudo-physical frame", as stored in an M2P slot of a frame no domain has
 * claimed (all-ones, read by guests as all-ones).
 * @see xen/include/public/arch-x86/xen-mca.h, xen/arch/x86/include/asm/mm.h (INVALID_M2P_ENTRY)
 */
export const INVALID_P2M_ENTRY: 0xffffffff = 0xffffffff;

/**
 * First guest-inaccessible L4 slot of a 64-bit PV guest (Xen's area is slots 256–271, VA
 * 0xFFFF800000000000–0xFFFF87FFFFFFFFFF).
 * @see xen/arch/x86/include/asm/config.h (ROOT_PAGETABLE_FIRST_XEN_SLOT)
 */
export const ROOT_PAGETABLE_FIRST_XEN_SLOT: 256 = 256;

/**
 * Last guest-inaccessible L4 slot of a 64-bit PV guest.
 * @see xen/arch/x86/include/asm/config.h (ROOT_PAGETABLE_LAST_XEN_SLOT)
 */
export const ROOT_PAGETABLE_LAST_XEN_SLOT: 271 = 271;

/**
 * Start of the hypervisor hole for 32-bit PAE PV guests on 64-bit Xen (compat).
 * @see xen/include/public/arch-x86/xen-x86_32.h (HYPERVISOR_VIRT_START), xen/arch/x86/include/asm/config.h
 */
export const HYPERVISOR_COMPAT_VIRT_START: 0xf5800000 = 0xf5800000;

/**
 * First L2 slot owned by Xen in the L2 table referenced by L3 slot 3 of a 32-bit PAE PV guest
 * (`(0xF5800000 >> 21) & 511`).
 */
export const COMPAT_L2_FIRST_XEN_SLOT: 428 = 428;

/**
 * `vm_assist` commands and types.
 * @see xen/include/public/xen.h (VMASST_CMD_enable, VMASST_TYPE_*)
 */
export const VMASST: {
  readonly VMASST_CMD_enable: 0;
  readonly VMASST_CMD_disable: 1;
  readonly VMASST_TYPE_4gb_segments: 0;
  readonly VMASST_TYPE_4gb_segments_notify: 1;
  readonly VMASST_TYPE_writable_pagetables: 2;
  readonly VMASST_TYPE_pae_extended_cr3: 3;
  readonly VMASST_TYPE_architectural_iopl: 4;
  readonly VMASST_TYPE_runstate_update_flag: 5;
  readonly VMASST_TYPE_m2p_strict: 32;
} = {
  VMASST_CMD_enable: 0,
  VMASST_CMD_disable: 1,
  VMASST_TYPE_4gb_segments: 0,
  VMASST_TYPE_4gb_segments_notify: 1,
  VMASST_TYPE_writable_pagetables: 2,
  VMASST_TYPE_pae_extended_cr3: 3,
  VMASST_TYPE_architectural_iopl: 4,
  VMASST_TYPE_runstate_update_flag: 5,
  VMASST_TYPE_m2p_strict: 32,
} as const;
