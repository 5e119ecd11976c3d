import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BlkifRequest, blkifCodecs, ringSizeFor } from '../src/index.ts';

const x64 = blkifCodecs('x86_64-abi');
const x32 = blkifCodecs('x86_32-abi');
if (x64 === undefined || x32 === undefined) throw new Error('codecs missing');

function bytes(codec: typeof x64, req: BlkifRequest): DataView {
  const v = new DataView(new ArrayBuffer(128));
  (codec as NonNullable<typeof x64>).request.encode(v, 0, req);
  return v;
}

const rw: BlkifRequest = {
  kind: 'rw',
  operation: 1,
  nrSegments: 2,
  handle: 0x1234,
  id: 0x0102030405060708n,
  sectorNumber: 0x1112131415161718n,
  segments: [
    { gref: 0xaabbccdd, firstSect: 1, lastSect: 6 },
    { gref: 9, firstSect: 0, lastSect: 7 },
  ],
};

describe('blkif codecs', () => {
  it('uses the blkif.h sizes, giving 32-entry rings on both ABIs', () => {
    expect([x64?.request.size, x64?.response.size, x32?.request.size, x32?.response.size]).toEqual([
      112, 16, 108, 12,
    ]);
    expect(ringSizeFor(112)).toBe(32);
    expect(ringSizeFor(108)).toBe(32);
  });

  it('lays out a read/write request at the x86_64 offsets', () => {
    const v = bytes(x64, rw);
    expect(v.getUint8(0)).toBe(1);
    expect(v.getUint8(1)).toBe(2);
    expect(v.getUint16(2, true)).toBe(0x1234);
    expect(v.getBigUint64(8, true)).toBe(rw.id);
    expect(v.getBigUint64(16, true)).toBe(rw.sectorNumber);
    expect(v.getUint32(24, true)).toBe(0xaabbccdd);
    expect([v.getUint8(28), v.getUint8(29)]).toEqual([1, 6]);
    expect(v.getUint32(32, true)).toBe(9);
  });

  it('lays out a read/write request at the x86_32 offsets (id at 4)', () => {
    const v = bytes(x32, rw);
    expect(v.getBigUint64(4, true)).toBe(rw.id);
    expect(v.getBigUint64(12, true)).toBe(rw.sectorNumber);
    expect(v.getUint32(20, true)).toBe(0xaabbccdd);
    expect([v.getUint8(24), v.getUint8(25)]).toEqual([1, 6]);
  });

  it('lays out discard and indirect requests at both ABIs offsets', () => {
    const discard: BlkifRequest = {
      kind: 'discard',
      operation: 5,
      flag: 1,
      handle: 7,
      id: 3n,
      sectorNumber: 100n,
      nrSectors: 0x123456789n,
    };
    expect(bytes(x64, discard).getBigUint64(24, true)).toBe(0x123456789n);
    expect(bytes(x32, discard).getBigUint64(20, true)).toBe(0x123456789n);
    expect(bytes(x32, discard).getUint8(1)).toBe(1);
    const ind: BlkifRequest = {
      kind: 'indirect',
      operation: 6,
      indirectOp: 0,
      nrSegments: 300,
      id: 5n,
      sectorNumber: 8n,
      handle: 0xbeef,
      indirectGrefs: [11, 12, 0, 0, 0, 0, 0, 0],
    };
    const v64 = bytes(x64, ind);
    expect([
      v64.getUint16(2, true),
      v64.getUint16(24, true),
      v64.getUint32(28, true),
      v64.getUint32(32, true),
    ]).toEqual([300, 0xbeef, 11, 12]);
    const v32 = bytes(x32, ind);
    expect([v32.getUint16(20, true), v32.getUint32(24, true), v32.getBigUint64(4, true)]).toEqual([
      0xbeef,
      11,
      5n,
    ]);
  });

  it('lays out responses with id at 0, operation at 8 and a signed status at 10', () => {
    const v = new DataView(new ArrayBuffer(16));
    x64?.response.encode(v, 0, { id: 42n, operation: 2, status: -2 });
    expect([v.getBigUint64(0, true), v.getUint8(8), v.getInt16(10, true)]).toEqual([42n, 2, -2]);
    expect(x32?.response.decode(v, 0)).toEqual({ id: 42n, operation: 2, status: -2 });
  });

  it('picks codecs by protocol key, native when absent, none when unknown', () => {
    expect(blkifCodecs(undefined)).toBe(x64);
    expect(blkifCodecs('x86_32-abi')).toBe(x32);
    expect(blkifCodecs('arm-abi')).toBeUndefined();
  });

  it('decodes any bytes without throwing and round-trips what it decodes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 112, maxLength: 112 }), fc.boolean(), (raw, is64) => {
        const codec = is64 ? x64 : x32;
        if (codec === undefined) return;
        const v = new DataView(raw.buffer);
        const req = codec.request.decode(v, 0);
        if (req.kind === 'rw') expect(req.segments.length).toBe(Math.min(req.nrSegments, 11));
        const again = new DataView(new ArrayBuffer(112));
        codec.request.encode(again, 0, req);
        expect(codec.request.decode(again, 0)).toEqual(req);
      }),
    );
  });
});
