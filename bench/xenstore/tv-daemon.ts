/**
 * Typevisor's xenstore daemon as a child process for the benchmarks: in memory like the C
 * one, or with `STATE_DIR` durable through a journal (one `fdatasync` per event-loop turn
 * that acknowledges changes).
 */
import { Xenstore } from '@typevisor/xenstore';
import { Journal, XenstoreServer } from '@typevisor/xenstore/node';

const socketPath = process.argv[2];
const stateDir = process.argv[3];
if (socketPath === undefined) throw new Error('usage: tv-daemon.ts SOCKET [STATE_DIR]');
const journal = stateDir === undefined ? undefined : Journal.open(stateDir);
const server = new XenstoreServer({
  socketPath,
  xenstore: journal?.xs ?? new Xenstore(),
  ...(journal ? { beforeReply: () => journal.sync() } : {}),
});
await server.listen();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void server.close().then(() => {
    journal?.close();
    process.exit(0);
  });
});
