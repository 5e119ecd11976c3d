/**
 * Two domains talking the Xen way with @typevisor/hypervisor: an interdomain event channel
 * (the guest offers a port, dom0 binds it, a send raises the guest's upcall) and a grant (the
 * guest grants one of its frames, dom0 maps it and writes into it).
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/hypervisor-evtchn-grants.ts
 */
import {
  DOMID_SELF,
  EventChannels,
  GNTMAP_host_map,
  GrantTables,
  GTF_permit_access,
  PagedGuestMemory,
} from '@typevisor/hypervisor';

const dom0 = new PagedGuestMemory(16);
const domU = new PagedGuestMemory(16);

// Event channels: each domain's shared_info lives in its frame 0.
const evtchn = new EventChannels({
  upcallPending: (domid, vcpu) => console.log(`upcall pending on d${domid}v${vcpu}`),
});
evtchn.addDomain({
  domid: 0,
  privileged: true,
  abi: 'x86_64',
  vcpus: 1,
  memory: dom0,
  sharedInfoAddress: 0,
});
evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: domU, sharedInfoAddress: 0 });
const front = evtchn.allocUnbound(1, DOMID_SELF, 0);
console.log(`domU offers port ${front} to dom0`);
const back = evtchn.bindInterdomain(0, 1, front);
console.log(`dom0 bound it as its port ${back}`);
evtchn.send(0, back);

// Grant tables: each domain's table lives in its frame 15.
const grants = new GrantTables();
grants.addDomain({ domid: 0, privileged: true, memory: dom0, grantFrames: [15] });
grants.addDomain({ domid: 1, memory: domU, grantFrames: [15] });
// domU grants its frame 3 to dom0 as grant reference 8: domid and frame first, then the flags.
const entry = new DataView(domU.bytes.buffer, 15 * 4096 + 8 * 8, 8);
entry.setUint16(2, 0, true);
entry.setUint32(4, 3, true);
entry.setUint16(0, GTF_permit_access, true);

const { status, handle } = grants.mapGrantRef(0, {
  hostAddr: 0x1000,
  flags: GNTMAP_host_map,
  ref: 8,
  dom: 1,
});
grants.mapping(0, handle)?.write(0, new TextEncoder().encode('hello from dom0'));
console.log(
  `map status ${status}; domU's frame 3 now reads "${new TextDecoder().decode(domU.bytes.subarray(3 * 4096, 3 * 4096 + 15))}"`,
);
console.log(`unmap status ${grants.unmapGrantRef(0, { hostAddr: 0x1000, devBusAddr: 0, handle })}`);
