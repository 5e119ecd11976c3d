/**
 * Architectural paging constants: page-table entry bits, #PF error-code bits, paging modes and
 * the access kinds a translation is asked for.
 * @see Intel SDM Vol. 3A §4.3 (32-bit paging), §4.4 (PAE), §4.5 (4-level), §4.7 (#PF error code)
 * @module
 */

/**
 * Low-word page-table entry bits (Xen's `_PAGE_*` names). `_PAGE_NX` is bit 63, i.e. bit 31 of
 * the high word (`_PAGE_NX_HI`). `_PAGE_PSE` and the large-page `_PAGE_PAT` share bit 7.
 * @see xen/arch/x86/include/asm/x86_64/page.h, Intel SDM Vol. 3A Table 4-19
 */
export const PTE: {
  readonly _PAGE_PRESENT: 0x1;
  readonly _PAGE_RW: 0x2;
  readonly _PAGE_USER: 0x4;
  readonly _PAGE_PWT: 0x8;
  readonly _PAGE_PCD: 0x10;
  readonly _PAGE_ACCESSED: 0x20;
  readonly _PAGE_DIRTY: 0x40;
  readonly _PAGE_PSE: 0x80;
  readonly _PAGE_PAT: 0x80;
  readonly _PAGE_GLOBAL: 0x100;
  readonly _PAGE_AVAIL: 0xe00;
  readonly _PAGE_NX_HI: -0x80000000;
} = {
  _PAGE_PRESENT: 0x1,
  _PAGE_RW: 0x2,
  _PAGE_USER: 0x4,
  _PAGE_PWT: 0x8,
  _PAGE_PCD: 0x10,
  _PAGE_ACCESSED: 0x20,
  _PAGE_DIRTY: 0x40,
  _PAGE_PSE: 0x80,
  _PAGE_PAT: 0x80,
  _PAGE_GLOBAL: 0x100,
  _PAGE_AVAIL: 0xe00,
  _PAGE_NX_HI: -0x80000000,
} as const;

/**
 * #PF error-code bits (Xen's `PFEC_*` names). The access kinds passed to translation use the
 * same bit positions ({@link ACCESS}), so an error code is mostly the access OR'd with P/RSVD.
 * @see Intel SDM Vol. 3A §4.7, xen/arch/x86/include/asm/processor.h
 */
export const PFEC: {
  readonly PFEC_page_present: 0x1;
  readonly PFEC_write_access: 0x2;
  readonly PFEC_user_mode: 0x4;
  readonly PFEC_reserved_bit: 0x8;
  readonly PFEC_insn_fetch: 0x10;
} = {
  PFEC_page_present: 0x1,
  PFEC_write_access: 0x2,
  PFEC_user_mode: 0x4,
  PFEC_reserved_bit: 0x8,
  PFEC_insn_fetch: 0x10,
} as const;

/**
 * Access kinds for a translation, as bit flags in #PF error-code positions: OR `USER` into
 * `READ`, `WRITE` or `FETCH` for a CPL-3 access.
 */
export const ACCESS: {
  readonly READ: 0;
  readonly WRITE: 0x2;
  readonly USER: 0x4;
  readonly FETCH: 0x10;
} = { READ: 0, WRITE: 0x2, USER: 0x4, FETCH: 0x10 } as const;

/** Paging modes: off (linear = physical), 32-bit 2-level, PAE 3-level, and 4-level long mode. */
export const PAGING_MODE: {
  readonly NONE: 0;
  readonly TWO_LEVEL: 1;
  readonly PAE: 2;
  readonly LONG: 3;
} = { NONE: 0, TWO_LEVEL: 1, PAE: 2, LONG: 3 } as const;

/** A value of {@link PAGING_MODE}. */
export type PagingMode = (typeof PAGING_MODE)[keyof typeof PAGING_MODE];

/** Effective rights of a translation, AND-ed (W, U) or OR-ed (NX) over every level. */
export const RIGHTS: {
  readonly WRITABLE: 1;
  readonly USER: 2;
  readonly NO_EXEC: 4;
} = { WRITABLE: 1, USER: 2, NO_EXEC: 4 } as const;
