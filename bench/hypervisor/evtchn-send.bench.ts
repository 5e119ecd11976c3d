/**
 * Event-channel send to pending: dom0 sends on an interdomain port and the 2-level delivery sets
 * the domU's pending bit, selector bit and evtchn_upcall_pending in its shared_info (through the
 * guest-memory port) and notifies the embedder; the "guest" then acknowledges (clears the three)
 * so every send takes the full path. Measured through the library call and through the
 * `event_channel_op(EVTCHNOP_send)` hypercall entry point (argument struct copied from guest
 * memory); the peer sets and clears the same three bits directly in a Uint8Array, the floor.
 */
import {
  DOMID_SELF,
  EVTCHNOP_send,
  EventChannels,
  eventChannelOp,
  type HypercallContext,
  PagedGuestMemory,
} from '@typevisor/hypervisor';
import { defineSuite } from '../harness.ts';

const mem0 = new PagedGuestMemory(4);
const mem1 = new PagedGuestMemory(4);
let upcalls = 0;
const evtchn = new EventChannels({
  upcallPending: () => {
    upcalls++;
  },
});
evtchn.addDomain({
  domid: 0,
  privileged: true,
  abi: 'x86_64',
  vcpus: 1,
  memory: mem0,
  sharedInfoAddress: 0,
});
evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: mem1, sharedInfoAddress: 0 });
const front = evtchn.allocUnbound(1, DOMID_SELF, 0);
const back = evtchn.bindInterdomain(0, 1, front);
const ARG = 2 * 4096;
new DataView(mem0.bytes.buffer).setUint32(ARG, back, true);
const ctx: HypercallContext = { domid: 0, vcpu: 0, abi: 'x86_64', guest: mem0 };

const bytes = mem1.bytes;
const PEND = 2048 + (front >> 3);
const PBIT = 1 << (front & 7);

/** The guest's acknowledgement: clear pending, selector and upcall_pending. */
function ack(): void {
  bytes[PEND] = (bytes[PEND] ?? 0) & ~PBIT;
  bytes[8] = 0;
  bytes[0] = 0;
}

const floor = new Uint8Array(4096);

export default defineSuite({
  name: 'hypervisor/evtchn-send',
  description:
    'Interdomain EVTCHNOP_send to pending: pending bit, selector and upcall set in the peer shared_info through the memory port, the embedder notified, then the guest acks; via the library call and the hypercall entry, vs setting the three bits directly.',
  unit: 'M sends/s',
  divisor: 1e6,
  cases: [
    {
      name: 'send',
      run(iters) {
        const before = upcalls;
        for (let i = 0; i < iters; i++) {
          evtchn.send(0, back);
          ack();
        }
        return upcalls - before;
      },
    },
    {
      name: 'event_channel_op',
      run(iters) {
        let rc = 0;
        for (let i = 0; i < iters; i++) {
          rc |= eventChannelOp(evtchn, ctx, EVTCHNOP_send, ARG);
          ack();
        }
        return rc + upcalls;
      },
    },
    {
      name: 'raw-bit-set',
      peer: true,
      run(iters) {
        let sum = 0;
        for (let i = 0; i < iters; i++) {
          floor[PEND] = (floor[PEND] ?? 0) | PBIT;
          floor[8] = (floor[8] ?? 0) | 1;
          floor[0] = 1;
          sum += floor[0] ?? 0;
          floor[PEND] = (floor[PEND] ?? 0) & ~PBIT;
          floor[8] = 0;
          floor[0] = 0;
        }
        return sum;
      },
    },
  ],
});
