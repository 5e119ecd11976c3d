/**
 * The toolstack's part of xenbus: creating and removing a device's frontend and backend
 * directories (hot-plug and hot-unplug), and discovering devices, with the keys libxl writes.
 * @module
 */
import type { XenbusClient } from '../ports.ts';
import { backendPath, domainPath, frontendPath } from './paths.ts';
import { parseXenbusState, waitForState, XenbusState } from './state.ts';

/** A device to plug: which domains serve and use it, and the extra keys each end gets. */
export interface DeviceSpec {
  /** Device class directory name: `vbd`, `vif`, `console`, … */
  readonly type: string;
  /** Device id (the virtual-device number for disks, the index for vifs). */
  readonly devid: number;
  /** The domain that runs the backend (0 for dom0, or a driver domain). */
  readonly backendDomid: number;
  /** The guest domain that runs the frontend. */
  readonly frontendDomid: number;
  /** Extra backend keys, e.g. `{ mode: 'w', params: 'disk.img', dev: 'xvda' }`. */
  readonly backendKeys?: Readonly<Record<string, string>>;
  /** Extra frontend keys, e.g. `{ 'virtual-device': '51712', 'device-type': 'disk' }`. */
  readonly frontendKeys?: Readonly<Record<string, string>>;
}

/** The two directories of a device. */
export interface DevicePaths {
  /** `/local/domain/<front>/device/<type>/<devid>`. */
  readonly frontend: string;
  /** `/local/domain/<back>/backend/<type>/<front>/<devid>`. */
  readonly backend: string;
}

/** Both directories of a device spec. */
export function devicePaths(spec: DeviceSpec): DevicePaths {
  return {
    frontend: frontendPath(spec.frontendDomid, spec.type, spec.devid),
    backend: backendPath(spec.backendDomid, spec.type, spec.frontendDomid, spec.devid),
  };
}

/**
 * Hot-plugs a device as libxl does: the backend directory (`frontend`, `frontend-id`,
 * `online` "1", `state` "1" and the extra keys) first, then the frontend directory
 * (`backend`, `backend-id`, `state` "1" and the extra keys). Both `state` keys are written last
 * in their directory so that a driver watching `state` sees complete directories.
 */
export async function plugDevice(client: XenbusClient, spec: DeviceSpec): Promise<DevicePaths> {
  const paths = devicePaths(spec);
  const back: Record<string, string> = {
    frontend: paths.frontend,
    'frontend-id': String(spec.frontendDomid),
    online: '1',
    ...spec.backendKeys,
  };
  for (const [k, v] of Object.entries(back)) await client.write(`${paths.backend}/${k}`, v);
  await client.write(`${paths.backend}/state`, String(XenbusState.XenbusStateInitialising));
  const front: Record<string, string> = {
    backend: paths.backend,
    'backend-id': String(spec.backendDomid),
    ...spec.frontendKeys,
  };
  for (const [k, v] of Object.entries(front)) await client.write(`${paths.frontend}/${k}`, v);
  await client.write(`${paths.frontend}/state`, String(XenbusState.XenbusStateInitialising));
  return paths;
}

/**
 * Hot-unplugs a device: sets backend `online` "0" and `state` Closing, waits until the backend
 * reaches Closed (its driver tears down after the frontend closes), then removes both directories.
 * With `force`, removes the directories without waiting.
 */
export async function unplugDevice(
  client: XenbusClient,
  spec: DeviceSpec,
  force = false,
): Promise<void> {
  const paths = devicePaths(spec);
  if (!force) {
    await client.write(`${paths.backend}/online`, '0');
    const state = parseXenbusState(await client.read(`${paths.backend}/state`));
    if (state !== XenbusState.XenbusStateClosed && state !== XenbusState.XenbusStateUnknown) {
      await client.write(`${paths.backend}/state`, String(XenbusState.XenbusStateClosing));
      await waitForState(
        client,
        paths.backend,
        (s) => s === XenbusState.XenbusStateClosed || s === XenbusState.XenbusStateUnknown,
      );
    }
  }
  await client.remove(paths.frontend);
  await client.remove(paths.backend);
}

/** Device ids present under `/local/domain/<domid>/device/<type>` (what a guest enumerates). */
export async function listFrontendDevices(
  client: XenbusClient,
  domid: number,
  type: string,
): Promise<number[]> {
  const names = await client.directory(`${domainPath(domid)}/device/${type}`);
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** A device a backend domain serves. */
export interface BackendDeviceId {
  /** The frontend (guest) domain. */
  readonly frontendDomid: number;
  /** The device id. */
  readonly devid: number;
}

/** Devices under `/local/domain/<backendDomid>/backend/<type>/<front>/<devid>`. */
export async function listBackendDevices(
  client: XenbusClient,
  backendDomid: number,
  type: string,
): Promise<BackendDeviceId[]> {
  const base = `${domainPath(backendDomid)}/backend/${type}`;
  const out: BackendDeviceId[] = [];
  for (const front of await client.directory(base)) {
    if (!/^\d+$/.test(front)) continue;
    for (const dev of await client.directory(`${base}/${front}`)) {
      if (/^\d+$/.test(dev)) out.push({ frontendDomid: Number(front), devid: Number(dev) });
    }
  }
  return out;
}
