/**
 * `typevisor info`: facts about this Typevisor build and the host it runs on, in the
 * `key : value` layout of `xl info`.
 */
import { arch, cpus, platform, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { TYPEVISOR_VERSION } from '../../version.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor info [--json]

Print information about the Typevisor build and the host, as \`xl info\` does.

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
    const facts = collectInfo();
    io.stdout(values.json ? `${JSON.stringify(facts, null, 2)}\n` : formatInfo(facts));
    return 0;
  },
};
