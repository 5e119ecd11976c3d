import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  completeTransportChecksum,
  FrontRing,
  NETIF_RSP,
  NETTXF,
  NetbackVif,
  type NetbackVifOptions,
  type NetifExtraInfo,
  type NetifRxRequest,
  type NetifRxResponse,
  type NetifTxRequest,
  type NetifTxResponse,
  netifExtraToTxSlot,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  sharedRingInit,
  XEN_NETBK_MCAST_MAX,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE,
} from '../src/index.ts';
import { MemoryFabric } from '../src/testing/index.ts';
import { frame, mac, network } from './net-rig.ts';
import { ipFrame } from './packets.ts';

const T = XEN_NETIF_EXTRA_TYPE;

describe('checksum offload through netfront, netback and the bridge', () => {
  it('fills in the checksum a guest left blank, and the receiver gets it flagged validated', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6);
    for (const [ip, proto] of [
      [4, 'udp'],
      [4, 'tcp'],
      [6, 'udp'],
      [6, 'tcp'],
    ] as const) {
      const payload = Uint8Array.from({ length: 301 }, (_, i) => (i * 7) & 0xff);
      const sent = ipFrame({ dst: mac(6), src: mac(5), ip, proto, payload, checksumField: 0xbeef });
      expect(await a.front.send(sent, { checksumBlank: true })).toBe(NETIF_RSP.NETIF_RSP_OKAY);
      await n.settle();
      const expected = sent.slice();
      expect(completeTransportChecksum(expected)).toBe(true); // checked against tcpdump elsewhere
      expect(expected).not.toEqual(sent);
      expect(b.inbox.at(-1)).toEqual(expected);
      expect(b.verified.at(-1)).toBe(true);
    }
    expect(a.back.metrics).toMatchObject({ txPackets: 4, txChecksumsFilled: 4, txErrors: 0 });
  });

  it('passes frames without offload through untouched, validated only when the sender says so', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6);
    const f = ipFrame({
      dst: mac(6),
      src: mac(5),
      ip: 4,
      proto: 'udp',
      payload: new Uint8Array(20),
      checksumField: 0x1234,
    });
    await a.front.send(f);
    await a.front.send(f, { dataValidated: true });
    await n.settle();
    expect(b.inbox).toEqual([f, f]);
    expect(b.verified).toEqual([false, true]);
    expect(a.back.metrics.txChecksumsFilled).toBe(0);
  });

  it('fails an offload request for a frame that is not a whole TCP/UDP packet, and counts it', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6);
    expect(await a.front.send(frame(mac(6), mac(5)), { checksumBlank: true })).toBe(
      NETIF_RSP.NETIF_RSP_ERROR,
    );
    await n.settle();
    expect(b.inbox).toEqual([]);
    expect(a.back.metrics).toMatchObject({ txPackets: 0, txErrors: 1 });
    expect(await a.front.send(frame(mac(6), mac(5)))).toBe(NETIF_RSP.NETIF_RSP_OKAY); // still serving
  });
});

describe('multicast control through extra-info slots', () => {
  const group = '01:00:5e:00:00:fb';

  it('delivers multicast only to subscribers that asked for control, broadcast to all', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6, { multicastControl: true });
    const c = await n.addGuest(7);
    expect(n.xs.get('/local/domain/0/backend/vif/6/0/feature-multicast-control')).toBe('1');
    expect(n.xs.get('/local/domain/6/device/vif/0/request-multicast-control')).toBe('1');
    expect(n.xs.get('/local/domain/7/device/vif/0/request-multicast-control')).toBeUndefined();
    expect([b.front.multicastControl, c.front.multicastControl]).toEqual([true, false]);

    await a.front.send(frame(group, mac(5)));
    await n.settle();
    expect([b.inbox.length, c.inbox.length]).toEqual([0, 1]);
    expect(b.back.metrics.rxFiltered).toBe(1);

    expect(await b.front.subscribeMulticast(group)).toBe(NETIF_RSP.NETIF_RSP_OKAY);
    expect(b.back.vif?.multicastAddresses).toEqual([group]);
    expect(b.back.metrics.txPackets).toBe(0); // a control request, not a packet
    await a.front.send(frame(group, mac(5)));
    await a.front.send(frame('01:00:5e:00:00:01', mac(5)));
    await a.front.send(frame('ff:ff:ff:ff:ff:ff', mac(5)));
    await n.settle();
    expect(b.inbox.map((f) => f[5])).toEqual([0xfb, 0xff]);
    expect(c.inbox.length).toBe(4);

    expect(await b.front.subscribeMulticast(group, false)).toBe(NETIF_RSP.NETIF_RSP_OKAY);
    await a.front.send(frame(group, mac(5)));
    await n.settle();
    expect(b.inbox.length).toBe(2);
    expect(b.back.metrics.rxFiltered).toBe(3);
  });

  it('refuses subscriptions from a frontend that did not ask for control, and past the table size', async () => {
    const n = await network();
    const b = await n.addGuest(6, { multicastControl: true });
    const c = await n.addGuest(7);
    expect(await c.front.subscribeMulticast(group)).toBe(NETIF_RSP.NETIF_RSP_ERROR);
    for (let i = 0; i < XEN_NETBK_MCAST_MAX; i++) {
      const m = `01:00:5e:00:01:${i.toString(16).padStart(2, '0')}`;
      expect(await b.front.subscribeMulticast(m)).toBe(NETIF_RSP.NETIF_RSP_OKAY);
    }
    expect(await b.front.subscribeMulticast('01:00:5e:00:01:00')).toBe(0); // already there
    expect(await b.front.subscribeMulticast(group)).toBe(NETIF_RSP.NETIF_RSP_ERROR);
    expect(b.back.vif?.multicastAddresses.length).toBe(XEN_NETBK_MCAST_MAX);
  });
});

