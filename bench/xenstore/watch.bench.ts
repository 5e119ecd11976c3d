/**
 * Watch-fire throughput: connection A watches a subtree, connection B writes below it and
 * waits for both its reply and A's WATCH_EVENT. Typevisor's daemon next to the C xenstored.
 */
import { defineSuite } from '../harness.ts';
import { acquire, arg, BenchClient, type Daemons, release } from './support.ts';

let daemons: Daemons;
const pairs = new Map<string, { a: BenchClient; b: BenchClient }>();
const writes = Array.from({ length: 10 }, (_, i) => arg(`/bench-watch/w/x${i}`, 'v'));

function fire(which: 'tv' | 'ref') {
  return async (iters: number): Promise<number> => {
    let p = pairs.get(which);
    if (p === undefined) {
      const path = daemons[which];
      if (path === undefined) throw new Error('reference-xenstored unavailable');
      const a = await BenchClient.open(path);
      const b = await BenchClient.open(path);
      let initial: () => void = () => {};
      const got = new Promise<void>((r) => {
        initial = r;
      });
      a.onEvent = () => initial();
      await a.request(4, Buffer.from('/bench-watch/w\0tok\0'));
      await got;
      p = { a, b };
      pairs.set(which, p);
    }
    const { a, b } = p;
    let events = 0;
    for (let i = 0; i < iters; i++) {
      const ev = new Promise<void>((r) => {
        a.onEvent = () => {
          events++;
          r();
        };
      });
      await b.request(11, writes[i % 10] as Uint8Array);
      await ev;
    }
    return events;
  };
}

export default defineSuite({
  name: 'xenstore/watch-fire',
  description:
    'xenstore watch events delivered per second (a WRITE on one connection, the WATCH_EVENT on another), unix socket: Typevisor daemon vs the C xenstored 4.17.',
  unit: 'events/s',
  async setup() {
    daemons = await acquire();
  },
  async teardown() {
    for (const { a, b } of pairs.values()) {
      a.close();
      b.close();
    }
    pairs.clear();
    await release();
  },
  cases: [
    { name: 'typevisor', run: fire('tv') },
    { name: 'c-xenstored', peer: true, run: fire('ref') },
  ],
});
