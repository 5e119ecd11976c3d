/**
 * `typevisor top [-b] [-i N] [-d SECS]` (`xl top`, i.e. xentop): CPU, memory, network and
 * block counters per domain. `-b` prints batch snapshots (xentop's batch format); on a terminal
 * without `-b` the table is redrawn every SECS until interrupted.
 */
import { parseArgs } from 'node:util';
import { connectDaemon } from '../../daemon/connect.ts';
import type { TopRow, TopSnapshot } from '../../daemon/resource-rpc.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor top [-b] [-i ITERATIONS] [-d DELAY]

Show each domain's CPU, memory, network and block usage, as 'xl top' (xentop) does.

Options:
  -b, --batch            print snapshots as text (xentop's batch mode) instead of redrawing
  -i, --iterations N     number of snapshots (batch default 1)
  -d, --delay SECS       seconds between snapshots (default 3)
`;

const HEADER =
  '      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID';

/** Formats one snapshot in xentop's batch columns; CPU(%) comes from the previous snapshot. */
export function formatTop(snap: TopSnapshot, prev: TopSnapshot | undefined): string {
  const dt = prev === undefined ? 0 : (snap.systemTimeNs - prev.systemTimeNs) / 1e9;
  const lines = [HEADER];
  for (const r of snap.rows) {
    const before = prev?.rows.find((p) => p.domid === r.domid);
    const pct = before === undefined || dt <= 0 ? 0 : ((r.cpuSec - before.cpuSec) / dt) * 100;
    lines.push(row(r, pct, snap.totalKiB));
  }
  return `${lines.join('\n')}\n`;
}

function row(r: TopRow, cpuPct: number, totalKiB: number): string {
  const n = (v: number, w: number): string => String(Math.floor(v)).padStart(w);
  const f = (v: number, w: number): string => v.toFixed(1).padStart(w);
  return [
    r.name.padStart(10),
    r.state.padStart(6),
    n(r.cpuSec, 10),
    f(Math.max(0, cpuPct), 6),
    n(r.memKiB, 10),
    f((r.memKiB / totalKiB) * 100, 6),
    r.maxMemKiB < 0 ? '  no limit' : n(r.maxMemKiB, 10),
    r.maxMemKiB < 0 ? '      n/a' : f((r.maxMemKiB / totalKiB) * 100, 9),
    n(r.vcpus, 5),
    n(r.nets, 4),
    n(r.netTxKiB, 8),
    n(r.netRxKiB, 8),
    n(r.vbds, 4),
    n(r.vbdOo, 8),
    n(r.vbdRd, 8),
    n(r.vbdWr, 8),
    n(r.vbdRsect, 10),
    n(r.vbdWsect, 10),
    n(0, 4),
  ].join(' ');
}

function positive(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0) throw new ToolstackError('USAGE', `invalid ${name}: "${v}"`);
  return x;
}

/** The `top` verb. */
export const top: CommandSpec = {
  name: 'top',
  summary: 'Monitor a host and the domains in real time',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        batch: { type: 'boolean', short: 'b' },
        iterations: { type: 'string', short: 'i' },
        delay: { type: 'string', short: 'd' },
      },
    });
    if (positionals.length > 0) throw new ToolstackError('USAGE', 'unexpected arguments');
    const interactive = values.batch !== true && process.stdout.isTTY === true;
    const iterations = positive('iterations', values.iterations, interactive ? Infinity : 1);
    const delayMs = positive('delay', values.delay, 3) * 1000;
    const client = await connectDaemon(io.env);
    try {
      let prev: TopSnapshot | undefined;
      for (let i = 0; i < iterations; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, delayMs));
        const snap = await client.call<TopSnapshot>('top');
        const table = formatTop(snap, prev);
        if (interactive) {
          const used = snap.totalKiB - snap.freeKiB;
          io.stdout(
            `\x1b[H\x1b[2Jtypevisor top - ${new Date().toTimeString().slice(0, 8)}\n${snap.rows.length} domains\nMem: ${snap.totalKiB}k total, ${used}k used, ${snap.freeKiB}k free    CPUs: ${snap.cpus}\n\n${table}`,
          );
        } else io.stdout(table);
        prev = snap;
      }
    } finally {
      client.close();
    }
    return 0;
  },
};