/** A VIF on raw rings, driven slot by slot like a guest's netfront would. */
function rawVif(extra: Partial<NetbackVifOptions> = {}) {
  const fabric = new MemoryFabric();
  const guest = fabric.domain(3);
  const txPage = new Uint8Array(4096);
  const rxPage = new Uint8Array(4096);
  sharedRingInit(txPage);
  sharedRingInit(rxPage);
  const data = new Uint8Array(4096);
  data.set(frame(mac(9), mac(3)));
  const gref = guest.grants.grantAccess(0, data, true);
  const back = fabric.domain(0);
  const tx = back.mapper.mapGrant(3, guest.grants.grantAccess(0, txPage, false), false);
  const rx = back.mapper.mapGrant(3, guest.grants.grantAccess(0, rxPage, false), false);
  if (typeof tx === 'number' || typeof rx === 'number') throw new Error('map');
  const out: Uint8Array[] = [];
  const options: NetbackVifOptions = {
    txRing: tx.page,
    rxRing: rx.page,
    frontendDomid: 3,
    mapper: back.mapper,
    notify: () => {},
    transmit: (f) => out.push(f),
    ...extra,
  };
  const front = new FrontRing<NetifTxRequest, NetifTxResponse>(
    txPage,
    netifTxRequestCodec,
    netifTxResponseCodec,
  );
  let id = 0;
  /** Pushes a 60-byte packet with the given extras; returns the packet slot's id. */
  const push = (extras: NetifExtraInfo[] = []): number => {
    const pid = id++;
    const flags = extras.length > 0 ? NETTXF.NETTXF_extra_info : 0;
    front.putRequest({ gref, offset: 0, flags, id: pid, size: 60 });
    extras.forEach((e, i) => {
      const more = i < extras.length - 1 ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
      front.putRequest(netifExtraToTxSlot({ ...e, flags: more }));
    });
    front.pushRequests();
    return pid;
  };
  const responses = () => {
    const r: NetifTxResponse[] = [];
    for (let x = front.takeResponse(); x !== undefined; x = front.takeResponse()) r.push(x);
    return r;
  };
  const settle = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { options, front, push, responses, out, settle, vif: new NetbackVif(options) };
}

const extra = (type: number): NetifExtraInfo => ({ type, flags: 0, data: new Uint8Array(6) });

describe('netback extra-info slots', () => {
  it('answers extra slots with NETIF_RSP_NULL, accepts hash hints, refuses GSO and unknown types', async () => {
    const r = rawVif();
    const ok = r.push([extra(T.XEN_NETIF_EXTRA_TYPE_HASH)]);
    const gso = r.push([extra(T.XEN_NETIF_EXTRA_TYPE_GSO)]);
    const none = r.push([extra(T.XEN_NETIF_EXTRA_TYPE_NONE)]);
    const unknown = r.push([extra(T.XEN_NETIF_EXTRA_TYPE_HASH), extra(9)]);
    r.vif.kick();
    await r.settle();
    const rsp = r.responses();
    expect(rsp.length).toBe(9); // one per slot
    const byId = (id: number) =>
      rsp.find((x) => x.id === id && x.status !== NETIF_RSP.NETIF_RSP_NULL);
    expect(byId(ok)?.status).toBe(NETIF_RSP.NETIF_RSP_OKAY);
    for (const bad of [gso, none, unknown])
      expect(byId(bad)?.status).toBe(NETIF_RSP.NETIF_RSP_ERROR);
    expect(rsp.filter((x) => x.status === NETIF_RSP.NETIF_RSP_NULL).length).toBe(5);
    expect(r.out.length).toBe(1);
    expect(r.vif.metrics).toMatchObject({ txPackets: 1, txErrors: 3 });
  });
});

