import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrontRing,
  Netback,
  NetbackVif,
  Netfront,
  type NetifRxRequest,
  type NetifRxResponse,
  type NetifTxRequest,
  type NetifTxResponse,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  plugDevice,
  sharedRingInit,
} from '../src/index.ts';
import { MemoryFabric } from '../src/testing/index.ts';
import { frame, mac, network } from './net-rig.ts';

describe('netfront, netback and the bridge', () => {
  it('connects with the keys Linux netfront and netback exchange', async () => {
    const n = await network();
    await n.addGuest(5);
    expect(n.xs.get('/local/domain/0/backend/vif/5/0/feature-rx-copy')).toBe('1');
    expect(n.xs.get('/local/domain/5/device/vif/0/request-rx-copy')).toBe('1');
    expect(n.xs.get('/local/domain/5/device/vif/0/tx-ring-ref')).toMatch(/^\d+$/);
    expect(n.xs.get('/local/domain/5/device/vif/0/rx-ring-ref')).toMatch(/^\d+$/);
    expect(n.xs.get('/local/domain/0/backend/vif/5/0/state')).toBe('4');
    expect(n.xs.get('/local/domain/5/device/vif/0/state')).toBe('4');
  });

  it('carries frames between two domains, including frames larger than a page', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6);
    expect(await a.front.send(frame(mac(6), mac(5)))).toBe(0);
    await n.settle();
    expect(b.inbox.length).toBe(1);
    expect(b.inbox[0]?.subarray(0, 12)).toEqual(frame(mac(6), mac(5)).subarray(0, 12));
    const big = frame(
      mac(5),
      mac(6),
      Uint8Array.from({ length: 6000 }, (_, i) => i & 0xff),
    );
    expect(await b.front.send(big)).toBe(0);
    await n.settle();
    expect(a.inbox.at(-1)).toEqual(big);
    expect(a.back.vif?.metrics).toMatchObject({ txPackets: 1, rxPackets: 1, rxBytes: big.length });
  });

  it('drops and counts spoofed frames and keeps VLANs apart', async () => {
    const n = await network();
    const a = await n.addGuest(5, { vlan: 10 });
    const b = await n.addGuest(6, { vlan: 10 });
    const c = await n.addGuest(7, { vlan: 20 });
    expect(await a.front.send(frame('ff:ff:ff:ff:ff:ff', mac(9)))).toBe(0); // accepted by netback, dropped by the bridge
    await n.settle();
    expect(b.inbox.length + c.inbox.length).toBe(0);
    expect(n.bridge.counters(a.back.portId ?? -1).spoofDrops).toBe(1);
    await a.front.send(frame('ff:ff:ff:ff:ff:ff', mac(5)));
    await n.settle();
    expect([b.inbox.length, c.inbox.length]).toEqual([1, 0]);
  });

  it('holds the xl rate= limit within 10%', async () => {
    const n = await network();
    const a = await n.addGuest(5, { rate: '12500,50000' }); // 12500 bytes per 50 ms = 250 kB/s
    const b = await n.addGuest(6);
    const size = 1000;
    for (let t = 0; t < 400; t++) {
      // 400 × 5 ms = 2 s of offered load at 4× the limit.
      for (let k = 0; k < 5; k++) await a.front.send(frame(mac(6), mac(5), size - 14));
      n.tick(5);
    }
    await n.settle();
    const passed = n.bridge.counters(a.back.portId ?? -1).rxBytes;
    expect(passed / 500_000).toBeGreaterThan(0.9);
    expect(passed / 500_000).toBeLessThanOrEqual(1.1);
    expect(b.inbox.length * size).toBeLessThanOrEqual(passed);
  });
});

describe('netback configuration from xenstore', () => {
  it('fails only the device whose mac key is garbage (a guest-written frontend key), then serves others', async () => {
    const n = await network();
    const paths = await plugDevice(n.xs.client(), {
      type: 'vif',
      devid: 0,
      backendDomid: 0,
      frontendDomid: 9,
      frontendKeys: { mac: 'not a mac', handle: '0' }, // no backend mac: netback falls back to it
    });
    const back = new Netback({
      xenbus: n.xs.client(),
      backendPath: paths.backend,
      mapper: n.fabric.domain(0).mapper,
      events: n.fabric.domain(0).events,
      bridge: n.bridge,
    });
    await back.start();
    const d = n.fabric.domain(9);
    const front = new Netfront({
      xenbus: n.xs.client(),
      frontendPath: paths.frontend,
      grants: d.grants,
      pages: d.pages,
      events: d.events,
      onFrame: () => {},
    });
    expect(await front.connect()).toBe(false);
    expect(back.lastError).toMatch(/cannot join the bridge: .*bad MAC/);
    expect(n.xs.get(`${paths.backend}/state`)).toBe('5'); // Closing
    expect(n.fabric.activeMappings(9)).toBe(0);
    const a = await n.addGuest(5);
    const b = await n.addGuest(6);
    expect(await a.front.send(frame(mac(6), mac(5)))).toBe(0);
    await n.settle();
    expect(b.inbox.length).toBe(1);
  });
});

