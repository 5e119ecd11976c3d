/**
 * Issue 8's live migration, host to host: pre-copy rounds while the guest runs, then
 * stop-and-copy, with the receiving host restoring from the same stream — in memory, and over a
 * loopback TCP connection. The repository's `pv-count` guest prints an increasing counter and
 * dirties a page per tick: the count must go on without a gap or a repeat. A peer that
 * disconnects midway leaves the source running.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bytesSource,
  chunkSource,
  Host,
  type HostDomain,
  parseDomainConfig,
} from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));

let dir = '';

function ticks(text: string): number[] {
  return [...text.matchAll(/tick 0x([0-9a-f]{16})\n/g)].map((m) => Number.parseInt(m[1] ?? '', 16));
}

function gapless(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v === (values[i - 1] ?? 0) + 1);
}

async function counting(): Promise<{ host: Host; dom: HostDomain }> {
  const host = new Host();
  const dom = await host.createDomain(
    parseDomainConfig(
      `name = "count"\nkernel = "${join(dir, 'pv-count.elf')}"\nmemory = 64\n`,
      'count.cfg',
    ),
  );
  await host.run({ maxInstructions: 3_000_000, stopWhenIdle: false });
  expect(ticks(dom.xenConsoleText()).length).toBeGreaterThan(5);
  return { host, dom };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'live migration between hosts',
  { timeout: 300_000 },
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'migrate-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('moves a running guest: its counter goes on without a gap, the source is gone', async () => {
      const { host, dom } = await counting();
      const chunks: Uint8Array[] = [];
      const report = await host.migrate((c) => {
        chunks.push(c.slice());
      });
      expect(report.rounds).toBeGreaterThanOrEqual(2);
      expect(report.pagesPerRound[0]).toBeGreaterThan(100); // the first round sends everything
      expect(report.pagesPerRound.at(-1)).toBeLessThan(100); // the last only what changed
      expect(report.downtimeMs).toBeLessThan(report.totalMs);
      expect(host.domains.size).toBe(0);
      const sentTicks = ticks(dom.xenConsoleText());
      const target = await Host.restore(concat(chunks));
      const moved = target.lookup('count');
      expect(moved.domid).toBe(dom.domid);
      await target.run({ maxInstructions: 3_000_000, stopWhenIdle: false });
      const all = ticks(moved.xenConsoleText());
      expect(all.length).toBeGreaterThan(sentTicks.length);
      expect(all.slice(0, sentTicks.length)).toEqual(sentTicks);
      expect(gapless(all)).toBe(true);
      await target.close();
    });

    it('moves a guest over a loopback TCP connection', async () => {
      const { host, dom } = await counting();
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const received = new Promise<Host>((resolve, reject) => {
        server.once('connection', (socket: Socket) => {
          Host.restore(chunkSource(socket)).then(resolve, reject);
        });
      });
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const report = await host.migrate(
        (c) =>
          new Promise<void>((resolve, reject) =>
            socket.write(c, (err) => (err ? reject(err) : resolve())),
          ),
      );
      socket.end();
      const target = await received;
      server.close();
      const moved = target.lookup(dom.domid);
      await target.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
      expect(gapless(ticks(moved.xenConsoleText()))).toBe(true);
      expect(ticks(moved.xenConsoleText()).length).toBeGreaterThan(
        ticks(dom.xenConsoleText()).length,
      );
      expect(report.bytes).toBeGreaterThan(0);
      await target.close();
    });

    it('a peer that disconnects midway leaves the source running, and the stream is refused', async () => {
      const { host, dom } = await counting();
      const chunks: Uint8Array[] = [];
      let sent = 0;
      const err = await host
        .migrate((c) => {
          sent += c.length;
          if (sent > 1_000_000) throw new Error('connection reset by peer');
          chunks.push(c.slice());
        })
        .catch((e: unknown) => e);
      expect((err as Error).message).toBe('connection reset by peer');
      expect(host.domains.size).toBe(1);
      const before = ticks(dom.xenConsoleText()).length;
      await host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
      expect(ticks(dom.xenConsoleText()).length).toBeGreaterThan(before);
      await expect(Host.restore(bytesSource(concat(chunks)))).rejects.toThrow(/truncated/);
      // Failing in the final round (after the guest stopped) also leaves it running.
      let records = 0;
      const late = await host
        .migrate(
          () => {
            records++;
            if (records > 3) throw new Error('peer gone');
          },
          { maxRounds: 1 },
        )
        .catch((e: unknown) => e);
      expect((late as Error).message).toBe('peer gone');
      const mid = ticks(dom.xenConsoleText()).length;
      await host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
      expect(ticks(dom.xenConsoleText()).length).toBeGreaterThan(mid);
      expect(gapless(ticks(dom.xenConsoleText()))).toBe(true);
      await host.close();
    });
  },
);
