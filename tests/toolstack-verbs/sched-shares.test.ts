/**
 * The `sched-credit` and `sched-sedf` daemon methods change how the host's one CPU is shared:
 * two CPU-bound balloon guests (`extra = "busy"`) on a Host whose instructions take 1 µs of
 * virtual time each (so scheduler periods come around in a few million instructions).
 */
import { fileURLToPath } from 'node:url';
import { Host, type HostDomain, parseDomainConfig, resourceRpc } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

async function busyGuests(host: Host): Promise<[HostDomain, HostDomain]> {
  const make = (name: string) =>
    host.createDomain(
      parseDomainConfig(
        `name = "${name}"\nkernel = "${BALLOON}"\nmemory = 8\nextra = "busy"\n`,
        `${name}.cfg`,
      ),
      { paused: true },
    );
  return [await make('a'), await make('b')];
}

/** Runs both guests for `ns` of virtual time; returns a's share over b's. */
async function share(host: Host, a: HostDomain, b: HostDomain, ns: number): Promise<number> {
  const [a0, b0] = [a.instructions, b.instructions];
  const end = host.nowNs() + ns;
  await host.run({ until: () => host.nowNs() >= end, stopWhenIdle: false, timeoutMs: 60_000 });
  return (a.instructions - a0) / (b.instructions - b0);
}

describe('scheduler parameters set through the daemon methods', () => {
  it('credit weights 1024:256 give the first guest about four times the CPU', async () => {
    const host = new Host({ instructionNs: 1000 });
    const [a, b] = await busyGuests(host);
    await resourceRpc(host, 'sched-credit', { domain: 'a', weight: 1024 });
    await resourceRpc(host, 'sched-credit', { domain: 'b', weight: 256 });
    host.unpause(a.domid);
    host.unpause(b.domid);
    const ratio = await share(host, a, b, 3e9);
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(6);
    // Equal weights again: equal shares.
    await resourceRpc(host, 'sched-credit', { domain: 'a', weight: 256 });
    const even = await share(host, a, b, 3e9);
    expect(even).toBeGreaterThan(0.7);
    expect(even).toBeLessThan(1.4);
    await host.close();
  }, 120_000);

  it('a credit cap of 20% holds a guest to about a fifth of the CPU', async () => {
    const host = new Host({ instructionNs: 1000 });
    const [a, b] = await busyGuests(host);
    await resourceRpc(host, 'sched-credit', { domain: 'a', cap: 20 });
    host.unpause(a.domid);
    host.unpause(b.domid);
    const ratio = await share(host, a, b, 3e9);
    // 20:80 is 0.25.
    expect(ratio).toBeGreaterThan(0.12);
    expect(ratio).toBeLessThan(0.4);
    await host.close();
  }, 120_000);

  it('sEDF slices 30 ms and 10 ms of a 100 ms period (no extra time) split the CPU 3:1', async () => {
    const host = new Host({ instructionNs: 1000, scheduler: 'sedf' });
    const [a, b] = await busyGuests(host);
    for (const [domain, slice] of [
      ['a', 30],
      ['b', 10],
    ] as const) {
      await resourceRpc(host, 'sched-sedf', { domain, period: 100, slice, extratime: 0 });
    }
    host.unpause(a.domid);
    host.unpause(b.domid);
    const ratio = await share(host, a, b, 3e9);
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(3.5);
    await host.close();
  }, 120_000);
});
