/**
 * Device hot-plug at the Host level with TypeScript frontends in native domains: a disk
 * attached with `attachBlock` is found and read by a blkfront and removed with libxl's
 * Closing/Closed handshake; VIFs attached as `vif=` entries put two domains on one bridge
 * (frames cross, spoofed ones are dropped) and `detachVif` removes one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Blkfront, Netfront, xenbusClientFromXenstore } from '@typevisor/split-drivers';
import { Host, parseDiskSpec, parseVifSpec } from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';
import { describe, expect, it } from 'vitest';

function frame(dst: string, src: string, fill = 0xab): Uint8Array {
  const bytes = (m: string) => m.split(':').map((x) => Number.parseInt(x, 16));
  const out = new Uint8Array(60).fill(fill);
  out.set([...bytes(dst), ...bytes(src), 0x88, 0xb5]);
  return out;
}

describe('block-attach and block-detach with a native blkfront', () => {
  it('the frontend reads the attached disk, and detach closes it cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-blk-'));
    const img = join(dir, 'data.img');
    const data = new Uint8Array(1 << 20);
    data.set(new TextEncoder().encode('HOT-PLUGGED DISK'), 512);
    writeFileSync(img, data);
    const host = new Host();
    const front = host.createNativeDomain('front', 256);
    await host.drive(host.attachBlock(front.domid, parseDiskSpec(`${img},raw,xvdb,rw`)));
    const fe = `/local/domain/${front.domid}/device/vbd/51728`;
    expect(await host.xs.readString(`${fe}/backend`)).toBe(
      `/local/domain/0/backend/vbd/${front.domid}/51728`,
    );
    const xs = new XenstoreClient(inProcessTransport(host.xenstore, front.domid));
    const blkfront = new Blkfront({
      xenbus: xenbusClientFromXenstore(xs),
      frontendPath: fe,
      grants: front.grants,
      pages: front.pages,
      events: front.events,
    });
    const info = await host.drive(blkfront.connect());
    expect(info?.sectors).toBe(2048);
    const r = await host.drive(blkfront.read(1, 1));
    expect(new TextDecoder().decode(r.data.subarray(0, 16))).toBe('HOT-PLUGGED DISK');
    // A second disk on the same vdev is refused.
    await expect(
      host.drive(host.attachBlock(front.domid, parseDiskSpec(`${img},raw,xvdb,r`))),
    ).rejects.toThrow(/already has a disk xvdb/);
    // The backend goes to Closing, the blkfront closes, the backend reaches Closed.
    expect(await host.drive(host.detachBlock(front.domid, 'xvdb', 5000))).toBe(true);
    expect(await host.xs.readString(`${fe}/backend`).catch(() => 'gone')).toBe('gone');
    await expect(host.drive(host.detachBlock(front.domid, 'xvdb'))).rejects.toThrow(
      /Device xvdb not connected/,
    );
    xs.close();
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('VIFs on a bridge between two native domains', () => {
  it('frames cross the bridge, spoofed frames are dropped, and a VIF can be detached', async () => {
    const host = new Host();
    const doms = [host.createNativeDomain('a', 512), host.createNativeDomain('b', 512)];
    const macs = ['00:16:3e:0a:00:01', '00:16:3e:0b:00:01'];
    const inbox: Uint8Array[][] = [[], []];
    const fronts: Netfront[] = [];
    const clients: XenstoreClient[] = [];
    for (let i = 0; i < 2; i++) {
      const dom = doms[i]!;
      const vif = await host.drive(
        host.devices.attachVif(
          dom.domid,
          parseVifSpec(`mac=${macs[i]},bridge=br0,ip=10.0.0.${i + 1}`),
        ),
      );
      expect(vif).toMatchObject({ devid: 0, mac: macs[i], bridge: 'br0' });
      const be = `/local/domain/0/backend/vif/${dom.domid}/0`;
      expect(await host.xs.readString(`${be}/ip`)).toBe(`10.0.0.${i + 1}`);
      expect(await host.xs.readString(`${be}/bridge`)).toBe('br0');
      const xs = new XenstoreClient(inProcessTransport(host.xenstore, dom.domid));
      clients.push(xs);
      const front = new Netfront({
        xenbus: xenbusClientFromXenstore(xs),
        frontendPath: `/local/domain/${dom.domid}/device/vif/0`,
        grants: dom.grants,
        pages: dom.pages,
        events: dom.events,
        onFrame: (f) => inbox[i]!.push(f),
      });
      expect(await host.drive(front.connect())).toBe(true);
      fronts.push(front);
    }
    const send = async (i: number, f: Uint8Array) => {
      await host.drive(fronts[i]!.send(f));
      await host.run({ timeoutMs: 10_000 });
    };
    await send(0, frame(macs[1]!, macs[0]!));
    expect(inbox[1]).toHaveLength(1);
    await send(1, frame(macs[0]!, macs[1]!, 0xcd));
    expect(inbox[0]?.[0]?.[20]).toBe(0xcd);
    // A frame with another source MAC is dropped by the anti-spoofing check.
    await send(0, frame('ff:ff:ff:ff:ff:ff', '00:16:3e:66:66:66'));
    expect(inbox[1]).toHaveLength(1);
    expect(host.devices.vifCounters(doms[0]!.domid).txBytes).toBeGreaterThanOrEqual(60);
    const rows = await host.drive(host.devices.networkList(doms[0]!.domid));
    expect(rows).toEqual([
      expect.objectContaining({ idx: 0, backendId: 0, mac: macs[0], handle: 0, state: 4 }),
    ]);
    // A frontend that does not follow the backend to Closing is removed by force after the
    // timeout; one that closes meanwhile completes the handshake.
    expect(await host.drive(host.devices.detachVif(doms[1]!.domid, macs[1]!, 50))).toBe(false);
    expect(host.devices.vifsOf(doms[1]!.domid)).toEqual([]);
    const detaching = host.devices.detachVif(doms[0]!.domid, '0', 30_000);
    // What a kernel's netfront does when its backend goes to Closing: Closing, then Closed.
    const fe = `/local/domain/${doms[0]!.domid}/device/vif/0`;
    await host.drive(clients[0]!.write(`${fe}/state`, '5'));
    await host.drive(clients[0]!.write(`${fe}/state`, '6'));
    expect(await host.drive(detaching)).toBe(true);
    expect(host.devices.vifsOf(doms[0]!.domid)).toEqual([]);
    for (const c of clients) c.close();
    await host.close();
  });
});

describe("a vif's rate= limit", () => {
  it('drops what a guest sends beyond its rate, as the bridge counts it', async () => {
    const host = new Host();
    const a = host.createNativeDomain('a', 512);
    const b = host.createNativeDomain('b', 512);
    const got: Uint8Array[] = [];
    const fronts: Netfront[] = [];
    const clients: XenstoreClient[] = [];
    for (const [dom, spec] of [
      [a, 'mac=00:16:3e:0a:00:01,rate=8Kb/s@1s'], // 1000 bytes per second
      [b, 'mac=00:16:3e:0b:00:01'],
    ] as const) {
      await host.drive(host.devices.attachVif(dom.domid, parseVifSpec(spec)));
      const xs = new XenstoreClient(inProcessTransport(host.xenstore, dom.domid));
      clients.push(xs);
      const front = new Netfront({
        xenbus: xenbusClientFromXenstore(xs),
        frontendPath: `/local/domain/${dom.domid}/device/vif/0`,
        grants: dom.grants,
        pages: dom.pages,
        events: dom.events,
        onFrame: (f) => got.push(f),
      });
      expect(await host.drive(front.connect())).toBe(true);
      fronts.push(front);
    }
    expect(await host.xs.readString(`/local/domain/0/backend/vif/${a.domid}/0/rate`)).toBe(
      '1000,1000000',
    );
    for (let i = 0; i < 30; i++) {
      await host.drive(fronts[0]!.send(frame('00:16:3e:0b:00:01', '00:16:3e:0a:00:01')));
    }
    await host.run({ timeoutMs: 10_000 });
    // 60-byte frames against 1000 bytes of credit: 16 pass, the rest are dropped.
    const back = host.devices.vifsOf(a.domid)[0]!.backend;
    const counters = host.devices.bridge('xenbr0').counters(back.portId ?? -1);
    expect(got.length).toBe(16);
    expect(counters.rateDrops).toBe(14);
    for (const c of clients) c.close();
    await host.close();
  });
});
