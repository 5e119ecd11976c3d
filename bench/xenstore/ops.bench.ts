/**
 * Request/reply throughput of the xenstore daemon over its unix socket, one request in
 * flight (like libxenstore), Typevisor's daemon next to Debian's C xenstored 4.17.
 * The client is the same node process for both, so ratios compare the daemons; the
 * absolute rates include the client's cost. `shared/tools/reference-xenstored/bench-xenstore`
 * measures the same operations with a Python client and CPU pinning.
 */
import { defineSuite } from '../harness.ts';
import { acquire, arg, BenchClient, type Daemons, release } from './support.ts';

const READ = 2;
const WRITE = 11;

let daemons: Daemons;
const clients = new Map<string, BenchClient>();
const nodes = Array.from({ length: 100 }, (_, i) => `/bench-ops/n${i}`);
const reads = nodes.map((p) => arg(p));
const writes = nodes.map((p) => arg(p, '0123456789abcdef'));

async function client(which: 'tv' | 'ref'): Promise<BenchClient> {
  let c = clients.get(which);
  if (c === undefined) {
    const path = daemons[which];
    if (path === undefined) throw new Error('reference-xenstored unavailable');
    c = await BenchClient.open(path);
    for (const w of writes) await c.request(WRITE, w);
    clients.set(which, c);
  }
  return c;
}

function mixed(which: 'tv' | 'ref') {
  return async (iters: number): Promise<number> => {
    const c = await client(which);
    let sum = 0;
    for (let i = 0; i < iters; i++) {
      const r = await c.request(
        i & 1 ? READ : WRITE,
        i & 1 ? (reads[i % 100] as Uint8Array) : (writes[i % 100] as Uint8Array),
      );
      sum += r.payload.length;
    }
    return sum;
  };
}

export default defineSuite({
  name: 'xenstore/ops',
  description:
    'xenstore READ and WRITE of 16-byte values alternating over 100 nodes, one request in flight on a unix socket: Typevisor daemon vs the C xenstored 4.17.',
  unit: 'requests/s',
  async setup() {
    daemons = await acquire();
  },
  async teardown() {
    for (const c of clients.values()) c.close();
    clients.clear();
    await release();
  },
  cases: [
    { name: 'typevisor', run: mixed('tv') },
    { name: 'c-xenstored', peer: true, run: mixed('ref') },
  ],
});
