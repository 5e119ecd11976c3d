/**
 * The network protocol's slot formats and constants, spelled as in
 * `xen/include/public/io/netif.h` (identical on x86_32 and x86_64).
 * @module
 */
import type { RingCodec } from '../ring/codec.ts';

/** `netif_tx_request.flags` bits. @see xen/include/public/io/netif.h */
export const NETTXF: {
  /** Protocol checksum field is blank in the packet (offload). */
  readonly NETTXF_csum_blank: 1;
  /** Packet data has been validated against its checksum. */
  readonly NETTXF_data_validated: 2;
  /** More fragments follow in the next slots. */
  readonly NETTXF_more_data: 4;
  /** A `netif_extra_info` slot follows this one. */
  readonly NETTXF_extra_info: 8;
} = {
  NETTXF_csum_blank: 1,
  NETTXF_data_validated: 2,
  NETTXF_more_data: 4,
  NETTXF_extra_info: 8,
} as const;

/** `netif_rx_response.flags` bits. @see xen/include/public/io/netif.h */
export const NETRXF: {
  /** Packet data has been validated against its checksum. */
  readonly NETRXF_data_validated: 1;
  /** Protocol checksum field is blank. */
  readonly NETRXF_csum_blank: 2;
  /** More fragments follow. */
  readonly NETRXF_more_data: 4;
  /** An extra-info slot follows. */
  readonly NETRXF_extra_info: 8;
  /** GSO prefix descriptor. */
  readonly NETRXF_gso_prefix: 16;
} = {
  NETRXF_data_validated: 1,
  NETRXF_csum_blank: 2,
  NETRXF_more_data: 4,
  NETRXF_extra_info: 8,
  NETRXF_gso_prefix: 16,
} as const;

/** Response statuses (`NETIF_RSP_*`). */
export const NETIF_RSP: {
  /** Dropped (no buffer, filtered). */
  readonly NETIF_RSP_DROPPED: -2;
  /** Malformed request. */
  readonly NETIF_RSP_ERROR: -1;
  /** Okay. */
  readonly NETIF_RSP_OKAY: 0;
  /** No response (used for extra-info slots). */
  readonly NETIF_RSP_NULL: 1;
} = { NETIF_RSP_DROPPED: -2, NETIF_RSP_ERROR: -1, NETIF_RSP_OKAY: 0, NETIF_RSP_NULL: 1 } as const;

/** `netif_extra_info.type` values. */
export const XEN_NETIF_EXTRA_TYPE: {
  /** None. */
  readonly XEN_NETIF_EXTRA_TYPE_NONE: 0;
  /** Generic segmentation offload. */
  readonly XEN_NETIF_EXTRA_TYPE_GSO: 1;
  /** Add a multicast filter. */
  readonly XEN_NETIF_EXTRA_TYPE_MCAST_ADD: 2;
  /** Remove a multicast filter. */
  readonly XEN_NETIF_EXTRA_TYPE_MCAST_DEL: 3;
  /** Packet hash. */
  readonly XEN_NETIF_EXTRA_TYPE_HASH: 4;
} = {
  XEN_NETIF_EXTRA_TYPE_NONE: 0,
  XEN_NETIF_EXTRA_TYPE_GSO: 1,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD: 2,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL: 3,
  XEN_NETIF_EXTRA_TYPE_HASH: 4,
} as const;

/** `netif_extra_info.flags`: another extra-info slot follows. */
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
/** Largest packet a tx request chain may carry. */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
/** Slots a backend must accept for one packet. */
export const XEN_NETIF_NR_SLOTS_MIN = 18;

/** `struct netif_tx_request` (12 bytes). */
export interface NetifTxRequest {
  /** Grant ref of the page holding this fragment. */
  gref: number;
  /** Offset of the fragment in the page. */
  offset: number;
  /** `NETTXF_*`. */
  flags: number;
  /** Echoed in the response. */
  id: number;
  /** First slot: whole packet size; later slots: fragment size. */
  size: number;
}

/** `struct netif_tx_response` (4 bytes in a 12-byte slot). */
export interface NetifTxResponse {
  /** The request's id. */
  id: number;
  /** `NETIF_RSP_*`. */
  status: number;
}

