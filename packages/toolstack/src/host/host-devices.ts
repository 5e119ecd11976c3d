/**
 * Hot-plugged devices of the host's domains, as libxl adds and removes them: virtual block
 * devices (`xl block-attach` / `block-detach`) and virtual network interfaces (the `vif=`
 * entries of a configuration, `xl network-attach` / `network-detach` / `network-list`), each
 * served by a dom0 backend (blkback, netback on a learning bridge named by `bridge=`).
 *
 * Removal follows libxl's handshake: the backend's `online` goes to 0 and its `state` to
 * Closing (5); the frontend closes and the backend reaches Closed (6); then the backend stops
 * and both xenstore directories are removed. A frontend that does not answer within the timeout
 * (libxl's LIBXL_DESTROY_TIMEOUT, 10 s) is removed by force, as libxl retries a timed-out
 * remove with `force` set.
 *
 * @see tools/libs/light/libxl_device.c (libxl__initiate_device_generic_remove)
 * @see tools/libs/light/libxl_nic.c (libxl__set_xenstore_nic)
 * @module
 */
import {
  type Blkback,
  type BlockStorage,
  type EventChannels,
  type GrantMapper,
  LearningBridge,
  Netback,
  vbdDeviceNumber,
  xenbusClientFromXenstore,
} from '@typevisor/split-drivers';
import type { XenstoreClient } from '@typevisor/xenstore';
import type { DiskSpec } from '../config/disk-spec.ts';
import type { VifSpec } from '../config/vif-spec.ts';
import { ToolstackError } from '../errors.ts';

/** libxl's LIBXL_DESTROY_TIMEOUT: how long a device removal waits for the frontend (ms). */
export const DEVICE_REMOVE_TIMEOUT_MS = 10_000;
/** The bridge a VIF joins when its spec names none (libxl's default `xenbr0`). */
export const DEFAULT_BRIDGE = 'xenbr0';

/** What {@link HostDevices} needs from the host. */
export interface HostDevicesPort {
  /** dom0's xenstore client. */
  readonly xs: XenstoreClient;
  /** dom0's grant mappings. */
  readonly mapper: GrantMapper;
  /** dom0's event channels. */
  readonly events: EventChannels;
  /** System time in ns (the bridges' ageing clock). */
  nowNs(): number;
  /** Plugs a virtual block device (frontend and backend directories, a started blkback). */
  plugVbd(
    domid: number,
    spec: Pick<DiskSpec, 'vdev' | 'access' | 'shared' | 'devtype' | 'target'>,
    storage: BlockStorage,
  ): Promise<Blkback>;
}

/** A VIF's backend as the host keeps it. */
export interface HostVif {
  /** The frontend domain. */
  readonly domid: number;
  /** The device id (`vif/<domid>/<devid>`). */
  readonly devid: number;
  /** Its MAC address. */
  readonly mac: string;
  /** The bridge it is on. */
  readonly bridge: string;
  /** dom0's netback for it. */
  readonly backend: Netback;
}

/** One row of `network-list` (xl's columns). */
export interface NetworkRow {
  /** Device id (Idx). */
  readonly idx: number;
  /** Backend domain (BE). */
  readonly backendId: number;
  /** MAC address. */
  readonly mac: string;
  /** The frontend's handle. */
  readonly handle: number;
  /** The frontend's xenbus state. */
  readonly state: number;
  /** The frontend's event channel (-1 before it connects). */
  readonly evtch: number;
  /** The frontend's tx ring reference (-1 before it connects). */
  readonly txRingRef: number;
  /** The frontend's rx ring reference (-1 before it connects). */
  readonly rxRingRef: number;
  /** The backend's xenstore directory. */
  readonly backendPath: string;
}

/** Traffic counters of one VIF (for `top`). */
export interface VifCounters {
  /** Bytes the guest sent. */
  readonly txBytes: number;
  /** Bytes the guest received. */
  readonly rxBytes: number;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Hot-plugged block devices and the network devices of the host's domains. */
export class HostDevices {
  /** The host's bridges by name, created when a VIF first names one. */
  readonly bridges: Map<string, LearningBridge> = new Map();
  private readonly port: HostDevicesPort;
  private readonly vifs: Map<string, HostVif> = new Map();
  private readonly vbds: Map<
    string,
    { backend: Blkback; files: readonly { close(): Promise<void> }[] }
  > = new Map();

  /** Creates the registry over the host's dom0 services. */
  constructor(port: HostDevicesPort) {
    this.port = port;
  }

  /** The bridge named `name`, created on first use. */
  bridge(name: string): LearningBridge {
    let b = this.bridges.get(name);
    if (b === undefined) {
      b = new LearningBridge({ now: () => this.port.nowNs() / 1e6 });
      this.bridges.set(name, b);
    }
    return b;
  }

