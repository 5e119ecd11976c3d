/**
 * Encoding and decoding of xenstore messages: the 16-byte little-endian header
 * `struct xsd_sockmsg { u32 type, req_id, tx_id, len; }` followed by `len` payload bytes.
 *
 * @see xen/include/public/io/xs_wire.h
 * @module
 */
import { XenstoreError } from '../errors.ts';
import { XENSTORE_PAYLOAD_MAX, XSD_SOCKMSG_SIZE } from './constants.ts';

/** One xenstore message: header fields plus payload. */
export interface XsMessage {
  /** Message type (`XsType`). */
  readonly type: number;
  /** Request id, echoed in the reply; 0 in watch events. */
  readonly reqId: number;
  /** Transaction id (0 outside transactions), echoed in the reply; 0 in watch events. */
  readonly txId: number;
  /** Payload bytes (at most {@link XENSTORE_PAYLOAD_MAX}). */
  readonly payload: Uint8Array;
}

/**
 * Converts bytes to a "binary string" with one char per byte (code points 0–255), the
 * representation this package uses for paths and tokens so that any byte round-trips.
 */
export function bytesToBinary(bytes: Uint8Array): string {
  // TextDecoder('latin1') is windows-1252 in WHATWG (it remaps 0x80–0x9f), so decode by hand.
  // One fromCharCode call per 4 KiB instead of a string concatenation per byte.
  if (bytes.length <= 4096) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** Converts a binary string (one char per byte) back to bytes; chars above 255 are truncated. */
export function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Encodes a list of strings as NUL-terminated binary strings (`a\0b\0`). */
export function encodeStrings(parts: readonly string[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length + 1;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) out[o++] = p.charCodeAt(i) & 0xff;
    out[o++] = 0;
  }
  return out;
}

/**
 * Splits a payload into its NUL-terminated strings, like xenstored's `get_strings()`:
 * bytes after the last NUL are not part of any string and are ignored.
 */
export function splitStrings(payload: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(bytesToBinary(payload.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** Encodes a message (header and payload) into one buffer. Throws if the payload is too large. */
export function encodeMessage(msg: XsMessage): Uint8Array {
  if (msg.payload.length > XENSTORE_PAYLOAD_MAX) {
    throw new XenstoreError(
      'INVALID_ARGUMENT',
      `payload of ${msg.payload.length} bytes exceeds XENSTORE_PAYLOAD_MAX`,
    );
  }
  const len = msg.payload.length;
  const out = new Uint8Array(XSD_SOCKMSG_SIZE + len);
  // Byte stores instead of a DataView: no allocation beyond the buffer (bench/xenstore/dispatch).
  putU32(out, 0, msg.type);
  putU32(out, 4, msg.reqId);
  putU32(out, 8, msg.txId);
  putU32(out, 12, len);
  out.set(msg.payload, XSD_SOCKMSG_SIZE);
  return out;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function getU32(b: Uint8Array, o: number): number {
  return (
    ((b[o] as number) |
      ((b[o + 1] as number) << 8) |
      ((b[o + 2] as number) << 16) |
      ((b[o + 3] as number) << 24)) >>>
    0
  );
}

/** The header fields of a message. */
export interface XsHeader {
  /** Message type. */
  readonly type: number;
  /** Request id. */
  readonly reqId: number;
  /** Transaction id. */
  readonly txId: number;
  /** Payload length in bytes as claimed by the sender. */
  readonly len: number;
}

/** Decodes the 16-byte header at `offset` of `buf` (which must hold at least 16 bytes there). */
export function decodeHeader(buf: Uint8Array, offset = 0): XsHeader {
  if (buf.length - offset < XSD_SOCKMSG_SIZE) {
    throw new XenstoreError('INVALID_ARGUMENT', 'header needs 16 bytes');
  }
  return {
    type: getU32(buf, offset),
    reqId: getU32(buf, offset + 4),
    txId: getU32(buf, offset + 8),
    len: getU32(buf, offset + 12),
  };
}

const NO_BYTES = new Uint8Array(0);

/**
 * Reassembles messages from a byte stream (socket or ring) that may split or join them
 * arbitrarily. A header claiming more than {@link XENSTORE_PAYLOAD_MAX} bytes makes the
 * stream unusable: {@link MessageReader.push} then returns `false` and the caller must drop
 * the connection, as xenstored does.
 */
export class MessageReader {
  /** Bytes received but not yet forming a complete message. */
  private pending: Uint8Array = NO_BYTES;
  /** Set once the stream carried an oversized header; nothing more is parsed. */
  private broken = false;

  /**
   * Feeds bytes; calls `onMessage` for every message completed by them, in order.
   * Returns `false` (and stops) when the stream is malformed.
   */
  push(chunk: Uint8Array, onMessage: (msg: XsMessage) => void): boolean {
    if (this.broken) return false;
    let buf: Uint8Array;
    if (this.pending.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    let off = 0;
    while (buf.length - off >= XSD_SOCKMSG_SIZE) {
      const len = getU32(buf, off + 12);
      if (len > XENSTORE_PAYLOAD_MAX) {
        this.broken = true;
        this.pending = NO_BYTES;
        return false;
      }
      const end = off + XSD_SOCKMSG_SIZE + len;
      if (buf.length < end) break;
      // The payload is a view into the received chunk; handlers copy what they keep.
      onMessage({
        type: getU32(buf, off),
        reqId: getU32(buf, off + 4),
        txId: getU32(buf, off + 8),
        payload: buf.subarray(off + XSD_SOCKMSG_SIZE, end),
      });
      off = end;
    }
    this.pending = off === buf.length ? NO_BYTES : buf.slice(off);
    return true;
  }

  /** Number of buffered bytes that do not yet form a whole message. */
  get buffered(): number {
    return this.pending.length;
  }
}
