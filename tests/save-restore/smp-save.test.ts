/**
 * Issue 8's save, restore and live migration of an SMP domain: the repository's SMP guest
 * (`tests/smp/guest`, `vcpus = 2` on 2 pCPUs) is saved or migrated in the middle of its run —
 * vCPU 1 brought up by the guest, IPI ports and per-vCPU timer ports bound to it — and restored
 * on another host, where it finishes: its console must be exactly the real Xen 4.17's for the
 * whole run, the same as without a save (`tests/smp/golden/smp-2vcpus.txt`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  connectMigration,
  Host,
  type HostDomain,
  listenForMigrations,
  migrateDomain,
  parseDomainConfig,
  restoreDomainImage,
  saveDomainToBytes,
} from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const GUEST = fileURLToPath(new URL('../smp/guest/smp-x86_64.elf', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../smp/golden/smp-2vcpus.txt', import.meta.url));
/** 20 ns per instruction, as tests/smp: the guest's 10 ms ticks come every 500 000 instructions. */
const NS = 20;

function newHost(): Host {
  return new Host({ pcpus: 2, memoryMiB: 64, instructionNs: NS });
}

/** The lines between the guest's begin and end markers. */
function transcript(d: HostDomain): string[] {
  const text = d.consoleText();
  const at = text.indexOf('TYPEVISOR-SMP begin');
  const end = text.indexOf('TYPEVISOR-SMP end');
  return text.slice(at, end + 'TYPEVISOR-SMP end'.length).split('\n');
}

/** Runs the SMP guest until vCPU 1 is up and the guest is `marker` deep into its run. */
async function started(marker: string): Promise<{ host: Host; d: HostDomain }> {
  const host = newHost();
  const d = await host.createDomain(
    parseDomainConfig(
      `name = "smp"\nkernel = "${GUEST}"\nmemory = 16\non_poweroff = "preserve"\nvcpus = 2\n`,
      'smp.cfg',
    ),
  );
  await host.run({ until: () => d.consoleText().includes(marker), timeoutMs: 60_000 });
  expect(d.isUp(1)).toBe(true);
  expect(d.consoleText()).not.toContain('TYPEVISOR-SMP end');
  return { host, d };
}

async function finish(host: Host, d: HostDomain): Promise<void> {
  await host.run({ until: () => d.state === 'shutdown', timeoutMs: 90_000 });
  expect(d.shutdownName).toBe('poweroff');
  for (const v of d.vcpus) expect(v.vcpu.crash).toBeNull();
  const golden = readFileSync(GOLDEN, 'utf8').trimEnd().split('\n');
  expect(transcript(d)).toEqual(golden);
}

describe('SMP domains in per-domain images', { timeout: 240_000 }, () => {
  it('save and restore a 2-vCPU guest mid-run: it finishes on the new host with the real Xen output', async () => {
    const { host, d } = await started('cpu.0.pongs 4');
    const { image } = await saveDomainToBytes(host, 'smp');
    await host.close();
    const target = newHost();
    try {
      const r = await restoreDomainImage(target, image);
      expect(r.vcpus).toHaveLength(2);
      expect(r.isUp(1)).toBe(true);
      expect(r.smp?.isInitialised(1)).toBe(true);
      await finish(target, r);
    } finally {
      await target.close();
    }
    expect(d.vcpus).toHaveLength(2);
  });

  it('save and restore before the guest brought vCPU 1 up: the down, uninitialised vCPU comes back so', async () => {
    const host = newHost();
    const d = await host.createDomain(
      parseDomainConfig(
        `name = "smp"\nkernel = "${GUEST}"\nmemory = 16\non_poweroff = "preserve"\nvcpus = 2\n`,
        'smp.cfg',
      ),
      { paused: true },
    );
    expect(d.isUp(1)).toBe(false);
    const { image } = await saveDomainToBytes(host, 'smp');
    await host.close();
    const target = newHost();
    try {
      const r = await restoreDomainImage(target, image);
      expect(r.isUp(1)).toBe(false);
      expect(r.smp?.isInitialised(1)).toBe(false);
      target.unpause(r.domid);
      await finish(target, r);
    } finally {
      await target.close();
    }
  });

  it('live-migrates a 2-vCPU guest mid-run over loopback TCP', async () => {
    const { host } = await started('cpu.0.pongs 4');
    const target = newHost();
    const listener = await listenForMigrations(target, { host: '127.0.0.1', port: 0 });
    const conn = await connectMigration('127.0.0.1', listener.address.port);
    try {
      const report = await migrateDomain(host, 'smp', conn, {
        live: true,
        verify: true,
        maxRounds: 3,
        between: async () => {
          await host.run({ maxInstructions: 500_000, stopWhenIdle: false });
        },
      });
      expect(report.rounds).toBeGreaterThanOrEqual(2);
      const moved = target.lookup('smp');
      expect(moved.vcpus).toHaveLength(2);
      await finish(target, moved);
    } finally {
      conn.close();
      await listener.close();
      await target.close();
      await host.close();
    }
  });
});
