import { describe, expect, it } from 'vitest';
import { BackRing, FrontRing, sharedRingInit } from '../src/index.ts';
import { u32Codec } from './ring-helpers.ts';

describe('a back ring attached to a ring the frontend kept (backend restart, restored domain)', () => {
  it('starts after the last response on the page and serves only the requests that follow', () => {
    const page = new Uint8Array(4096);
    sharedRingInit(page);
    const codec = u32Codec(8);
    const front = new FrontRing(page, codec, codec);
    const first = new BackRing(page, codec, codec);
    for (let i = 0; i < 5; i++) front.putRequest(100 + i);
    front.pushRequestsAndCheckNotify();
    const served: number[] = [];
    while (first.unconsumedRequests() > 0) {
      const req = first.takeRequest() ?? -1;
      served.push(req);
      first.putResponse(req + 1000);
    }
    first.pushResponsesAndCheckNotify();
    expect(served).toEqual([100, 101, 102, 103, 104]);
    // The backend goes away; a new one attaches to the same page without saved indices.
    const second = new BackRing(page, codec, codec);
    expect(second.unconsumedRequests()).toBe(0);
    front.putRequest(200);
    front.pushRequestsAndCheckNotify();
    expect(second.takeRequest()).toBe(200);
    second.putResponse(1200);
    second.pushResponsesAndCheckNotify();
    const responses: number[] = [];
    while (front.unconsumedResponses() > 0) responses.push(front.takeResponse() ?? -1);
    expect(responses).toEqual([1100, 1101, 1102, 1103, 1104, 1200]);
  });

  it('on a fresh ring starts at 0', () => {
    const page = new Uint8Array(4096);
    sharedRingInit(page);
    const codec = u32Codec(8);
    expect(new BackRing(page, codec, codec).getState()).toEqual({ reqCons: 0, rspProdPvt: 0 });
  });
});
