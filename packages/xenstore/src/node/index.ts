/**
 * `@typevisor/xenstore/node`: the daemon's node-specific parts (unix socket server,
 * persistence).
 * @module
 */
export { XenstoreServer, type XenstoreServerOptions } from './server.ts';
