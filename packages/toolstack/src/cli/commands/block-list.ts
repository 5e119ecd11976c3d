/** `typevisor block-list DOMAIN`: a domain's virtual block devices (`xl block-list`). */
import { withDaemon } from '../../daemon/connect.ts';
import { type BlockRow, formatBlockList } from '../../daemon/xl-format.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `block-list` verb. */
export const blockList: CommandSpec = {
  name: 'block-list',
  summary: "List a domain's virtual block devices",
  usage: `Usage: typevisor block-list DOMAIN ...

List the virtual block devices of each DOMAIN as 'xl block-list' does (state, event
channel and ring reference as the frontend wrote them to xenstore).
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length === 0 || args.some((a) => a.startsWith('-')))
      throw new ToolstackError('USAGE', 'expected DOMAIN ...');
    const rows = await withDaemon(io.env, async (c) => {
      const out: BlockRow[] = [];
      for (const d of args) out.push(...(await c.call<BlockRow[]>('block-list', { domain: d })));
      return out;
    });
    io.stdout(formatBlockList(rows));
    return 0;
  },
};
