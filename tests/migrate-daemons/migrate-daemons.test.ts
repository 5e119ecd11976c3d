/**
 * Issue 8's xl verbs for save, restore and migration between two real daemons (in this process,
 * each with its own host, control socket and xenstored socket, on temporary directories): the
 * repository's `pv-count` guest prints an increasing counter while it is saved and restored into
 * a daemon that runs another domain, and while it is live-migrated over loopback TCP; the count
 * goes on with no gap or repeat, the report names rounds, pages and downtime. A peer that
 * disconnects midway and a truncated image leave the source running.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogDirtyWalker } from '@typevisor/hypervisor';
import { type HostDomain, hostLogDirty, runCli, TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';

function ticks(text: string): number[] {
  return [...text.matchAll(/tick 0x([0-9a-f]{16})\n/g)].map((m) => Number.parseInt(m[1] ?? '', 16));
}

function gapless(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v === (values[i - 1] ?? 0) + 1);
}

async function tv(
  args: string[],
  socket: string,
  cwd: string,
): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    env: { TYPEVISOR_SOCKET: socket },
    cwd,
  });
  return { status, out, err };
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'save, restore and migrate between two daemons',
  { timeout: 300_000 },
  () => {
    let dir = '';
    let a: TypevisorDaemon;
    let b: TypevisorDaemon;
    let port = 0;
    let aPort = 0;
    const log: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tv-migrate-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      for (const [name, memory] of [
        ['count', 64],
        ['other', 16],
      ] as const) {
        writeFileSync(
          join(dir, `${name}.cfg`),
          `name = "${name}"\nkernel = "pv-count.elf"\nmemory = ${memory}\n`,
        );
      }
      a = await TypevisorDaemon.start({
        socketPath: join(dir, 'a.sock'),
        xenstoredSocketPath: join(dir, 'a-xs.sock'),
        log: (l) => log.push(`A ${l}`),
      });
      b = await TypevisorDaemon.start({
        socketPath: join(dir, 'b.sock'),
        xenstoredSocketPath: join(dir, 'b-xs.sock'),
        log: (l) => log.push(`B ${l}`),
      });
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const A = (...args: string[]) => tv(args, join(dir, 'a.sock'), dir);
    const B = (...args: string[]) => tv(args, join(dir, 'b.sock'), dir);
    const ticking = async (d: HostDomain, more = 3): Promise<void> => {
      const want = ticks(d.xenConsoleText()).length + more;
      await until(`dom${d.domid} to print ${more} more ticks`, () => {
        return ticks(d.xenConsoleText()).length >= want;
      });
    };

    it('migrate-receive makes the second daemon listen', async () => {
      const r = await B('migrate-receive', '--listen', '127.0.0.1:0');
      expect(r.status).toBe(0);
      const m = /Ready to receive domains on 127\.0\.0\.1:(\d+)/.exec(r.out);
      expect(m).not.toBeNull();
      port = Number(m?.[1]);
      expect(port).toBeGreaterThan(0);
    });

    it('save writes an image and destroys the domain; restore brings it back beside another domain under a new domid', async () => {
      expect((await A('create', '-q', 'count.cfg')).status).toBe(0);
      const dom = a.host.lookup('count');
      await ticking(dom);
      const saved = await A('save', 'count', 'count.save');
      expect(saved.status).toBe(0);
      expect(saved.out).toMatch(/Saved domain \d+ \(count\) to count\.save: \d+ pages/);
      expect(a.host.domains.size).toBe(0);
      expect(statSync(join(dir, 'count.save')).size).toBeGreaterThan(4096 * 10);
      const before = ticks(dom.xenConsoleText());

      expect((await B('create', '-q', 'other.cfg')).status).toBe(0);
      const restored = await B('restore', '--json', 'count.save');
      expect(restored.status).toBe(0);
      const { domid } = JSON.parse(restored.out) as { domid: number };
      const other = b.host.lookup('other');
      expect(domid).not.toBe(other.domid);
      const copy = b.host.lookup('count');
      await ticking(copy);
      const all = ticks(copy.xenConsoleText());
      expect(all.slice(0, before.length)).toEqual(before);
      expect(gapless(all)).toBe(true);
      const list = await B('list');
      expect(list.out).toMatch(/\ncount +\d+ +64 /);

      // A truncated image is refused and nothing is created.
      const bytes = readFileSync(join(dir, 'count.save'));
      writeFileSync(join(dir, 'cut.save'), bytes.subarray(0, bytes.length >> 1));
      const cut = await A('restore', 'cut.save');
      expect(cut.status).toBe(1);
      expect(cut.err).toMatch(/typevisor restore: .*truncated/);
      expect(a.host.domains.size).toBe(0);
      // The same name twice is refused.
      const clash = await B('restore', 'count.save');
      expect(clash.status).toBe(1);
      expect(clash.err).toMatch(/a domain named "count" already exists/);
    });

    it('migrate --live moves the counting guest back: no gap, and the report names rounds and downtime', async () => {
      // B runs "count" (restored above); migrate it to A's listener.
      const r = await A('migrate-receive', '--listen', '127.0.0.1:0');
      aPort = Number(/:(\d+)\n/.exec(r.out)?.[1]);
      const src = b.host.lookup('count');
      await ticking(src);
      const m = await B('migrate', '--live', '--json', 'count', `127.0.0.1:${aPort}`);
      expect(m.err).toContain('migration sender');
      expect(m.status).toBe(0);
      const report = JSON.parse(m.out) as {
        rounds: number;
        pagesPerRound: number[];
        dirtyPerRound: number[];
        downtimeMs: number;
        totalMs: number;
        live: boolean;
      };
      expect(report.live).toBe(true);
      expect(report.rounds).toBeGreaterThanOrEqual(2);
      expect(report.pagesPerRound[0]).toBeGreaterThan(30); // every page the guest wrote
      // Log-dirty drives the rounds: after the first, a round sends what the log reported.
      expect(report.dirtyPerRound).toHaveLength(report.rounds);
      for (let i = 1; i < report.rounds; i++) {
        expect(report.pagesPerRound[i]).toBeLessThanOrEqual(report.dirtyPerRound[i] ?? 0);
      }
      expect(report.downtimeMs).toBeGreaterThan(0);
      expect(report.downtimeMs).toBeLessThan(report.totalMs);
      expect(b.host.domains.has(src.domid)).toBe(false);
      const moved = a.host.lookup('count');
      await ticking(moved);
      expect(gapless(ticks(moved.xenConsoleText()))).toBe(true);
      expect(ticks(moved.xenConsoleText()).length).toBeGreaterThan(
        ticks(src.xenConsoleText()).length,
      );
      // Human output: the same facts as text.
      const back = await A('migrate', 'count', `127.0.0.1:${port}`);
      expect(back.status).toBe(0);
      expect(back.out).toMatch(/Migration successful\.\n/);
      expect(back.out).toMatch(/Rounds: 1\nPages per round: \d+\n/);
      expect(back.out).toMatch(/Downtime: [\d.]+ ms\n/);
      await ticking(b.host.lookup('count'));
    });

    it('a peer that disconnects midway leaves the source running', async () => {
      const server = createServer((s) => {
        let got = 0;
        s.on('data', (d: Buffer) => {
          got += d.length;
          if (got > 200_000) s.destroy();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const badPort = (server.address() as { port: number }).port;
      const src = b.host.lookup('count');
      const r = await B('migrate', '--live', 'count', `127.0.0.1:${badPort}`);
      server.close();
      expect(r.status).toBe(1);
      expect(r.err).toMatch(/typevisor migrate: the migration peer .* disconnected/);
      expect(b.host.lookup('count')).toBe(src);
      expect(src.state).not.toBe('paused');
      // Log-dirty mode is off again: no log, the vCPU's own walker, no write watch.
      expect(hostLogDirty(b.host).enabled(src.domid)).toBe(false);
      expect(src.cpu.walker).not.toBeInstanceOf(LogDirtyWalker);
      expect(b.host.machine.memory.writeWatch).toBe(null);
      await ticking(src);
      expect(gapless(ticks(src.xenConsoleText()))).toBe(true);
      // Nobody listening: a clear error, nothing changes.
      const none = await B('migrate', 'count', '127.0.0.1:1');
      expect(none.status).toBe(1);
      expect(none.err).toMatch(/cannot reach the migration receiver at 127\.0\.0\.1:1/);
      await ticking(src, 1);
    });
    it('a receiver without the memory or with a domain of that name refuses, and the source runs on', async () => {
      const small = await TypevisorDaemon.start({
        socketPath: join(dir, 'c.sock'),
        memoryMiB: 32,
        migrateListen: '127.0.0.1:0',
        log: (l) => log.push(`C ${l}`),
      });
      try {
        const listening = log.find(
          (l) => l.startsWith('C ') && l.includes('listening for migrations'),
        );
        const cPort = Number(/:(\d+)$/.exec(listening ?? '')?.[1]);
        const src = b.host.lookup('count');
        const full = await B('migrate', 'count', `127.0.0.1:${cPort}`);
        expect(full.status).toBe(1);
        expect(full.err).toMatch(/refused the domain: not enough free memory to restore "count"/);
        expect(small.host.domains.size).toBe(0);
        await ticking(src, 1);
        expect((await A('create', '-q', 'count.cfg')).status).toBe(0);
        const clash = await B('migrate', '--live', 'count', `127.0.0.1:${aPort}`);
        expect(clash.status).toBe(1);
        expect(clash.err).toMatch(/refused the domain: a domain named "count" already exists/);
        expect(b.host.lookup('count')).toBe(src);
        await ticking(src, 1);
        expect(gapless(ticks(src.xenConsoleText()))).toBe(true);
        expect((await A('destroy', 'count')).status).toBe(0);
      } finally {
        await small.stop();
      }
    });

    it('save with a CONFIG stores that configuration, and restore uses it', async () => {
      writeFileSync(
        join(dir, 'renamed.cfg'),
        'name = "renamed"\nkernel = "pv-count.elf"\nmemory = 16\n',
      );
      expect((await A('create', '-q', 'other.cfg')).status).toBe(0);
      await ticking(a.host.lookup('other'));
      const saved = await A('save', 'other', 'other.save', 'renamed.cfg');
      expect(saved.status).toBe(0);
      const restored = await A('restore', '--json', 'other.save');
      expect(JSON.parse(restored.out)).toMatchObject({ name: 'renamed' });
      const dom = a.host.lookup('renamed');
      await ticking(dom);
      // A configuration whose memory differs is refused and the domain keeps running.
      const bad = await A('save', 'renamed', 'bad.save', 'count.cfg');
      expect(bad.status).toBe(1);
      expect(bad.err).toMatch(/memory = 64 MiB, but dom\d+ has 16 MiB/);
      expect(dom.state).not.toBe('paused');
      await ticking(dom, 1);
    });

    it.skipIf(!existsSync(GRUB) && !process.env.CI)(
      'an idle 64 MiB GRUB migrates live with a short downtime and answers on the other side',
      async () => {
        writeFileSync(
          join(dir, 'grub.cfg'),
          `name = "grub"\nkernel = "${GRUB}"\nmemory = 64\nuuid = "54797065-7669-736f-7200-00000000009b"\n`,
        );
        // Alone on both hosts: a guest spinning at its prompt shares the CPU badly with busy
        // guests under the host's scheduler today (see the report), and this is about downtime.
        for (const d of [...b.host.domains.values()]) await b.host.destroyDomain(d.domid);
        for (const d of [...a.host.domains.values()]) await a.host.destroyDomain(d.domid);
        const made = await A('create', '-q', 'grub.cfg');
        expect(made.err).toBe('');
        const src = a.host.lookup('grub');
        await until('GRUB prompt', () => src.consoleText().includes('grub> '), 240_000);
        const m = await A('migrate', '--live', '--json', 'grub', `127.0.0.1:${port}`);
        expect(m.status).toBe(0);
        const report = JSON.parse(m.out) as { downtimeMs: number; pagesPerRound: number[] };
        expect(report.pagesPerRound[0]).toBeGreaterThan(500); // GRUB's image and heap
        // The issue asks under 100 ms on a quiet machine (see bench/e2e/migrate); tests run
        // beside other work, so they only require that the guest was not stopped for long.
        expect(report.downtimeMs).toBeLessThan(2000);
        const moved = b.host.lookup('grub');
        const mark = moved.consoleText().length;
        b.host.consoleInput(moved.domid, new TextEncoder().encode('echo moved\r'));
        await until(
          'GRUB to answer after the migration',
          () => /\n\r?moved\r?\n/.test(moved.consoleText().slice(mark)),
          120_000,
        );
        expect((await B('destroy', 'grub')).status).toBe(0);
      },
    );
  },
);
