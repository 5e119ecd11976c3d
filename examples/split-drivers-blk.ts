/**
 * A block device the Xen way with @typevisor/split-drivers: the toolstack hot-plugs xvda
 * through xenbus, dom0's blkback serves it from memory, and the guest's blkfront connects
 * over a shared ring with grant references and an event channel, then writes and reads a
 * sector. The grant tables, event channels and xenstore here are the package's in-memory
 * implementations from `@typevisor/split-drivers/testing`.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/split-drivers-blk.ts
 */
import {
  Blkback,
  Blkfront,
  MemoryStorage,
  plugDevice,
  vbdDeviceNumber,
} from '@typevisor/split-drivers';
import { MemoryFabric, MemoryXenstore } from '@typevisor/split-drivers/testing';

const xenstore = new MemoryXenstore();
const fabric = new MemoryFabric(); // grant tables and event channels of domains 0 and 1
const dom0 = fabric.domain(0);
const guest = fabric.domain(1);

const paths = await plugDevice(xenstore.client(), {
  type: 'vbd',
  devid: vbdDeviceNumber('xvda'),
  backendDomid: 0,
  frontendDomid: 1,
  backendKeys: { mode: 'w', dev: 'xvda' },
});
console.log(`plugged xvda (vdev ${vbdDeviceNumber('xvda')}) at ${paths.frontend}`);

const backend = new Blkback({
  xenbus: xenstore.client(),
  backendPath: paths.backend,
  mapper: dom0.mapper,
  events: dom0.events,
  storage: new MemoryStorage(2048), // 2048 sectors = 1 MiB
});
await backend.start();

const frontend = new Blkfront({
  xenbus: xenstore.client(),
  frontendPath: paths.frontend,
  grants: guest.grants,
  pages: guest.pages,
  events: guest.events,
});
const info = await frontend.connect();
console.log(`connected: ${info?.sectors} sectors of ${info?.sectorSize} bytes`);

await frontend.write(0, new TextEncoder().encode('hello, xvda'.padEnd(512)));
const { status, data } = await frontend.read(0, 1);
console.log(`read sector 0: status ${status}, "${new TextDecoder().decode(data).trim()}"`);
await frontend.close();
