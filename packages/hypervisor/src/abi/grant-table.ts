/**
 * Grant-table hypercall sub-ops, v1 entry flags, status codes and argument layouts.
 * @see xen/include/public/grant_table.h
 */
import type { StructLayout } from './event-channel.ts';

/** `HYPERVISOR_grant_table_op` command `map_grant_ref`. @see xen/include/public/grant_table.h */
export const GNTTABOP_map_grant_ref = 0;
/** `HYPERVISOR_grant_table_op` command `unmap_grant_ref`. @see xen/include/public/grant_table.h */
export const GNTTABOP_unmap_grant_ref = 1;
/** `HYPERVISOR_grant_table_op` command `setup_table`. @see xen/include/public/grant_table.h */
export const GNTTABOP_setup_table = 2;
/** `HYPERVISOR_grant_table_op` command `dump_table`. @see xen/include/public/grant_table.h */
export const GNTTABOP_dump_table = 3;
/** `HYPERVISOR_grant_table_op` command `transfer`. @see xen/include/public/grant_table.h */
export const GNTTABOP_transfer = 4;
/** `HYPERVISOR_grant_table_op` command `copy`. @see xen/include/public/grant_table.h */
export const GNTTABOP_copy = 5;
/** `HYPERVISOR_grant_table_op` command `query_size`. @see xen/include/public/grant_table.h */
export const GNTTABOP_query_size = 6;
/** `HYPERVISOR_grant_table_op` command `unmap_and_replace`. @see xen/include/public/grant_table.h */
export const GNTTABOP_unmap_and_replace = 7;
/** `HYPERVISOR_grant_table_op` command `set_version`. @see xen/include/public/grant_table.h */
export const GNTTABOP_set_version = 8;
/** `HYPERVISOR_grant_table_op` command `get_status_frames`. @see xen/include/public/grant_table.h */
export const GNTTABOP_get_status_frames = 9;
/** `HYPERVISOR_grant_table_op` command `get_version`. @see xen/include/public/grant_table.h */
export const GNTTABOP_get_version = 10;
/** `HYPERVISOR_grant_table_op` command `swap_grant_ref`. @see xen/include/public/grant_table.h */
export const GNTTABOP_swap_grant_ref = 11;
/** `HYPERVISOR_grant_table_op` command `cache_flush`. @see xen/include/public/grant_table.h */
export const GNTTABOP_cache_flush = 12;
/** Grant entry type: unused. @see xen/include/public/grant_table.h */
export const GTF_invalid = 0;
/** Grant entry type: `domid` may map or copy `frame`. @see xen/include/public/grant_table.h */
export const GTF_permit_access = 1;
/** Grant entry type: `domid` may transfer a page to the granter. @see xen/include/public/grant_table.h */
export const GTF_accept_transfer = 2;
/** Grant entry type (v2 only): transitive grant. @see xen/include/public/grant_table.h */
export const GTF_transitive = 3;
/** Mask of the grant entry type bits. @see xen/include/public/grant_table.h */
export const GTF_type_mask = 3;
/** Sub-flag: the grantee may only read the frame. @see xen/include/public/grant_table.h */
export const GTF_readonly = 4;
/** Xen-set sub-flag: the frame is mapped or being copied for reading. @see xen/include/public/grant_table.h */
export const GTF_reading = 8;
/** Xen-set sub-flag: the frame is mapped or being copied for writing. @see xen/include/public/grant_table.h */
export const GTF_writing = 16;
/** Sub-flag: map with write-through caching. @see xen/include/public/grant_table.h */
export const GTF_PWT = 32;
/** Sub-flag: map with caching disabled. @see xen/include/public/grant_table.h */
export const GTF_PCD = 64;
/** Sub-flag: map with the PAT bit. @see xen/include/public/grant_table.h */
export const GTF_PAT = 128;
/** Sub-flag (v2): the grant covers part of a page. @see xen/include/public/grant_table.h */
export const GTF_sub_page = 256;
/** accept_transfer sub-flag: Xen has committed to transferring a page. @see xen/include/public/grant_table.h */
export const GTF_transfer_committed = 4;
/** accept_transfer sub-flag: the transfer is complete. @see xen/include/public/grant_table.h */
export const GTF_transfer_completed = 8;
/** map_grant_ref flag: map for device (DMA) access. @see xen/include/public/grant_table.h */
export const GNTMAP_device_map = 1;
/** map_grant_ref flag: map into the caller's address space at `host_addr`. @see xen/include/public/grant_table.h */
export const GNTMAP_host_map = 2;
/** map_grant_ref flag: map read-only. @see xen/include/public/grant_table.h */
export const GNTMAP_readonly = 4;
/** map_grant_ref flag: map accessible from guest user mode. @see xen/include/public/grant_table.h */
export const GNTMAP_application_map = 8;
/** map_grant_ref flag: `host_addr` is the address of a PTE. @see xen/include/public/grant_table.h */
export const GNTMAP_contains_pte = 16;
/** gnttab_copy flag: the source is a grant reference (else a frame of DOMID_SELF). @see xen/include/public/grant_table.h */
export const GNTCOPY_source_gref = 1;
/** gnttab_copy flag: the destination is a grant reference (else a frame of DOMID_SELF). @see xen/include/public/grant_table.h */
export const GNTCOPY_dest_gref = 2;
/** Grant status: normal return. @see xen/include/public/grant_table.h */
export const GNTST_okay = 0;
/** Grant status: general undefined error. @see xen/include/public/grant_table.h */
export const GNTST_general_error = -1;
/** Grant status: unrecognised domain id. @see xen/include/public/grant_table.h */
export const GNTST_bad_domain = -2;
/** Grant status: unrecognised or inappropriate grant reference. @see xen/include/public/grant_table.h */
export const GNTST_bad_gntref = -3;
/** Grant status: unrecognised or inappropriate mapping handle. @see xen/include/public/grant_table.h */
export const GNTST_bad_handle = -4;
/** Grant status: inappropriate virtual address to map. @see xen/include/public/grant_table.h */
export const GNTST_bad_virt_addr = -5;
/** Grant status: inappropriate device address to unmap. @see xen/include/public/grant_table.h */
export const GNTST_bad_dev_addr = -6;
/** Grant status: out of space in the I/O MMU. @see xen/include/public/grant_table.h */
export const GNTST_no_device_space = -7;
/** Grant status: not enough privilege for the operation. @see xen/include/public/grant_table.h */
export const GNTST_permission_denied = -8;
/** Grant status: the specified page was invalid for the operation. @see xen/include/public/grant_table.h */
export const GNTST_bad_page = -9;
/** Grant status: copy arguments cross a page boundary. @see xen/include/public/grant_table.h */
export const GNTST_bad_copy_arg = -10;
/** Grant status: transfer page address too large. @see xen/include/public/grant_table.h */
export const GNTST_address_too_big = -11;
/** Grant status: operation not done; try again. @see xen/include/public/grant_table.h */
export const GNTST_eagain = -12;
/** Grant status: out of space (handles etc). @see xen/include/public/grant_table.h */
export const GNTST_no_space = -13;
/** Grant references below this are reserved for the toolstack (0 console, 1 xenstore). @see xen/include/public/grant_table.h */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** Reserved grant reference of the console ring. @see xen/include/public/grant_table.h */
export const GNTTAB_RESERVED_CONSOLE = 0;
/** Reserved grant reference of the xenstore ring. @see xen/include/public/grant_table.h */
export const GNTTAB_RESERVED_XENSTORE = 1;
/** Grant frames a domain's table starts with on x86. @see xen/include/public/grant_table.h */
export const INITIAL_NR_GRANT_FRAMES = 1;

