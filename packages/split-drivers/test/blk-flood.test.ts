import { describe, expect, it } from 'vitest';
import {
  Blkback,
  Blkfront,
  type BlkifRequest,
  type BlkifResponse,
  blkifCodecs,
  FrontRing,
  MemoryStorage,
  plugDevice,
  sharedRingInit,
} from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';

describe('blkback under a request flood', () => {
  it('keeps serving a well-behaved domain while another floods its ring', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    const fabric = new MemoryFabric();
    const start = async (domid: number) => {
      const paths = await plugDevice(c, {
        type: 'vbd',
        devid: 51712,
        backendDomid: 0,
        frontendDomid: domid,
      });
      const back = new Blkback({
        xenbus: c,
        backendPath: paths.backend,
        mapper: fabric.domain(0).mapper,
        events: fabric.domain(0).events,
        storage: new MemoryStorage(1024),
        // Yield to the macrotask queue between batches, so timers still run during a flood.
        yieldToOthers: () => new Promise<void>((resolve) => setImmediate(resolve)),
      });
      await back.start();
      return { paths, back };
    };
    const evil = await start(8);
    const good = await start(9);

    // The flooder: a hand-driven frontend that refills its ring with bad requests and kicks
    // the backend every time it gets responses back.
    const d8 = fabric.domain(8);
    const page = new Uint8Array(4096);
    sharedRingInit(page);
    const codecs = blkifCodecs('x86_64-abi');
    if (codecs === undefined) throw new Error('codecs');
    const ring = new FrontRing<BlkifRequest, BlkifResponse>(page, codecs.request, codecs.response);
    const port = d8.events.allocUnbound(0);
    let stop = false;
    const refill = (): void => {
      while (ring.takeResponse() !== undefined);
      while (!stop && !ring.isFull()) {
        ring.putRequest({
          kind: 'rw',
          operation: 0,
          nrSegments: 1,
          handle: 0,
          id: 1n,
          sectorNumber: 0n,
          segments: [{ gref: 999, firstSect: 0, lastSect: 7 }],
        });
      }
      ring.pushRequests();
      ring.finalCheckForResponses(); // ask to be woken for the next responses
      if (!stop) d8.events.notify(port); // always kick, ignoring req_event
    };
    d8.events.onEvent(port, refill);
    await c.write(`${evil.paths.frontend}/ring-ref`, String(d8.grants.grantAccess(0, page, false)));
    await c.write(`${evil.paths.frontend}/event-channel`, String(port));
    await c.write(`${evil.paths.frontend}/state`, '4');
    while (!evil.back.connected) await Promise.resolve();
    refill();

    const d9 = fabric.domain(9);
    const front = new Blkfront({
      xenbus: c,
      frontendPath: good.paths.frontend,
      grants: d9.grants,
      pages: d9.pages,
      events: d9.events,
    });
    await front.connect();
    const before = evil.back.metrics.errors;
    const timer = new Promise<number>((resolve) =>
      setTimeout(() => resolve(evil.back.metrics.errors), 5),
    );
    expect(await timer).toBeGreaterThan(before); // a timer fired while the flood was running
    for (let i = 0; i < 20; i++) {
      expect(await front.write(i * 8, new Uint8Array(4096).fill(i))).toBe(0);
      expect((await front.read(i * 8, 8)).data[0]).toBe(i);
    }
    const during = evil.back.metrics.errors - before;
    stop = true;
    expect(during).toBeGreaterThan(0); // the flood really ran alongside
    expect(good.back.metrics.errors).toBe(0);
    expect(fabric.activeMappings(9)).toBe(1);
    await evil.back.stop();
    await good.back.stop();
  });
});
