/** `typevisor destroy DOMAIN`: stops a domain at once and frees everything it had (`xl destroy`). */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor destroy DOMAIN

Terminate DOMAIN immediately (like pulling the power), as 'xl destroy' does.
`;

/** The `destroy` verb. */
export const destroy: CommandSpec = {
  name: 'destroy',
  summary: 'Terminate a domain immediately',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length !== 1 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected one DOMAIN');
    await withDaemon(io.env, (c) => c.call('destroy', { domain: args[0] as string }));
    return 0;
  },
};
