import {
  Blkback,
  Blkfront,
  type BlkifProtocol,
  type BlockStorage,
  type DeviceSpec,
  MemoryStorage,
  plugDevice,
  vbdDeviceNumber,
} from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';

/** Plugs xvda for domain 5 (backend in dom0), starts blkback and connects blkfront. */
export async function attach<S extends BlockStorage = MemoryStorage>(
  options: {
    mode?: string;
    sectors?: number;
    protocol?: BlkifProtocol;
    indirect?: boolean;
    storage?: S;
  } = {},
) {
  const xs = new MemoryXenstore();
  const fabric = new MemoryFabric();
  const dom0 = fabric.domain(0);
  const domU = fabric.domain(5);
  const spec: DeviceSpec = {
    type: 'vbd',
    devid: vbdDeviceNumber('xvda'),
    backendDomid: 0,
    frontendDomid: 5,
    backendKeys: {
      mode: options.mode ?? 'w',
      dev: 'xvda',
      'device-type': 'disk',
      params: 'memory',
    },
    frontendKeys: { 'virtual-device': '51712', 'device-type': 'disk' },
  };
  const paths = await plugDevice(xs.client(), spec);
  const storage = (options.storage ?? new MemoryStorage(options.sectors ?? 2048)) as S;
  const back = new Blkback({
    xenbus: xs.client(),
    backendPath: paths.backend,
    mapper: dom0.mapper,
    events: dom0.events,
    storage,
  });
  await back.start();
  const front = new Blkfront({
    xenbus: xs.client(),
    frontendPath: paths.frontend,
    grants: domU.grants,
    pages: domU.pages,
    events: domU.events,
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    ...(options.indirect === undefined ? {} : { useIndirect: options.indirect }),
  });
  const info = await front.connect();
  return { xs, fabric, spec, paths, storage, back, front, info };
}
