import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  chunkSource,
  crc32,
  encodeHeader,
  encodeRecord,
  REC_TYPE,
  readSaveStream,
  type SaveRecord,
  ToolstackError,
} from '../src/index.ts';

function image(records: SaveRecord[]): Uint8Array {
  const parts = [encodeHeader(), ...records.map(encodeRecord)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function readAll(bytes: Uint8Array): Promise<SaveRecord[]> {
  const out: SaveRecord[] = [];
  for await (const r of readSaveStream(bytesSource(bytes))) out.push(r);
  return out;
}

async function errorOf(bytes: Uint8Array): Promise<string> {
  try {
    await readAll(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ToolstackError);
    expect((e as ToolstackError).code).toBe('IO');
    return (e as Error).message.replace(/^toolstack: /, '');
  }
  throw new Error('expected an error');
}

const pages = (n: number, seed: number) => {
  const data = new Uint8Array(n * 4096);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed) & 0xff;
  return data;
};

const SAMPLE: SaveRecord[] = [
  { type: REC_TYPE.DOMAIN_CONFIG, json: { name: 'web', memory: 64 } },
  { type: REC_TYPE.VCPU_STATE, json: { id: 0, rip: '0x1000', regs: [1, 2, 3] } },
  { type: REC_TYPE.PAGE_DATA, pfns: [0, 7, 4096], data: pages(3, 5) },
  { type: REC_TYPE.EVTCHN_STATE, json: { ports: [] } },
  { type: REC_TYPE.END },
];

describe('the save image / migration stream', () => {
  it('computes CRC-32 as zlib does', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('round-trips state records and page batches, from memory and from chunked input', async () => {
    const bytes = image(SAMPLE);
    expect(await readAll(bytes)).toEqual(SAMPLE);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
    }
    const out: SaveRecord[] = [];
    for await (const r of readSaveStream(chunkSource(chunks()))) out.push(r);
    expect(out).toEqual(SAMPLE);
  });

  it('names what is wrong with a bad file', async () => {
    const good = image(SAMPLE);
    expect(await errorOf(new TextEncoder().encode('#!/bin/sh\n'))).toBe(
      'save image: not a Typevisor save image (bad magic)',
    );
    const v3 = good.slice();
    new DataView(v3.buffer).setUint32(16, 3, true);
    expect(await errorOf(v3)).toBe(
      'save image: unsupported version 3 (this build reads versions 1 to 2)',
    );
    // Version 1 (whole-host images of earlier builds) is still read.
    const v1 = good.slice();
    new DataView(v1.buffer).setUint32(16, 1, true);
    const records = [];
    for await (const r of readSaveStream(bytesSource(v1))) records.push(r);
    expect(records).toEqual(SAMPLE);
    expect(await errorOf(good.subarray(0, 24 + 16 + 10))).toMatch(
      /^save image: truncated: record 1 \(DOMAIN_CONFIG\) needs \d+ bytes, 10 present$/,
    );
    expect(await errorOf(image(SAMPLE.slice(0, 2)))).toBe(
      'save image: truncated: the stream ends after record 2 without an END record',
    );
    const flipped = good.slice();
    flipped[24 + 16 + 3] = (flipped[24 + 16 + 3] as number) ^ 1;
    expect(await errorOf(flipped)).toBe(
      'save image: record 1 (DOMAIN_CONFIG) is corrupted (checksum mismatch)',
    );
    const unknown = good.slice();
    new DataView(unknown.buffer).setUint32(24, 77, true);
    expect(await errorOf(unknown)).toBe('save image: record 1 has unknown type 77');
  });

  it('refuses to encode malformed page batches', () => {
    expect(() =>
      encodeRecord({ type: REC_TYPE.PAGE_DATA, pfns: [], data: new Uint8Array(0) }),
    ).toThrow(/1 to 1024 pages/);
    expect(() =>
      encodeRecord({ type: REC_TYPE.PAGE_DATA, pfns: [1], data: new Uint8Array(10) }),
    ).toThrow(/needs 4096 bytes/);
  });

  it('never throws anything but a ToolstackError and never loops on corrupted streams (fuzz)', async () => {
    const good = image(SAMPLE);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { maxLength: 8 }),
        fc.nat(good.length),
        async (edits, cut) => {
          const img = good.slice(0, cut);
          for (const [at, v] of edits) if (at < img.length) img[at] = v;
          try {
            const records = await readAll(img);
            // Anything accepted must end with END and be well-formed.
            expect(records.at(-1)).toEqual({ type: REC_TYPE.END });
          } catch (e) {
            if (!(e instanceof ToolstackError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
