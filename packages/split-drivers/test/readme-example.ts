// The README's example, verbatim (test/readme-example.test.ts runs it).
import {
  Blkback,
  Blkfront,
  MemoryStorage,
  plugDevice,
  vbdDeviceNumber,
} from '@typevisor/split-drivers';
import { MemoryFabric, MemoryXenstore } from '@typevisor/split-drivers/testing';

export async function main(): Promise<string> {
  const xenstore = new MemoryXenstore();
  const fabric = new MemoryFabric(); // grant tables + event channels of domains 0 and 1
  const dom0 = fabric.domain(0);
  const guest = fabric.domain(1);

  // The toolstack hot-plugs xvda for domain 1, served by domain 0.
  const paths = await plugDevice(xenstore.client(), {
    type: 'vbd',
    devid: vbdDeviceNumber('xvda'),
    backendDomid: 0,
    frontendDomid: 1,
    backendKeys: { mode: 'w', dev: 'xvda' },
  });

  const backend = new Blkback({
    xenbus: xenstore.client(),
    backendPath: paths.backend,
    mapper: dom0.mapper,
    events: dom0.events,
    storage: new MemoryStorage(2048), // 1 MiB
  });
  await backend.start(); // publishes sectors, features; state InitWait

  const frontend = new Blkfront({
    xenbus: xenstore.client(),
    frontendPath: paths.frontend,
    grants: guest.grants,
    pages: guest.pages,
    events: guest.events,
  });
  const info = await frontend.connect(); // ring-ref, event-channel → Connected

  await frontend.write(0, new TextEncoder().encode('hello, xvda'.padEnd(512)));
  const { status, data } = await frontend.read(0, 1);
  await frontend.close();
  return `${info?.sectors} sectors, status ${status}: ${new TextDecoder().decode(data).trim()}`;
}
