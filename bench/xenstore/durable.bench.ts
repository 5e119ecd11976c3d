/**
 * Durable writes: Typevisor's daemon with its journal (`typevisor xenstored --state`), where
 * a WRITE is acknowledged only after `fdatasync`. With one connection every write pays one
 * sync; with 32 connections the writes that arrive in one event-loop turn share one (group
 * commit). The C xenstored 4.17 keeps its store in memory only, so there is no peer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSuite } from '../harness.ts';
import { arg, BenchClient } from './support.ts';

const here = dirname(fileURLToPath(import.meta.url));
let dir = '';
let child: ChildProcess | undefined;
const pools = new Map<number, BenchClient[]>();

function writes(conns: number) {
  return async (iters: number): Promise<number> => {
    const pool = pools.get(conns);
    if (pool === undefined) throw new Error('not set up');
    const per = Math.max(1, Math.ceil(iters / conns));
    await Promise.all(
      pool.map(async (c, k) => {
        for (let i = 0; i < per; i++) await c.request(11, arg(`/durable/c${k}/n${i % 10}`, 'v'));
      }),
    );
    return per * conns;
  };
}

export default defineSuite({
  name: 'xenstore/durable',
  description:
    "Acknowledged-means-durable WRITEs per second through Typevisor's journal (fdatasync before the reply), one request in flight per connection: one connection vs 32 sharing syncs (group commit per event-loop turn).",
  unit: 'writes/s',
  sampleMs: 500,
  async setup() {
    dir = mkdtempSync('/tmp/xsd-');
    const socket = join(dir, 'tv.sock');
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@typevisor/source',
        join(here, 'tv-daemon.ts'),
        socket,
        join(dir, 'state'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((r) => child?.stdout?.once('data', () => r()));
    for (const n of [1, 32]) {
      const pool: BenchClient[] = [];
      for (let i = 0; i < n; i++) pool.push(await BenchClient.open(socket));
      pools.set(n, pool);
    }
  },
  async teardown() {
    for (const pool of pools.values()) for (const c of pool) c.close();
    pools.clear();
    const c = child;
    child = undefined;
    if (c !== undefined) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  },
  cases: [
    { name: 'one-connection', run: writes(1) },
    { name: '32-connections', run: writes(32) },
  ],
});
