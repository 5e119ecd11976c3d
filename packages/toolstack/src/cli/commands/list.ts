/**
 * `typevisor list [-l] [DOMAIN...]`: the domains on the daemon's host in `xl list`'s columns
 * (`Name ID Mem VCPUs State Time(s)`, state letters r b p s c d), or with `-l` as xl's JSON of
 * each domain's configuration as it is now (memory target and maximum, online vCPUs, disks and
 * VIFs, name: host/host-lifecycle-config.ts), as `libxl_retrieve_domain_configuration` gives it.
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import type { DomainListEntry } from '../../daemon/daemon.ts';
import { formatList, formatListLong } from '../../daemon/xl-format.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor list [-l] [DOMAIN ...]

List domains (all, or the ones named) as 'xl list' does. State letters: r running,
b blocked, p paused, s shut down, c crashed, d dying.

Options:
  -l, --long   print each domain's current configuration as JSON (as 'xl list -l')
`;

/** The `list` verb. */
export const list: CommandSpec = {
  name: 'list',
  summary: 'List domains',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { long: { type: 'boolean', short: 'l' } },
    });
    const rows = await withDaemon(io.env, async (c) => {
      if (positionals.length === 0) return c.call<DomainListEntry[]>('list');
      const out: DomainListEntry[] = [];
      for (const d of positionals)
        out.push(...(await c.call<DomainListEntry[]>('list', { domain: d })));
      return out;
    });
    io.stdout(values.long === true ? formatListLong(rows) : formatList(rows));
    return 0;
  },
};
