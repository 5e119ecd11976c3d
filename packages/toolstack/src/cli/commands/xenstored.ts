/**
 * `typevisor xenstored`: runs Typevisor's xenstore daemon in the foreground on a unix
 * socket, like Xen's `xenstored -N`. Logs go to stderr; SIGTERM or SIGINT shut it down
 * cleanly (pending changes are synced, the socket is removed). With `--state DIR` the
 * store survives restarts (see `Journal` in `@typevisor/xenstore/node`).
 */
import { parseArgs } from 'node:util';
import { quotaKey, Xenstore, type XenstoreQuotas } from '@typevisor/xenstore';
import { Journal, XenstoreServer } from '@typevisor/xenstore/node';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor xenstored --socket PATH [--state DIR] [--quota NAME=VALUE]...
                           [--quota-soft NAME=VALUE]... [--trace]

Run the xenstore daemon in the foreground, serving the xenstore wire protocol on the unix
socket PATH. Point clients at it with XENSTORED_PATH=PATH (Debian's xenstore-* tools, pyxs,
'typevisor xenstore'). Stop it with SIGTERM or SIGINT.

Options:
  --socket PATH        unix socket to listen on (required; replaced if it exists)
  --state DIR          keep the store in DIR (snapshot + checksummed journal); every
                       acknowledged change is on disk before the reply is sent
  --quota NAME=VALUE   set a guest quota, NAME as in 'xenstore-control quota'
                       (nodes, watches, transactions, transaction-nodes, node-size, ...)
  --quota-soft NAME=VALUE  set a soft quota (logged when crossed), NAME as in
                       'xenstore-control quota-soft' (memory)
  --trace              log every request to stderr
`;

/** Parses `--quota name=value` (or, with `soft`, `--quota-soft name=value`) options. */
function parseQuotas(
  specs: readonly string[],
  soft = false,
): Partial<Record<keyof XenstoreQuotas, number>> {
  const out: Partial<Record<keyof XenstoreQuotas, number>> = {};
  for (const spec of specs) {
    const m = /^([a-z-]+)=(\d+)$/.exec(spec);
    const key = m ? quotaKey(m[1] as string, soft) : undefined;
    if (!m || key === undefined) {
      throw new ToolstackError('USAGE', `invalid --quota${soft ? '-soft' : ''} '${spec}'`);
    }
    out[key] = Number(m[2]);
  }
  return out;
}

/** The `xenstored` verb. */
export const xenstored: CommandSpec = {
  name: 'xenstored',
  summary: 'Run the xenstore daemon on a unix socket (foreground)',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args: [...args],
      options: {
        socket: { type: 'string' },
        state: { type: 'string' },
        quota: { type: 'string', multiple: true },
        'quota-soft': { type: 'string', multiple: true },
        trace: { type: 'boolean' },
      },
    });
    if (values.socket === undefined) throw new ToolstackError('USAGE', '--socket PATH is required');
    const log = (line: string): void => io.stderr(`${line}\n`);
    const quotas = {
      ...parseQuotas(values.quota ?? []),
      ...parseQuotas(values['quota-soft'] ?? [], true),
    };
    const options = { quotas, log };
    const journal =
      values.state === undefined ? undefined : Journal.open(values.state, { xenstore: options });
    const xs = journal?.xs ?? new Xenstore(options);
    xs.traceEnabled = values.trace === true;
    const server = new XenstoreServer({
      socketPath: values.socket,
      xenstore: xs,
      log,
      ...(journal ? { beforeReply: () => journal.sync() } : {}),
    });
    await server.listen();
    if (journal) {
      log(
        `xenstored: state in ${values.state} (${journal.replayed} journal records replayed${journal.truncatedTail ? ', torn tail cut' : ''})`,
      );
    }
    log(`xenstored: listening on ${values.socket}`);
    const signal = await new Promise<string>((resolve) => {
      const onSignal = (sig: string): void => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(sig);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    log(`xenstored: ${signal}, shutting down`);
    await server.close();
    journal?.close();
    return 0;
  },
};
