/**
 * The daemon's vCPU methods: `vcpu-list`, `vcpu-set` and `vcpu-pin`. `daemon.ts` routes every
 * method named in {@link VCPU_METHODS} here.
 *
 * - `vcpu-list {domain?}` → {@link VcpuRow}[] (Domain-0 first when no domain is named).
 * - `vcpu-set {domain, count}` → `{domid}`: cpu/<n>/availability as libxl writes it.
 * - `vcpu-pin {domain, vcpu: number | "all", hard, soft?}` → `{domid}`.
 * @module
 */
import { ToolstackError } from '../errors.ts';
import type { Host, HostDomain } from '../host/host.ts';
import { pinVcpu, setVcpus, vcpuInfo } from '../host/vcpu-control.ts';
import type { VcpuRow } from './xl-format.ts';

/** The methods {@link vcpuRpc} serves. */
export const VCPU_METHODS: ReadonlySet<string> = new Set(['vcpu-list', 'vcpu-set', 'vcpu-pin']);

type Params = Readonly<Record<string, unknown>>;

function isDom0(v: unknown): boolean {
  return v === '0' || v === 0 || v === 'Domain-0';
}

function domainOf(host: Host, params: Params, method: string): HostDomain {
  const v = params.domain;
  if (isDom0(v)) {
    throw new ToolstackError(
      'STATE',
      `Domain-0 is the daemon itself: ${method} does not apply to it`,
    );
  }
  if ((typeof v !== 'string' || v === '') && typeof v !== 'number')
    throw new ToolstackError('USAGE', 'parameter "domain" must be a non-empty string');
  return host.lookup(String(v));
}

/** `xl vcpu-list` rows of one guest. */
export function vcpuRows(host: Host, d: HostDomain): VcpuRow[] {
  const shut = d.shutdownReason >= 0;
  return vcpuInfo(host, d).map((v) => {
    const stopped = shut || d.paused || !v.online;
    return {
      name: d.name,
      domid: d.domid,
      vcpu: v.vcpu,
      cpu: stopped ? null : v.cpu,
      state: `${!stopped && v.running && !v.blocked ? 'r' : '-'}${!shut && v.online && v.blocked ? 'b' : '-'}${stopped ? 'p' : '-'}`,
      timeSec: v.timeSec,
      affinity: v.hard,
      softAffinity: v.soft,
    };
  });
}

/** Serves one vCPU method; `method` must be in {@link VCPU_METHODS}. */
export async function vcpuRpc(
  host: Host,
  method: string,
  params: Readonly<Record<string, unknown>>,
): Promise<unknown> {
  switch (method) {
    case 'vcpu-list': {
      const rows: VcpuRow[] = [];
      const named = params.domain;
      if (named === undefined || isDom0(named)) {
        const cpu = process.cpuUsage();
        rows.push({
          name: 'Domain-0',
          domid: 0,
          vcpu: 0,
          cpu: 0,
          state: 'r--',
          timeSec: (cpu.user + cpu.system) / 1e6,
          affinity: 'all',
        });
        if (named !== undefined) return rows;
      }
      const doms =
        named === undefined
          ? [...host.domains.values()].sort((a, b) => a.domid - b.domid)
          : [domainOf(host, params, method)];
      for (const d of doms) rows.push(...vcpuRows(host, d));
      return rows;
    }
    case 'vcpu-set': {
      const d = domainOf(host, params, method);
      const count = params.count;
      if (typeof count !== 'number' || !Number.isSafeInteger(count))
        throw new ToolstackError('USAGE', 'parameter "count" must be an integer');
      await setVcpus(host, d, count);
      return { domid: d.domid };
    }
    case 'vcpu-pin': {
      const d = domainOf(host, params, method);
      const v = params.vcpu;
      if (v !== 'all' && (typeof v !== 'number' || !Number.isSafeInteger(v)))
        throw new ToolstackError('USAGE', 'parameter "vcpu" must be a vCPU number or "all"');
      const hard = params.hard;
      if (typeof hard !== 'string' || hard === '')
        throw new ToolstackError('USAGE', 'parameter "hard" must be a CPU list');
      const soft = params.soft;
      if (soft !== undefined && (typeof soft !== 'string' || soft === ''))
        throw new ToolstackError('USAGE', 'parameter "soft" must be a CPU list');
      pinVcpu(host, d, v, hard, soft);
      return { domid: d.domid };
    }
    default:
      throw new ToolstackError('USAGE', `unknown method "${method}"`);
  }
}
