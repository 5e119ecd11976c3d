/**
 * A domain's configuration as it is now, for `xl list -l`: what it was created with, updated
 * with what changed since, as libxl's `libxl_retrieve_domain_configuration` does — the memory
 * target and static maximum from xenstore (`mem-set`, `mem-max`), the vCPUs marked online in
 * `cpu/<n>/availability` (`vcpu-set`), the block devices from dom0's backend directories and
 * the network interfaces dom0 serves (`block-attach`/`-detach`, `network-attach`/`-detach`),
 * and the current name (`rename`).
 *
 * Difference from libxl: memory is kept in whole MiB (the configuration's unit here), and a
 * hot-plugged disk's format is not recorded in xenstore, so one not in the original
 * configuration is reported as `raw` unless its path ends in `.qcow2`.
 *
 * @see tools/libs/light/libxl_domain.c (libxl_retrieve_domain_configuration)
 * @module
 */
import type { DiskSpec } from '../config/disk-spec.ts';
import type { DomainConfig } from '../config/domain-config.ts';
import type { VifSpec } from '../config/vif-spec.ts';
import type { Host, HostDomain } from './host.ts';

/** The configuration of guest `d` with its current memory, vCPUs, devices and name. */
export async function liveDomainConfig(host: Host, d: HostDomain): Promise<DomainConfig> {
  const xs = host.xs;
  const dp = `/local/domain/${d.domid}`;
  const read = (p: string): Promise<string | undefined> => xs.readString(p).catch(() => undefined);
  const kib = async (p: string): Promise<number | undefined> => {
    const v = await read(p);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const cfg = d.config;
  const target = await kib(`${dp}/memory/target`);
  const staticMax = await kib(`${dp}/memory/static-max`);
  let online = 0;
  for (let n = 0; n < d.vcpus.length; n++) {
    if ((await read(`${dp}/cpu/${n}/availability`)) === 'online') online++;
  }
  const disks: DiskSpec[] = [];
  const vbdBase = `/local/domain/0/backend/vbd/${d.domid}`;
  const ids = await xs.directory(vbdBase).catch(() => [] as string[]);
  for (const id of ids.sort((a, b) => Number(a) - Number(b))) {
    const be = `${vbdBase}/${id}`;
    const vdev = await read(`${be}/dev`);
    const target = await read(`${be}/params`);
    if (vdev === undefined || target === undefined) continue;
    const mode = (await read(`${be}/mode`)) ?? 'w';
    const was = cfg.disks.find((s) => s.vdev === vdev);
    disks.push({
      ...(was ?? {}),
      target,
      vdev,
      format: was?.format ?? (target.endsWith('.qcow2') ? 'qcow2' : 'raw'),
      access: mode === 'r' ? 'r' : 'w',
      shared: mode === 'w!',
      devtype: (await read(`${be}/device-type`)) === 'cdrom' ? 'cdrom' : 'disk',
    });
  }
  const vifs: VifSpec[] = host.devices.vifsOf(d.domid).map((v) => {
    const was =
      cfg.vifs.find((s) => s.devid === v.devid || (s.mac !== undefined && s.mac === v.mac)) ??
      cfg.vifs.filter((s) => s.devid === undefined && s.mac === undefined)[v.devid];
    return { ...(was ?? {}), devid: v.devid, mac: v.mac, bridge: v.bridge };
  });
  return {
    ...cfg,
    name: d.name,
    memory: target === undefined ? cfg.memory : Math.floor(target / 1024),
    maxmem: staticMax === undefined ? cfg.maxmem : Math.floor(staticMax / 1024),
    vcpus: online > 0 ? online : cfg.vcpus,
    disks,
    vifs,
  };
}
