/**
 * Transactions over the unix socket: TRANSACTION_START + WRITE + TRANSACTION_END "T",
 * Typevisor's daemon next to the C xenstored 4.17.
 */
import { defineSuite } from '../harness.ts';
import { acquire, arg, BenchClient, type Daemons, release } from './support.ts';

let daemons: Daemons;
const clients = new Map<string, BenchClient>();
const start = arg('');
const commit = arg('T');
const writes = Array.from({ length: 100 }, (_, i) => arg(`/bench-txn/n${i}`, '0123456789abcdef'));

function txn(which: 'tv' | 'ref') {
  return async (iters: number): Promise<number> => {
    let c = clients.get(which);
    if (c === undefined) {
      const path = daemons[which];
      if (path === undefined) throw new Error('reference-xenstored unavailable');
      c = await BenchClient.open(path);
      clients.set(which, c);
    }
    let sum = 0;
    for (let i = 0; i < iters; i++) {
      const s = await c.request(6, start);
      const id = Number(Buffer.from(s.payload.subarray(0, s.payload.length - 1)).toString());
      await c.request(11, writes[i % 100] as Uint8Array, id);
      const e = await c.request(7, commit, id);
      sum += e.type;
    }
    return sum;
  };
}

export default defineSuite({
  name: 'xenstore/txn-write',
  description:
    'xenstore transactions (TRANSACTION_START, one WRITE, commit) on a unix socket, one request in flight: Typevisor daemon vs the C xenstored 4.17.',
  unit: 'txn/s',
  async setup() {
    daemons = await acquire();
  },
  async teardown() {
    for (const c of clients.values()) c.close();
    clients.clear();
    await release();
  },
  cases: [
    { name: 'typevisor', run: txn('tv') },
    { name: 'c-xenstored', peer: true, run: txn('ref') },
  ],
});
