/**
 * `@typevisor/xenstore/node`: the daemon's node-specific parts: the unix-socket server,
 * the client socket transport, and persistence.
 *
 * @example
 * ```ts
 * import { Xenstore, XenstoreClient } from '@typevisor/xenstore';
 * import { connectSocket, XenstoreServer } from '@typevisor/xenstore/node';
 * const server = new XenstoreServer({ socketPath: '/tmp/xs.sock', xenstore: new Xenstore() });
 * await server.listen();
 * const client = new XenstoreClient(await connectSocket('/tmp/xs.sock'));
 * await client.write('/vm/a', 'hello');
 * ```
 * @module
 */
export { crc32, Journal, type JournalOptions } from './journal.ts';
export { XenstoreServer, type XenstoreServerOptions } from './server.ts';
export { connectSocket, defaultSocketPath } from './socket-transport.ts';
