/**
 * Two guests on a bridge, talking to each other: each domain gets a VIF as a `vif=` entry
 * would give it (a dom0 netback on the bridge `xenbr0`, its MAC and IP for anti-spoofing), and
 * a netfront inside the domain sends Ethernet frames to the other through the hypervisor's
 * grant tables and event channels. The guests are native TypeScript domains (the repository's
 * PV test kernels have no network driver); everything between them — xenstore handshake,
 * shared rings, grant copies, the learning bridge — is the same path a PV kernel's netfront
 * takes.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/two-guests-bridge.ts
 */
import { Netfront, xenbusClientFromXenstore } from '@typevisor/split-drivers';
import { Host, parseVifSpec } from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';

const host = new Host();
const guests = ['alice', 'bob'].map((name, i) => ({
  name,
  dom: host.createNativeDomain(name, 512),
  mac: `00:16:3e:00:00:0${i + 1}`,
  ip: `10.0.0.${i + 1}`,
  inbox: [] as Uint8Array[],
}));

const fronts: Netfront[] = [];
const clients: XenstoreClient[] = [];
for (const g of guests) {
  // What `vif = [ "mac=…,bridge=xenbr0,ip=…" ]` in an xl config file does at create time.
  const vif = await host.drive(
    host.devices.attachVif(g.dom.domid, parseVifSpec(`mac=${g.mac},bridge=xenbr0,ip=${g.ip}`)),
  );
  // The guest's side: its own xenstore connection and a netfront on device/vif/<devid>.
  const xs = new XenstoreClient(inProcessTransport(host.xenstore, g.dom.domid));
  clients.push(xs);
  const front = new Netfront({
    xenbus: xenbusClientFromXenstore(xs),
    frontendPath: `/local/domain/${g.dom.domid}/device/vif/${vif.devid}`,
    grants: g.dom.grants,
    pages: g.dom.pages,
    events: g.dom.events,
    onFrame: (f) => g.inbox.push(f),
  });
  await host.drive(front.connect());
  fronts.push(front);
  console.log(
    `${g.name}: domain ${g.dom.domid}, vif${g.dom.domid}.${vif.devid} ${vif.mac} on ${vif.bridge}`,
  );
}

/** An Ethernet frame carrying a text payload (EtherType 0x88b5, for experiments). */
function frame(dst: string, src: string, text: string): Uint8Array {
  const mac = (m: string) => m.split(':').map((x) => Number.parseInt(x, 16));
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(Math.max(60, 14 + body.length));
  out.set([...mac(dst), ...mac(src), 0x88, 0xb5]);
  out.set(body, 14);
  return out;
}
const text = (f: Uint8Array) => new TextDecoder().decode(f.subarray(14)).replace(/\0+$/, '');

const [alice, bob] = guests as [(typeof guests)[0], (typeof guests)[0]];
const send = async (from: number, f: Uint8Array) => {
  await host.drive((fronts[from] as Netfront).send(f));
  await host.run({ timeoutMs: 10_000 }); // let dom0's netbacks and the bridge deliver it
};
await send(0, frame(bob.mac, alice.mac, 'hello bob, this is alice'));
console.log(`bob received: "${text(bob.inbox[0] as Uint8Array)}"`);
await send(1, frame(alice.mac, bob.mac, 'hi alice!'));
console.log(`alice received: "${text(alice.inbox[0] as Uint8Array)}"`);
// A frame with a forged source MAC: the bridge's anti-spoofing drops it.
await send(0, frame(bob.mac, '00:16:3e:66:66:66', 'forged'));
console.log(`bob's inbox after a forged frame: ${bob.inbox.length} frame(s)`);
const rows = await host.drive(host.devices.networkList(alice.dom.domid));
console.log(
  `alice's vif state ${rows[0]?.state} (4 = Connected), tx ${host.devices.vifCounters(alice.dom.domid).txBytes} bytes`,
);
for (const c of clients) c.close();
await host.close();
