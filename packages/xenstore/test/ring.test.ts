/**
 * The guest ring transport with an in-memory page: a guest-side writer puts requests
 * into req[], the daemon answers into rsp[], across wrap-around and with indices that
 * do not start at 0; hostile indices shut only that ring.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  XenstoreRingLayout as L,
  RING_BACKLOG_HARD,
  RING_BACKLOG_SOFT,
  RingConnection,
  XENSTORE_RING_SIZE,
} from '../src/ring.ts';
import { encodeMessage, type XsMessage } from '../src/wire/codec.ts';
import { XsType } from '../src/wire/constants.ts';
import { Xenstore } from '../src/xenstore.ts';
import { GuestRing } from './helpers/guest-ring.ts';
import { text } from './helpers/sync-conn.ts';

function setup(start: number) {
  const xs = new Xenstore();
  const guest = new GuestRing(start);
  const ring = new RingConnection(xs, 3, {
    page: guest.page,
    notify: () => {
      guest.notifications++;
    },
  });
  const dom0 = xs.connect(0, () => {});
  xs.handle(dom0, {
    type: XsType.XS_WRITE,
    reqId: 0,
    txId: 0,
    payload: Buffer.from('/local/domain/3\0'),
  });
  xs.handle(dom0, {
    type: XsType.XS_SET_PERMS,
    reqId: 0,
    txId: 0,
    payload: Buffer.from('/local/domain/3\0n3\0'),
  });
  return { xs, guest, ring };
}

/** Sends one message through the ring, in as many pieces as the ring forces. */
function exchange(guest: GuestRing, ring: RingConnection, msg: XsMessage): void {
  const bytes = encodeMessage(msg);
  let off = 0;
  while (off < bytes.length) {
    off += guest.write(bytes.subarray(off));
    ring.kick();
    guest.read();
    ring.flush();
    guest.read();
  }
}

