/**
 * Per-domain live migration (`typevisor migrate --live`) between two hosts in one process over a
 * loopback TCP connection: downtime — from the pause on the source to the receiver's answer that
 * the domain runs there — and the whole migration's time, for an idle 64 MiB guest (Debian's PV
 * GRUB at its prompt) and a memory-dirtying one (the repository's pv-count guest, a page per tick).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  connectMigration,
  Host,
  type HostDomain,
  listenForMigrations,
  migrateDomain,
  parseDomainConfig,
} from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
const GUEST_DIR = fileURLToPath(new URL('../../tests/pv-boot/guest/', import.meta.url));
let countElf = '';

function guestElf(): string {
  if (countElf) return countElf;
  const dir = mkdtempSync(join(tmpdir(), 'migrate-bench-'));
  execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
  countElf = join(dir, 'pv-count.elf');
  return countElf;
}

async function source(kernel: string, until: (d: HostDomain) => boolean): Promise<Host> {
  const host = new Host();
  const dom = await host.createDomain(
    parseDomainConfig(`name = "m"\nkernel = "${kernel}"\nmemory = 64\n`, 'm.cfg'),
  );
  await host.run({ until: () => until(dom), stopWhenIdle: false, maxInstructions: 100_000_000 });
  return host;
}

/** Live-migrates domain "m" over loopback TCP; returns [downtime ms, total ms]. */
async function migrate(host: Host): Promise<[number, number]> {
  const target = new Host();
  const listener = await listenForMigrations(target, { host: '127.0.0.1', port: 0 });
  const conn = await connectMigration('127.0.0.1', listener.address.port);
  try {
    const report = await migrateDomain(host, 'm', conn, { live: true });
    if (!target.domains.has(report.targetDomid)) throw new Error('the domain did not arrive');
    return [report.downtimeMs, report.totalMs];
  } finally {
    conn.close();
    await listener.close();
    await target.close();
    await host.close();
  }
}

const idle = () => source(GRUB, (d) => d.consoleText().includes('grub> '));
const dirtying = () =>
  source(guestElf(), (d) => d.xenConsoleText().includes('tick 0x0000000000000010'));

export default defineSuite({
  name: 'e2e/migrate',
  description:
    'Per-domain live migration (migrateDomain over loopback TCP, what typevisor migrate --live runs): downtime (pause on the source to the receiver running the domain) and total time, for an idle 64 MiB guest (PV GRUB at its prompt) and a page-dirtying one (pv-count). Lower is better; the issue asks under 100 ms of downtime for the idle guest.',
  unit: 'ms',
  lowerIsBetter: true,
  rounds: 3,
  cases: [
    { name: 'idle 64 MiB (GRUB): downtime', measure: async () => (await migrate(await idle()))[0] },
    { name: 'idle 64 MiB (GRUB): total', measure: async () => (await migrate(await idle()))[1] },
    {
      name: 'dirtying (pv-count): downtime',
      measure: async () => (await migrate(await dirtying()))[0],
    },
    {
      name: 'dirtying (pv-count): total',
      measure: async () => (await migrate(await dirtying()))[1],
    },
  ],
});
