/**
 * The Typevisor save image and migration stream, version 2: the one format for
 * `typevisor save`/`restore` files and for live migration between hosts. It follows the
 * shape of Xen's migration stream v2 (a header, then typed, length-prefixed records ending
 * with END), with a CRC-32 on every record so that truncation and corruption are named,
 * never misread.
 *
 * Layout (all integers little-endian):
 * - Header, 24 bytes: magic `TYPEVISOR-SAVE\n\0` (16 bytes), version u32, flags u32.
 * - Record: type u32, length u32, CRC-32 u32 (over type, length and body), reserved u32,
 *   then `length` body bytes, then zero padding to a multiple of 8.
 * - Bodies: JSON (UTF-8) for state records; PAGE_DATA is count u32, reserved u32, then
 *   `count` PFNs (u64 each), then `count` pages of 4096 bytes.
 *
 * @see xen/docs/specs/libxc-migration-stream.pandoc (the design this follows)
 */

import { crc32 as zlibCrc32 } from 'node:zlib';
import { ToolstackError } from '../errors.ts';

/** The 16-byte magic at the start of every save image. */
export const SAVE_MAGIC: Uint8Array = /* @__PURE__ */ new TextEncoder().encode(
  'TYPEVISOR-SAVE\n\0',
);
/**
 * The stream version this build writes: 2 (per-domain images, keyed by PFN). Version 1 streams
 * (whole-host images of earlier builds) are still read.
 */
export const SAVE_VERSION = 2;
/** The oldest stream version this build reads. */
export const SAVE_VERSION_MIN = 1;
/** Header size in bytes. */
export const SAVE_HEADER_SIZE = 24;
/** Record header size in bytes. */
export const RECORD_HEADER_SIZE = 16;
/** Largest record body accepted (a full PAGE_DATA batch is just over 4 MiB). */
export const MAX_RECORD_LENGTH: number = 8 * 1024 * 1024 + 16;
/** Most pages in one PAGE_DATA record. */
export const MAX_PAGES_PER_RECORD = 1024;

/** Record types, spelled like Xen's `REC_TYPE_*`. */
export const REC_TYPE = {
  END: 0,
  /** JSON: the domain's configuration as created (`DomainConfig`). */
  DOMAIN_CONFIG: 1,
  /** JSON: domain-wide hypervisor state (memory size, shared_info, flags…). */
  DOMAIN_STATE: 2,
  /** JSON: one vCPU's complete CPU state. */
  VCPU_STATE: 3,
  /** Binary: a batch of guest pages by PFN. */
  PAGE_DATA: 4,
  /** JSON: event channel table. */
  EVTCHN_STATE: 5,
  /** JSON: grant table. */
  GNTTAB_STATE: 6,
  /** JSON: timers and time. */
  TIMER_STATE: 7,
  /** JSON: one device's backend state. */
  DEVICE_STATE: 8,
  /** JSON: free-form progress information (rounds, dirty counts) for migration. */
  CHECKPOINT: 9,
} as const;

/** A record type number. */
export type RecordType = (typeof REC_TYPE)[keyof typeof REC_TYPE];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(REC_TYPE).map(([k, v]) => [v, k]),
);

/** Names a record type for messages (`PAGE_DATA`, or `type 42`). */
export function recordTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** One decoded record. */
export type SaveRecord =
  | { readonly type: typeof REC_TYPE.END }
  | {
      readonly type: typeof REC_TYPE.PAGE_DATA;
      readonly pfns: readonly number[];
      readonly data: Uint8Array;
    }
  | {
      readonly type: Exclude<RecordType, typeof REC_TYPE.END | typeof REC_TYPE.PAGE_DATA>;
      readonly json: unknown;
    };

/**
 * CRC-32 as zlib computes it: node's native one (the same function as the JavaScript one in
 * @typevisor/xenstore, many times faster on the megabytes of a save image). An empty input
 * leaves `crc` as it is (not handed to zlib: an empty view is not always accepted as such).
 */
