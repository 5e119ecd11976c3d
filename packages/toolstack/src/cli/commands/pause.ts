/** `typevisor pause DOMAIN` and `typevisor unpause DOMAIN` (`xl pause` / `xl unpause`). */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

function makeVerb(verb: 'pause' | 'unpause'): CommandSpec {
  return {
    name: verb,
    summary: verb === 'pause' ? 'Pause a domain' : 'Unpause a paused domain',
    usage: `Usage: typevisor ${verb} DOMAIN\n\n${verb === 'pause' ? 'Pause DOMAIN: its vCPUs stop running; its memory stays.' : 'Let a paused DOMAIN run again.'}\n`,
    async run(args: readonly string[], io: CliIo): Promise<number> {
      if (args.length !== 1 || (args[0] as string).startsWith('-'))
        throw new ToolstackError('USAGE', 'expected one DOMAIN');
      await withDaemon(io.env, (c) => c.call(verb, { domain: args[0] as string }));
      return 0;
    },
  };
}

/** The `pause` verb. */
export const pause: CommandSpec = makeVerb('pause');
/** The `unpause` verb. */
export const unpause: CommandSpec = makeVerb('unpause');
