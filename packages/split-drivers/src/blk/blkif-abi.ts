/**
 * Constants of the block device protocol, spelled as in `xen/include/public/io/blkif.h`.
 * @module
 */

/** Block request operations (`BLKIF_OP_*`). @see xen/include/public/io/blkif.h */
export const BLKIF_OP: {
  /** Read sectors into the granted segments. */
  readonly BLKIF_OP_READ: 0;
  /** Write sectors from the granted segments. */
  readonly BLKIF_OP_WRITE: 1;
  /** Write after all earlier requests completed, and make it durable before later ones. */
  readonly BLKIF_OP_WRITE_BARRIER: 2;
  /** Flush the disk cache (optionally with a write). */
  readonly BLKIF_OP_FLUSH_DISKCACHE: 3;
  /** Reserved (was BLKIF_OP_RESERVED_1, used by old Citrix trees). */
  readonly BLKIF_OP_RESERVED_1: 4;
  /** Discard (trim) a sector range. */
  readonly BLKIF_OP_DISCARD: 5;
  /** Read or write with segment descriptors in granted indirect pages. */
  readonly BLKIF_OP_INDIRECT: 6;
} = {
  BLKIF_OP_READ: 0,
  BLKIF_OP_WRITE: 1,
  BLKIF_OP_WRITE_BARRIER: 2,
  BLKIF_OP_FLUSH_DISKCACHE: 3,
  BLKIF_OP_RESERVED_1: 4,
  BLKIF_OP_DISCARD: 5,
  BLKIF_OP_INDIRECT: 6,
} as const;

/** Response statuses (`BLKIF_RSP_*`). @see xen/include/public/io/blkif.h */
export const BLKIF_RSP: {
  /** The request succeeded. */
  readonly BLKIF_RSP_OKAY: 0;
  /** The request failed (bad request, bad grant, I/O error). */
  readonly BLKIF_RSP_ERROR: -1;
  /** The operation is not supported by this backend. */
  readonly BLKIF_RSP_EOPNOTSUPP: -2;
} = { BLKIF_RSP_OKAY: 0, BLKIF_RSP_ERROR: -1, BLKIF_RSP_EOPNOTSUPP: -2 } as const;

/** Segments in a direct request. @see xen/include/public/io/blkif.h */
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
/** Indirect pages one `BLKIF_OP_INDIRECT` request may name. */
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
/** `blkif_request_segment`s per indirect page (4096 / 8). */
export const BLKIF_SEGS_PER_INDIRECT_FRAME = 512;
/** `flag` bit of a discard request asking for a secure erase. */
export const BLKIF_DISCARD_SECURE = 1;
/** Sectors per 4 KiB segment page; `first_sect`/`last_sect` are 0..7. */
export const BLKIF_SECTORS_PER_PAGE = 8;
/** Sector unit of every blkif sector number, whatever the `sector-size` key says. */
export const BLKIF_SECTOR_SIZE = 512;

/** `info` key bits (`VDISK_*`). @see xen/include/public/io/blkif.h */
export const VDISK: {
  /** The disk is a CD-ROM. */
  readonly VDISK_CDROM: 1;
  /** Removable media. */
  readonly VDISK_REMOVABLE: 2;
  /** Read-only device. */
  readonly VDISK_READONLY: 4;
} = { VDISK_CDROM: 1, VDISK_REMOVABLE: 2, VDISK_READONLY: 4 } as const;

/** `protocol` key values. @see xen/include/public/io/protocols.h */
export const XEN_IO_PROTO_ABI: {
  /** 32-bit x86 guest layout (`id` at offset 4). */
  readonly XEN_IO_PROTO_ABI_X86_32: 'x86_32-abi';
  /** 64-bit x86 guest layout (`id` at offset 8). */
  readonly XEN_IO_PROTO_ABI_X86_64: 'x86_64-abi';
} = { XEN_IO_PROTO_ABI_X86_32: 'x86_32-abi', XEN_IO_PROTO_ABI_X86_64: 'x86_64-abi' } as const;

/** A blkif ABI: the `protocol` key's value. The backend's native ABI is x86_64. */
export type BlkifProtocol = 'x86_32-abi' | 'x86_64-abi';
