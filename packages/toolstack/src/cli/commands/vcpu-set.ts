/**
 * `typevisor vcpu-set DOMAIN N` (`xl vcpu-set`): marks vCPUs 0..N-1 online and the others
 * offline in the guest's `cpu/<n>/availability`, which a PV guest watches to hot-plug vCPUs.
 */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `vcpu-set` verb. */
export const vcpuSet: CommandSpec = {
  name: 'vcpu-set',
  summary: 'Set the number of active vCPUs allowed for the domain',
  usage: `Usage: typevisor vcpu-set DOMAIN N

Set the number of vCPUs DOMAIN may use to N (1 to its maxvcpus), as 'xl vcpu-set' does for a
PV guest: cpu/<n>/availability in its xenstore directory becomes "online" for vCPUs 0 to N-1
and "offline" for the others; the guest brings vCPUs up or down itself.
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length !== 2 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN N');
    const [domain, n] = args as [string, string];
    if (!/^\d+$/.test(n)) {
      io.stderr(`Invalid vcpus: ${n}\n`);
      return 1;
    }
    await withDaemon(io.env, (c) => c.call('vcpu-set', { domain, count: Number(n) }));
    return 0;
  },
};
