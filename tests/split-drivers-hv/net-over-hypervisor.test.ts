/**
 * Issue 7's network acceptance over the real hypervisor: TypeScript netfronts in three domains
 * and dom0's netback with its learning bridge, talking through the hypervisor's grant tables
 * and event channels (the toolstack Host's native domains), the devices plugged through the
 * host's xenstore with each domain writing only its own frontend directory. Frames cross between
 * domains (also larger than a page), spoofed frames are dropped and counted, VLANs keep traffic
 * apart.
 */
import {
  LearningBridge,
  Netback,
  Netfront,
  plugDevice,
  xenbusClientFromXenstore,
} from '@typevisor/split-drivers';
import { Host, type NativeDomain } from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';
import { describe, expect, it } from 'vitest';

function mac(n: number): string {
  return `00:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
}

function frame(dst: string, src: string, payload: number | Uint8Array = 46): Uint8Array {
  const bytes = (m: string) => m.split(':').map((x) => Number.parseInt(x, 16));
  const body = typeof payload === 'number' ? new Uint8Array(payload).fill(0xab) : payload;
  const out = new Uint8Array(14 + body.length);
  out.set([...bytes(dst), ...bytes(src), 0x88, 0xb5]);
  out.set(body, 14);
  return out;
}

/** Sets `perms` on `path` and everything below it. */
async function chmodTree(host: Host, path: string, perms: readonly string[]): Promise<void> {
  await host.xs.setPerms(path, perms);
  for (const child of await host.xs.directory(path)) {
    await chmodTree(host, `${path}/${child}`, perms);
  }
}

interface Vif {
  dom: NativeDomain;
  front: Netfront;
  back: Netback;
  inbox: Uint8Array[];
  xs: XenstoreClient;
}

async function rig() {
  const host = new Host();
  const bridge = new LearningBridge({ now: () => host.nowNs() / 1e6 });
  const dom0 = xenbusClientFromXenstore(host.xs);
  const vifs: Vif[] = [];
  const add = async (name: string, vlan?: number): Promise<Vif> => {
    const dom = host.createNativeDomain(name, 512);
    const m = mac(dom.domid);
    const paths = await host.drive(
      plugDevice(dom0, {
        type: 'vif',
        devid: 0,
        backendDomid: 0,
        frontendDomid: dom.domid,
        backendKeys: { mac: m },
        frontendKeys: { mac: m, handle: '0' },
      }),
    );
    // As libxl: the frontend directory is the guest's, the backend directory dom0's (readable
    // by the guest).
    await host.drive(chmodTree(host, paths.frontend, [`n${dom.domid}`, 'r0']));
    await host.drive(chmodTree(host, paths.backend, ['n0', `r${dom.domid}`]));
    const back = new Netback({
      xenbus: dom0,
      backendPath: paths.backend,
      mapper: host.dom0Grants,
      events: host.dom0Events,
      bridge,
      ...(vlan === undefined ? {} : { vlan }),
    });
    await host.drive(back.start());
    const xs = new XenstoreClient(inProcessTransport(host.xenstore, dom.domid));
    const inbox: Uint8Array[] = [];
    const front = new Netfront({
      xenbus: xenbusClientFromXenstore(xs),
      frontendPath: paths.frontend,
      grants: dom.grants,
      pages: dom.pages,
      events: dom.events,
      onFrame: (f) => inbox.push(f),
    });
    expect(await host.drive(front.connect())).toBe(true);
    const vif = { dom, front, back, inbox, xs };
    vifs.push(vif);
    return vif;
  };
  /** Sends and lets the host deliver everything in flight. */
  const send = async (from: Vif, f: Uint8Array): Promise<number> => {
    const rc = await host.drive(from.front.send(f));
    await host.run({ timeoutMs: 10_000 });
    return rc;
  };
  const close = async () => {
    for (const v of vifs) v.xs.close();
    await host.close();
  };
  return { host, bridge, add, send, close };
}

describe('netfront and netback in different domains over the real hypervisor', () => {
  it('carries frames between domains, including frames larger than a page', async () => {
    const n = await rig();
    const a = await n.add('a');
    const b = await n.add('b');
    expect(await n.send(a, frame(mac(b.dom.domid), mac(a.dom.domid)))).toBe(0);
    expect(b.inbox.length).toBe(1);
    expect(b.inbox[0]?.subarray(0, 12)).toEqual(
      frame(mac(b.dom.domid), mac(a.dom.domid)).subarray(0, 12),
    );
    const big = frame(
      mac(a.dom.domid),
      mac(b.dom.domid),
      Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff),
    );
    expect(await n.send(b, big)).toBe(0);
    expect(a.inbox.at(-1)).toEqual(big);
    expect(a.back.vif?.metrics).toMatchObject({ rxPackets: 1, rxBytes: big.length });
    // Every grant dom0 mapped for the exchange was unmapped again.
    expect(
      n.host.grants.getState().domains.find((d) => d.domid === 0)?.maptrack.length,
    ).toBeLessThanOrEqual(
      4, // the two rings of each of the two VIFs stay mapped while connected
    );
    await n.close();
  });

  it('drops and counts spoofed frames and keeps VLANs apart', async () => {
    const n = await rig();
    const a = await n.add('a', 10);
    const b = await n.add('b', 10);
    const c = await n.add('c', 20);
    expect(await n.send(a, frame('ff:ff:ff:ff:ff:ff', mac(99)))).toBe(0);
    expect(b.inbox.length + c.inbox.length).toBe(0);
    expect(n.bridge.counters(a.back.portId ?? -1).spoofDrops).toBe(1);
    expect(await n.send(a, frame('ff:ff:ff:ff:ff:ff', mac(a.dom.domid)))).toBe(0);
    expect([b.inbox.length, c.inbox.length]).toEqual([1, 0]);
    await n.close();
  });
});
