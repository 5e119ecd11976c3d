/**
 * Two repository PV guests on one bridge (`tests/guests/netping`, a minimal netfront in C):
 * each gets its VIF from a `vif=` entry, connects it through xenstore, grants and an event
 * channel, and the pinger's broadcast is answered by the ponger across dom0's netbacks and the
 * learning bridge.
 */
import { fileURLToPath } from 'node:url';
import { Host, parseDomainConfig } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const NETPING = fileURLToPath(new URL('../guests/netping/netping-x86_64.elf', import.meta.url));

describe('two PV guests on a bridge', () => {
  it("the pinger's broadcast is answered by the other guest", async () => {
    const host = new Host({ memoryMiB: 128 });
    const make = (name: string, mac: string, extra: string) =>
      host.createDomain(
        parseDomainConfig(
          `name = "${name}"\nkernel = "${NETPING}"\nmemory = 16\nextra = "${extra}"\nvif = [ "mac=${mac},bridge=xenbr0" ]\n`,
          `${name}.cfg`,
        ),
      );
    const pong = await make('pong', '00:16:3e:00:00:02', 'pong');
    const ping = await make('ping', '00:16:3e:00:00:01', 'ping');
    await host.run({
      until: () => ping.consoleText().includes('answered'),
      timeoutMs: 60_000,
      stopWhenIdle: false,
    });
    expect(ping.consoleText()).toContain(
      'netping: 00:16:3e:00:00:02 answered: pong to 00:16:3e:00:00:01',
    );
    expect(pong.consoleText()).toContain('netping: ping from 00:16:3e:00:00:01');
    // network-list's view of a connected PV netfront: Connected, its channel and ring refs.
    for (const d of [ping, pong]) {
      const [row] = await host.drive(host.devices.networkList(d.domid));
      expect(row).toMatchObject({ idx: 0, backendId: 0, handle: 0, state: 4 });
      expect(row?.evtch).toBeGreaterThan(0);
      expect(row?.txRingRef).toBeGreaterThanOrEqual(8);
      expect(row?.rxRingRef).toBeGreaterThanOrEqual(8);
    }
    const counters = host.devices.vifCounters(ping.domid);
    expect(counters.txBytes).toBeGreaterThanOrEqual(60);
    expect(counters.rxBytes).toBeGreaterThanOrEqual(60);
    expect(ping.vcpu.crash).toBeNull();
    expect(pong.vcpu.crash).toBeNull();
    await host.close();
  });
});
