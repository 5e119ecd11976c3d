/**
 * The guest ring transport on an in-memory page: a guest-side writer queues READ requests
 * in `req[]`, the daemon is kicked, the guest consumes `rsp[]`. Measures the ring copy and
 * index handling plus dispatch, with no sockets involved (what a PV guest's xenbus costs).
 */
import { XenstoreRingLayout as L, RingConnection, Xenstore } from '@typevisor/xenstore';
import { encodeMessage } from '@typevisor/xenstore/wire';
import { defineSuite } from '../harness.ts';

const xs = new Xenstore();
const page = new Uint8Array(4096);
const idx = new Uint32Array(page.buffer);
const ring = new RingConnection(xs, 0, { page, notify: () => {} });
const dom0 = xs.connect(0, () => {});
xs.handle(dom0, { type: 11, reqId: 0, txId: 0, payload: Buffer.from('/r/x\x000123456789abcdef') });
const request = encodeMessage({ type: 2, reqId: 0, txId: 0, payload: Buffer.from('/r/x\0') });
const PER_KICK = Math.floor(1024 / request.length);

/** Guest side: consumes everything in rsp[]; returns the bytes consumed. */
function drain(): number {
  const got = ((idx[L.rsp_prod >> 2] as number) - (idx[L.rsp_cons >> 2] as number)) >>> 0;
  idx[L.rsp_cons >> 2] = idx[L.rsp_prod >> 2] as number;
  return got;
}

/**
 * Sends `n` requests, at most `perKick` per kick and never more than the ring has room
 * for, and consumes all responses; returns the bytes consumed.
 */
function round(n: number, perKick: number): number {
  let sent = 0;
  let got = 0;
  while (sent < n) {
    let prod = idx[L.req_prod >> 2] as number;
    const cons = idx[L.req_cons >> 2] as number;
    let batch = 0;
    while (sent < n && batch < perKick && 1024 - ((prod - cons) >>> 0) >= request.length) {
      for (let i = 0; i < request.length; i++)
        page[L.req + ((prod + i) & 1023)] = request[i] as number;
      prod = (prod + request.length) >>> 0;
      sent++;
      batch++;
    }
    idx[L.req_prod >> 2] = prod;
    ring.kick();
    got += drain();
    while (ring.backlog > 0) {
      ring.flush();
      got += drain();
    }
    if (ring.broken) throw new Error('ring shut');
  }
  return got;
}

export default defineSuite({
  name: 'xenstore/ring',
  description:
    'READ requests through the xenstore shared-page ring (in-memory page), one per kick and a full ring per kick.',
  unit: 'requests/s',
  cases: [
    {
      name: 'one-per-kick',
      run(iters) {
        return round(iters, 1);
      },
    },
    {
      name: 'batched-kick',
      run(iters) {
        return round(iters, PER_KICK);
      },
    },
  ],
});
