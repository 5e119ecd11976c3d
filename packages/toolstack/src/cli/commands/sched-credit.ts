/**
 * `typevisor sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]] [-s] [-p CPUPOOL]`
 * (`xl sched-credit`): the credit scheduler's weight and cap per domain, in xl's table.
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import type { CreditRow, SchedResult } from '../../daemon/resource-rpc.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]] [-s] [-p CPUPOOL]

Get or set the credit scheduler's parameters, as 'xl sched-credit' does. Without -d,
list every domain of the pool; with -d and -w/-c, set that domain's parameters.

Options:
  -d, --domain DOMAIN    the domain
  -w, --weight WEIGHT    relative weight, 1 to 65535 (default 256)
  -c, --cap CAP          cap in percent of one CPU, 0 = none
  -s, --schedparam       show the pool's parameters (tslice, ratelimit, migration delay)
  -p, --cpupool CPUPOOL  the cpupool (only Pool-0 exists)
`;

/** A decimal integer option, or a usage error naming it. */
export function intOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new ToolstackError('USAGE', `invalid ${name}: "${v}"`);
  return Number(v);
}

/** xl's credit row: `%-33s %4d %6d %4d`. */
function row(name: string, id: string | number, w: string | number, c: string | number): string {
  return `${name.padEnd(33)} ${String(id).padStart(4)} ${String(w).padStart(6)} ${String(c).padStart(4)}\n`;
}

/** The `sched-credit` verb. */
export const schedCredit: CommandSpec = {
  name: 'sched-credit',
  summary: 'Get/set credit scheduler parameters',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        domain: { type: 'string', short: 'd' },
        weight: { type: 'string', short: 'w' },
        cap: { type: 'string', short: 'c' },
        schedparam: { type: 'boolean', short: 's' },
        cpupool: { type: 'string', short: 'p' },
        tslice_ms: { type: 'string', short: 't' },
        ratelimit_us: { type: 'string', short: 'r' },
        migration_delay_us: { type: 'string', short: 'm' },
      },
    });
    if (positionals.length > 0) throw new ToolstackError('USAGE', 'unexpected arguments');
    const weight = intOption('weight', values.weight);
    const cap = intOption('cap', values.cap);
    const poolSet =
      values.tslice_ms !== undefined ||
      values.ratelimit_us !== undefined ||
      values.migration_delay_us !== undefined;
    const dom = values.domain;
    if (
      (values.cpupool !== undefined || values.schedparam === true) &&
      (dom !== undefined || weight !== undefined || cap !== undefined)
    ) {
      io.stderr('Specifying a cpupool or schedparam is not allowed with domain options.\n');
      return 1;
    }
    if (dom === undefined && (weight !== undefined || cap !== undefined)) {
      io.stderr('Must specify a domain.\n');
      return 1;
    }
    if (values.schedparam !== true && poolSet) {
      io.stderr('Must specify schedparam to set schedule parameter values.\n');
      return 1;
    }
    if (values.cpupool !== undefined && values.cpupool !== 'Pool-0' && values.cpupool !== '0') {
      io.stderr(`unknown cpupool '${values.cpupool}'\n`);
      return 1;
    }
    if (poolSet)
      throw new ToolstackError('STATE', 'setting the credit pool parameters is not supported');
    const setting = weight !== undefined || cap !== undefined;
    const res = await withDaemon(io.env, (c) =>
      c.call<SchedResult<CreditRow>>('sched-credit', {
        ...(dom === undefined ? {} : { domain: dom }),
        ...(weight === undefined ? {} : { weight }),
        ...(cap === undefined ? {} : { cap }),
      }),
    );
    if (setting) return 0;
    const pool = res.pool;
    const poolLine =
      pool === undefined
        ? ''
        : `Cpupool Pool-0: tslice=${pool.tslice}ms ratelimit=${pool.ratelimit}us migration-delay=${pool.migrationDelay}us\n`;
    if (values.schedparam === true) {
      io.stdout(poolLine);
      return 0;
    }
    let out = dom === undefined ? poolLine : '';
    if (dom !== undefined || res.rows.length > 0) out += row('Name', 'ID', 'Weight', 'Cap');
    for (const r of res.rows) out += row(r.name, r.domid, r.weight, r.cap);
    io.stdout(out);
    return 0;
  },
};
