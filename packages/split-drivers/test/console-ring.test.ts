import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConsoleBack,
  ConsoleFront,
  XENCONS_OFFSETS,
  XENCONSOLE_CONNECTED,
  XENCONSOLE_DISCONNECTED,
} from '../src/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function consolePage(): Uint8Array {
  const page = new Uint8Array(4096);
  page[XENCONS_OFFSETS.connection] = XENCONSOLE_DISCONNECTED;
  return page;
}

describe('PV console ring', () => {
  it('carries guest output to the backend and input back, at the console.h offsets', () => {
    const page = consolePage();
    const front = new ConsoleFront(page);
    const back = new ConsoleBack(page);
    expect(front.isConnected()).toBe(false);
    back.connect();
    expect(page[3088]).toBe(XENCONSOLE_CONNECTED);
    expect(front.write(enc.encode('hello\n'))).toBe(6);
    expect(page.subarray(1024, 1030)).toEqual(enc.encode('hello\n'));
    expect(new DataView(page.buffer).getUint32(3084, true)).toBe(6);
    expect(front.isDrained()).toBe(false);
    expect(dec.decode(back.readOutput())).toBe('hello\n');
    expect(front.isDrained()).toBe(true);
    expect(back.writeInput(enc.encode('ls\r'))).toBe(3);
    expect(page.subarray(0, 3)).toEqual(enc.encode('ls\r'));
    expect(dec.decode(front.read())).toBe('ls\r');
    expect(front.read().length).toBe(0);
  });

  it('stops writing when out[] is full and resumes after the backend drains', () => {
    const page = consolePage();
    const front = new ConsoleFront(page);
    const back = new ConsoleBack(page);
    expect(front.write(new Uint8Array(3000).fill(65))).toBe(2048);
    expect(front.write(new Uint8Array(1))).toBe(0);
    expect(back.readOutput().length).toBe(2048);
    expect(front.write(new Uint8Array(10))).toBe(10);
    expect(back.writeInput(new Uint8Array(2000))).toBe(1024);
    expect(back.writeInput(new Uint8Array(1))).toBe(0);
  });

  it('delivers every byte in order across index wrap-around (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 30 }),
        fc.constantFrom(0, 0xfffffc00, 0xffffffff),
        (chunks, start) => {
          const page = consolePage();
          const v = new DataView(page.buffer);
          for (const off of [3072, 3076, 3080, 3084]) v.setUint32(off, start, true);
          const front = new ConsoleFront(page);
          const back = new ConsoleBack(page);
          const sent: number[] = [];
          const got: number[] = [];
          const gotIn: number[] = [];
          for (const c of chunks) {
            const n = front.write(c);
            sent.push(...c.subarray(0, n));
            got.push(...back.readOutput());
            const m = back.writeInput(c);
            expect(m).toBeLessThanOrEqual(c.length);
            gotIn.push(...front.read());
          }
          expect(got).toEqual(sent);
          expect(back.hostileIndexCount).toBe(0);
          expect(gotIn.length).toBeLessThanOrEqual(chunks.reduce((a, c) => a + c.length, 0));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('bounds what the backend reads and writes whatever indices a hostile guest sets (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(3072, 3076, 3080, 3084), fc.nat(0xffffffff)), {
          maxLength: 12,
        }),
        (writes) => {
          // A page inside a larger buffer with canaries around it shows any write outside it.
          const buf = new Uint8Array(3 * 4096).fill(0x5a);
          const page = buf.subarray(4096, 8192);
          page.fill(0);
          const back = new ConsoleBack(page);
          const v = new DataView(page.buffer, page.byteOffset, 4096);
          for (const [off, value] of writes) {
            v.setUint32(off, value, true);
            expect(back.readOutput().length).toBeLessThanOrEqual(2048);
            expect(back.writeInput(new Uint8Array(50).fill(1))).toBeLessThanOrEqual(50);
            expect(v.getUint32(3080, true)).toBe(v.getUint32(3084, true));
          }
          expect(buf.subarray(0, 4096).every((b) => b === 0x5a)).toBe(true);
          expect(buf.subarray(8192).every((b) => b === 0x5a)).toBe(true);
          // Only in[] and the index words can change; out[] is never written by the backend.
          expect(page.subarray(1024, 3072).every((b) => b === 0)).toBe(true);
        },
      ),
    );
  });

  it('returns only the newest 2048 bytes when out_prod runs far ahead and counts it', () => {
    const page = consolePage();
    const back = new ConsoleBack(page);
    new DataView(page.buffer).setUint32(3084, 100_000, true);
    expect(back.readOutput().length).toBe(2048);
    expect(back.hostileIndexCount).toBe(1);
    expect(back.pendingOutput()).toBe(0);
  });
});