/** `struct netif_rx_request` (8 bytes). */
export interface NetifRxRequest {
  /** Echoed in the response. */
  id: number;
  /** Grant ref of an empty page for the backend to fill. */
  gref: number;
}

/** `struct netif_rx_response` (8 bytes). */
export interface NetifRxResponse {
  /** The request's id. */
  id: number;
  /** Offset of the data in the page. */
  offset: number;
  /** `NETRXF_*`. */
  flags: number;
  /** Bytes received (≥ 0) or `NETIF_RSP_*` (< 0). */
  status: number;
}

/** `struct netif_extra_info` (8 bytes), with the GSO view decoded. */
export interface NetifExtraInfo {
  /** `XEN_NETIF_EXTRA_TYPE_*`. */
  type: number;
  /** `XEN_NETIF_EXTRA_FLAG_*`. */
  flags: number;
  /** The 6-byte union, raw. */
  data: Uint8Array;
}

/** The tx ring request codec (slots are 12 bytes: the size of the request/response union). */
export const netifTxRequestCodec: RingCodec<NetifTxRequest> = {
  size: 12,
  encode(v, o, r) {
    v.setUint32(o, r.gref >>> 0, true);
    v.setUint16(o + 4, r.offset, true);
    v.setUint16(o + 6, r.flags, true);
    v.setUint16(o + 8, r.id, true);
    v.setUint16(o + 10, r.size, true);
  },
  decode(v, o) {
    return {
      gref: v.getUint32(o, true),
      offset: v.getUint16(o + 4, true),
      flags: v.getUint16(o + 6, true),
      id: v.getUint16(o + 8, true),
      size: v.getUint16(o + 10, true),
    };
  },
};

/** The tx ring response codec. */
export const netifTxResponseCodec: RingCodec<NetifTxResponse> = {
  size: 4,
  encode(v, o, r) {
    v.setUint16(o, r.id, true);
    v.setInt16(o + 2, r.status, true);
  },
  decode(v, o) {
    return { id: v.getUint16(o, true), status: v.getInt16(o + 2, true) };
  },
};

/** The rx ring request codec. */
export const netifRxRequestCodec: RingCodec<NetifRxRequest> = {
  size: 8,
  encode(v, o, r) {
    v.setUint16(o, r.id, true);
    v.setUint16(o + 2, 0, true);
    v.setUint32(o + 4, r.gref >>> 0, true);
  },
  decode(v, o) {
    return { id: v.getUint16(o, true), gref: v.getUint32(o + 4, true) };
  },
};

/** The rx ring response codec. */
export const netifRxResponseCodec: RingCodec<NetifRxResponse> = {
  size: 8,
  encode(v, o, r) {
    v.setUint16(o, r.id, true);
    v.setUint16(o + 2, r.offset, true);
    v.setUint16(o + 4, r.flags, true);
    v.setInt16(o + 6, r.status, true);
  },
  decode(v, o) {
    return {
      id: v.getUint16(o, true),
      offset: v.getUint16(o + 2, true),
      flags: v.getUint16(o + 4, true),
      status: v.getInt16(o + 6, true),
    };
  },
};

/**
 * Reinterprets a tx slot decoded as a request as the `netif_extra_info` it really holds (the
 * slot after one flagged `NETTXF_extra_info`): same 8 bytes, little-endian.
 */
export function netifExtraFromTxSlot(slot: NetifTxRequest): NetifExtraInfo {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, slot.gref >>> 0, true);
  v.setUint16(4, slot.offset, true);
  v.setUint16(6, slot.flags, true);
  return { type: b[0] ?? 0, flags: b[1] ?? 0, data: b.slice(2, 8) };
}

/** Encodes a `netif_extra_info` as the tx slot fields that carry it (the inverse of {@link netifExtraFromTxSlot}). */
export function netifExtraToTxSlot(extra: NetifExtraInfo): NetifTxRequest {
  const b = new Uint8Array(12);
  b[0] = extra.type;
  b[1] = extra.flags;
  b.set(extra.data.subarray(0, 6), 2);
  return netifTxRequestCodec.decode(new DataView(b.buffer), 0);
}
