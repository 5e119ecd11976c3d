/**
 * xl's text formats, for the verbs' output: `xl list`, `xl list -l`, `xl vcpu-list`,
 * `xl uptime`, `xl block-list`.
 *
 * @see xen/tools/xl/xl_info.c (list_domains), xl_vcpu.c (print_vcpuinfo), xl_misc.c
 *   (print_uptime), xl_block.c (main_blocklist)
 * @module
 */
import type { DomainConfig } from '../config/domain-config.ts';
import type { DomainListEntry } from './daemon.ts';

/** `xl list`: the header and one `%-40s %5d %5lu %5d     %s  %8.1f` row per domain. */
export function formatList(rows: readonly DomainListEntry[]): string {
  let out = 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n';
  for (const r of rows) {
    out += `${r.name.padEnd(40)} ${String(r.domid).padStart(5)} ${String(r.memoryMiB).padStart(5)} ${String(r.vcpus).padStart(5)}     ${r.state}  ${r.cpuTimeSec.toFixed(1).padStart(8)}\n`;
  }
  return out;
}

/**
 * `xl list -l`: a JSON array of `{ domid, config }` laid out as libxl_domain_config's JSON in
 * Xen 4.17 (`c_info`, `b_info` with `kernel`/`cmdline` at its top and an empty `"type.pv"`,
 * `disks`, `nics`; empty and default fields left out as libxl's generator does), four-space
 * indented. Checked against `xl list -l` from the real Xen 4.17 (test/golden/).
 */
export function formatListLong(rows: readonly DomainListEntry[]): string {
  const out = rows.map((r) => {
    const cfg = r.config as DomainConfig | undefined;
    if (cfg === undefined) {
      return {
        domid: r.domid,
        config: {
          c_info: { type: 'pv', name: r.name },
          b_info: {
            max_memkb: r.maxMemMiB * 1024,
            target_memkb: r.memoryMiB * 1024,
            sched_params: { weight: 256, cap: 0 },
            'type.pv': {},
          },
        },
      };
    }
    const config: Record<string, unknown> = {
      c_info: { type: cfg.type, name: r.name, uuid: r.uuid, run_hotplug_scripts: 'True' },
      b_info: {
        max_vcpus: cfg.maxvcpus,
        avail_vcpus: Array.from({ length: cfg.vcpus }, (_, i) => i),
        max_memkb: cfg.maxmem * 1024,
        target_memkb: cfg.memory * 1024,
        video_memkb: 0,
        sched_params: { weight: cfg.cpuWeight, cap: cfg.cap },
        ...(cfg.kernel === undefined ? {} : { kernel: cfg.kernel }),
        ...(cfg.ramdisk === undefined ? {} : { ramdisk: cfg.ramdisk }),
        ...(cfg.cmdline === '' ? {} : { cmdline: cfg.cmdline }),
        [`type.${cfg.type}`]: {},
      },
    };
    if (cfg.disks.length > 0) {
      config.disks = cfg.disks.map((d) => ({
        pdev_path: d.target,
        vdev: d.vdev,
        format: d.format,
        readwrite: d.access === 'w' ? 1 : 0,
        ...(d.devtype === 'cdrom' ? { is_cdrom: 1 } : {}),
      }));
    }
    if (cfg.vifs.length > 0) config.nics = cfg.vifs.map((v) => ({ ...v }));
    return { domid: r.domid, config };
  });
  return `${JSON.stringify(out, null, 4)}\n`;
}

/** One row of `vcpu-list`. */
export interface VcpuRow {
  /** Domain name. */
  readonly name: string;
  /** Domain ID. */
  readonly domid: number;
  /** vCPU number. */
  readonly vcpu: number;
  /** Physical CPU it runs on, or null when it is not running. */
  readonly cpu: number | null;
  /** Three letters: running, blocked, paused (`r--`, `-b-`, `--p`). */
  readonly state: string;
  /** CPU time in seconds. */
  readonly timeSec: number;
  /** Hard affinity (`all` or a CPU list). */
  readonly affinity: string;
  /** Soft affinity (`all` when not set). */
  readonly softAffinity?: string;
}

/** `xl vcpu-list`. */
export function formatVcpuList(rows: readonly VcpuRow[]): string {
  let out = `${'Name'.padEnd(32)} ${'ID'.padStart(5)} ${'VCPU'.padStart(5)} ${'CPU'.padStart(5)} ${'State'.padStart(5)} ${'Time(s)'.padStart(9)} Affinity (Hard / Soft)\n`;
  for (const r of rows) {
    const cpu = r.cpu === null ? '-' : String(r.cpu);
    out += `${r.name.padEnd(32)} ${String(r.domid).padStart(5)} ${String(r.vcpu).padStart(5)}${cpu.padStart(5)}   ${r.state}  ${r.timeSec.toFixed(1).padStart(8)}  ${r.affinity} / ${r.softAffinity ?? 'all'}\n`;
  }
  return out;
}

/** xl's uptime text: `[D day(s), ]H:MM:SS`. */
export function formatUptimeText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86400);
  const hms = `${String(Math.floor((s % 86400) / 3600)).padStart(2)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return days > 0 ? `${days} day${days === 1 ? '' : 's'}, ${hms}` : hms;
}

/** `xl uptime`: `%-33s %4d %s` rows, or with `short` a `uptime(1)`-style line per domain. */
export function formatUptime(
  rows: readonly DomainListEntry[],
  short = false,
  now: Date = new Date(),
): string {
  if (short) {
    const clock = now.toTimeString().slice(0, 8);
    return rows
      .map((r) => ` ${clock} up ${formatUptimeText(r.uptimeSec)}, ${r.name} (${r.domid})\n`)
      .join('');
  }
  let out = `${'Name'.padEnd(33)} ${'ID'.padStart(4)} Uptime\n`;
  for (const r of rows)
    out += `${r.name.padEnd(33)} ${String(r.domid).padStart(4)} ${formatUptimeText(r.uptimeSec)}\n`;
  return out;
}

/** One row of `block-list` (read from the frontend's xenstore directory). */
export interface BlockRow {
  /** The virtual device number. */
  readonly vdev: number;
  /** Backend domain ID. */
  readonly backendId: number;
  /** Device handle. */
  readonly handle: number;
  /** The frontend's XenbusState. */
  readonly state: number;
  /** The frontend's event channel, or -1. */
  readonly eventChannel: number;
  /** The frontend's ring grant reference, or -1. */
  readonly ringRef: number;
  /** The backend's xenstore path. */
  readonly backendPath: string;
}

/** `xl block-list`: `%-5s %-3s %-6s %-5s %-6s %-8s %-30s`. */
export function formatBlockList(rows: readonly BlockRow[]): string {
  const line = (cols: readonly (string | number)[]): string => {
    const w = [5, 3, 6, 5, 6, 8, 30];
    return `${cols.map((c, i) => String(c).padEnd(w[i] ?? 0)).join(' ')}\n`;
  };
  let out = line(['Vdev', 'BE', 'handle', 'state', 'evt-ch', 'ring-ref', 'BE-path']);
  for (const r of rows)
    out += line([r.vdev, r.backendId, r.handle, r.state, r.eventChannel, r.ringRef, r.backendPath]);
  return out;
}
