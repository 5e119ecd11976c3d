/**
 * `typevisor block-attach DOMAIN DISKSPEC...` and `typevisor block-detach DOMAIN VDEV`
 * (`xl block-attach` / `xl block-detach`): hot-plug a virtual block device, or remove one with
 * libxl's Closing/Closed handshake.
 */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `block-attach` verb. */
export const blockAttach: CommandSpec = {
  name: 'block-attach',
  summary: 'Create a new virtual block device',
  usage: `Usage: typevisor block-attach DOMAIN DISKSPEC...

Hot-plug a virtual block device into DOMAIN, as 'xl block-attach' does. DISKSPEC is an xl
disk specification, possibly in several arguments (joined with commas), e.g.
  typevisor block-attach guest format=raw,vdev=xvdb,access=rw,target=/srv/data.img
The guest's blkfront finds it under device/vbd; 'typevisor block-list' shows it.
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length < 2 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN DISKSPEC');
    const [domain, ...parts] = args as [string, ...string[]];
    await withDaemon(io.env, (c) =>
      c.call('block-attach', { domain, spec: parts.join(','), cwd: io.cwd }),
    );
    return 0;
  },
};

/** The `block-detach` verb. */
export const blockDetach: CommandSpec = {
  name: 'block-detach',
  summary: "Destroy a domain's virtual block device",
  usage: `Usage: typevisor block-detach DOMAIN VDEV

Remove block device VDEV (xvdb, or its number) from DOMAIN, as 'xl block-detach' does: the
backend goes to Closing, the frontend closes, then the device is removed. A frontend that
does not answer within 10 s is removed by force, as libxl does.
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length !== 2 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN VDEV');
    const [domain, vdev] = args as [string, string];
    const r = await withDaemon(io.env, (c) =>
      c.call<{ forced: boolean }>('block-detach', { domain, vdev }),
    );
    if (r.forced)
      io.stderr(`block-detach: ${vdev}: the frontend did not close; removed by force\n`);
    return 0;
  },
};
