/**
 * Two repository PV guests on one bridge (`tests/guests/netping`, a minimal netfront in C):
 * each gets its VIF from a `vif=` entry, connects it through xenstore, grants and an event
 * channel, and the pinger's broadcast is answered by the ponger across dom0's netbacks and the
 * learning bridge.
 */
import { fileURLToPath } from 'node:url';
import { Netfront, xenbusClientFromXenstore } from '@typevisor/split-drivers';
import { Host, parseDomainConfig } from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';
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

describe('VIFs across a save and restore of the host', () => {
  it('the restored guests are served by new netbacks and answer on the bridge again', async () => {
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
    const image = await host.save();
    // The saved host goes on; the restored one gets netbacks for the VIFs in its xenstore.
    await host.close();
    const restored = await Host.restore(image);
    expect(restored.devices.vifsOf(pong.domid).map((v) => v.mac)).toEqual(['00:16:3e:00:00:02']);
    // A TypeScript domain joins the restored bridge and pings the restored pong guest.
    const probe = restored.createNativeDomain('probe', 512);
    const vif = await restored.drive(
      restored.devices.attachVif(probe.domid, { mac: '00:16:3e:00:00:09' }),
    );
    const xs = new XenstoreClient(inProcessTransport(restored.xenstore, probe.domid));
    const inbox: Uint8Array[] = [];
    const front = new Netfront({
      xenbus: xenbusClientFromXenstore(xs),
      frontendPath: `/local/domain/${probe.domid}/device/vif/${vif.devid}`,
      grants: probe.grants,
      pages: probe.pages,
      events: probe.events,
      onFrame: (f) => inbox.push(f),
    });
    expect(await restored.drive(front.connect())).toBe(true);
    const f = new Uint8Array(60);
    f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x09, 0x88, 0xb5]);
    f.set(new TextEncoder().encode('ping from 00:16:3e:00:00:09'), 14);
    await restored.drive(front.send(f));
    const rpong = restored.lookup('pong');
    await restored.run({
      until: () => inbox.length > 0,
      timeoutMs: 60_000,
      stopWhenIdle: false,
    });
    const text = new TextDecoder().decode(inbox[0]?.subarray(14, 14 + 25));
    expect(text).toBe('pong to 00:16:3e:00:00:09');
    expect(rpong.consoleText()).toContain('netping: ping from 00:16:3e:00:00:09');
    xs.close();
    await restored.close();
  });
});