  /** The VIFs of domain `domid`, by device id. */
  vifsOf(domid: number): HostVif[] {
    return [...this.vifs.values()]
      .filter((v) => v.domid === domid)
      .sort((a, b) => a.devid - b.devid);
  }

  /**
   * Adds a VIF to domain `domid` as libxl does: the next free device id (or `devid=`), a
   * generated `00:16:3e` MAC unless `mac=` gives one, the frontend and backend directories
   * (`mac`, `bridge`, `ip` for anti-spoofing, `rate` as `<bytes>,<µs>`), and a started netback
   * on the bridge. Returns the new VIF.
   */
  async attachVif(domid: number, spec: VifSpec): Promise<HostVif> {
    const taken = new Set(
      (await this.port.xs.directory(`/local/domain/${domid}/device/vif`).catch(() => [])).map(
        Number,
      ),
    );
    for (const v of this.vifsOf(domid)) taken.add(v.devid);
    let devid = spec.devid ?? 0;
    if (spec.devid !== undefined && taken.has(devid))
      throw new ToolstackError('STATE', `domain ${domid} already has vif ${devid}`);
    while (taken.has(devid)) devid++;
    if (spec.backend !== undefined && spec.backend !== '0' && spec.backend !== 'Domain-0') {
      throw new ToolstackError(
        'CONFIG',
        `vif backend "${spec.backend}": only Domain-0 serves network devices here`,
      );
    }
    const mac = (spec.mac ?? randomMac()).toLowerCase();
    if (!MAC.test(mac)) throw new ToolstackError('CONFIG', `invalid mac address: ${mac}`);
    for (const v of this.vifs.values()) {
      if (v.mac === mac)
        throw new ToolstackError('STATE', `mac ${mac} is already used by vif${v.domid}.${v.devid}`);
    }
    const bridgeName = spec.bridge ?? DEFAULT_BRIDGE;
    const fe = `/local/domain/${domid}/device/vif/${devid}`;
    const be = `/local/domain/0/backend/vif/${domid}/${devid}`;
    // The keys, order and permissions libxl 4.17 writes (recorded under the real Xen:
    // tests/toolstack-verbs/golden/libxl-4.17-vif-create.txt). `mtu` is dom0's, readable by the
    // guest; the backend's keys inherit the directory's permissions.
    const mtu = String(spec.mtu ?? 1500);
    const feKeys: [string, string, readonly string[] | undefined][] = [
      ['backend', be, undefined],
      ['backend-id', '0', [`n${domid}`, 'r0']],
      ['state', '1', [`n${domid}`, 'r0']],
      ['handle', String(devid), [`n${domid}`, 'r0']],
      ['mac', mac, [`n${domid}`, 'r0']],
      ['trusted', '1', [`n${domid}`, 'r0']],
      ['mtu', mtu, ['n0', `r${domid}`]],
    ];
    const opt = (key: string, value: string | undefined): [string, string][] =>
      value === undefined ? [] : [[key, value]];
    const beKeys: [string, string][] = [
      ['frontend', fe],
      ['frontend-id', String(domid)],
      ['online', '1'],
      ['state', '1'],
      ['script', spec.script ?? '/etc/xen/scripts/vif-bridge'],
      ['mac', mac],
      ...opt('ip', spec.ip?.join(' ')),
      ...opt(
        'rate',
        spec.rate === undefined
          ? undefined
          : `${spec.rate.bytesPerInterval},${spec.rate.intervalUs}`,
      ),
      ['bridge', bridgeName],
      ['handle', String(devid)],
      ['type', 'vif'],
      ...opt('vifname', spec.vifname),
      ['hotplug-status', ''],
    ];
    const xs = this.port.xs;
    await xs.rm(fe).catch(() => undefined);
    await xs.write(fe, '');
    await xs.setPerms(fe, [`n${domid}`, 'r0']);
    for (const [k, v, perms] of feKeys) {
      await xs.write(`${fe}/${k}`, v);
      if (perms !== undefined) await xs.setPerms(`${fe}/${k}`, perms);
    }
    await xs.rm(be).catch(() => undefined);
    await xs.write(be, '');
    await xs.setPerms(be, ['n0', `r${domid}`]);
    for (const [k, v] of beKeys) await xs.write(`${be}/${k}`, v);
    const backend = new Netback({
      xenbus: xenbusClientFromXenstore(xs),
      backendPath: be,
      mapper: this.port.mapper,
      events: this.port.events,
      bridge: this.bridge(bridgeName),
      ...(spec.vlan === undefined ? {} : { vlan: spec.vlan }),
    });
    await backend.start();
    // What the vif-bridge hotplug script reports once the interface is on the bridge.
    await xs.write(`${be}/hotplug-status`, 'connected');
    const vif: HostVif = { domid, devid, mac, bridge: bridgeName, backend };
    this.vifs.set(`${domid}/${devid}`, vif);
    return vif;
  }

