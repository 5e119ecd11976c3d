/**
 * `typevisor dmesg [-c]`: the hypervisor's console as `xl dmesg` prints it: the host's log
 * lines (`(XEN) …`) and what guests wrote with CONSOLEIO_write (`(d1) …`).
 */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `dmesg` verb. */
export const dmesg: CommandSpec = {
  name: 'dmesg',
  summary: "Print the hypervisor's console (host log and guests' CONSOLEIO_write)",
  usage: `Usage: typevisor dmesg [-c]

Print the hypervisor's message buffer.

Options:
  -c, --clear   clear the buffer after printing it
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args: [...args],
      options: { clear: { type: 'boolean', short: 'c' } },
    });
    const r = await withDaemon(io.env, (c) =>
      c.call<{ lines: string[] }>('dmesg', { clear: values.clear === true }),
    );
    io.stdout(r.lines.map((l) => `${l}\n`).join(''));
    return 0;
  },
};
