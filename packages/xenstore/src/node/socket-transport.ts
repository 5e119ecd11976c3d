/**
 * A {@link ClientTransport} over the daemon's unix socket, and the socket-path rules of
 * Xen's client library (`XENSTORED_PATH`, then `XENSTORED_RUNDIR/socket`, then
 * `/var/run/xenstored/socket`).
 *
 * @see tools/libs/store/xs.c (`xs_daemon_socket`)
 * @module
 */
import { connect } from 'node:net';
import type { ClientTransport } from '../client.ts';
import { XenstoreError } from '../errors.ts';
import { encodeMessage, MessageReader, type XsMessage } from '../wire/codec.ts';

/** The socket path libxenstore would use with this environment. */
export function defaultSocketPath(env: Readonly<Record<string, string | undefined>>): string {
  const path = env.XENSTORED_PATH;
  if (path !== undefined && path !== '') return path;
  return `${env.XENSTORED_RUNDIR || '/var/run/xenstored'}/socket`;
}

/** Connects to a daemon's unix socket; resolves once connected. */
export function connectSocket(path: string): Promise<ClientTransport> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const reader = new MessageReader();
    let receive: (msg: XsMessage) => void = () => {};
    let closed: (reason: string) => void = () => {};
    socket.once('error', (err) => {
      reject(new XenstoreError('IO', `cannot connect to ${path}: ${err.message}`, { cause: err }));
    });
    socket.on('connect', () => {
      socket.setNoDelay?.(true);
      socket.on('error', (err) => closed(err.message));
      socket.on('close', () => closed('connection closed by the daemon'));
      socket.on('data', (chunk: Buffer) => {
        if (!reader.push(chunk, (m) => receive(m))) {
          closed('malformed message from the daemon');
          socket.destroy();
        }
      });
      resolve({
        send: (msg) => {
          socket.write(encodeMessage(msg));
        },
        onMessage: (h) => {
          receive = h;
        },
        onClose: (h) => {
          closed = h;
        },
        close: () => {
          socket.destroy();
        },
      });
    });
  });
}
