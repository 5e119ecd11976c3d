/**
 * Many concurrent clients: 32 connections, each with one READ in flight, against
 * Typevisor's daemon and the C xenstored 4.17. Measures how the daemon's event loop copes
 * with many sockets rather than the cost of one round trip.
 */
import { defineSuite } from '../harness.ts';
import { acquire, arg, BenchClient, type Daemons, release } from './support.ts';

const CONNS = 32;
let daemons: Daemons;
const pools = new Map<string, BenchClient[]>();
const reads = Array.from({ length: 100 }, (_, i) => arg(`/bench-many/n${i}`));

async function connectPool(which: 'tv' | 'ref'): Promise<void> {
  const path = daemons[which];
  if (path === undefined) return;
  const pool: BenchClient[] = [];
  for (let i = 0; i < CONNS; i++) pool.push(await BenchClient.open(path));
  const first = pool[0] as BenchClient;
  for (let i = 0; i < 100; i++)
    await first.request(11, arg(`/bench-many/n${i}`, '0123456789abcdef'));
  pools.set(which, pool);
}

function many(which: 'tv' | 'ref') {
  return async (iters: number): Promise<number> => {
    const pool = pools.get(which);
    if (pool === undefined) throw new Error('reference-xenstored unavailable');
    const per = Math.ceil(iters / CONNS);
    const sums = await Promise.all(
      pool.map(async (c, k) => {
        let sum = 0;
        for (let i = 0; i < per; i++)
          sum += (await c.request(2, reads[(i + k) % 100] as Uint8Array)).payload.length;
        return sum;
      }),
    );
    return sums.reduce((a, b) => a + b, 0);
  };
}

export default defineSuite({
  name: 'xenstore/many-connections',
  description:
    'xenstore READs from 32 concurrent unix-socket connections, one request in flight on each: Typevisor daemon vs the C xenstored 4.17.',
  unit: 'requests/s',
  async setup() {
    daemons = await acquire();
    await connectPool('tv');
    await connectPool('ref');
  },
  async teardown() {
    for (const pool of pools.values()) for (const c of pool) c.close();
    pools.clear();
    await release();
  },
  cases: [
    { name: 'typevisor', run: many('tv') },
    { name: 'c-xenstored', peer: true, run: many('ref') },
  ],
});
