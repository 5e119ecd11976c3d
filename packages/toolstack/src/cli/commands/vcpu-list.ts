/** `typevisor vcpu-list [DOMAIN...]`: each vCPU's placement, state and time (`xl vcpu-list`). */
import { parseArgs } from 'node:util';
import { withDaemon } from '../../daemon/connect.ts';
import { formatVcpuList, type VcpuRow } from '../../daemon/xl-format.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `vcpu-list` verb. */
export const vcpuList: CommandSpec = {
  name: 'vcpu-list',
  summary: "List domains' vCPUs",
  usage: `Usage: typevisor vcpu-list [DOMAIN ...]

List the vCPUs of all domains, or of the ones named, as 'xl vcpu-list' does.
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
    const rows = await withDaemon(io.env, async (c) => {
      if (positionals.length === 0) return c.call<VcpuRow[]>('vcpu-list');
      const out: VcpuRow[] = [];
      for (const d of positionals)
        out.push(...(await c.call<VcpuRow[]>('vcpu-list', { domain: d })));
      return out;
    });
    io.stdout(formatVcpuList(rows));
    return 0;
  },
};
