/**
 * `typevisor domid NAME`, `typevisor domname ID` and `typevisor rename OLD NEW`: converting
 * between names and IDs, and renaming (`/local/domain/<id>/name` changes too).
 */
import { withDaemon } from '../../daemon/connect.ts';
import type { DomainListEntry } from '../../daemon/daemon.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

function one(args: readonly string[], what: string): string {
  if (args.length !== 1 || (args[0] as string).startsWith('-'))
    throw new ToolstackError('USAGE', `expected one ${what}`);
  return args[0] as string;
}

/** The `domid` verb. */
export const domid: CommandSpec = {
  name: 'domid',
  summary: "Print a domain's ID given its name",
  usage: 'Usage: typevisor domid NAME\n\nPrint the ID of the domain called NAME.\n',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const name = one(args, 'NAME');
    const [row] = await withDaemon(io.env, (c) =>
      c.call<DomainListEntry[]>('list', { domain: name }),
    );
    io.stdout(`${row?.domid}\n`);
    return 0;
  },
};

/** The `domname` verb. */
export const domname: CommandSpec = {
  name: 'domname',
  summary: "Print a domain's name given its ID",
  usage: 'Usage: typevisor domname ID\n\nPrint the name of domain ID.\n',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const id = one(args, 'ID');
    if (!/^\d+$/.test(id)) throw new ToolstackError('USAGE', `"${id}" is not a domain ID`);
    const [row] = await withDaemon(io.env, (c) =>
      c.call<DomainListEntry[]>('list', { domain: id }),
    );
    io.stdout(`${row?.name}\n`);
    return 0;
  },
};

/** The `rename` verb. */
export const rename: CommandSpec = {
  name: 'rename',
  summary: 'Rename a domain',
  usage: 'Usage: typevisor rename DOMAIN NEW-NAME\n\nGive DOMAIN the name NEW-NAME.\n',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length !== 2) throw new ToolstackError('USAGE', 'expected DOMAIN NEW-NAME');
    await withDaemon(io.env, (c) =>
      c.call('rename', { domain: args[0] as string, name: args[1] as string }),
    );
    return 0;
  },
};
