import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LearningBridge,
  netifExtraFromTxSlot,
  netifExtraToTxSlot,
  netifRxRequestCodec,
  netifRxResponseCodec,
  netifTxRequestCodec,
  netifTxResponseCodec,
  ringSizeFor,
  SplitDriversError,
  XEN_NETIF_EXTRA_TYPE,
} from '../src/index.ts';
import { ipFrame } from './packets.ts';

describe('netif slot formats', () => {
  it('gives 256-slot tx and rx rings in a page', () => {
    expect(ringSizeFor(Math.max(netifTxRequestCodec.size, netifTxResponseCodec.size))).toBe(256);
    expect(ringSizeFor(Math.max(netifRxRequestCodec.size, netifRxResponseCodec.size))).toBe(256);
  });

  it('lays out tx and rx slots at the netif.h offsets', () => {
    const v = new DataView(new ArrayBuffer(12));
    netifTxRequestCodec.encode(v, 0, {
      gref: 0x01020304,
      offset: 0x0506,
      flags: 0x0708,
      id: 0x090a,
      size: 0x0b0c,
    });
    expect([...new Uint8Array(v.buffer)]).toEqual([4, 3, 2, 1, 6, 5, 8, 7, 0x0a, 9, 0x0c, 0x0b]);
    netifRxResponseCodec.encode(v, 0, { id: 1, offset: 2, flags: 3, status: -2 });
    expect([
      v.getUint16(0, true),
      v.getUint16(2, true),
      v.getUint16(4, true),
      v.getInt16(6, true),
    ]).toEqual([1, 2, 3, -2]);
    netifRxRequestCodec.encode(v, 0, { id: 7, gref: 99 });
    expect([v.getUint16(0, true), v.getUint32(4, true)]).toEqual([7, 99]);
    netifTxResponseCodec.encode(v, 0, { id: 8, status: -1 });
    expect(netifTxResponseCodec.decode(v, 0)).toEqual({ id: 8, status: -1 });
  });

  it('reinterprets tx slots as extra-info and back (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(255),
        fc.nat(255),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        (type, flags, data) => {
          const slot = netifExtraToTxSlot({ type, flags, data });
          expect(netifExtraFromTxSlot(slot)).toEqual({ type, flags, data });
        },
      ),
    );
    const gso = netifExtraFromTxSlot(
      netifExtraToTxSlot({
        type: XEN_NETIF_EXTRA_TYPE.XEN_NETIF_EXTRA_TYPE_GSO,
        flags: 0,
        data: Uint8Array.of(0xb4, 5, 1, 0, 0, 0),
      }),
    );
    expect(gso.type).toBe(1);
    expect((gso.data[0] ?? 0) | ((gso.data[1] ?? 0) << 8)).toBe(1460);
  });
});