describe('netback VIF state', () => {
  it('resumes on a restored VIF exactly where the saved one stopped', async () => {
    const r = rawVif({ multicastControl: true });
    const sub: NetifExtraInfo = {
      type: T.XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
      flags: 0,
      data: new Uint8Array([1, 0, 0x5e, 0, 0, 0xfb]),
    };
    r.push();
    r.push([sub]);
    r.vif.kick();
    await r.settle();
    expect(r.responses().length).toBe(3);
    const state = JSON.parse(JSON.stringify(r.vif.getState()));
    r.vif.stop();
    const restored = NetbackVif.fromState(state, r.options);
    expect(restored.multicastAddresses).toEqual(['01:00:5e:00:00:fb']);
    expect(restored.metrics.txPackets).toBe(1);
    const next = r.push();
    restored.kick();
    await r.settle();
    expect(r.responses()).toEqual([{ id: next, status: NETIF_RSP.NETIF_RSP_OKAY }]);
    expect(r.out.length).toBe(2); // the first packet was not sent again
    expect(restored.getState().metrics.txPackets).toBe(2);
  });
});

describe('netback fairness', () => {
  it('serves busy VIFs round-robin, at most one budget of packets per turn', async () => {
    const order: string[] = [];
    const vifs = ['a', 'b', 'c'].map((name) => {
      const r = rawVif({ budget: 8, transmit: () => order.push(name) });
      for (let i = 0; i < 40; i++) r.push();
      return r;
    });
    for (const r of vifs) r.vif.kick();
    for (let i = 0; i < 200; i++) await Promise.resolve();
    expect(order.length).toBe(120);
    const runs: string[] = [];
    for (let i = 0; i < order.length; i += 8) runs.push(order.slice(i, i + 8).join(''));
    // Every turn is one VIF's full budget, and the VIFs take turns.
    expect(runs).toEqual(Array.from({ length: 15 }, (_, i) => ['a', 'b', 'c'][i % 3]?.repeat(8)));
  });
});

describe('netback receive queue', () => {
  it('holds frames until the guest posts buffers, delivers them in order, and bounds the queue', async () => {
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
      rxQueueBytes: 3 * 100,
    });
    const front = new FrontRing<NetifRxRequest, NetifRxResponse>(
      rxPage,
      netifRxRequestCodec,
      netifRxResponseCodec,
    );
    for (let i = 1; i <= 4; i++) expect(vif.deliver(new Uint8Array(100).fill(i))).toBe(i <= 3);
    expect(vif.rxQueueLength).toBe(3);
    expect(vif.metrics).toMatchObject({ rxPackets: 0, rxDrops: 1 });
    const bufs = [0, 1].map(() => new Uint8Array(4096));
    for (const [id, b] of bufs.entries())
      front.putRequest({ id, gref: guest.grants.grantAccess(0, b, false) });
    expect(front.pushRequestsAndCheckNotify()).toBe(true); // netback asked to be told
    vif.kick(); // the guest's notification
    expect(bufs.map((b) => b[0])).toEqual([1, 2]);
    expect(vif.rxQueueLength).toBe(1);
    expect(vif.deliver(new Uint8Array(100).fill(5))).toBe(true); // queued behind frame 3
    front.takeResponse();
    front.takeResponse();
    front.putRequest({ id: 0, gref: guest.grants.grantAccess(0, bufs[0] as Uint8Array, false) });
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
    vif.kick();
    expect(bufs[0]?.[0]).toBe(3);
    expect(vif.metrics).toMatchObject({ rxPackets: 3, rxDrops: 1 });
    expect(vif.rxQueueLength).toBe(1);
  });

  it('lets a burst larger than the posted buffers through end to end', async () => {
    const n = await network();
    const a = await n.addGuest(5);
    const b = await n.addGuest(6, { rxBuffers: 2 });
    const sends = [];
    for (let i = 0; i < 20; i++) sends.push(a.front.send(frame(mac(6), mac(5), 46 + i)));
    await Promise.all(sends);
    for (let i = 0; i < 10; i++) await n.settle();
    expect(b.inbox.map((f) => f.length)).toEqual(Array.from({ length: 20 }, (_, i) => 60 + i));
    expect(b.back.metrics.rxDrops).toBe(0);
  });
});

