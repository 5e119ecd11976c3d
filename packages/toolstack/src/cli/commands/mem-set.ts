/**
 * `typevisor mem-set DOMAIN MEM` and `typevisor mem-max DOMAIN MEM` (`xl mem-set` / `xl mem-max`):
 * the balloon target a guest's balloon driver follows, and the hypervisor's maximum.
 */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import { parseMemSizeKb } from '../../host/host-balloon.ts';
import type { CliIo, CommandSpec } from '../command.ts';

function makeVerb(verb: 'mem-set' | 'mem-max'): CommandSpec {
  const set = verb === 'mem-set';
  return {
    name: verb,
    summary: set
      ? 'Set the current memory usage for a domain'
      : 'Set the maximum amount reservation for a domain',
    usage: `Usage: typevisor ${verb} DOMAIN MEM

${
  set
    ? `Set DOMAIN's balloon target (memory/target in xenstore) to MEM, as 'xl mem-set' does: the
guest's balloon driver gives memory back or takes it until its reservation matches. The
hypervisor maximum follows the target (plus 1 MiB); MEM may not exceed memory/static-max.`
    : `Set DOMAIN's maximum memory, as 'xl mem-max' does: the hypervisor refuses to populate pages
beyond MEM (plus 1 MiB of slack), and memory/static-max becomes MEM. MEM may not be below
the current balloon target.`
}

MEM is a number with an optional unit: b, k, m (the default), g or t.
`,
    async run(args: readonly string[], io: CliIo): Promise<number> {
      if (args.length !== 2 || (args[0] as string).startsWith('-'))
        throw new ToolstackError('USAGE', 'expected DOMAIN MEM');
      const [domain, mem] = args as [string, string];
      const kib = parseMemSizeKb(mem);
      if (kib === -1) {
        io.stderr(`invalid memory size: ${mem}\n`);
        return 1;
      }
      await withDaemon(io.env, (c) => c.call(verb, { domain, kib }));
      return 0;
    },
  };
}

/** The `mem-set` verb. */
export const memSet: CommandSpec = makeVerb('mem-set');
/** The `mem-max` verb. */
export const memMax: CommandSpec = makeVerb('mem-max');
