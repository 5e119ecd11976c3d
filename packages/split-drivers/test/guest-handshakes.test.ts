import { describe, expect, it } from 'vitest';
import {
  Blkback,
  type BlkifRequest,
  type BlkifResponse,
  blkifCodecs,
  FrontRing,
  MemoryStorage,
  parseXenbusState,
  plugDevice,
  sharedRingInit,
  waitForState,
} from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';

/** Lets watches and event deliveries run (GRUB yields with SCHEDOP_yield in the same places). */
async function yieldToOthers(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('handshakes of real guests against blkback', () => {
  it('serves a GRUB-style frontend (x86_32, polling), then a Mini-OS-style one after re-init', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    const fabric = new MemoryFabric();
    const contents = new Uint8Array(64 * 512);
    contents.set(new TextEncoder().encode('GRUB boot sector'), 0);
    const paths = await plugDevice(c, {
      type: 'vbd',
      devid: 51712,
      backendDomid: 0,
      frontendDomid: 7,
      backendKeys: { mode: 'w', dev: 'xvda' },
      frontendKeys: { 'virtual-device': '51712' },
    });
    const back = new Blkback({
      xenbus: c,
      backendPath: paths.backend,
      mapper: fabric.domain(0).mapper,
      events: fabric.domain(0).events,
      storage: new MemoryStorage(64, { contents }),
    });
    await back.start();
    const guest = fabric.domain(7);

    // --- GRUB (grub-core/disk/xen/xendisk.c) ---
    expect(await c.directory('/local/domain/7/device/vbd')).toEqual(['51712']);
    const backendPath = (await c.read(`${paths.frontend}/backend`)) ?? '';
    expect(await c.read(`${backendPath}/dev`)).toBe('xvda');
    const backendId = Number(await c.read(`${paths.frontend}/backend-id`));
    const ringPage = new Uint8Array(4096);
    const dmaPage = new Uint8Array(4096);
    sharedRingInit(ringPage);
    const ringRef = guest.grants.grantAccess(backendId, ringPage, false);
    const dmaRef = guest.grants.grantAccess(backendId, dmaPage, false);
    const port = guest.events.allocUnbound(backendId);
    await c.write(`${paths.frontend}/ring-ref`, String(ringRef));
    await c.write(`${paths.frontend}/event-channel`, String(port));
    await c.write(`${paths.frontend}/protocol`, 'x86_32-abi');
    await c.write(`${paths.frontend}/state`, '3');
    // Poll the backend's state until it is not InitWait.
    let polls = 0;
    while (parseXenbusState(await c.read(`${backendPath}/state`)) === 2) {
      await yieldToOthers();
      expect(++polls).toBeLessThan(1000);
    }
    expect(await c.read(`${backendPath}/state`)).toBe('4');
    expect(await c.read(`${backendPath}/sectors`)).toBe('64');
    expect(await c.read(`${backendPath}/sector-size`)).toBe('512');
    // One request at a time, id 0, plain push, always an event, then busy-wait on rsp_prod.
    const x32 = blkifCodecs('x86_32-abi');
    if (x32 === undefined) throw new Error('codecs');
    const ring = new FrontRing<BlkifRequest, BlkifResponse>(ringPage, x32.request, x32.response);
    ring.putRequest({
      kind: 'rw',
      operation: 0,
      nrSegments: 1,
      handle: 0,
      id: 0n,
      sectorNumber: 0n,
      segments: [{ gref: dmaRef, firstSect: 0, lastSect: 7 }],
    });
    ring.pushRequests();
    guest.events.notify(port);
    let rsp: BlkifResponse | undefined;
    for (polls = 0; rsp === undefined; polls++) {
      await yieldToOthers();
      rsp = ring.takeResponse();
      expect(polls).toBeLessThan(1000);
    }
    expect(rsp).toEqual({ id: 0n, operation: 0, status: 0 });
    expect(new TextDecoder().decode(dmaPage.subarray(0, 16))).toBe('GRUB boot sector');
    // Exit: Closed, wait for the backend's Closed, clear the keys, back to Initialising.
    await c.write(`${paths.frontend}/state`, '6');
    await waitForState(c, backendPath, (s) => s === 6);
    await c.write(`${paths.frontend}/ring-ref`, '');
    await c.write(`${paths.frontend}/event-channel`, '');
    guest.grants.endAccess(dmaRef);
    guest.grants.endAccess(ringRef);
    guest.events.close(port);
    await c.write(`${paths.frontend}/state`, '1');
    expect(await waitForState(c, backendPath, (s) => s === 2)).toBe(2);
    expect(fabric.activeMappings(7)).toBe(0);

    // --- Mini-OS blkfront: writes ring-ref, event-channel, protocol and state 4 directly ---
    const ring2Page = new Uint8Array(4096);
    sharedRingInit(ring2Page);
    const port2 = guest.events.allocUnbound(backendId);
    let events = 0;
    guest.events.onEvent(port2, () => events++);
    await c.write(
      `${paths.frontend}/ring-ref`,
      String(guest.grants.grantAccess(backendId, ring2Page, false)),
    );
    await c.write(`${paths.frontend}/event-channel`, String(port2));
    await c.write(`${paths.frontend}/protocol`, 'x86_64-abi');
    await c.write(`${paths.frontend}/state`, '4');
    expect(await waitForState(c, backendPath, (s) => s === 4)).toBe(4);
    const x64 = blkifCodecs('x86_64-abi');
    if (x64 === undefined) throw new Error('codecs');
    const ring2 = new FrontRing<BlkifRequest, BlkifResponse>(ring2Page, x64.request, x64.response);
    ring2.putRequest({
      kind: 'rw',
      operation: 3,
      nrSegments: 0,
      handle: 0,
      id: 77n,
      sectorNumber: 0n,
      segments: [],
    });
    if (ring2.pushRequestsAndCheckNotify()) guest.events.notify(port2);
    while (events === 0) await yieldToOthers();
    expect(ring2.takeResponse()).toEqual({ id: 77n, operation: 3, status: 0 });
    expect(back.metrics.flushes).toBe(1);
    await back.stop();
  });
});
