/**
 * `typevisor migrate [--live] [--debug] [--json] DOMAIN HOST` (`xl migrate`): moves a domain to
 * the daemon listening on HOST (`ADDR:PORT`, default port 8002; see `daemon --migrate-listen`
 * and `migrate-receive`) over TCP, and reports rounds, pages per round, total time and downtime.
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { DomainMigrationReport } from '../../migration/migrate-domain.ts';
import { ProgressLine } from '../../migration/progress-line.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor migrate [--live] [--debug] [--json] DOMAIN HOST

Migrate DOMAIN (ID or name) to the typevisor daemon listening on HOST, an ADDR:PORT
(port 8002 when omitted) where 'typevisor daemon --migrate-listen' or 'typevisor
migrate-receive' listens. xl carries the stream over ssh; typevisor uses TCP directly. The
domain is destroyed here once it runs there; if anything fails it continues here.

Options:
  --live    iterative pre-copy while the guest runs, then a short stop-and-copy
            (without it: pause, copy everything, resume there)
  --debug   print the daemon's full report on stderr
  --json    print the report as JSON
`;

/** The report as xl-style text. */
export function formatMigrationReport(r: DomainMigrationReport, target: string): string {
  return [
    `Migration successful.`,
    `Domain ${r.domid} (${r.name}) -> ${target} as domain ${r.targetDomid}`,
    `Mode: ${r.live ? 'live (pre-copy)' : 'non-live (stop and copy)'}`,
    `Rounds: ${r.rounds}`,
    `Pages per round: ${r.pagesPerRound.join(' ')}`,
    ...(r.live && r.dirtyPerRound.length > 0
      ? [`Dirty pages per round: ${r.dirtyPerRound.join(' ')}`]
      : []),
    `Sent: ${(r.bytes / (1 << 20)).toFixed(1)} MiB`,
    `Total time: ${r.totalMs.toFixed(1)} ms`,
    `Downtime: ${r.downtimeMs.toFixed(1)} ms`,
    '',
  ].join('\n');
}

/** The `migrate` verb. */
export const migrate: CommandSpec = {
  name: 'migrate',
  summary: 'Migrate a domain to another typevisor daemon',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        live: { type: 'boolean' },
        debug: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    const [domain, target] = positionals;
    if (domain === undefined || target === undefined || positionals.length !== 2)
      throw new ToolstackError('USAGE', 'expected DOMAIN HOST');
    io.stderr(`migration sender: Saving to migration stream new typevisor format\n`);
    const progress = new ProgressLine(io, process.stdout.isTTY === true && values.json !== true);
    const report = await withDaemon(io.env, async (client) => {
      client.onEvent = (e) => progress.update(e);
      try {
        return await client.call<DomainMigrationReport>('migrate', {
          domain,
          address: target,
          live: values.live === true,
        });
      } finally {
        progress.done();
      }
    });
    if (values.debug === true) io.stderr(`${JSON.stringify(report)}\n`);
    if (values.json === true) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else io.stdout(formatMigrationReport(report, target));
    return 0;
  },
};
