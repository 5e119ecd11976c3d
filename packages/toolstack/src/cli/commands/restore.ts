/**
 * `typevisor restore [-p] [-e] [-d] [CONFIG] FILE` (`xl restore`): builds a domain from a
 * per-domain save image on the daemon, under a new domain ID, and unpauses it unless `-p`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import { ProgressLine } from '../../migration/progress-line.ts';
import type { CliIo, CommandSpec } from '../command.ts';
import { readConfigFile } from './save.ts';

const USAGE = `Usage: typevisor restore [-p] [-e] [-d] [--json] [CONFIG] FILE

Restore a domain saved with 'typevisor save' from FILE. With CONFIG (an xl configuration
file), the domain gets that configuration instead of the one in the image; its memory must
match. The domain gets a new domain ID; its disks are reopened from their paths.

Options:
  -p        leave the domain paused after restoring it
  -e        do not wait for the domain (accepted for xl compatibility; restore never waits)
  -d        print debugging information (the daemon's answer)
  --json    print the restored domain as JSON
`;

/** The `restore` verb. */
export const restore: CommandSpec = {
  name: 'restore',
  summary: 'Restore a domain from a file written by save',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        p: { type: 'boolean', short: 'p' },
        e: { type: 'boolean', short: 'e' },
        d: { type: 'boolean', short: 'd' },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length < 1 || positionals.length > 2)
      throw new ToolstackError('USAGE', 'expected [CONFIG] FILE');
    const file = positionals[positionals.length - 1] as string;
    const config = positionals.length === 2 ? (positionals[0] as string) : undefined;
    const text = config === undefined ? undefined : readConfigFile(io, config);
    if (config !== undefined) io.stderr(`Parsing config from ${config}\n`);
    io.stderr(`Loading new save file ${file} (new typevisor fmt)\n`);
    const progress = new ProgressLine(io, process.stdout.isTTY === true && values.json !== true);
    const result = await withDaemon(io.env, async (client) => {
      client.onEvent = (e) => progress.update(e);
      try {
        return await client.call<{ domid: number; name: string; ms: number }>('restore', {
          file: resolve(io.cwd, file),
          paused: values.p === true,
          cwd: io.cwd,
          ...(text === undefined ? {} : { text, source: config, overrides: [] }),
        });
      } finally {
        progress.done();
      }
    });
    if (values.d === true) io.stderr(`${JSON.stringify(result)}\n`);
    if (values.json === true) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else
      io.stdout(
        `Restored domain ${result.domid} (${result.name}) from ${file} in ${result.ms.toFixed(0)} ms${values.p === true ? '; paused' : ''}\n`,
      );
    return 0;
  },
};