function crc32(bytes: Uint8Array, crc = 0): number {
  return bytes.length === 0 ? crc >>> 0 : zlibCrc32(bytes, crc);
}

function fail(msg: string): never {
  throw new ToolstackError('IO', `save image: ${msg}`);
}

/** Encodes the stream header. */
export function encodeHeader(flags = 0): Uint8Array {
  const out = new Uint8Array(SAVE_HEADER_SIZE);
  out.set(SAVE_MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(16, SAVE_VERSION, true);
  dv.setUint32(20, flags, true);
  return out;
}

function frame(type: number, body: Uint8Array): Uint8Array {
  if (body.length > MAX_RECORD_LENGTH)
    fail(`${recordTypeName(type)} body of ${body.length} bytes is too large`);
  const padded = (body.length + 7) & ~7;
  const out = new Uint8Array(RECORD_HEADER_SIZE + padded);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, body.length, true);
  out.set(body, RECORD_HEADER_SIZE);
  dv.setUint32(8, crc32(body, crc32(out.subarray(0, 8))), true);
  return out;
}

/** Encodes a record (JSON state, a page batch, or END). */
export function encodeRecord(record: SaveRecord): Uint8Array {
  if (record.type === REC_TYPE.END) return frame(REC_TYPE.END, new Uint8Array(0));
  if (record.type === REC_TYPE.PAGE_DATA) {
    const n = record.pfns.length;
    if (n === 0 || n > MAX_PAGES_PER_RECORD)
      fail(`PAGE_DATA must carry 1 to ${MAX_PAGES_PER_RECORD} pages, got ${n}`);
    if (record.data.length !== n * 4096)
      fail(`PAGE_DATA for ${n} pages needs ${n * 4096} bytes, got ${record.data.length}`);
    const body = new Uint8Array(8 + n * 8 + n * 4096);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, n, true);
    record.pfns.forEach((pfn, i) => {
      if (!Number.isSafeInteger(pfn) || pfn < 0) fail(`invalid PFN ${pfn}`);
      dv.setBigUint64(8 + i * 8, BigInt(pfn), true);
    });
    body.set(record.data, 8 + n * 8);
    return frame(REC_TYPE.PAGE_DATA, body);
  }
  return frame(record.type, new TextEncoder().encode(JSON.stringify(record.json)));
}

/**
 * Encodes a JSON record whose body is already JSON text (for large states built piecewise);
 * the reader sees it exactly as a record from {@link encodeRecord}.
 */
export function encodeJsonRecord(
  type: Exclude<RecordType, typeof REC_TYPE.END | typeof REC_TYPE.PAGE_DATA>,
  text: string,
): Uint8Array {
  return frame(type, new TextEncoder().encode(text));
}

/** Reads exactly `n` bytes from a byte source, or fewer at the end of the stream. */
export interface ByteSource {
  /** Resolves with up to `n` bytes; fewer only when the stream ended. */
  read(n: number): Promise<Uint8Array>;
}

/** A {@link ByteSource} over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  let pos = 0;
  return {
    read(n: number): Promise<Uint8Array> {
      const out = bytes.subarray(pos, Math.min(bytes.length, pos + n));
      pos += out.length;
      return Promise.resolve(out);
    },
  };
}

/** A {@link ByteSource} over an async iterable of chunks (a socket, a file stream). */
export function chunkSource(chunks: AsyncIterable<Uint8Array>): ByteSource {
  const it = chunks[Symbol.asyncIterator]();
  // Pending chunks, consumed from the front; `offset` is how much of the first one is used.
  const pending: Uint8Array[] = [];
  let offset = 0;
  let buffered = 0;
  let ended = false;
  return {
    async read(n: number): Promise<Uint8Array> {
      while (buffered < n && !ended) {
        const r = await it.next();
        if (r.done) ended = true;
        else if (r.value.length > 0) {
          pending.push(r.value);
          buffered += r.value.length;
        }
      }
      const size = Math.min(n, buffered);
      const out = new Uint8Array(size);
      let at = 0;
      while (at < size) {
        const head = pending[0] as Uint8Array;
        const take = Math.min(size - at, head.length - offset);
        out.set(head.subarray(offset, offset + take), at);
        at += take;
        offset += take;
        if (offset === head.length) {
          pending.shift();
          offset = 0;
        }
      }
      buffered -= size;
      return out;
    },
  };
}

