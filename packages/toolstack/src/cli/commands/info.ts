/**
 * `typevisor info`: facts about this Typevisor build and the host it runs on, in the
 * `key : value` layout of `xl info`.
 */
import { arch, cpus, platform, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { connectDaemon } from '../../daemon/connect.ts';
import { TYPEVISOR_VERSION } from '../../version.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor info [--json]

Print information about the Typevisor build and the host, as \`xl info\` does. When a
daemon is running, total_memory and free_memory are its machine's (as xl reports Xen's),
followed by the daemon's facts.

Options:
  --json   print the same facts as one JSON object
`;

/** Collects the facts `typevisor info` prints. */
export function collectInfo(): Record<string, string | number> {
  const cpuList = cpus();
  return {
    host: platform(),
    machine: arch(),
    nr_cpus: cpuList.length,
    total_memory: Math.floor(totalmem() / (1024 * 1024)),
    typevisor_version: TYPEVISOR_VERSION,
    node_version: process.versions.node,
    cpu_model: cpuList[0]?.model ?? 'unknown',
  };
}

/** The daemon's facts for `info` (its machine memory replaces the OS's), or none. */
async function daemonFacts(
  env: Readonly<Record<string, string | undefined>>,
): Promise<Record<string, string | number> | undefined> {
  let hello: Record<string, unknown>;
  try {
    const c = await connectDaemon(env);
    try {
      hello = await c.call<Record<string, unknown>>('hello');
    } finally {
      c.close();
    }
  } catch {
    return undefined;
  }
  return {
    // Xen's physical CPUs, as xl reports them: the daemon's (`daemon --pcpus`).
    ...(typeof hello.pcpus === 'number' ? { nr_cpus: hello.pcpus } : {}),
    total_memory: Number(hello.totalMemoryMiB),
    free_memory: Number(hello.freeMemoryMiB),
    xen_caps: 'xen-3.0-x86_64',
    nr_domains: Number(hello.domains) + 1,
    daemon_pid: Number(hello.pid),
    daemon_socket: String(hello.socket),
    xenstored_socket: String(hello.xenstoredSocket ?? 'none'),
    time_mode: String(hello.time),
    daemon_uptime: Math.floor(Number(hello.uptimeSec)),
  };
}

/** Formats facts as `xl info` does: the key padded to 23 columns, then `: value`. */
export function formatInfo(facts: Record<string, string | number>): string {
  return Object.entries(facts)
    .map(([k, v]) => `${k.padEnd(23)}: ${v}\n`)
    .join('');
}

/** The `info` verb. */
export const info: CommandSpec = {
  name: 'info',
  summary: 'Print information about the host and this Typevisor build',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } } });
    const facts = { ...collectInfo(), ...(await daemonFacts(io.env)) };
    io.stdout(values.json ? `${JSON.stringify(facts, null, 2)}\n` : formatInfo(facts));
    return 0;
  },
};
