/**
 * Daemon CPU cost per operation: the same request loops as the throughput suites, but the
 * result is operations per second of CPU time the daemon process used (all threads, user
 * and kernel, from `/proc/<pid>/task/<tid>/schedstat`). Unlike requests per wall-clock
 * second this hardly depends on what else runs on the machine, so the Typevisor/C ratio
 * stays put on the shared development VM where the wall-clock suites swing by ±40%.
 * The client's own cost is not counted.
 */
import { type BenchSuite, defineSuite } from '../harness.ts';
import { acquire, arg, BenchClient, cpuNs, type Daemons, release } from './support.ts';

/** One measured operation: prepares its clients once, then runs `n` operations. */
interface Op {
  prepare(path: string, tag: string): Promise<(n: number) => Promise<void>>;
}

const OPS = 4000;
const value = '0123456789abcdef';

/** The operations, by suite suffix. */
export const CPU_OPS: Record<string, { description: string; op: Op }> = {
  read: {
    description: 'READ of one of 100 16-byte nodes, one request in flight',
    op: {
      async prepare(path, tag) {
        const c = await BenchClient.open(path);
        for (let i = 0; i < 100; i++) await c.request(11, arg(`/cpu-${tag}/n${i}`, value));
        const reqs = Array.from({ length: 100 }, (_, i) => arg(`/cpu-${tag}/n${i}`));
        return async (n) => {
          for (let i = 0; i < n; i++) await c.request(2, reqs[i % 100] as Uint8Array);
        };
      },
    },
  },
  write: {
    description: 'WRITE of a 16-byte value to one of 100 nodes, one request in flight',
    op: {
      async prepare(path, tag) {
        const c = await BenchClient.open(path);
        const reqs = Array.from({ length: 100 }, (_, i) => arg(`/cpu-${tag}/w${i}`, value));
        return async (n) => {
          for (let i = 0; i < n; i++) await c.request(11, reqs[i % 100] as Uint8Array);
        };
      },
    },
  },
  directory: {
    description: 'DIRECTORY of a node with 100 children, one request in flight',
    op: {
      async prepare(path, tag) {
        const c = await BenchClient.open(path);
        for (let i = 0; i < 100; i++) await c.request(12, arg(`/cpu-${tag}/d/child${i}`));
        const req = arg(`/cpu-${tag}/d`);
        return async (n) => {
          for (let i = 0; i < n; i++) await c.request(1, req);
        };
      },
    },
  },
  txn: {
    description: 'TRANSACTION_START, WRITE, TRANSACTION_END "T" (one operation = one transaction)',
    op: {
      async prepare(path, tag) {
        const c = await BenchClient.open(path);
        const w = arg(`/cpu-${tag}/t`, value);
        const start = arg('');
        const commit = arg('T');
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const r = await c.request(6, start);
            const tx = Number(Buffer.from(r.payload.subarray(0, -1)).toString('latin1'));
            await c.request(11, w, tx);
            await c.request(7, commit, tx);
          }
        };
      },
    },
  },
  watch: {
    description:
      'WRITE on one connection firing a WATCH_EVENT on another (one operation = one event)',
    op: {
      async prepare(path, tag) {
        const a = await BenchClient.open(path);
        const b = await BenchClient.open(path);
        let wake: () => void = () => {};
        a.onEvent = () => wake();
        const first = new Promise<void>((r) => {
          wake = r;
        });
        await a.request(4, arg(`/cpu-${tag}/w`, 'tok\0'));
        await first;
        const w = arg(`/cpu-${tag}/w/x`, 'v');
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const ev = new Promise<void>((r) => {
              wake = r;
            });
            await b.request(11, w);
            await ev;
          }
        };
      },
    },
  },
  many: {
    description: 'READs from 32 connections, one request in flight on each',
    op: {
      async prepare(path, tag) {
        const pool: BenchClient[] = [];
        for (let i = 0; i < 32; i++) pool.push(await BenchClient.open(path));
        await (pool[0] as BenchClient).request(11, arg(`/cpu-${tag}/m`, value));
        const req = arg(`/cpu-${tag}/m`);
        return async (n) => {
          const per = Math.ceil(n / pool.length);
          await Promise.all(
            pool.map(async (c) => {
              for (let i = 0; i < per; i++) await c.request(2, req);
            }),
          );
        };
      },
    },
  },
};

/** A suite measuring `name` on both daemons in operations per daemon CPU-second. */
export function cpuSuite(name: string): BenchSuite {
  const spec = CPU_OPS[name];
  if (spec === undefined) throw new Error(`no cpu op ${name}`);
  let daemons: Daemons;
  const loops = new Map<string, (n: number) => Promise<void>>();
  const measure = (which: 'tv' | 'ref') => async (): Promise<number> => {
    const path = daemons[which];
    const pid = daemons.pids[which];
    if (path === undefined || pid === undefined) throw new Error('reference-xenstored unavailable');
    let loop = loops.get(which);
    if (loop === undefined) {
      loop = await spec.op.prepare(path, `${name}-${process.pid}`);
      await loop(OPS / 4);
      loops.set(which, loop);
    }
    const before = cpuNs(pid);
    await loop(OPS);
    return (OPS * 1e9) / (cpuNs(pid) - before);
  };
  return defineSuite({
    name: `xenstore/cpu-${name}`,
    description: `Daemon CPU cost: ${spec.description}, in operations per second of the daemon's own CPU time (user and kernel, all threads): Typevisor's daemon vs the C xenstored 4.17.`,
    unit: 'ops per CPU-s',
    rounds: 7,
    async setup() {
      daemons = await acquire();
    },
    async teardown() {
      loops.clear();
      await release();
    },
    cases: [
      { name: 'typevisor', measure: measure('tv') },
      { name: 'c-xenstored', peer: true, measure: measure('ref') },
    ],
  });
}