describe('the xenstore ring transport', () => {
  it('answers a guest that reads its domid-relative path, with indices near 2^32', () => {
    const { guest, ring } = setup(0xfffffff0);
    exchange(guest, ring, {
      type: XsType.XS_WRITE,
      reqId: 9,
      txId: 0,
      payload: Buffer.from('domid\x003'),
    });
    exchange(guest, ring, {
      type: XsType.XS_READ,
      reqId: 10,
      txId: 0,
      payload: Buffer.from('domid\0'),
    });
    expect(guest.received.map((m) => [m.type, m.reqId, text(m)])).toEqual([
      [XsType.XS_WRITE, 9, 'OK\0'],
      [XsType.XS_READ, 10, '3'],
    ]);
    expect(guest.notifications).toBeGreaterThan(0);
  });

  it('carries messages larger than the ring in pieces, in both directions', () => {
    const { guest, ring } = setup(100);
    const value = 'v'.repeat(1900);
    exchange(guest, ring, {
      type: XsType.XS_WRITE,
      reqId: 1,
      txId: 0,
      payload: Buffer.from(`big\0${value}`),
    });
    exchange(guest, ring, {
      type: XsType.XS_READ,
      reqId: 2,
      txId: 0,
      payload: Buffer.from('big\0'),
    });
    expect(guest.received.map(text)).toEqual(['OK\0', value]);
  });

  it('works on a page that is not 4-byte aligned (DataView index path)', () => {
    const xs = new Xenstore();
    const guest = new GuestRing(7, new Uint8Array(4098).subarray(2));
    const ring = new RingConnection(xs, 0, { page: guest.page, notify: () => {} });
    exchange(guest, ring, {
      type: XsType.XS_WRITE,
      reqId: 1,
      txId: 0,
      payload: Buffer.from(`/x\0${'z'.repeat(1500)}`),
    });
    exchange(guest, ring, {
      type: XsType.XS_READ,
      reqId: 2,
      txId: 0,
      payload: Buffer.from('/x\0'),
    });
    expect(guest.received.map(text)).toEqual(['OK\0', 'z'.repeat(1500)]);
  });

  it('stops serving a guest that does not read its responses until it does', () => {
    const { xs, guest, ring } = setup(0);
    // Byte backlog alone (the outstanding-request quota is tested in quota.test.ts).
    xs.quotas = { ...xs.quotas, outstanding: 1e6 };
    const req = encodeMessage({
      type: XsType.XS_READ,
      reqId: 0,
      txId: 0,
      payload: Buffer.from('/local/domain/3\0'),
    });
    let served = 0;
    for (let round = 0; round < 400; round++) {
      while (guest.write(req) === req.length) {}
      ring.kick();
    }
    served = ring.backlog;
    expect(served).toBeGreaterThan(RING_BACKLOG_SOFT);
    expect(served).toBeLessThan(RING_BACKLOG_SOFT + 4096);
    expect(ring.broken).toBe(false);
    // Once the guest reads, it is served again.
    const before = guest.view.getUint32(L.req_cons, true);
    for (let i = 0; i < 40; i++) {
      guest.read();
      ring.kick();
    }
    expect(guest.view.getUint32(L.req_cons, true)).not.toBe(before);
    expect(xs.connections.size).toBe(2);
  });

  it('shuts a ring whose unread watch events pile up beyond the hard limit', () => {
    const { xs, guest, ring } = setup(0);
    const dom0 = xs.connect(0, () => {});
    guest.write(
      encodeMessage({
        type: XsType.XS_WATCH,
        reqId: 0,
        txId: 0,
        payload: Buffer.from('/local/domain/3\0t\0'),
      }),
    );
    ring.kick();
    for (let i = 0; i < 40_000 && !ring.broken; i++) {
      xs.handle(dom0, {
        type: XsType.XS_WRITE,
        reqId: 0,
        txId: 0,
        payload: Buffer.from(`/local/domain/3/k\0${i}`),
      });
    }
    expect(ring.broken).toBe(true);
    expect(ring.backlog).toBeLessThanOrEqual(RING_BACKLOG_HARD + 64);
  });

  it('is an unprivileged connection', () => {
    const { guest, ring } = setup(0);
    exchange(guest, ring, {
      type: XsType.XS_READ,
      reqId: 1,
      txId: 0,
      payload: Buffer.from('/tool/xenstored\0'),
    });
    exchange(guest, ring, {
      type: XsType.XS_INTRODUCE,
      reqId: 2,
      txId: 0,
      payload: Buffer.from('4\x001\x001\0'),
    });
    expect(guest.received.map(text)).toEqual(['EACCES\0', 'EACCES\0']);
  });

  it('shuts only the offending ring on impossible indices or oversized messages', () => {
    const { xs, guest, ring } = setup(0);
    guest.view.setUint32(L.req_prod, 5000, true);
    ring.kick();
    expect(ring.broken).toBe(true);
    expect(guest.view.getUint32(L.error, true)).toBe(2);
    const b = setup(0);
    const hdr = encodeMessage({
      type: XsType.XS_READ,
      reqId: 0,
      txId: 0,
      payload: new Uint8Array(0),
    });
    new DataView(hdr.buffer).setUint32(12, 5000, true);
    b.guest.write(hdr);
    b.ring.kick();
    expect(b.ring.broken).toBe(true);
    expect(xs.connections.size).toBe(1);
  });

  it('never lets its producer overrun the guest, whatever the guest puts in its indices', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2048 }),
        fc.array(
          fc.tuple(
            fc.constantFrom(L.req_prod, L.rsp_cons),
            fc.integer({ min: 0, max: 0xffffffff }),
          ),
          { maxLength: 4 },
        ),
        (bytes, pokes) => {
          const { guest, ring } = setup(0);
          guest.write(bytes);
          for (const [off, v] of pokes) guest.view.setUint32(off, v, true);
          ring.kick();
          ring.flush();
          const prod = guest.view.getUint32(L.rsp_prod, true);
          const cons = guest.view.getUint32(L.rsp_cons, true);
          // The daemon never lets its producer overtake the guest's consumer by more than the ring.
          expect(ring.broken || (prod - cons) >>> 0 <= XENSTORE_RING_SIZE).toBe(true);
          expect(guest.page.length).toBe(4096);
        },
      ),
      { numRuns: 300 },
    );
  });
});
