/**
 * Encoders and decoders for `blkif_request` (rw, discard, indirect) and `blkif_response` in the
 * x86_32 and x86_64 layouts (they differ only in the alignment of the u64 `id`).
 * @see xen/include/public/io/blkif.h
 * @module
 */
import type { RingCodec } from '../ring/codec.ts';
import { BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP, type BlkifProtocol } from './blkif-abi.ts';

/** One `blkif_request_segment`: a granted 4 KiB page and the inclusive 512-byte sectors used in it. */
export interface BlkifSegment {
  /** Grant reference of the data page. */
  gref: number;
  /** First sector within the page (0..7 when valid). */
  firstSect: number;
  /** Last sector within the page, inclusive (firstSect..7 when valid). */
  lastSect: number;
}

/** A read, write, barrier or flush request (or an unknown operation in the same layout). */
export interface BlkifRwRequest {
  /** Layout discriminator. */
  kind: 'rw';
  /** `BLKIF_OP_*` (any byte value when decoded from a guest). */
  operation: number;
  /** `nr_segments` as the guest wrote it (may exceed 11 in a hostile request). */
  nrSegments: number;
  /** Device handle. */
  handle: number;
  /** Opaque request id, echoed in the response. */
  id: bigint;
  /** First 512-byte sector. */
  sectorNumber: bigint;
  /** The first `min(nrSegments, 11)` segments. */
  segments: BlkifSegment[];
}

/** A `BLKIF_OP_DISCARD` request (`blkif_request_discard`). */
export interface BlkifDiscardRequest {
  /** Layout discriminator. */
  kind: 'discard';
  /** Always `BLKIF_OP_DISCARD`. */
  operation: number;
  /** `BLKIF_DISCARD_SECURE` or 0. */
  flag: number;
  /** Device handle. */
  handle: number;
  /** Opaque request id. */
  id: bigint;
  /** First 512-byte sector. */
  sectorNumber: bigint;
  /** Number of 512-byte sectors. */
  nrSectors: bigint;
}

/** A `BLKIF_OP_INDIRECT` request (`blkif_request_indirect`). */
export interface BlkifIndirectRequest {
  /** Layout discriminator. */
  kind: 'indirect';
  /** Always `BLKIF_OP_INDIRECT`. */
  operation: number;
  /** The real operation: `BLKIF_OP_READ` or `BLKIF_OP_WRITE` when valid. */
  indirectOp: number;
  /** Number of segments described in the indirect pages. */
  nrSegments: number;
  /** Opaque request id. */
  id: bigint;
  /** First 512-byte sector. */
  sectorNumber: bigint;
  /** Device handle. */
  handle: number;
  /** Grant refs of the indirect pages (all 8 slots). */
  indirectGrefs: number[];
}

/** Any block request. */
export type BlkifRequest = BlkifRwRequest | BlkifDiscardRequest | BlkifIndirectRequest;

/** A `blkif_response`. */
export interface BlkifResponse {
  /** The request's id. */
  id: bigint;
  /** The request's operation (the real one for indirect requests). */
  operation: number;
  /** `BLKIF_RSP_*`. */
  status: number;
}

/** Byte layout of one ABI. */
interface Layout {
  readonly reqSize: number;
  readonly rspSize: number;
  readonly id: number;
  readonly sector: number;
  readonly seg: number;
  readonly nrSectors: number;
  readonly indHandle: number;
  readonly indGrefs: number;
}

const LAYOUTS: Record<BlkifProtocol, Layout> = {
  'x86_64-abi': {
    reqSize: 112,
    rspSize: 16,
    id: 8,
    sector: 16,
    seg: 24,
    nrSectors: 24,
    indHandle: 24,
    indGrefs: 28,
  },
  'x86_32-abi': {
    reqSize: 108,
    rspSize: 12,
    id: 4,
    sector: 12,
    seg: 20,
    nrSectors: 20,
    indHandle: 20,
    indGrefs: 24,
  },
};

/** The request and response codecs of one blkif ABI. */
export interface BlkifCodecs {
  /** `blkif_request` union (108 or 112 bytes). */
  readonly request: RingCodec<BlkifRequest>;
  /** `blkif_response` (12 or 16 bytes). */
  readonly response: RingCodec<BlkifResponse>;
}

/** Decodes the 8-byte `blkif_request_segment` at `offset`. */
export function decodeSegment(view: DataView, offset: number): BlkifSegment {
  return {
    gref: view.getUint32(offset, true),
    firstSect: view.getUint8(offset + 4),
    lastSect: view.getUint8(offset + 5),
  };
}

