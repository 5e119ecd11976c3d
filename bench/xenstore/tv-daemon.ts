/** Typevisor's xenstore daemon as a child process for the benchmarks (no persistence, like the C one). */
import { Xenstore } from '@typevisor/xenstore';
import { XenstoreServer } from '@typevisor/xenstore/node';

const socketPath = process.argv[2];
if (socketPath === undefined) throw new Error('usage: tv-daemon.ts SOCKET');
const server = new XenstoreServer({ socketPath, xenstore: new Xenstore() });
await server.listen();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