/**
 * Messages for GNTST_* codes, indexed by `-status` (Xen's GNTTABOP_error_msgs).
 * @see xen/include/public/grant_table.h
 */
export const GNTTABOP_error_msgs: readonly string[] = [
  'okay',
  'undefined error',
  'unrecognised domain id',
  'invalid grant reference',
  'invalid mapping handle',
  'invalid virtual address',
  'invalid device address',
  'no spare translation slot in the I/O MMU',
  'permission denied',
  'bad page',
  'copy arguments cross page boundary',
  'page address size too large',
  'operation not done; try again',
  'out of space',
];

/**
 * Layout of one v1 grant entry (`grant_entry_v1`, 8 bytes, 512 per 4 KiB frame).
 * @see xen/include/public/grant_table.h
 */
export const GRANT_ENTRY_V1: {
  /** sizeof(grant_entry_v1). */
  readonly size: 8;
  /** u16 flags (GTF_*). */
  readonly flags: 0;
  /** domid_t domid: the grantee. */
  readonly domid: 2;
  /** u32 frame: the granted frame (PFN of the granter). */
  readonly frame: 4;
  /** Entries per 4 KiB frame. */
  readonly perFrame: 512;
} = { size: 8, flags: 0, domid: 2, frame: 4, perFrame: 512 };

