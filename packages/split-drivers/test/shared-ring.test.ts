import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackRing,
  FrontRing,
  ringNeedsNotify,
  ringSizeFor,
  SplitDriversError,
  SRING_OFFSETS,
  sharedRingInit,
} from '../src/index.ts';
import { u32Codec } from './ring-helpers.ts';

function pair(entry: number, start = 0) {
  const page = new Uint8Array(4096);
  sharedRingInit(page);
  const view = new DataView(page.buffer);
  if (start !== 0) {
    for (const off of [SRING_OFFSETS.req_prod, SRING_OFFSETS.rsp_prod])
      view.setUint32(off, start, true);
    view.setUint32(SRING_OFFSETS.req_event, (start + 1) >>> 0, true);
    view.setUint32(SRING_OFFSETS.rsp_event, (start + 1) >>> 0, true);
  }
  const codec = u32Codec(entry);
  const front = new FrontRing(page, codec, codec, { reqProdPvt: start, rspCons: start });
  const back = new BackRing(page, codec, codec, { reqCons: start, rspProdPvt: start });
  return { page, view, front, back };
}

/** The ring.h rule restated by enumeration: is `event` one of old+1 … new (mod 2^32)? */
function eventInRange(oldProd: number, newProd: number, event: number): boolean {
  for (let k = oldProd; k !== newProd; k = (k + 1) >>> 0) {
    if ((k + 1) >>> 0 === event) return true;
  }
  return false;
}

describe('shared ring layout', () => {
  it('sizes rings as the largest power of two that fits after the 64-byte header', () => {
    expect(ringSizeFor(112)).toBe(32); // blkif x86_64
    expect(ringSizeFor(108)).toBe(32); // blkif x86_32
    expect(ringSizeFor(12)).toBe(256); // netif tx
    expect(ringSizeFor(8)).toBe(256); // netif rx
    expect(ringSizeFor(4032)).toBe(1);
    expect(() => ringSizeFor(4033)).toThrow(RangeError);
  });

  it('initialises the header as SHARED_RING_INIT does and leaves entries alone', () => {
    const page = new Uint8Array(4096).fill(0xaa);
    sharedRingInit(page);
    const v = new DataView(page.buffer);
    expect([0, 4, 8, 12].map((o) => v.getUint32(o, true))).toEqual([0, 1, 0, 1]);
    expect(page.subarray(16, 64).every((b) => b === 0)).toBe(true);
    expect(page[64]).toBe(0xaa);
  });

  it('places entries right after the header at index & (size - 1)', () => {
    const { front, page } = pair(112);
    for (let i = 0; i < 33; i++) {
      if (front.isFull()) break;
      front.putRequest(0x11223344 + i);
    }
    const v = new DataView(page.buffer);
    expect(v.getUint32(64, true)).toBe(0x11223344);
    expect(v.getUint32(64 + 112 * 31, true)).toBe(0x11223344 + 31);
    expect(front.isFull()).toBe(true);
    expect(() => front.putRequest(1)).toThrow(SplitDriversError);
  });
});

