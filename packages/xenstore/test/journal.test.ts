/**
 * Durability: the snapshot + journal survive restarts, torn tails and a SIGKILLed daemon
 * without losing an acknowledged write.
 */
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessTransport, XenstoreClient } from '../src/client.ts';
import { crc32, Journal } from '../src/node/journal.ts';
import { XenstoreServer } from '../src/node/server.ts';
import { connectSocket } from '../src/node/socket-transport.ts';
import { XsType } from '../src/wire/constants.ts';
import { Xenstore } from '../src/xenstore.ts';
import { RawClient } from './helpers/raw-client.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'xsj-'));
  dirs.push(d);
  return d;
}

/** Applies requests through the store's dispatcher, then syncs like the server does before replying. */
async function session(j: Journal, body: (c: XenstoreClient) => Promise<void>): Promise<void> {
  const c = new XenstoreClient(inProcessTransport(j.xs));
  await body(c);
  j.sync();
  c.close();
}

describe('the journal', () => {
  it('computes the IEEE CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789')).toString(16)).toBe('cbf43926');
  });

  it('recovers nodes, permissions, domains and generation counts after a restart', async () => {
    const dir = tmp();
    const j = Journal.open(dir);
    await session(j, async (c) => {
      await c.write('/a/b', 'v');
      await c.setPerms('/a/b', ['n0', 'r3']);
      await c.transaction(async (tx) => {
        await tx.write('/t/1', 'x');
        await tx.rm('/a');
      });
      await c.write('/keep', new Uint8Array([0, 255, 10]));
    });
    j.xs.handle(
      j.xs.connect(0, () => {}),
      { type: 8, reqId: 0, txId: 0, payload: Buffer.from('4\x001\x002\0') },
    );
    j.sync();
    const before = j.xs.getState();
    j.close();
    const again = Journal.open(dir);
    expect(again.replayed).toBeGreaterThan(0);
    expect(again.xs.getState()).toEqual(before);
    expect(again.xs.domains.has(4)).toBe(true);
    again.close();
  });

  it('cuts a torn or corrupt tail and keeps every complete record before it', async () => {
    const dir = tmp();
    const j = Journal.open(dir);
    await session(j, async (c) => {
      await c.write('/one', '1');
      await c.write('/two', '2');
    });
    j.close();
    const log = join(dir, 'journal.log');
    const good = statSync(log).size;
    appendFileSync(log, '0badc0de {"g":1,"n":[["/three",null]],"d":{"domains":[],"special":{}}}\n');
    appendFileSync(log, '1234');
    const r = Journal.open(dir);
    expect(r.truncatedTail).toBe(true);
    expect(r.xs.store.get('/two')).toBeDefined();
    expect(statSync(log).size).toBe(good);
    r.close();
    // A record damaged in the middle stops replay there.
    const text = readFileSync(log, 'utf8').split('\n');
    text[0] = text[0]?.replace('"/one"', '"/onX"') ?? '';
    writeFileSync(log, text.join('\n'));
    const r2 = Journal.open(dir);
    expect(r2.replayed).toBe(0);
    expect(r2.xs.store.get('/one')).toBeUndefined();
    r2.close();
  });

  it('writes no record for requests that change nothing', async () => {
    const dir = tmp();
    const j = Journal.open(dir);
    await session(j, async (c) => {
      await c.write('/x', '1');
    });
    const size = statSync(join(dir, 'journal.log')).size;
    await session(j, async (c) => {
      await c.transaction(async (tx) => {
        await tx.read('/x');
      });
      await c.mkdir('/x');
      await c.rm('/absent');
    });
    expect(j.dirty).toBe(false);
    expect(statSync(join(dir, 'journal.log')).size).toBe(size);
    j.close();
  });

  it('compacts into a snapshot written by rename and recovers the same state', async () => {
    const dir = tmp();
    const j = Journal.open(dir, { compactAt: 2000 });
    await session(j, async (c) => {
      for (let i = 0; i < 100; i++) {
        await c.write(`/n/${i % 7}`, `value ${i}`);
        j.sync();
      }
    });
    const state = j.xs.getState();
    j.close();
    expect(statSync(join(dir, 'state.json')).size).toBeGreaterThan(0);
    expect(statSync(join(dir, 'journal.log')).size).toBeLessThan(2000);
    const r = Journal.open(dir);
    expect(r.xs.getState()).toEqual(state);
    r.close();
  });

  it('round-trips the whole store through getState/fromState', async () => {
    const xs = new Xenstore();
    const c = new XenstoreClient(inProcessTransport(xs));
    await c.write('/x/y', 'z');
    const copy = Xenstore.fromState(JSON.parse(JSON.stringify(xs.getState())));
    expect(copy.getState()).toEqual(xs.getState());
  });

  it('loses no acknowledged write when the daemon is killed with SIGKILL', async () => {
    const dir = tmp();
    const socket = join(dir, 'socket');
    const state = join(dir, 'state');
    const script = `
      import { Journal, XenstoreServer } from '@typevisor/xenstore/node';
      const j = Journal.open(${JSON.stringify(state)}, { compactAt: 20000 });
      const s = new XenstoreServer({ socketPath: ${JSON.stringify(socket)}, xenstore: j.xs, beforeReply: () => j.sync() });
      await s.listen();
      process.stdout.write('ready\\n');`;
    const start = async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=@typevisor/source', '--input-type=module', '-e', script],
        {
          cwd: resolve(__dirname, '..'),
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      return child;
    };
    const child = await start();
    const c = new XenstoreClient(await connectSocket(socket));
    const acked: number[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) {
      writes.push(c.write(`/crash/k${i}`, `v${i}`).then(() => void acked.push(i)));
      if (i === 200) {
        await Promise.race(writes.slice(150));
        child.kill('SIGKILL');
      }
    }
    await Promise.allSettled(writes);
    await new Promise((r) => child.once('exit', r));
    expect(acked.length).toBeGreaterThan(0);
    const j = Journal.open(state);
    for (const i of acked)
      expect(j.xs.store.get(`/crash/k${i}`)?.value).toEqual(new TextEncoder().encode(`v${i}`));
    j.close();
  }, 30_000);

  it('makes the writes of all connections readable in one event-loop turn durable with one sync', async () => {
    const dir = tmp();
    const j = Journal.open(dir);
    let syncs = 0;
    const socket = join(dir, 'sock');
    const server = new XenstoreServer({
      socketPath: socket,
      xenstore: j.xs,
      beforeReply: () => {
        syncs++;
        j.sync();
      },
    });
    await server.listen();
    const clients = await Promise.all(Array.from({ length: 16 }, () => RawClient.open(socket)));
    while (server.clientCount < 16) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    // Every client sends its write before the daemon's event loop gets to run.
    for (const [i, c] of clients.entries()) c.send(XsType.XS_WRITE, `/group/k${i}\0v${i}`, 0, 1);
    for (const c of clients) await c.waitFor((m) => m.reqId === 1);
    expect(syncs).toBeLessThanOrEqual(2);
    for (const c of clients) c.close();
    await server.close();
    j.close();
    // Each acknowledged write is in the journal.
    const again = Journal.open(dir);
    for (let i = 0; i < 16; i++) {
      expect(again.xs.store.get(`/group/k${i}`)?.value).toEqual(new TextEncoder().encode(`v${i}`));
    }
    again.close();
  });
});
