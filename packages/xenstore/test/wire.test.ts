/** The wire codec: header layout, stream reassembly, string splitting. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binaryToBytes,
  bytesToBinary,
  decodeHeader,
  encodeMessage,
  MessageReader,
  splitStrings,
  type XsMessage,
} from '../src/wire/codec.ts';
import { XENSTORE_PAYLOAD_MAX, XsType, xsTypeName } from '../src/wire/constants.ts';

describe('the xenstore wire codec', () => {
  it('encodes the 16-byte little-endian header of xs_wire.h', () => {
    const b = encodeMessage({
      type: XsType.XS_WRITE,
      reqId: 0x01020304,
      txId: 5,
      payload: Buffer.from('/a\0b'),
    });
    expect([...b.subarray(0, 16)]).toEqual([11, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0, 4, 0, 0, 0]);
    expect(decodeHeader(b)).toEqual({ type: 11, reqId: 0x01020304, txId: 5, len: 4 });
    expect(xsTypeName(22)).toBe('DIRECTORY_PART');
  });

  it('refuses to encode payloads over XENSTORE_PAYLOAD_MAX', () => {
    expect(() =>
      encodeMessage({
        type: 2,
        reqId: 0,
        txId: 0,
        payload: new Uint8Array(XENSTORE_PAYLOAD_MAX + 1),
      }),
    ).toThrow(/XENSTORE_PAYLOAD_MAX/);
  });

  it('reassembles any split of a message stream into the same messages', () => {
    const msg = fc.record({
      type: fc.integer({ min: 0, max: 30 }),
      reqId: fc.nat(),
      txId: fc.nat(),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(
        fc.array(msg, { maxLength: 10 }),
        fc.array(fc.nat(400), { maxLength: 20 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map((m) => encodeMessage(m)));
          const r = new MessageReader();
          const out: XsMessage[] = [];
          let off = 0;
          for (const c of [...cuts, stream.length]) {
            const end = Math.min(stream.length, off + c);
            expect(r.push(stream.subarray(off, end), (m) => out.push(m))).toBe(true);
            off = end;
          }
          expect(out.map((m) => ({ ...m, payload: [...m.payload] }))).toEqual(
            msgs.map((m) => ({ ...m, payload: [...m.payload] })),
          );
          expect(r.buffered).toBe(0);
        },
      ),
    );
  });

  it('declares a stream broken at a header claiming more than 4096 bytes', () => {
    const h = encodeMessage({ type: 2, reqId: 0, txId: 0, payload: new Uint8Array(0) });
    new DataView(h.buffer).setUint32(12, 4097, true);
    const r = new MessageReader();
    expect(r.push(h, () => {})).toBe(false);
    expect(r.push(new Uint8Array(1), () => {})).toBe(false);
  });

  it('splits payloads into NUL-terminated strings and round-trips any byte', () => {
    expect(splitStrings(Buffer.from('a\0bc\0tail'))).toEqual(['a', 'bc']);
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect([...binaryToBytes(bytesToBinary(b))]).toEqual([...b]);
      }),
    );
  });
});
