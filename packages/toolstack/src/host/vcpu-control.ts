/**
 * The vCPU verbs on a {@link Host}: what `xl vcpu-list` shows for each vCPU, `xl vcpu-set`
 * (for a PV guest, libxl only writes `cpu/<n>/availability` in the guest's xenstore directory;
 * the guest watches it and brings vCPUs up or down itself) and `xl vcpu-pin` (hard affinity in
 * the scheduler; soft affinity is recorded and shown, as no scheduler here uses it).
 * @see tools/libs/light/libxl_domain.c (libxl_set_vcpuonline, libxl__set_vcpuonline_xenstore)
 * @see tools/xl/xl_vcpu.c (vcpupin, vcpuset, print_vcpuinfo)
 * @module
 */
import { ToolstackError } from '../errors.ts';
import type { Host, HostDomain } from './host.ts';
import { formatCpuList, type HostVcpu, hostCpuList } from './host-vcpu.ts';

/** What `vcpu-list` knows about one vCPU (libxl_vcpuinfo). */
export interface VcpuInfo {
  /** vCPU ID. */
  readonly vcpu: number;
  /** Whether it is up (not VPF_down). */
  readonly online: boolean;
  /** Whether it is on a physical CPU now. */
  readonly running: boolean;
  /** Whether it is blocked waiting for an event. */
  readonly blocked: boolean;
  /** The physical CPU it is assigned to. */
  readonly cpu: number;
  /** Its CPU time in seconds (instructions at the virtual TSC's 1 ns each). */
  readonly timeSec: number;
  /** Hard affinity (`all` or xl's list, e.g. `0-1,3`). */
  readonly hard: string;
  /** Soft affinity (`all` unless `vcpu-pin` set one). */
  readonly soft: string;
  /** Instructions run on each physical CPU (index = pCPU). */
  readonly ranOn: readonly number[];
}

const softAffinity = new WeakMap<HostVcpu, string>();

/** The vCPUs of `d` as `xl vcpu-list` sees them. */
export function vcpuInfo(host: Host, d: HostDomain): VcpuInfo[] {
  const s = host.scheduler;
  const running = new Set<string>();
  for (let p = 0; p < host.pcpus; p++) {
    const c = s.current(p);
    if (c !== null) running.add(`${c.domid}:${c.vcpuId}`);
  }
  const has = s.hasDomain(d.domid);
  return d.vcpus.map((v) => ({
    vcpu: v.id,
    online: d.isUp(v.id),
    running: running.has(`${d.domid}:${v.id}`),
    blocked: v.blocked,
    cpu: has ? s.vcpu(d.domid, v.id).processor : 0,
    timeSec: v.instructions / 1e9,
    hard: has ? formatCpuList(s.getAffinity(d.domid, v.id), host.pcpus) : 'all',
    soft: softAffinity.get(v) ?? 'all',
    ranOn: [...v.ranOn],
  }));
}

/**
 * `xl vcpu-set DOM N`: marks vCPUs 0..N-1 online and the rest offline in
 * `/local/domain/<id>/cpu/<n>/availability`, as libxl does for a PV guest. N must be 1..maxvcpus.
 */
export async function setVcpus(host: Host, d: HostDomain, count: number): Promise<void> {
  const max = d.vcpus.length;
  if (!Number.isInteger(count) || count < 1) {
    throw new ToolstackError('USAGE', `invalid number of vCPUs: ${count}`);
  }
  if (count > max) {
    throw new ToolstackError(
      'CONFIG',
      `requested ${count} vCPUs, but domain ${d.domid} has at most ${max} (maxvcpus)`,
    );
  }
  if (d.shutdownReason >= 0) throw new ToolstackError('STATE', `domain ${d.domid} has shut down`);
  for (let n = 0; n < max; n++) {
    await host.xs.write(
      `/local/domain/${d.domid}/cpu/${n}/availability`,
      n < count ? 'online' : 'offline',
    );
  }
}

/**
 * `xl vcpu-pin DOM VCPU|all HARD [SOFT]`: sets the hard affinity (`all`, `0-1`, `1,3`, `^2`;
 * `-` keeps it) of one vCPU or all, and records the soft one. A CPU the host does not have is
 * a `CONFIG` error.
 */
export function pinVcpu(
  host: Host,
  d: HostDomain,
  vcpu: number | 'all',
  hard: string,
  soft?: string,
): void {
  const targets =
    vcpu === 'all' ? d.vcpus : d.vcpus.filter((v) => v.id === vcpu && Number.isInteger(vcpu));
  if (targets.length === 0) {
    throw new ToolstackError(
      'USAGE',
      `invalid vCPU ${vcpu}: domain ${d.domid} has vCPUs 0 to ${d.vcpus.length - 1}`,
    );
  }
  const parse = (text: string): number[] => {
    const cpus = hostCpuList(text, host.pcpus);
    if (cpus === null) {
      throw new ToolstackError(
        'CONFIG',
        `invalid CPU list "${text}" (the host has CPUs 0 to ${host.pcpus - 1})`,
      );
    }
    return cpus;
  };
  const hardCpus = hard === '-' ? undefined : parse(hard);
  const softText =
    soft === undefined || soft === '-' ? undefined : formatCpuList(parse(soft), host.pcpus);
  for (const v of targets) {
    if (hardCpus !== undefined) {
      const rc = host.scheduler.setAffinity(d.domid, v.id, hardCpus);
      if (rc !== 0) throw new ToolstackError('CONFIG', `setting the affinity failed (${rc})`);
    }
    if (softText !== undefined) softAffinity.set(v, softText);
  }
}
