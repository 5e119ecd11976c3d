/** Introduced domains get their rings served; released ones lose them. In-memory pages stand in for the hypervisor. */
import { describe, expect, it } from 'vitest';
import { type GuestRingHost, RingManager } from '../src/ring-manager.ts';
import { XsType } from '../src/wire/constants.ts';
import { Xenstore } from '../src/xenstore.ts';
import { GuestRing, sendRequest } from './helpers/guest-ring.ts';
import { SyncConn, text } from './helpers/sync-conn.ts';

function setup() {
  const guests = new Map<number, GuestRing>();
  const log: string[] = [];
  const host: GuestRingHost = {
    mapRingPage(domid, mfn) {
      log.push(`map ${domid} ${mfn}`);
      if (mfn === 0) return undefined;
      const g = new GuestRing(1000);
      guests.set(domid, g);
      return g.page;
    },
    notify(domid, port) {
      log.push(`notify ${domid} ${port}`);
    },
    unmapRingPage(domid) {
      log.push(`unmap ${domid}`);
    },
  };
  const xs = new Xenstore();
  const rings = new RingManager(xs, host);
  const dom0 = new SyncConn(xs, 0);
  return { xs, rings, dom0, guests, log };
}

describe('RingManager', () => {
  it('maps the ring of an introduced domain and serves its requests on kicks', () => {
    const { rings, dom0, guests, log } = setup();
    expect(dom0.call('INTRODUCE', '3\x004242\x0017\0')).toBe('OK\0');
    const g = guests.get(3) as GuestRing;
    sendRequest(g, XsType.XS_GET_DOMAIN_PATH, '3\0', 5);
    rings.kick(3);
    g.read();
    expect(g.received.map((m) => [m.reqId, text(m)])).toEqual([[5, '/local/domain/3\0']]);
    expect(log).toEqual(['map 3 4242', 'notify 3 17']);
  });

  it('pushes watch events caused by other connections into the ring at once', () => {
    const { rings, dom0, guests } = setup();
    dom0.call('INTRODUCE', '4\x001\x002\0');
    dom0.call('WRITE', '/local/domain/4/control\0');
    dom0.call('SET_PERMS', '/local/domain/4/control\0n4\0');
    const g = guests.get(4) as GuestRing;
    sendRequest(g, XsType.XS_WATCH, 'control\0ctl\0');
    rings.kick(4);
    dom0.call('WRITE', '/local/domain/4/control/shutdown\0reboot');
    g.read();
    expect(g.received.map(text)).toEqual(['OK\0', 'control\0ctl\0', 'control/shutdown\0ctl\0']);
  });

  it('serves requests a guest queued before it was introduced, and stops at release', () => {
    const { xs, rings, dom0, guests, log } = setup();
    const g = new GuestRing(0);
    sendRequest(g, XsType.XS_READ, '/tool/xenstored\0', 1);
    rings.attach(6, g.page, 9);
    g.read();
    expect(g.received.map(text)).toEqual(['EACCES\0']);
    dom0.call('INTRODUCE', '6\x001\x009\0');
    expect(dom0.call('RELEASE', '6\0')).toBe('OK\0');
    expect(rings.ring(6)).toBeUndefined();
    expect(log).toContain('unmap 6');
    expect([...xs.connections].map((c) => c.domid)).toEqual([0]);
    // INTRODUCE mapped the frame it named, replacing the ring attached by hand.
    expect(log).toEqual(['notify 6 9', 'map 6 1', 'unmap 6']);
    expect(guests.has(6)).toBe(true);
  });

  it('knows a domain whose page cannot be mapped, without serving a ring', () => {
    const { rings, dom0 } = setup();
    expect(dom0.call('INTRODUCE', '7\x000\x001\0')).toBe('OK\0');
    expect(dom0.call('IS_DOMAIN_INTRODUCED', '7\0')).toBe('T\0');
    expect(rings.ring(7)).toBeUndefined();
  });
});