/**
 * Reads and checks a save image or migration stream: the header, then every record up to
 * and including END. Throws an `IO` {@link ToolstackError} that says what is wrong and where
 * (bad magic, unsupported version, a truncated or corrupted record by its number and type,
 * a missing END).
 */
export async function* readSaveStream(
  source: ByteSource,
): AsyncGenerator<SaveRecord, void, undefined> {
  const header = await source.read(SAVE_HEADER_SIZE);
  if (header.length < SAVE_HEADER_SIZE || SAVE_MAGIC.some((b, i) => header[i] !== b)) {
    fail('not a Typevisor save image (bad magic)');
  }
  const version = new DataView(header.buffer, header.byteOffset).getUint32(16, true);
  if (version < SAVE_VERSION_MIN || version > SAVE_VERSION) {
    fail(
      `unsupported version ${version} (this build reads versions ${SAVE_VERSION_MIN} to ${SAVE_VERSION})`,
    );
  }
  for (let index = 1; ; index++) {
    const rh = await source.read(RECORD_HEADER_SIZE);
    if (rh.length === 0)
      fail(`truncated: the stream ends after record ${index - 1} without an END record`);
    if (rh.length < RECORD_HEADER_SIZE)
      fail(`truncated: record ${index} header has ${rh.length} of 16 bytes`);
    const dv = new DataView(rh.buffer, rh.byteOffset, rh.byteLength);
    const type = dv.getUint32(0, true);
    const length = dv.getUint32(4, true);
    const name = recordTypeName(type);
    if (!(type in TYPE_NAMES)) fail(`record ${index} has unknown ${name}`);
    if (length > MAX_RECORD_LENGTH)
      fail(`record ${index} (${name}) claims ${length} bytes, more than ${MAX_RECORD_LENGTH}`);
    const padded = (length + 7) & ~7;
    const body = await source.read(padded);
    if (body.length < padded)
      fail(`truncated: record ${index} (${name}) needs ${padded} bytes, ${body.length} present`);
    const content = body.subarray(0, length);
    if (crc32(content, crc32(rh.subarray(0, 8))) !== dv.getUint32(8, true)) {
      fail(`record ${index} (${name}) is corrupted (checksum mismatch)`);
    }
    if (type === REC_TYPE.END) {
      yield { type: REC_TYPE.END };
      return;
    }
    if (type === REC_TYPE.PAGE_DATA) {
      const bd = new DataView(content.buffer, content.byteOffset, content.byteLength);
      const n = length >= 8 ? bd.getUint32(0, true) : 0;
      if (n === 0 || n > MAX_PAGES_PER_RECORD || length !== 8 + n * 8 + n * 4096) {
        fail(`record ${index} (PAGE_DATA) is malformed: ${n} pages in ${length} bytes`);
      }
      const pfns: number[] = [];
      for (let i = 0; i < n; i++) {
        const pfn = bd.getBigUint64(8 + i * 8, true);
        if (pfn > BigInt(Number.MAX_SAFE_INTEGER))
          fail(`record ${index} (PAGE_DATA) has an invalid PFN`);
        pfns.push(Number(pfn));
      }
      yield { type: REC_TYPE.PAGE_DATA, pfns, data: content.slice(8 + n * 8) };
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content));
    } catch {
      fail(`record ${index} (${name}) does not hold valid JSON`);
    }
    yield { type, json } as SaveRecord;
  }
}
