/**
 * Embedding the `typevisor` command line: run verbs in-process with your own output sinks,
 * as a management service or a test harness would.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/toolstack-cli.ts
 */
import { type CliIo, runCli, TYPEVISOR_VERSION } from '@typevisor/toolstack';

let out = '';
const io: CliIo = {
  stdout: (text) => {
    out += text;
  },
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
};

const status = await runCli(['info', '--json'], io);
const facts = JSON.parse(out) as Record<string, string | number>;
console.log(`typevisor ${TYPEVISOR_VERSION}: info exited ${status}`);
console.log(`host has ${facts.nr_cpus} CPUs and ${facts.total_memory} MiB of memory`);