/** Byte offsets and sizes of the grant-table argument structs for one guest ABI. */
export interface GnttabLayout {
  /** sizeof(xen_pfn_t) / xen_ulong for this ABI. */
  readonly pfnSize: 4 | 8;
  /** struct gnttab_map_grant_ref. */
  readonly map_grant_ref: StructLayout<
    'host_addr' | 'flags' | 'ref' | 'dom' | 'status' | 'handle' | 'dev_bus_addr'
  >;
  /** struct gnttab_unmap_grant_ref. */
  readonly unmap_grant_ref: StructLayout<'host_addr' | 'dev_bus_addr' | 'handle' | 'status'>;
  /** struct gnttab_setup_table. */
  readonly setup_table: StructLayout<'dom' | 'nr_frames' | 'status' | 'frame_list'>;
  /** struct gnttab_copy (source and dest are `gnttab_copy_ptr { union { ref; gmfn } u; domid; offset }`). */
  readonly copy: StructLayout<
    | 'source_u'
    | 'source_domid'
    | 'source_offset'
    | 'dest_u'
    | 'dest_domid'
    | 'dest_offset'
    | 'len'
    | 'flags'
    | 'status'
  >;
  /** struct gnttab_query_size. */
  readonly query_size: StructLayout<'dom' | 'nr_frames' | 'max_nr_frames' | 'status'>;
  /** struct gnttab_set_version. */
  readonly set_version: StructLayout<'version'>;
  /** struct gnttab_get_version. */
  readonly get_version: StructLayout<'dom' | 'version'>;
  /** struct gnttab_swap_grant_ref. */
  readonly swap_grant_ref: StructLayout<'ref_a' | 'ref_b' | 'status'>;
}

/**
 * Grant-table argument layouts on the 32-bit PAE PV ABI (Xen's compat layout; u64 aligned to 4).
 * @see xen/include/public/grant_table.h
 */
export const GNTTAB_LAYOUT_X86_32: GnttabLayout = {
  pfnSize: 4,
  map_grant_ref: {
    size: 32,
    host_addr: 0,
    flags: 8,
    ref: 12,
    dom: 16,
    status: 18,
    handle: 20,
    dev_bus_addr: 24,
  },
  unmap_grant_ref: { size: 24, host_addr: 0, dev_bus_addr: 8, handle: 16, status: 20 },
  setup_table: { size: 16, dom: 0, nr_frames: 4, status: 8, frame_list: 12 },
  copy: {
    size: 24,
    source_u: 0,
    source_domid: 4,
    source_offset: 6,
    dest_u: 8,
    dest_domid: 12,
    dest_offset: 14,
    len: 16,
    flags: 18,
    status: 20,
  },
  query_size: { size: 16, dom: 0, nr_frames: 4, max_nr_frames: 8, status: 12 },
  set_version: { size: 4, version: 0 },
  get_version: { size: 8, dom: 0, version: 4 },
  swap_grant_ref: { size: 12, ref_a: 0, ref_b: 4, status: 8 },
};

/**
 * Grant-table argument layouts on the 64-bit PV ABI.
 * @see xen/include/public/grant_table.h
 */
export const GNTTAB_LAYOUT_X86_64: GnttabLayout = {
  pfnSize: 8,
  map_grant_ref: {
    size: 32,
    host_addr: 0,
    flags: 8,
    ref: 12,
    dom: 16,
    status: 18,
    handle: 20,
    dev_bus_addr: 24,
  },
  unmap_grant_ref: { size: 24, host_addr: 0, dev_bus_addr: 8, handle: 16, status: 20 },
  setup_table: { size: 24, dom: 0, nr_frames: 4, status: 8, frame_list: 16 },
  copy: {
    size: 40,
    source_u: 0,
    source_domid: 8,
    source_offset: 10,
    dest_u: 16,
    dest_domid: 24,
    dest_offset: 26,
    len: 32,
    flags: 34,
    status: 36,
  },
  query_size: { size: 16, dom: 0, nr_frames: 4, max_nr_frames: 8, status: 12 },
  set_version: { size: 4, version: 0 },
  get_version: { size: 8, dom: 0, version: 4 },
  swap_grant_ref: { size: 12, ref_a: 0, ref_b: 4, status: 8 },
};
