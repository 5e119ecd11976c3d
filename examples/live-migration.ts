/**
 * Live migration between two local daemons while the guest keeps printing: daemon B listens for
 * migrations on a loopback TCP port (`typevisor migrate-receive`, or `daemon --migrate-listen`),
 * and `typevisor migrate --live` moves the repository's counter guest from A to B — pre-copy
 * rounds while it runs, then a short stop-and-copy. The counter goes on without a gap; the
 * report gives rounds, pages per round, total time and downtime.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/live-migration.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HostDomain, runVerb, TypevisorDaemon } from '@typevisor/toolstack';

const dir = mkdtempSync(join(tmpdir(), 'typevisor-migrate-'));
execFileSync('sh', [
  fileURLToPath(new URL('../tests/pv-boot/guest/build.sh', import.meta.url)),
  dir,
]);
writeFileSync(join(dir, 'count.cfg'), 'name = "count"\nkernel = "pv-count.elf"\nmemory = 64\n');

/** Runs a `typevisor` verb in-process against the daemon on `socket`. */
const tv = (socket: string, ...args: string[]): Promise<string> =>
  runVerb(args, { env: { TYPEVISOR_SOCKET: socket }, cwd: dir });

const ticks = (d: HostDomain): number[] =>
  [...d.xenConsoleText().matchAll(/tick 0x([0-9a-f]+)\n/g)].map((m) =>
    Number.parseInt(m[1] ?? '', 16),
  );
async function waitTicks(d: HostDomain, n: number): Promise<void> {
  while (ticks(d).length < n) await new Promise((r) => setTimeout(r, 10));
}

const a = await TypevisorDaemon.start({ socketPath: join(dir, 'a.sock'), memoryMiB: 256 });
const b = await TypevisorDaemon.start({ socketPath: join(dir, 'b.sock'), memoryMiB: 256 });
try {
  const listening = await tv(b.socketPath, 'migrate-receive', '--listen', '127.0.0.1:0');
  const port = /:(\d+)\n/.exec(listening)?.[1];
  console.log(`B: ${listening.trim().replace(/:\d+$/, ':PORT')}`);
  await tv(a.socketPath, 'create', '-q', 'count.cfg');
  const src = a.host.lookup('count');
  await waitTicks(src, 5);
  console.log(`A: domain ${src.domid} (count) is counting`);
  const report = await tv(a.socketPath, 'migrate', '--live', 'count', `127.0.0.1:${port}`);
  for (const line of report.trim().split('\n')) console.log(`A: ${line}`);
  const moved = b.host.lookup('count');
  const before = ticks(src).length;
  await waitTicks(moved, before + 5);
  const all = ticks(moved);
  const gapless = all.every((v, i) => i === 0 || v === (all[i - 1] ?? 0) + 1);
  console.log(`B: count runs as domain ${moved.domid}; no gap in the counter: ${gapless}`);
  console.log(`A: runs ${a.host.domains.size} domains`);
} finally {
  await a.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
}
