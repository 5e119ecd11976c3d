/**
 * `typevisor sched-sedf [-d DOMAIN [-p PERIOD] [-s SLICE] [-l LATENCY] [-e EXTRA] [-w WEIGHT]]`
 * (`xl sched-sedf` of Xen ≤ 4.5): the sEDF scheduler's parameters per domain, times in ms.
 * Only when the daemon runs sEDF (`typevisor daemon --sched sedf`).
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import type { SchedResult, SedfRow } from '../../daemon/resource-rpc.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';
import { intOption } from './sched-credit.ts';

const USAGE = `Usage: typevisor sched-sedf [-d DOMAIN [-p PERIOD] [-s SLICE] [-l LATENCY]
                            [-e EXTRA] [-w WEIGHT]] [-c CPUPOOL]

Get or set the sEDF scheduler's parameters, as 'xl sched-sedf' does (Xen 4.5 and earlier).
The daemon must run sEDF ('typevisor daemon --sched sedf'). Times are in milliseconds.

Options:
  -d, --domain DOMAIN    the domain
  -p, --period PERIOD    period (ms); with -s the domain is time-driven
  -s, --slice SLICE      guaranteed time per period (ms)
  -l, --latency LATENCY  latency hint after a long block (ms)
  -e, --extratime EXTRA  1: the domain may run in extra time
  -w, --weight WEIGHT    weight-driven share instead of period/slice
  -c, --cpupool CPUPOOL  the cpupool (only Pool-0 exists)
`;

/** xl's sEDF header and row formats: `%-33s %4s %6s %-6s %7s %5s %6s` and `%-33s %4d %6d %6d %7d %5d %6d`. */
function header(): string {
  return `${'Name'.padEnd(33)} ${'ID'.padStart(4)} ${'Period'.padStart(6)} ${'Slice'.padEnd(6)} ${'Latency'.padStart(7)} ${'Extra'.padStart(5)} ${'Weight'.padStart(6)}\n`;
}
function row(r: SedfRow): string {
  return `${r.name.padEnd(33)} ${String(r.domid).padStart(4)} ${String(r.period).padStart(6)} ${String(r.slice).padStart(6)} ${String(r.latency).padStart(7)} ${String(r.extratime).padStart(5)} ${String(r.weight).padStart(6)}\n`;
}

/** The `sched-sedf` verb. */
export const schedSedf: CommandSpec = {
  name: 'sched-sedf',
  summary: 'Get/set sEDF scheduler parameters',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        domain: { type: 'string', short: 'd' },
        period: { type: 'string', short: 'p' },
        slice: { type: 'string', short: 's' },
        latency: { type: 'string', short: 'l' },
        extratime: { type: 'string', short: 'e' },
        weight: { type: 'string', short: 'w' },
        cpupool: { type: 'string', short: 'c' },
      },
    });
    if (positionals.length > 0) throw new ToolstackError('USAGE', 'unexpected arguments');
    const set: Record<string, number> = {};
    for (const k of ['period', 'slice', 'latency', 'extratime', 'weight'] as const) {
      const v = intOption(k, values[k]);
      if (v !== undefined) set[k] = v;
    }
    const dom = values.domain;
    const setting = Object.keys(set).length > 0;
    if (values.cpupool !== undefined && (dom !== undefined || setting)) {
      io.stderr('Specifying a cpupool is not allowed with other options.\n');
      return 1;
    }
    if (dom === undefined && setting) {
      io.stderr('Must specify a domain.\n');
      return 1;
    }
    if (values.cpupool !== undefined && values.cpupool !== 'Pool-0' && values.cpupool !== '0') {
      io.stderr(`unknown cpupool '${values.cpupool}'\n`);
      return 1;
    }
    const res = await withDaemon(io.env, (c) =>
      c.call<SchedResult<SedfRow>>('sched-sedf', {
        ...(dom === undefined ? {} : { domain: dom }),
        ...set,
      }),
    );
    if (setting) return 0;
    if (dom === undefined && res.scheduler !== 'sedf') return 0; // no pool runs sEDF
    let out = dom === undefined ? 'Cpupool Pool-0:\n' : '';
    out += header();
    for (const r of res.rows) out += row(r);
    io.stdout(out);
    return 0;
  },
};
