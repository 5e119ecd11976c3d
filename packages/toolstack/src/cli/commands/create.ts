/**
 * `typevisor create [-c] [-p] [-q] [-n] CFG [KEY=VALUE...]`: builds a domain from an xl config
 * file on the daemon, as `xl create` does. The file is parsed here first, so a bad config is
 * reported as `file:line: key: problem` without touching the daemon. When no daemon is running
 * one is started in the background (and that is said on stderr).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DaemonClient } from '../../daemon/client.ts';
import { loadDomainConfig } from '../../daemon/config-load.ts';
import { connectDaemon } from '../../daemon/connect.ts';
import { controlSocketPath, daemonLogPath } from '../../daemon/paths.ts';
import { startDetachedDaemon } from '../../daemon/spawn.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';
import { attachConsole } from './console.ts';

const USAGE = `Usage: typevisor create [-c] [-p] [-q] [-n] [-f] CONFIG [KEY=VALUE ...]

Create a domain from the xl configuration file CONFIG; KEY=VALUE settings are applied after
the file's (e.g. memory=64 'name="copy"'). Starts the daemon in the background if none runs.

Options:
  -c        attach to the console once the domain is created (Ctrl-] detaches)
  -p        leave the domain paused (start it with 'typevisor unpause')
  -q        quiet: do not print "Parsing config from ..."
  -n        dry run: check the configuration and print it, create nothing
  -f FILE   the configuration file (the same as giving it as the first argument)
`;

/** The `create` verb. */
export const create: CommandSpec = {
  name: 'create',
  summary: 'Create a domain from an xl configuration file',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        c: { type: 'boolean', short: 'c' },
        p: { type: 'boolean', short: 'p' },
        q: { type: 'boolean', short: 'q' },
        n: { type: 'boolean', short: 'n' },
        f: { type: 'string', short: 'f' },
      },
    });
    const rest = [...positionals];
    const file = values.f ?? (rest[0]?.includes('=') === false ? rest.shift() : undefined);
    if (file === undefined) throw new ToolstackError('USAGE', 'no configuration file given');
    const overrides = rest;
    for (const o of overrides) {
      if (!o.includes('=')) throw new ToolstackError('USAGE', `"${o}" is not a KEY=VALUE setting`);
    }
    let text: string;
    try {
      text = readFileSync(resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw new ToolstackError(
        'NOT_FOUND',
        `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    if (values.q !== true) io.stderr(`Parsing config from ${file}\n`);
    const request = { text, source: file, overrides, cwd: io.cwd };
    const config = loadDomainConfig(request);
    if (values.n === true) {
      io.stdout(`${JSON.stringify(config, null, 4)}\n`);
      return 0;
    }

    let client: DaemonClient;
    try {
      client = await connectDaemon(io.env);
    } catch {
      const socketPath = controlSocketPath(io.env);
      const d = await startDetachedDaemon({
        socketPath,
        logPath: daemonLogPath(io.env),
        args: [],
        env: io.env,
      });
      io.stderr(
        `typevisor: no daemon was running; started one (pid ${d.pid}) on ${socketPath}, log ${d.logPath}\n`,
      );
      client = await connectDaemon(io.env);
    }
    try {
      const made = await client.call<{ domid: number; name: string }>('create', {
        ...request,
        overrides: [...overrides],
        paused: values.p === true,
      });
      if (values.c === true) await attachConsole(client, String(made.domid), io);
    } finally {
      client.close();
    }
    return 0;
  },
};