describe('netback transmit shaping', () => {
  it('delays packets over the xl rate= limit instead of dropping them, within 10%', async () => {
    const n = await network();
    const a = await n.addGuest(5, { rate: '12500,50000', shaped: true }); // 250 kB/s
    const b = await n.addGuest(6);
    const size = 1000;
    const sends: Promise<number>[] = [];
    const bytes = () => b.inbox.reduce((t, f) => t + f.length, 0);
    for (let t = 0; t < 400; t++) {
      // 400 × 5 ms = 2 s of offered load at 4× the limit.
      for (let k = 0; k < 5; k++) sends.push(a.front.send(frame(mac(6), mac(5), size - 14)));
      n.tick(5);
      await n.settle();
    }
    const inTwoSeconds = bytes();
    expect(inTwoSeconds / 500_000).toBeGreaterThan(0.9);
    expect(inTwoSeconds / 500_000).toBeLessThanOrEqual(1.1);
    for (let t = 0; t < 2000 && b.inbox.length < 2000; t++) {
      n.tick(5);
      await n.settle();
    }
    expect(b.inbox.length).toBe(2000); // every frame arrived: delayed, never dropped
    expect((await Promise.all(sends)).every((st) => st === 0)).toBe(true);
    expect(n.bridge.counters(a.back.portId ?? -1).rateDrops).toBe(0);
  });
});

describe('netback against a hostile frontend', () => {
  it('survives arbitrary tx slots: bounded work, no stray mappings, only well-formed frames out (property)', async () => {
    let forwarded = 0;
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            {
              weight: 3,
              arbitrary: fc.record({
                gref: fc.constant(-1),
                offset: fc.nat(200),
                flags: fc.constantFrom(0, 0, 0, 1, 2),
                id: fc.nat(0xffff),
                size: fc.integer({ min: 14, max: 3000 }),
              }),
            },
            {
              weight: 2,
              arbitrary: fc.record({
                gref: fc.oneof(fc.constant(-1), fc.nat(7), fc.integer({ min: 11, max: 40 })), // 8..10: data and rings
                offset: fc.nat(4200),
                flags: fc.nat(15),
                id: fc.nat(0xffff),
                size: fc.nat(9000),
              }),
            },
          ),
          { maxLength: 80 },
        ),
        fc.option(fc.nat(0xffffffff), { nil: undefined, freq: 8 }),
        async (slots, corrupt) => {
          const fabric = new MemoryFabric();
          const guest = fabric.domain(3);
          const txPage = new Uint8Array(4096);
          const rxPage = new Uint8Array(4096);
          sharedRingInit(txPage);
          sharedRingInit(rxPage);
          const data = new Uint8Array(4096).fill(0x77);
          const good = guest.grants.grantAccess(0, data, true);
          const txRef = guest.grants.grantAccess(0, txPage, false);
          const rxRef = guest.grants.grantAccess(0, rxPage, false);
          const back = fabric.domain(0);
          const tx = back.mapper.mapGrant(3, txRef, false);
          const rx = back.mapper.mapGrant(3, rxRef, false);
          if (typeof tx === 'number' || typeof rx === 'number') throw new Error('map');
          const out: Uint8Array[] = [];
          const vif = new NetbackVif({
            txRing: tx.page,
            rxRing: rx.page,
            frontendDomid: 3,
            mapper: back.mapper,
            notify: () => {},
            transmit: (f) => out.push(f),
            budget: 8,
            multicastControl: true,
          });
          const front = new FrontRing<NetifTxRequest, NetifTxResponse>(
            txPage,
            netifTxRequestCodec,
            netifTxResponseCodec,
          );
          for (const s of slots) {
            if (front.isFull()) {
              for (let r = front.takeResponse(); r !== undefined; r = front.takeResponse());
              if (front.isFull()) break;
            }
            front.putRequest({ ...s, gref: s.gref < 0 ? good : s.gref });
            front.pushRequests();
            if (corrupt !== undefined && s.id % 7 === 0)
              new DataView(txPage.buffer).setUint32(0, corrupt, true);
            vif.kick();
            for (let i = 0; i < 4; i++) await Promise.resolve();
          }
          for (let i = 0; i < 50; i++) await Promise.resolve();
          for (const f of out) {
            expect(f.length).toBeGreaterThanOrEqual(14);
            expect(f.every((b) => b === 0x77)).toBe(true); // only bytes from the granted page
          }
          expect(fabric.activeMappings(3)).toBe(2); // just the two rings
          forwarded += out.length;
          errors += vif.metrics.txErrors;
        },
      ),
      { numRuns: 120 },
    );
    expect(forwarded).toBeGreaterThan(20); // the generator reaches valid packets too
    expect(errors).toBeGreaterThan(20);
  });

  it('drops frames when the guest posted no rx buffer, and fills posted ones in order', () => {
    const fabric = new MemoryFabric();
    const guest = fabric.domain(3);
    const rxPage = new Uint8Array(4096);
    sharedRingInit(rxPage);
    const rx = fabric
      .domain(0)
      .mapper.mapGrant(3, guest.grants.grantAccess(0, rxPage, false), false);
    if (typeof rx === 'number') throw new Error('map');
    const vif = new NetbackVif({
      txRing: new Uint8Array(4096),
      rxRing: rx.page,
      frontendDomid: 3,
      mapper: fabric.domain(0).mapper,
      notify: () => {},
      transmit: () => {},
    });
    expect(vif.deliver(new Uint8Array(60))).toBe(false);
    const front = new FrontRing<NetifRxRequest, NetifRxResponse>(
      rxPage,
      netifRxRequestCodec,
      netifRxResponseCodec,
    );
    const buf = new Uint8Array(4096);
    front.putRequest({ id: 9, gref: guest.grants.grantAccess(0, buf, false) });
    front.putRequest({ id: 10, gref: 4242 });
    front.pushRequests();
    expect(vif.deliver(new Uint8Array(60).fill(5))).toBe(true);
    expect(front.takeResponse()).toMatchObject({ id: 9, status: 60 });
    expect(buf[59]).toBe(5);
    expect(vif.deliver(new Uint8Array(60))).toBe(false); // bad gref
    expect(front.takeResponse()).toMatchObject({ id: 10, status: -1 });
    expect(vif.metrics).toMatchObject({ rxPackets: 1, rxDrops: 2 });
  });
});