function mac(n: number): string {
  return `00:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
}

function frame(
  dst: string,
  src: string,
  opts: { vlan?: number; ip?: string; arpIp?: string; len?: number } = {},
): Uint8Array {
  const bytes = (m: string) => m.split(':').map((x) => Number.parseInt(x, 16));
  const head = [...bytes(dst), ...bytes(src)];
  if (opts.vlan !== undefined) head.push(0x81, 0, (opts.vlan >> 8) & 15, opts.vlan & 255);
  const ip = (s: string) => s.split('.').map(Number);
  let body: number[];
  if (opts.ip !== undefined)
    body = [0x08, 0x00, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, ...ip(opts.ip), 10, 0, 0, 99];
  else if (opts.arpIp !== undefined)
    body = [
      0x08,
      0x06,
      0,
      1,
      8,
      0,
      6,
      4,
      0,
      1,
      ...bytes(src),
      ...ip(opts.arpIp),
      0,
      0,
      0,
      0,
      0,
      0,
      10,
      0,
      0,
      1,
    ];
  else body = [0x88, 0xb5];
  const out = Uint8Array.from([...head, ...body]);
  if (opts.len === undefined || opts.len <= out.length) return out;
  const padded = new Uint8Array(opts.len);
  padded.set(out);
  return padded;
}

function rig(ageingMs?: number) {
  let now = 0;
  const clock = { now: () => now };
  const bridge = new LearningBridge(clock, ageingMs);
  const inbox = new Map<number, Uint8Array[]>();
  const add = (opts: Omit<Parameters<LearningBridge['addPort']>[0], 'deliver' | 'name'> = {}) => {
    const box: Uint8Array[] = [];
    const id = bridge.addPort({
      name: `vif${inbox.size}`,
      ...opts,
      deliver: (f) => {
        box.push(f);
        return true;
      },
    });
    inbox.set(id, box);
    return id;
  };
  return {
    bridge,
    inbox,
    add,
    tick: (ms: number) => (now += ms),
    box: (id: number) => inbox.get(id) ?? [],
  };
}

describe('learning bridge', () => {
  it('floods unknown destinations, then forwards to the learned port only', () => {
    const r = rig();
    const [a, b, c] = [r.add(), r.add(), r.add()];
    expect(r.bridge.transmit(a, frame(mac(2), mac(1)))).toBe('flooded');
    expect([r.box(a).length, r.box(b).length, r.box(c).length]).toEqual([0, 1, 1]);
    expect(r.bridge.transmit(b, frame(mac(1), mac(2)))).toBe('forwarded');
    expect([r.box(a).length, r.box(c).length]).toEqual([1, 1]);
    expect(r.bridge.transmit(a, frame(mac(2), mac(1)))).toBe('forwarded');
    expect(r.box(b).length).toBe(2);
    expect(r.bridge.transmit(a, frame('ff:ff:ff:ff:ff:ff', mac(1)))).toBe('flooded');
    expect(r.bridge.counters(a)).toMatchObject({ rxFrames: 3, txFrames: 1 });
  });

  it('forgets learned addresses after the ageing time', () => {
    const r = rig(1000);
    const [a, b, c] = [r.add(), r.add(), r.add()];
    r.bridge.transmit(b, frame(mac(1), mac(2)));
    expect(r.bridge.lookup(1, mac(2))).toBe(b);
    r.tick(1001);
    expect(r.bridge.lookup(1, mac(2))).toBeUndefined();
    expect(r.bridge.transmit(a, frame(mac(2), mac(1)))).toBe('flooded');
    expect(r.box(c).length).toBe(2);
  });

  it('keeps VLANs apart and tags and untags on trunks', () => {
    const r = rig();
    const red1 = r.add({ vlan: 10 });
    const red2 = r.add({ vlan: 10 });
    const blue = r.add({ vlan: 20 });
    const trunk = r.add({ trunk: true });
    r.bridge.transmit(red1, frame('ff:ff:ff:ff:ff:ff', mac(1)));
    expect([r.box(red2).length, r.box(blue).length, r.box(trunk).length]).toEqual([1, 0, 1]);
    const tagged = r.box(trunk)[0];
    expect([tagged?.[12], tagged?.[13], tagged?.[15]]).toEqual([0x81, 0, 10]);
    r.bridge.transmit(trunk, frame(mac(1), mac(9), { vlan: 10 }));
    expect(r.box(red1).length).toBe(1);
    expect(r.box(red1)[0]?.[12]).toBe(0x88); // untagged on the access port
    expect(r.box(blue).length).toBe(0);
    expect(r.bridge.transmit(red1, frame(mac(2), mac(1), { vlan: 20 }))).toBe('malformed'); // access ports may not tag
  });

  it('drops and counts frames with a spoofed source MAC or IP', () => {
    const r = rig();
    const guest = r.add({ allowedMacs: [mac(5)], allowedIps: ['10.0.0.5'] });
    const other = r.add();
    expect(r.bridge.transmit(guest, frame(mac(1), mac(6)))).toBe('spoofed');
    expect(r.bridge.transmit(guest, frame(mac(1), mac(5), { ip: '10.0.0.6' }))).toBe('spoofed');
    expect(r.bridge.transmit(guest, frame(mac(1), mac(5), { arpIp: '10.0.0.1' }))).toBe('spoofed');
    expect(r.bridge.transmit(guest, frame(mac(1), '01:00:5e:00:00:01'))).toBe('spoofed'); // multicast source
    expect(r.box(other).length).toBe(0);
    expect(r.bridge.transmit(guest, frame(mac(1), mac(5), { ip: '10.0.0.5' }))).toBe('flooded');
    expect(r.bridge.transmit(guest, frame(mac(1), mac(5), { arpIp: '10.0.0.5' }))).toBe('flooded');
    expect(r.bridge.counters(guest).spoofDrops).toBe(4);
    expect(r.bridge.lookup(1, mac(6))).toBeUndefined(); // spoofed sources are not learned
  });

  it('checks IPv6 sources when the port lists IPv6 addresses, keeping link-local and :: usable', () => {
    const r = rig();
    const v6 = (src: number[]) => {
      const f = ipFrame({
        dst: mac(2),
        src: mac(1),
        ip: 6,
        proto: 'udp',
        payload: new Uint8Array(4),
      });
      f.set(src, 14 + 8);
      return f;
    };
    const addr = (...tail: number[]) => [0x20, 0x01, 0x0d, 0xb8, ...Array(10).fill(0), ...tail];
    const guest = r.add({
      allowedMacs: [mac(1)],
      allowedIps: ['10.0.0.1', '2001:DB8:0:0:0:0:0:5'],
    });
    const v4only = r.add({ allowedMacs: [mac(3)], allowedIps: ['10.0.0.3'] });
    r.add();
    expect(r.bridge.transmit(guest, v6(addr(0, 5)))).toBe('flooded');
    expect(r.bridge.transmit(guest, v6(addr(0, 6)))).toBe('spoofed');
    expect(r.bridge.transmit(guest, v6([0xfe, 0x80, ...Array(13).fill(0), 1]))).toBe('flooded');
    expect(r.bridge.transmit(guest, v6(Array(16).fill(0)))).toBe('flooded'); // DAD
    const fromV4only = v6(addr(0, 9));
    fromV4only.set([0, 0x16, 0x3e, 0, 0, 3], 6);
    expect(r.bridge.transmit(v4only, fromV4only)).toBe('flooded'); // as libxl: IPv4 rules only
    expect(r.bridge.counters(guest).spoofDrops).toBe(1);
    expect(() => r.add({ allowedIps: ['2001:db8::5::1'] })).toThrow(SplitDriversError);
    expect(() => r.add({ allowedIps: ['10.0.0.1', 'fe80::zz'] })).toThrow(/bad IPv6/);
  });

  it('holds a rate limit within 10% over a second of saturating traffic', () => {
    for (const [rate, size] of [
      [125_000, 1000],
      [1_250_000, 1514],
      [50_000, 60],
    ] as const) {
      const r = rig();
      const a = r.add({ rateBytesPerSecond: rate });
      const b = r.add();
      let sent = 0;
      for (let t = 0; t < 2000; t++) {
        // 2000 steps of 0.5 ms, offering far more than the rate.
        for (let k = 0; k < 4; k++)
          if (r.bridge.transmit(a, frame(mac(2), mac(1), { len: size })) !== 'rate-limited')
            sent += size;
        r.tick(0.5);
      }
      expect(sent / rate).toBeGreaterThan(0.9);
      expect(sent / rate).toBeLessThanOrEqual(1.1);
      expect(r.bridge.counters(a).rateDrops).toBeGreaterThan(0);
      expect(r.box(b).length * size).toBe(sent);
    }
  });

  it('never delivers a frame back to its sender and survives arbitrary frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.uint8Array({ minLength: 0, maxLength: 80 })), {
          maxLength: 60,
        }),
        (sends) => {
          const r = rig();
          const ids = [
            r.add({ vlan: 2 }),
            r.add({ vlan: 2 }),
            r.add({ trunk: true }),
            r.add({ allowedMacs: [mac(1)] }),
          ];
          for (const [i, f] of sends) {
            const from = ids[i] ?? 0;
            const before = r.box(from).length;
            const verdict = r.bridge.transmit(from, f);
            expect(r.box(from).length).toBe(before);
            expect([
              'forwarded',
              'flooded',
              'local',
              'spoofed',
              'rate-limited',
              'malformed',
            ]).toContain(verdict);
          }
        },
      ),
    );
    expect(() => rig().bridge.transmit(42, new Uint8Array(60))).toThrow(SplitDriversError);
  });
});