describe('shared ring protocol', () => {
  it('carries requests and responses in order with notifications as ring.h prescribes', () => {
    const { front, back } = pair(16);
    front.putRequest(7);
    front.putRequest(8);
    // req_event starts at 1, so the first push notifies.
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
    expect(back.takeRequest()).toBe(7);
    expect(back.takeRequest()).toBe(8);
    expect(back.takeRequest()).toBeUndefined();
    back.putResponse(70);
    expect(back.pushResponsesAndCheckNotify()).toBe(true);
    back.putResponse(80);
    // rsp_event is still 1: the frontend has not asked again.
    expect(back.pushResponsesAndCheckNotify()).toBe(false);
    expect(() => back.putResponse(90)).toThrow(SplitDriversError);
    expect(front.takeResponse()).toBe(70);
    expect(front.takeResponse()).toBe(80);
    expect(front.finalCheckForResponses()).toBe(false);
    expect(back.finalCheckForRequests()).toBe(false);
    front.putRequest(9);
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
    expect(back.finalCheckForRequests()).toBe(true);
  });

  it('restores private indices through getState and fromState', () => {
    const { front, back, page } = pair(16);
    front.putRequest(1);
    front.pushRequests();
    back.takeRequest();
    const codec = u32Codec(16);
    const f2 = FrontRing.fromState(
      JSON.parse(JSON.stringify(front.getState())),
      page,
      codec,
      codec,
    );
    const b2 = BackRing.fromState(JSON.parse(JSON.stringify(back.getState())), page, codec, codec);
    b2.putResponse(5);
    b2.pushResponses();
    expect(f2.takeResponse()).toBe(5);
  });

  const op = fc.constantFrom(
    'put',
    'push',
    'takeRsp',
    'finalRsp',
    'takeReq',
    'putRsp',
    'pushRsp',
    'finalReq',
  );

  it('never lets a producer overtake its consumer, and notifies exactly per ring.h (property)', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300 }),
        fc.constantFrom(0, 0xfffffff0, 0x7ffffffe),
        fc.constantFrom(16, 512, 1000),
        (ops, start, entry) => {
          const { front, back, view } = pair(entry, start);
          let backSleeping = false;
          let frontSleeping = false;
          let sent = 0;
          let received = 0;
          const inFlight: number[] = [];
          const answers: number[] = [];
          for (const o of ops) {
            const reqProd = view.getUint32(SRING_OFFSETS.req_prod, true);
            const rspProd = view.getUint32(SRING_OFFSETS.rsp_prod, true);
            // A side that acts is awake; only a failed final check puts it to sleep.
            if (o === 'takeReq' || o === 'putRsp' || o === 'pushRsp') backSleeping = false;
            if (o === 'put' || o === 'push' || o === 'takeRsp') frontSleeping = false;
            switch (o) {
              case 'put':
                if (!front.isFull()) front.putRequest(sent++);
                break;
              case 'push': {
                const event = view.getUint32(SRING_OFFSETS.req_event, true);
                const notify = front.pushRequestsAndCheckNotify();
                expect(notify).toBe(eventInRange(reqProd, front.reqProdPvt, event));
                if (backSleeping && front.reqProdPvt !== reqProd) {
                  expect(notify).toBe(true); // no lost wake-up
                }
                if (notify) backSleeping = false;
                break;
              }
              case 'takeRsp': {
                const r = front.takeResponse();
                if (r !== undefined) expect(r).toBe(answers.shift());
                break;
              }
              case 'finalRsp':
                frontSleeping = !front.finalCheckForResponses();
                break;
              case 'takeReq': {
                const r = back.takeRequest();
                if (r !== undefined) {
                  expect(r).toBe(received++);
                  inFlight.push(r);
                }
                break;
              }
              case 'putRsp': {
                const r = inFlight.shift();
                if (r !== undefined) {
                  back.putResponse(r);
                  answers.push(r);
                }
                break;
              }
              case 'pushRsp': {
                const event = view.getUint32(SRING_OFFSETS.rsp_event, true);
                const notify = back.pushResponsesAndCheckNotify();
                expect(notify).toBe(eventInRange(rspProd, back.rspProdPvt, event));
                if (frontSleeping && back.rspProdPvt !== rspProd) expect(notify).toBe(true);
                if (notify) frontSleeping = false;
                break;
              }
              case 'finalReq':
                backSleeping = !back.finalCheckForRequests();
                break;
            }
            // Invariants: nobody overtakes.
            const rp = view.getUint32(SRING_OFFSETS.req_prod, true);
            const sp = view.getUint32(SRING_OFFSETS.rsp_prod, true);
            expect((rp - sp) >>> 0).toBeLessThanOrEqual(front.size);
            expect((front.reqProdPvt - front.rspCons) >>> 0).toBeLessThanOrEqual(front.size);
            expect((back.reqCons - back.rspProdPvt) >>> 0).toBeLessThanOrEqual(back.size);
            expect((rp - back.reqCons) >>> 0).toBeLessThanOrEqual(back.size);
            expect((sp - front.rspCons) >>> 0).toBeLessThanOrEqual(front.size);
            expect(front.overflowed).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a backend inside the page and bounded whatever a hostile frontend writes (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        fc.array(fc.tuple(fc.constantFrom(0, 4, 8, 12), fc.integer({ min: 0, max: 0xffffffff })), {
          maxLength: 20,
        }),
        fc.constantFrom(8, 112, 1000),
        (garbage, writes, entry) => {
          const page = new Uint8Array(garbage);
          const view = new DataView(page.buffer);
          const touched: number[] = [];
          const codec = u32Codec(entry, touched);
          const back = new BackRing(page, codec, codec);
          let consumed = 0;
          for (const [off, value] of writes) {
            view.setUint32(off, value, true);
            let guard = 0;
            while (back.takeRequest() !== undefined) {
              consumed++;
              guard++;
              expect(guard).toBeLessThanOrEqual(2 * back.size); // half the requests get answered
              if (guard % 2 === 0) {
                back.putResponse(0);
                back.pushResponses();
              }
            }
            back.finalCheckForRequests();
            expect(back.pendingResponses()).toBeLessThanOrEqual(back.size);
          }
          for (const off of touched) {
            expect(off).toBeGreaterThanOrEqual(64);
            expect(off + entry).toBeLessThanOrEqual(4096);
          }
          expect(consumed).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('bounds a frontend against a backend that corrupts rsp_prod and flags the overflow', () => {
    const { front, view } = pair(16);
    front.putRequest(1);
    front.putRequest(2);
    front.pushRequests();
    view.setUint32(SRING_OFFSETS.rsp_prod, 0xdeadbeef, true);
    expect(front.unconsumedResponses()).toBe(2);
    expect(front.overflowed).toBe(true);
    front.takeResponse();
    front.takeResponse();
    expect(front.takeResponse()).toBeUndefined();
  });

  it('flags a frontend that claims more requests than the ring holds', () => {
    const { back, view } = pair(16);
    view.setUint32(SRING_OFFSETS.req_prod, back.size + 1, true);
    expect(back.requestProdOverflow()).toBe(true);
    expect(back.unconsumedRequests()).toBe(back.size);
  });

  it('agrees with the enumerated ring.h notification rule for any indices (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc.nat(64),
        fc.nat(0xffffffff),
        fc.integer({ min: -3, max: 70 }),
        (o, n, e, rel) => {
          const oldProd = o >>> 0;
          const newProd = (o + n) >>> 0;
          const event = rel >= 0 ? (o + rel) >>> 0 : e >>> 0;
          expect(ringNeedsNotify(oldProd, newProd, event)).toBe(
            eventInRange(oldProd, newProd, event),
          );
        },
      ),
    );
  });
});
