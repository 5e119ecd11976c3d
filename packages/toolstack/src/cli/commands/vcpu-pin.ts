/**
 * `typevisor vcpu-pin DOMAIN VCPU|all HARD [SOFT]` (`xl vcpu-pin`): a vCPU's hard affinity (the
 * physical CPUs the scheduler may run it on) and, for display, its soft affinity.
 */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `vcpu-pin` verb. */
export const vcpuPin: CommandSpec = {
  name: 'vcpu-pin',
  summary: 'Set which CPUs a vCPU can use',
  usage: `Usage: typevisor vcpu-pin DOMAIN VCPU|all HARD [SOFT]

Set the hard affinity of vCPU VCPU of DOMAIN (or of all its vCPUs) to the physical CPUs in
HARD, as 'xl vcpu-pin' does: "all", a list such as "0-1,3", or "^2" to leave one out; "-"
keeps the current one. SOFT is recorded and shown by vcpu-list (no scheduler here uses it).
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const rest = args.filter((a) => a !== '-f' && a !== '--force');
    if (rest.length < 3 || rest.length > 4 || (rest[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN VCPU|all HARD [SOFT]');
    const [domain, vcpu, hard, soft] = rest as [string, string, string, string | undefined];
    if (vcpu !== 'all' && !/^\d+$/.test(vcpu)) {
      io.stderr(`Invalid vcpu: ${vcpu}\n`);
      return 1;
    }
    await withDaemon(io.env, (c) =>
      c.call('vcpu-pin', {
        domain,
        vcpu: vcpu === 'all' ? 'all' : Number(vcpu),
        hard,
        ...(soft === undefined ? {} : { soft }),
      }),
    );
    return 0;
  },
};
