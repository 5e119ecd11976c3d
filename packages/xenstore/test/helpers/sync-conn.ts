/** A synchronous in-process connection for tests: every request returns what the store sent. */

import type { XenstoreConnection } from '../../src/connection.ts';
import type { XsMessage } from '../../src/wire/codec.ts';
import { XsType } from '../../src/wire/constants.ts';
import { Xenstore } from '../../src/xenstore.ts';

type TypeName = keyof typeof XsType extends `XS_${infer N}` ? N : never;

export interface Sent {
  type: string;
  tx: number;
  text: string;
}

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(XsType).map(([k, v]) => [v, k.slice(3)]),
);

export function text(m: XsMessage): string {
  return Buffer.from(m.payload).toString('latin1');
}

export class SyncConn {
  readonly inbox: XsMessage[] = [];
  readonly conn: XenstoreConnection;
  readonly xs: Xenstore;
  constructor(xs: Xenstore, domid: number) {
    this.xs = xs;
    this.conn = xs.connect(domid, (m) => this.inbox.push(m));
  }

  /** Sends a request; returns everything this connection received because of it. */
  req(type: TypeName, payload: string, tx = 0): Sent[] {
    this.xs.handle(this.conn, {
      type: XsType[`XS_${type}`],
      reqId: 7,
      txId: tx,
      payload: Buffer.from(payload, 'latin1'),
    });
    return this.take();
  }

  /** The reply payload as text, or `ERR:<name>`. */
  call(type: TypeName, payload: string, tx = 0): string {
    const out = this.req(type, payload, tx).filter((m) => m.type !== 'WATCH_EVENT');
    const r = out[out.length - 1];
    if (r === undefined) return '<none>';
    return r.type === 'ERROR' ? `ERR:${r.text.replace(/\0$/, '')}` : r.text;
  }

  take(): Sent[] {
    return this.inbox
      .splice(0)
      .map((m) => ({ type: NAMES[m.type] ?? String(m.type), tx: m.txId, text: text(m) }));
  }

  events(): string[] {
    return this.take()
      .filter((m) => m.type === 'WATCH_EVENT')
      .map((m) => m.text);
  }
}

export function store(options: ConstructorParameters<typeof Xenstore>[0] = {}): Xenstore {
  return new Xenstore(options);
}
