/**
 * `typevisor migrate-receive [--listen ADDR:PORT] [-p]`: makes the running daemon listen for
 * incoming migrations (what `daemon --migrate-listen` does at start), as xl's
 * `migrate-receive` is the receiving end of `xl migrate`.
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor migrate-receive [--listen ADDR:PORT] [-p]

Make the running daemon receive domains that 'typevisor migrate' sends to ADDR:PORT
(default 127.0.0.1:8002). It keeps listening until the daemon stops.

Options:
  --listen ADDR:PORT   where to listen (default 127.0.0.1:8002)
  -p                   leave received domains paused
`;

/** The `migrate-receive` verb. */
export const migrateReceive: CommandSpec = {
  name: 'migrate-receive',
  summary: 'Make the daemon listen for incoming migrations',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { listen: { type: 'string' }, p: { type: 'boolean', short: 'p' } },
    });
    if (positionals.length > 0) throw new ToolstackError('USAGE', 'unexpected arguments');
    const address = values.listen ?? '127.0.0.1:8002';
    const bound = await withDaemon(io.env, (c) =>
      c.call<{ host: string; port: number }>('migrate.listen', {
        address,
        paused: values.p === true,
      }),
    );
    io.stdout(`migration target: Ready to receive domains on ${bound.host}:${bound.port}\n`);
    return 0;
  },
};
