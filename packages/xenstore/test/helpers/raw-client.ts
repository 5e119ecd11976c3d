/** A raw wire-protocol client over a unix socket, for tests: sends messages, collects all replies and events. */
import { connect, type Socket } from 'node:net';
import { encodeMessage, MessageReader, type XsMessage } from '../../src/wire/codec.ts';

export const PING_REQ_ID = 0xfeedbeef;

export class RawClient {
  readonly received: XsMessage[] = [];
  private readonly reader = new MessageReader();
  private waiters: (() => void)[] = [];
  closed = false;
  private readonly socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.reader.push(d, (m) => this.received.push(m));
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const f of this.waiters) f();
      this.waiters = [];
    });
    socket.on('error', () => {});
  }

  static async open(path: string): Promise<RawClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          const s = connect(path, () => resolve(new RawClient(s)));
          s.once('error', reject);
        });
      } catch (err) {
        // A busy daemon's listen backlog can be full for a moment (EAGAIN on unix sockets).
        if ((err as { code?: string }).code !== 'EAGAIN' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops reading from the socket (the daemon's output backs up). */
  pause(): void {
    this.socket.pause();
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(type: number, payload: Uint8Array | string, txId = 0, reqId = 0): void {
    const p = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    this.socket.write(encodeMessage({ type, reqId, txId, payload: p }));
  }

  /** Waits until a message satisfying `pred` has been received (or the socket closes, or timeout). */
  async waitFor(pred: (m: XsMessage) => boolean, timeoutMs = 5000): Promise<XsMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.find(pred);
      if (m !== undefined || this.closed) return m;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Round-trips a request that cannot have side effects, so everything queued before it has arrived. */
  async sync(): Promise<void> {
    this.send(10 /* GET_DOMAIN_PATH */, '0\0', 0, PING_REQ_ID);
    await this.waitFor((m) => m.reqId === PING_REQ_ID);
    const i = this.received.findIndex((m) => m.reqId === PING_REQ_ID);
    if (i >= 0) this.received.splice(i, 1);
  }

  /** Sends a request and waits for its reply (not a watch event). */
  async request(
    type: number,
    payload: Uint8Array | string,
    txId = 0,
  ): Promise<XsMessage | undefined> {
    const before = this.received.length;
    this.send(type, payload, txId, 1);
    const m = await this.waitFor((x) => x.type !== 15 && this.received.indexOf(x) >= before);
    return m;
  }

  take(): XsMessage[] {
    return this.received.splice(0, this.received.length);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function show(m: XsMessage): string {
  const names = [
    'CONTROL',
    'DIRECTORY',
    'READ',
    'GET_PERMS',
    'WATCH',
    'UNWATCH',
    'TRANSACTION_START',
    'TRANSACTION_END',
    'INTRODUCE',
    'RELEASE',
    'GET_DOMAIN_PATH',
    'WRITE',
    'MKDIR',
    'RM',
    'SET_PERMS',
    'WATCH_EVENT',
    'ERROR',
    'IS_DOMAIN_INTRODUCED',
    'RESUME',
    'SET_TARGET',
    '20',
    'RESET_WATCHES',
    'DIRECTORY_PART',
  ];
  return `${names[m.type] ?? m.type} tx=${m.txId} ${JSON.stringify(Buffer.from(m.payload).toString('latin1'))}`;
}