  /**
   * Removes a VIF named by device id or MAC with libxl's handshake (see the module comment).
   * Returns whether the frontend closed in time (false: removed by force).
   */
  async detachVif(
    domid: number,
    which: string,
    timeoutMs: number = DEVICE_REMOVE_TIMEOUT_MS,
  ): Promise<boolean> {
    const w = which.toLowerCase();
    const vif = this.vifsOf(domid).find((v) => String(v.devid) === w || v.mac === w);
    if (vif === undefined)
      throw new ToolstackError('NOT_FOUND', `Error: Device ${which} not connected`);
    const be = `/local/domain/0/backend/vif/${domid}/${vif.devid}`;
    const fe = `/local/domain/${domid}/device/vif/${vif.devid}`;
    const clean = await this.closeBackend(be, fe, timeoutMs);
    await vif.backend.stop();
    this.vifs.delete(`${domid}/${vif.devid}`);
    await this.port.xs.rm(fe).catch(() => undefined);
    await this.port.xs.rm(be).catch(() => undefined);
    return clean;
  }

  /**
   * Adds a virtual block device to domain `domid` (a guest or a native domain) over `storage`:
   * the directories as libxl writes them and a started blkback. Refuses a vdev in use.
   */
  async attachVbd(
    domid: number,
    spec: DiskSpec,
    storage: BlockStorage,
    files: readonly { close(): Promise<void> }[] = [],
  ): Promise<Blkback> {
    const devid = vbdNumber(spec.vdev);
    const fe = `/local/domain/${domid}/device/vbd/${devid}`;
    if ((await this.port.xs.readString(`${fe}/backend`).catch(() => undefined)) !== undefined)
      throw new ToolstackError('STATE', `domain ${domid} already has a disk ${spec.vdev}`);
    const backend = await this.port.plugVbd(domid, spec, storage);
    this.vbds.set(`${domid}/${devid}`, { backend, files });
    return backend;
  }

  /** The backends of the block devices {@link HostDevices.attachVbd} added to a domain. */
  hotVbds(domid: number): Blkback[] {
    return [...this.vbds]
      .filter(([key]) => key.startsWith(`${domid}/`))
      .map(([, hot]) => hot.backend);
  }

  /** The backend of a block device {@link HostDevices.attachVbd} added, if any. */
  hotVbd(domid: number, vdev: string): Blkback | undefined {
    return this.vbds.get(`${domid}/${vbdNumber(vdev)}`)?.backend;
  }

  /**
   * Removes virtual block device `vdev` of domain `domid` with libxl's handshake, then stops
   * `backend`. Returns whether the frontend closed in time (false: removed by force).
   */
  async detachVbd(
    domid: number,
    vdev: string,
    backend: Blkback | undefined,
    timeoutMs: number = DEVICE_REMOVE_TIMEOUT_MS,
  ): Promise<boolean> {
    const devid = vbdNumber(vdev);
    const be = `/local/domain/0/backend/vbd/${domid}/${devid}`;
    const fe = `/local/domain/${domid}/device/vbd/${devid}`;
    const clean = await this.closeBackend(be, fe, timeoutMs);
    await backend?.stop();
    const hot = this.vbds.get(`${domid}/${devid}`);
    this.vbds.delete(`${domid}/${devid}`);
    if (hot !== undefined && hot.backend !== backend) await hot.backend.stop();
    for (const f of hot?.files ?? []) await f.close().catch(() => undefined);
    await this.port.xs.rm(fe).catch(() => undefined);
    await this.port.xs.rm(be).catch(() => undefined);
    return clean;
  }

  /**
   * Stops the VIF backends of a domain around a save or a migration (their grant mappings and
   * event channels released, so the image holds none of dom0's); {@link HostDevices.resumeVifs}
   * serves them again.
   */
  async suspendVifs(domid: number): Promise<void> {
    for (const v of this.vifsOf(domid)) {
      await v.backend.stop();
      this.vifs.delete(`${domid}/${v.devid}`);
    }
  }

