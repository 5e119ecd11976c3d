/**
 * `typevisor shutdown` and `typevisor reboot`: ask a guest to power off or reboot by writing
 * `poweroff` or `reboot` to its `control/shutdown` xenstore node, as xl does for PV guests
 * (libxl takes every PV guest to have the PV control interface, so it never refuses one; the
 * "PV control interface not available" error is for HVM guests without PV drivers). A guest
 * that does not watch the node (GRUB) keeps running, and `-w` waits for it as xl does. `-w`
 * waits until the domain has shut down or is gone; what then happens to it is its
 * `on_poweroff` / `on_reboot` action (host/host-lifecycle.ts).
 * @see tools/xl/xl_vmcontrol.c (main_shutdown_or_reboot), tools/libs/light/libxl_domain.c
 *   (libxl__domain_pvcontrol_available)
 */
import { parseArgs } from 'node:util';
import type { DaemonClient } from '../../daemon/client.ts';
import { withDaemon } from '../../daemon/connect.ts';
import type { DomainListEntry } from '../../daemon/daemon.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

function usage(verb: 'shutdown' | 'reboot'): string {
  const what = verb === 'shutdown' ? 'shut down' : 'reboot';
  return `Usage: typevisor ${verb} [-a] [-w] DOMAIN

Ask DOMAIN to ${what} (writes control/shutdown in xenstore, as 'xl ${verb}' does).

Options:
  -a, --all    every domain (except dom0)
  -w, --wait   wait until the domain has shut down or been destroyed
`;
}

async function request(
  c: DaemonClient,
  verb: 'shutdown' | 'reboot',
  domains: readonly string[],
  wait: boolean,
  io: CliIo,
): Promise<void> {
  const ids: number[] = [];
  for (const d of domains) {
    const [row] = await c.call<DomainListEntry[]>('list', { domain: d });
    if (row === undefined || row.domid === 0)
      throw new ToolstackError('USAGE', `dom0 cannot be asked to ${verb} here`);
    ids.push(row.domid);
  }
  for (const id of ids) {
    io.stderr(`${verb === 'shutdown' ? 'Shutting down' : 'Rebooting'} domain ${id}\n`);
  }
  if (wait) io.stderr(`Waiting for ${ids.length} domains\n`);
  await Promise.all(
    ids.map(async (id) => {
      const r = await c.call<{ outcome?: string; reason?: number }>('shutdown', {
        domain: String(id),
        reboot: verb === 'reboot',
        wait,
      });
      if (!wait) return;
      io.stderr(
        r.outcome === 'destroyed'
          ? `Domain ${id} has been destroyed.\n`
          : `Domain ${id} has been shut down, reason code ${r.reason ?? -1}\n`,
      );
    }),
  );
  if (wait) io.stderr('All domains have been shut down\n');
}

function makeVerb(verb: 'shutdown' | 'reboot'): CommandSpec {
  return {
    name: verb,
    summary: verb === 'shutdown' ? 'Ask a domain to shut down' : 'Ask a domain to reboot',
    usage: usage(verb),
    async run(args: readonly string[], io: CliIo): Promise<number> {
      const { values, positionals } = parseArgs({
        args: [...args],
        allowPositionals: true,
        options: {
          all: { type: 'boolean', short: 'a' },
          wait: { type: 'boolean', short: 'w' },
        },
      });
      if (values.all !== true && positionals.length !== 1)
        throw new ToolstackError('USAGE', 'expected one DOMAIN (or -a)');
      await withDaemon(io.env, async (c) => {
        const domains =
          values.all === true
            ? (await c.call<DomainListEntry[]>('list'))
                .filter((r) => r.domid !== 0)
                .map((r) => String(r.domid))
            : positionals;
        await request(c, verb, domains, values.wait === true, io);
      });
      return 0;
    },
  };
}

/** The `shutdown` verb. */
export const shutdown: CommandSpec = makeVerb('shutdown');
/** The `reboot` verb. */
export const reboot: CommandSpec = makeVerb('reboot');
