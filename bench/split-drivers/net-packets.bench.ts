/**
 * Packets per second between two domains: netfront (dom 1) → tx ring → netback → learning
 * bridge → netback → rx ring → netfront (dom 2), over the in-memory grant tables and event
 * channels, 1514-byte frames, 32 in flight. The peer copies the same bytes twice with
 * `Uint8Array.set` (the two copies the path makes), the machine's limit.
 */
import { LearningBridge, Netback, Netfront, plugDevice } from '@typevisor/split-drivers';
import { MemoryFabric, MemoryXenstore } from '@typevisor/split-drivers/testing';
import { defineSuite } from '../harness.ts';

const FRAME = 1514;
const IN_FLIGHT = 32;
let sender: Netfront | undefined;
let received = 0;
const frame = new Uint8Array(FRAME);
frame.set([0, 0x16, 0x3e, 0, 0, 2, 0, 0x16, 0x3e, 0, 0, 1, 0x88, 0xb5]);
/** The same frame as a UDP/IPv4 datagram for the checksum-offload case (checksum left blank). */
const udp = frame.slice();
udp.set([0x08, 0x00, 0x45, 0, 1500 >> 8, 1500 & 0xff, 0, 0, 0x40, 0, 64, 17], 12);
udp.set([10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0x16, 0x2e, 1480 >> 8, 1480 & 0xff], 26);
const copyA = new Uint8Array(FRAME);
const copyB = new Uint8Array(FRAME);

async function guest(
  xs: MemoryXenstore,
  fabric: MemoryFabric,
  bridge: LearningBridge,
  domid: number,
) {
  const paths = await plugDevice(xs.client(), {
    type: 'vif',
    devid: 0,
    backendDomid: 0,
    frontendDomid: domid,
  });
  await new Netback({
    xenbus: xs.client(),
    backendPath: paths.backend,
    mapper: fabric.domain(0).mapper,
    events: fabric.domain(0).events,
    bridge,
  }).start();
  const d = fabric.domain(domid);
  const front = new Netfront({
    xenbus: xs.client(),
    frontendPath: paths.frontend,
    grants: d.grants,
    pages: d.pages,
    events: d.events,
    onFrame: () => {
      received++;
    },
    rxBuffers: 256,
  });
  await front.connect();
  return front;
}

export default defineSuite({
  name: 'split-drivers/net-packets',
  description:
    'Ethernet frames (1514 B) from one domain to another through netfront, netback and the learning bridge (32 in flight), also as UDP with checksum offload (netback fills the checksum), vs two raw copies of the same bytes.',
  unit: 'k packets/s',
  opsPerIter: IN_FLIGHT,
  divisor: 1e3,
  async setup() {
    const xs = new MemoryXenstore();
    const fabric = new MemoryFabric();
    const bridge = new LearningBridge({ now: () => 0 });
    sender = await guest(xs, fabric, bridge, 1);
    const other = await guest(xs, fabric, bridge, 2);
    // Teach the bridge where dom 2 is so frames are forwarded, not flooded.
    const back = new Uint8Array(frame);
    back.set([0, 0x16, 0x3e, 0, 0, 1, 0, 0x16, 0x3e, 0, 0, 2], 0);
    await other.send(back);
  },
  cases: [
    {
      name: 'netfront-bridge-netfront',
      async run(iters) {
        const f = sender as Netfront;
        let ok = 0;
        for (let n = 0; n < iters; n++) {
          const jobs: Promise<number>[] = [];
          for (let i = 0; i < IN_FLIGHT; i++) jobs.push(f.send(frame));
          for (const s of await Promise.all(jobs)) if (s === 0) ok++;
        }
        return ok + received;
      },
    },
    {
      name: 'udp-checksum-offload',
      async run(iters) {
        const f = sender as Netfront;
        let ok = 0;
        for (let n = 0; n < iters; n++) {
          const jobs: Promise<number>[] = [];
          for (let i = 0; i < IN_FLIGHT; i++) jobs.push(f.send(udp, { checksumBlank: true }));
          for (const s of await Promise.all(jobs)) if (s === 0) ok++;
        }
        return ok + received;
      },
    },
    {
      name: 'two-memcpy',
      peer: true,
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters * IN_FLIGHT; n++) {
          copyA.set(frame);
          copyB.set(copyA);
          sum = (sum + (copyB[n % FRAME] as number)) | 0;
        }
        return sum;
      },
    },
  ],
});