  /**
   * Starts a netback for every VIF directory of domain `domid` that has none (after a save, or
   * on the host a domain was restored or migrated to): the device is offered again (InitWait),
   * so a Connected frontend is reconnected where its rings left off. The bridge is the one its
   * `bridge` key names.
   */
  async resumeVifs(domid: number): Promise<void> {
    const xs = this.port.xs;
    const base = `/local/domain/0/backend/vif/${domid}`;
    const ids = await xs.directory(base).catch(() => [] as string[]);
    for (const id of ids) {
      if (!/^\d{1,9}$/.test(id) || this.vifs.has(`${domid}/${id}`)) continue;
      const be = `${base}/${id}`;
      const mac = await xs.readString(`${be}/mac`).catch(() => '');
      const bridgeName = await xs.readString(`${be}/bridge`).catch(() => DEFAULT_BRIDGE);
      await xs.write(`${be}/state`, '2');
      const backend = new Netback({
        xenbus: xenbusClientFromXenstore(xs),
        backendPath: be,
        mapper: this.port.mapper,
        events: this.port.events,
        bridge: this.bridge(bridgeName),
      });
      await backend.start();
      this.vifs.set(`${domid}/${id}`, {
        domid,
        devid: Number(id),
        mac,
        bridge: bridgeName,
        backend,
      });
    }
  }

  /**
   * Stops every VIF backend and hot-plugged block backend of a domain that is going away (its
   * directories go with it) and closes the hot-plugged disks' files.
   */
  async removeDomain(domid: number): Promise<void> {
    for (const [key, hot] of [...this.vbds]) {
      if (!key.startsWith(`${domid}/`)) continue;
      this.vbds.delete(key);
      await hot.backend.stop().catch(() => undefined);
      for (const f of hot.files) await f.close().catch(() => undefined);
    }
    for (const v of this.vifsOf(domid)) {
      await v.backend.stop().catch(() => undefined);
      this.vifs.delete(`${domid}/${v.devid}`);
    }
    await this.port.xs.rm(`/local/domain/0/backend/vif/${domid}`).catch(() => undefined);
  }

  /** `network-list` rows of a domain, read from the frontend directories as xl does. */
  async networkList(domid: number): Promise<NetworkRow[]> {
    const xs = this.port.xs;
    const base = `/local/domain/${domid}/device/vif`;
    const ids = await xs.directory(base).catch(() => [] as string[]);
    const rows: NetworkRow[] = [];
    // The frontend directory is the guest's: every value is checked before it reaches a
    // terminal (a number, a MAC, a backend path), anything else shows as -1 or "-".
    for (const id of ids.filter((x) => /^\d{1,9}$/.test(x)).sort((a, b) => Number(a) - Number(b))) {
      const read = (k: string): Promise<string> =>
        xs.readString(`${base}/${id}/${k}`).catch(() => '');
      const num = async (k: string): Promise<number> => {
        const v = await read(k);
        return /^\d{1,10}$/.test(v) ? Number(v) : -1;
      };
      const mac = await read('mac');
      const backend = await read('backend');
      rows.push({
        idx: Number(id),
        backendId: await num('backend-id'),
        mac: MAC.test(mac) ? mac : '-',
        handle: await num('handle'),
        state: await num('state'),
        evtch: await num('event-channel'),
        txRingRef: await num('tx-ring-ref'),
        rxRingRef: await num('rx-ring-ref'),
        backendPath: /^\/local\/domain\/\d+\/backend\/vif\/\d+\/\d+$/.test(backend) ? backend : '-',
      });
    }
    return rows;
  }

  /** Bytes sent and received by a domain's VIFs (the backends' counters). */
  vifCounters(domid: number): VifCounters {
    let txBytes = 0;
    let rxBytes = 0;
    for (const v of this.vifsOf(domid)) {
      // Netback's tx counters are the guest's transmit ring, its rx counters the guest's receive.
      txBytes += v.backend.metrics.txBytes;
      rxBytes += v.backend.metrics.rxBytes;
    }
    return { txBytes, rxBytes };
  }

  /**
   * libxl's removal: `online` 0 and `state` Closing on the backend, then wait for Closed.
   * A frontend that never connected leaves nothing to wait for.
   */
  private async closeBackend(be: string, fe: string, timeoutMs: number): Promise<boolean> {
    const xs = this.port.xs;
    const state = async (path: string): Promise<number> =>
      Number(await xs.readString(`${path}/state`).catch(() => '6'));
    await xs.write(`${be}/online`, '0');
    const fs = await state(fe);
    if (fs < 3 || fs > 6) {
      await xs.write(`${be}/state`, '6');
      return true;
    }
    if ((await state(be)) !== 6) await xs.write(`${be}/state`, '5');
    const end = Date.now() + timeoutMs;
    for (;;) {
      if ((await state(be)) === 6 || (await state(fe)) === 6) return true;
      if (Date.now() >= end) return false;
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }
}

function vbdNumber(vdev: string): number {
  try {
    return vbdDeviceNumber(vdev);
  } catch {
    throw new ToolstackError('CONFIG', `invalid virtual disk name "${vdev}"`);
  }
}

/** libxl's default MAC: Xen's OUI 00:16:3e and three random bytes. */
function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `00:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}
