/**
 * Request/response round trips through an `io/ring.h` shared ring (netif-tx-sized 12-byte
 * entries, 256 slots): the frontend fills a batch, pushes with the notify check, the backend
 * consumes, answers and pushes; the frontend consumes the responses. The peer is the same
 * traffic through a plain JS array queue, the floor cost of moving the same records.
 */
import { BackRing, FrontRing, type RingCodec, sharedRingInit } from '@typevisor/split-drivers';
import { defineSuite } from '../harness.ts';

const BATCH = 32;

const codec: RingCodec<number> = {
  size: 12,
  encode(view, off, value) {
    view.setUint32(off, value, true);
  },
  decode(view, off) {
    return view.getUint32(off, true);
  },
};

const page = new Uint8Array(4096);
sharedRingInit(page);
const front = new FrontRing(page, codec, codec);
const back = new BackRing(page, codec, codec);

export default defineSuite({
  name: 'split-drivers/ring',
  description:
    'Round trips (request + response) through a 256-slot io/ring.h shared ring in batches of 32, with push-and-check-notify and final checks, vs a plain JS array queue.',
  unit: 'M round trips/s',
  opsPerIter: BATCH,
  divisor: 1e6,
  cases: [
    {
      name: 'shared-ring',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < BATCH; i++) front.putRequest(i + n);
          if (front.pushRequestsAndCheckNotify()) sum++;
          for (let r = back.takeRequest(); r !== undefined; r = back.takeRequest())
            back.putResponse(r + 1);
          if (back.pushResponsesAndCheckNotify()) sum++;
          back.finalCheckForRequests();
          for (let r = front.takeResponse(); r !== undefined; r = front.takeResponse())
            sum = (sum + r) | 0;
          front.finalCheckForResponses();
        }
        return sum;
      },
    },
    {
      name: 'js-array-queue',
      peer: true,
      run(iters) {
        let sum = 0;
        const reqs: number[] = [];
        const rsps: number[] = [];
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < BATCH; i++) reqs.push(i + n);
          for (let r = reqs.shift(); r !== undefined; r = reqs.shift()) rsps.push(r + 1);
          for (let r = rsps.shift(); r !== undefined; r = rsps.shift()) sum = (sum + r) | 0;
        }
        return sum;
      },
    },
  ],
});
