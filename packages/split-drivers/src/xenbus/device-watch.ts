/**
 * Backend-side device discovery: follows `/local/domain/<b>/backend/<type>` so a driver domain
 * starts a backend for every device the toolstack plugs and stops it when the device goes.
 * @module
 */
import type { XenbusClient } from '../ports.ts';
import { type BackendDeviceId, listBackendDevices } from './hotplug.ts';
import { backendPath } from './paths.ts';

/** A discovered backend device. */
export interface DiscoveredDevice extends BackendDeviceId {
  /** Its backend directory. */
  readonly path: string;
}

/** Callbacks of {@link watchBackendDevices}. */
export interface DeviceWatchHandlers {
  /** A device appeared (its backend directory is complete: `state` has been written). */
  added(device: DiscoveredDevice): void | Promise<void>;
  /** A device's backend directory was removed. */
  removed(device: DiscoveredDevice): void | Promise<void>;
}

/**
 * Watches a backend domain's devices of one type and calls `added`/`removed` as they come and
 * go (devices already present are reported at once). Handlers run one at a time. Resolves to a
 * function that stops watching.
 */
export async function watchBackendDevices(
  client: XenbusClient,
  backendDomid: number,
  type: string,
  handlers: DeviceWatchHandlers,
): Promise<() => Promise<void>> {
  const known = new Map<string, DiscoveredDevice>();
  let chain: Promise<void> = Promise.resolve();
  const scan = async (): Promise<void> => {
    const present = new Map<string, DiscoveredDevice>();
    for (const d of await listBackendDevices(client, backendDomid, type)) {
      const path = backendPath(backendDomid, type, d.frontendDomid, d.devid);
      if ((await client.read(`${path}/state`)) !== undefined) present.set(path, { ...d, path });
    }
    for (const [path, d] of known) {
      if (!present.has(path)) {
        known.delete(path);
        await handlers.removed(d);
      }
    }
    for (const [path, d] of present) {
      if (!known.has(path)) {
        known.set(path, d);
        await handlers.added(d);
      }
    }
  };
  const base = `/local/domain/${backendDomid}/backend/${type}`;
  const unwatch = await client.watch(base, () => {
    chain = chain.then(scan, scan);
  });
  return async () => {
    await unwatch();
    await chain;
  };
}