describe('netback next to a hostile frontend', () => {
  it('keeps two well-behaved domains exchanging frames whatever a third writes into its rings (property)', async () => {
    let hostilePackets = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            scribble: fc.array(
              fc.record({
                ring: fc.constantFrom('tx' as const, 'rx' as const),
                at: fc.oneof(
                  { arbitrary: fc.integer({ min: 64, max: 64 + 12 * 16 }), weight: 6 },
                  { arbitrary: fc.nat(15), weight: 1 },
                  { arbitrary: fc.nat(4095), weight: 1 },
                ),
                bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
              }),
              { maxLength: 6 },
            ),
            produce: fc.oneof(
              { arbitrary: fc.nat(6), weight: 20 },
              { arbitrary: fc.nat(0xffffffff), weight: 1 },
            ),
            len: fc.integer({ min: 0, max: 5000 }),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        async (steps) => {
          const n = await network();
          const a = await n.addGuest(5);
          const b = await n.addGuest(6);
          // The hostile domain 7: raw rings it fully controls, a VIF on the same bridge.
          const evil = n.fabric.domain(7);
          const txPage = new Uint8Array(4096);
          const rxPage = new Uint8Array(4096);
          sharedRingInit(txPage);
          sharedRingInit(rxPage);
          const dom0 = n.fabric.domain(0);
          const tx = dom0.mapper.mapGrant(7, evil.grants.grantAccess(0, txPage, false), false);
          const rx = dom0.mapper.mapGrant(7, evil.grants.grantAccess(0, rxPage, false), false);
          if (typeof tx === 'number' || typeof rx === 'number') throw new Error('map');
          const data = new Uint8Array(4096).fill(0xee);
          data.set(frame('ff:ff:ff:ff:ff:ff', mac(7)));
          const dataRef = evil.grants.grantAccess(0, data, true);
          let vif: NetbackVif | undefined;
          const port = n.bridge.addPort({
            name: 'vif7.0',
            allowedMacs: [mac(7)],
            deliver: (f, ok) => vif?.deliver(f, ok) ?? false,
          });
          vif = new NetbackVif({
            txRing: tx.page,
            rxRing: rx.page,
            frontendDomid: 7,
            mapper: dom0.mapper,
            notify: () => {},
            transmit: (f, ok) => void n.bridge.transmit(port, f, ok),
            multicastControl: true,
            rxQueueBytes: 8192,
            budget: 4,
          });
          let prod = 0;
          const sent: number[] = [];
          for (const [i, s] of steps.entries()) {
            for (const w of s.scribble) {
              const page = w.ring === 'tx' ? txPage : rxPage;
              page.set(w.bytes.subarray(0, 4096 - w.at), w.at);
              if (w.ring === 'tx' && w.at >= 64) {
                // Point some slots at the real data page, so some packets are well-formed.
                new DataView(txPage.buffer).setUint32(64 + (w.at % 4) * 12, dataRef, true);
              }
            }
            prod = (prod + s.produce) >>> 0;
            new DataView(txPage.buffer).setUint32(0, prod, true); // tx req_prod
            vif.kick();
            const f = frame(
              mac(6),
              mac(5),
              Uint8Array.from({ length: 46 + s.len }, () => i),
            );
            expect(await a.front.send(f)).toBe(NETIF_RSP.NETIF_RSP_OKAY);
            sent.push(f.length);
            await n.settle();
          }
          for (let k = 0; k < 5; k++) await n.settle();
          const fromA = b.inbox.filter((f) => f[11] === 5);
          expect(fromA.map((f) => f.length)).toEqual(sent);
          fromA.forEach((f, i) => {
            expect(f.subarray(14).every((x) => x === i)).toBe(true);
          });
          expect(n.fabric.activeMappings(7)).toBe(2); // just its two rings
          hostilePackets += vif.metrics.txPackets + vif.metrics.txErrors;
          vif.stop();
        },
      ),
      { numRuns: 60 },
    );
    expect(hostilePackets).toBeGreaterThan(30); // the hostile rings were really served
  });
});
