/**
 * `typevisor save [-c] [-p] DOMAIN FILE [CONFIG]` (`xl save`): saves a domain to a per-domain
 * image file (docs/save-image-format.md) through the daemon, which then destroys it unless `-c`
 * or `-p` is given. With CONFIG, that configuration is stored in the image instead of the one
 * the domain was created from.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { DomainSaveResult } from '../../host/domain-save.ts';
import { ProgressLine } from '../../migration/progress-line.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor save [-c] [-p] [--json] DOMAIN FILE [CONFIG]

Save DOMAIN (ID or name) to FILE, a Typevisor save image that 'typevisor restore' reads, on
this host or another; afterwards the domain is destroyed. With CONFIG (an xl configuration
file), that configuration is stored in the image instead of the domain's. A guest that does not cooperate
with xl's suspend protocol is paused by the toolstack and saved as it stands.

Options:
  -c        leave the domain running after saving it
  -p        leave the domain paused after saving it
  --json    print what was saved as JSON
`;

/** The `save` verb. */
export const save: CommandSpec = {
  name: 'save',
  summary: 'Save a domain to a file (restore it with restore)',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        c: { type: 'boolean', short: 'c' },
        p: { type: 'boolean', short: 'p' },
        json: { type: 'boolean' },
      },
    });
    const [domain, file, config] = positionals;
    if (domain === undefined || file === undefined || positionals.length > 3)
      throw new ToolstackError('USAGE', 'expected DOMAIN FILE [CONFIG]');
    const text = config === undefined ? undefined : readConfigFile(io, config);
    if (config !== undefined) io.stderr(`Parsing config from ${config}\n`);
    const path = resolve(io.cwd, file);
    const keep = values.c === true || values.p === true;
    const progress = new ProgressLine(io, process.stdout.isTTY === true && values.json !== true);
    const result = await withDaemon(io.env, async (client) => {
      client.onEvent = (e) => progress.update(e);
      try {
        return await client.call<DomainSaveResult & { file: string }>('save', {
          domain,
          file: path,
          keep: values.c === true,
          pause: values.p === true,
          cwd: io.cwd,
          ...(text === undefined ? {} : { text, source: config, overrides: [] }),
        });
      } finally {
        progress.done();
      }
    });
    if (values.json === true) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      io.stderr(
        `Saving to ${file} new typevisor format (domain ${result.domid}, ${result.pages} pages)\n`,
      );
      io.stdout(
        `Saved domain ${result.domid} (${result.name}) to ${file}: ${result.pages} pages, ${(result.bytes / (1 << 20)).toFixed(1)} MiB in ${result.ms.toFixed(0)} ms (${rate(result.bytes, result.ms)} MB/s)${keep ? '' : '; domain destroyed'}\n`,
      );
    }
    return 0;
  },
};

function rate(bytes: number, ms: number): string {
  return ms > 0 ? (bytes / 1e6 / (ms / 1000)).toFixed(1) : '-';
}

/** Reads an xl config file for restore (shared with `restore`). */
export function readConfigFile(io: CliIo, file: string): string {
  try {
    return readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new ToolstackError(
      'NOT_FOUND',
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