/** Encodes a `blkif_request_segment` at `offset` (8 bytes, padding zeroed). */
export function encodeSegment(view: DataView, offset: number, seg: BlkifSegment): void {
  view.setUint32(offset, seg.gref >>> 0, true);
  view.setUint8(offset + 4, seg.firstSect);
  view.setUint8(offset + 5, seg.lastSect);
  view.setUint16(offset + 6, 0, true);
}

function makeCodecs(l: Layout): BlkifCodecs {
  return {
    request: {
      size: l.reqSize,
      encode(view, off, r) {
        for (let i = 0; i < l.reqSize; i++) view.setUint8(off + i, 0);
        view.setUint8(off, r.operation);
        view.setBigUint64(off + l.id, r.id, true);
        view.setBigUint64(off + l.sector, r.sectorNumber, true);
        if (r.kind === 'rw') {
          view.setUint8(off + 1, r.nrSegments);
          view.setUint16(off + 2, r.handle, true);
          const n = Math.min(r.segments.length, BLKIF_MAX_SEGMENTS_PER_REQUEST);
          for (let i = 0; i < n; i++) {
            const s = r.segments[i];
            if (s !== undefined) encodeSegment(view, off + l.seg + i * 8, s);
          }
        } else if (r.kind === 'discard') {
          view.setUint8(off + 1, r.flag);
          view.setUint16(off + 2, r.handle, true);
          view.setBigUint64(off + l.nrSectors, r.nrSectors, true);
        } else {
          view.setUint8(off + 1, r.indirectOp);
          view.setUint16(off + 2, r.nrSegments, true);
          view.setUint16(off + l.indHandle, r.handle, true);
          for (let i = 0; i < 8; i++)
            view.setUint32(off + l.indGrefs + i * 4, r.indirectGrefs[i] ?? 0, true);
        }
      },
      decode(view, off) {
        const operation = view.getUint8(off);
        const id = view.getBigUint64(off + l.id, true);
        const sectorNumber = view.getBigUint64(off + l.sector, true);
        if (operation === BLKIF_OP.BLKIF_OP_DISCARD) {
          return {
            kind: 'discard',
            operation,
            flag: view.getUint8(off + 1),
            handle: view.getUint16(off + 2, true),
            id,
            sectorNumber,
            nrSectors: view.getBigUint64(off + l.nrSectors, true),
          };
        }
        if (operation === BLKIF_OP.BLKIF_OP_INDIRECT) {
          const indirectGrefs: number[] = [];
          for (let i = 0; i < 8; i++)
            indirectGrefs.push(view.getUint32(off + l.indGrefs + i * 4, true));
          return {
            kind: 'indirect',
            operation,
            indirectOp: view.getUint8(off + 1),
            nrSegments: view.getUint16(off + 2, true),
            id,
            sectorNumber,
            handle: view.getUint16(off + l.indHandle, true),
            indirectGrefs,
          };
        }
        const nrSegments = view.getUint8(off + 1);
        const n = Math.min(nrSegments, BLKIF_MAX_SEGMENTS_PER_REQUEST);
        const segments: BlkifSegment[] = [];
        for (let i = 0; i < n; i++) segments.push(decodeSegment(view, off + l.seg + i * 8));
        return {
          kind: 'rw',
          operation,
          nrSegments,
          handle: view.getUint16(off + 2, true),
          id,
          sectorNumber,
          segments,
        };
      },
    },
    response: {
      size: l.rspSize,
      encode(view, off, r) {
        view.setBigUint64(off, r.id, true);
        view.setUint8(off + 8, r.operation);
        view.setUint8(off + 9, 0);
        view.setInt16(off + 10, r.status, true);
        if (l.rspSize === 16) view.setUint32(off + 12, 0, true);
      },
      decode(view, off) {
        return {
          id: view.getBigUint64(off, true),
          operation: view.getUint8(off + 8),
          status: view.getInt16(off + 10, true),
        };
      },
    },
  };
}

const CODECS: Record<BlkifProtocol, BlkifCodecs> = {
  'x86_64-abi': makeCodecs(LAYOUTS['x86_64-abi']),
  'x86_32-abi': makeCodecs(LAYOUTS['x86_32-abi']),
};

/**
 * The codecs for a `protocol` key value. An absent key means the backend's native ABI
 * (x86_64); an unknown value returns undefined (the backend must refuse to connect).
 */
export function blkifCodecs(protocol: string | undefined): BlkifCodecs | undefined {
  if (protocol === undefined || protocol === '') return CODECS['x86_64-abi'];
  if (protocol === 'x86_64-abi' || protocol === 'x86_32-abi') return CODECS[protocol];
  return undefined;
}
