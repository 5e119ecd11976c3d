/**
 * `typevisor network-attach DOMAIN [KEY=VALUE...]`, `network-detach DOMAIN DEVID|MAC` and
 * `network-list DOMAIN...` (`xl network-attach` / `network-detach` / `network-list`).
 */
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { NetworkRow } from '../../host/host-devices.ts';
import type { CliIo, CommandSpec } from '../command.ts';

/** The `network-attach` verb. */
export const networkAttach: CommandSpec = {
  name: 'network-attach',
  summary: 'Create a new virtual network device',
  usage: `Usage: typevisor network-attach DOMAIN [mac=MAC] [bridge=BRIDGE] [ip=IP] [rate=RATE]
                                [vifname=NAME] [script=SCRIPT] [devid=N]

Add a virtual network interface to DOMAIN, as 'xl network-attach' does: the keys are those of
a vif= entry. Without mac= a 00:16:3e MAC is generated; without bridge= it joins xenbr0.
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length < 1 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN [KEY=VALUE...]');
    const [domain, ...parts] = args as [string, ...string[]];
    await withDaemon(io.env, (c) => c.call('network-attach', { domain, spec: parts.join(',') }));
    return 0;
  },
};

/** The `network-detach` verb. */
export const networkDetach: CommandSpec = {
  name: 'network-detach',
  summary: "Destroy a domain's virtual network device",
  usage: `Usage: typevisor network-detach DOMAIN DEVID|MAC

Remove a virtual network interface, named by its device id or MAC, from DOMAIN with libxl's
Closing/Closed handshake (forced when the frontend does not answer within 10 s).
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length !== 2 || (args[0] as string).startsWith('-'))
      throw new ToolstackError('USAGE', 'expected DOMAIN DEVID|MAC');
    const [domain, device] = args as [string, string];
    const r = await withDaemon(io.env, (c) =>
      c.call<{ forced: boolean }>('network-detach', { domain, device }),
    );
    if (r.forced)
      io.stderr(`network-detach: ${device}: the frontend did not close; removed by force\n`);
    return 0;
  },
};

/**
 * xl's `network-list` table: `%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s` for the header,
 * `%-3d %-2d <mac> %6d %5d %6d %5d/%-11d %-30s` for each row.
 */
export function formatNetworkList(rows: readonly NetworkRow[]): string {
  let out = `${'Idx'.padEnd(3)} ${'BE'.padEnd(2)} ${'Mac Addr.'.padEnd(17)} ${'handle'.padEnd(6)} ${'state'.padEnd(5)} ${'evt-ch'.padEnd(6)} ${'tx-'.padStart(5)}/${'rx-ring-ref'.padEnd(5)} ${'BE-path'.padEnd(30)}\n`;
  for (const r of rows) {
    out += `${String(r.idx).padEnd(3)} ${String(r.backendId).padEnd(2)} ${r.mac}${String(r.handle).padStart(6)} ${String(r.state).padStart(5)} ${String(r.evtch).padStart(6)} ${String(r.txRingRef).padStart(5)}/${String(r.rxRingRef).padEnd(11)} ${r.backendPath.padEnd(30)}\n`;
  }
  return out;
}

/** The `network-list` verb. */
export const networkList: CommandSpec = {
  name: 'network-list',
  summary: 'List virtual network interfaces for a domain',
  usage: `Usage: typevisor network-list DOMAIN...

List the virtual network interfaces of each DOMAIN as 'xl network-list' does (state, event
channel and ring references as the frontend wrote them to xenstore).
`,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.length === 0 || args.some((a) => a.startsWith('-')))
      throw new ToolstackError('USAGE', 'expected DOMAIN ...');
    const rows = await withDaemon(io.env, async (c) => {
      const out: NetworkRow[] = [];
      for (const d of args)
        out.push(...(await c.call<NetworkRow[]>('network-list', { domain: d })));
      return out;
    });
    io.stdout(formatNetworkList(rows));
    return 0;
  },
};
