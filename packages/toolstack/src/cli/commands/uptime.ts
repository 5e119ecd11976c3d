/** `typevisor uptime [-s] [DOMAIN...]`: how long domains have existed (`xl uptime`). */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import type { DomainListEntry } from '../../daemon/daemon.ts';
import { formatUptime } from '../../daemon/xl-format.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `uptime` verb. */
export const uptime: CommandSpec = {
  name: 'uptime',
  summary: 'Print how long domains have been running',
  usage: `Usage: typevisor uptime [-s] [DOMAIN ...]

Print the uptime of all domains, or of the ones named.

Options:
  -s, --short   one 'uptime'-style line per domain
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { short: { type: 'boolean', short: 's' } },
    });
    const rows = await withDaemon(io.env, async (c) => {
      if (positionals.length === 0) return c.call<DomainListEntry[]>('list');
      const out: DomainListEntry[] = [];
      for (const d of positionals)
        out.push(...(await c.call<DomainListEntry[]>('list', { domain: d })));
      return out;
    });
    io.stdout(formatUptime(rows, values.short === true));
    return 0;
  },
};
