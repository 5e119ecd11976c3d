/** Runs the same request script against a daemon and returns a normalised transcript. */
import type { XsMessage } from '../../src/wire/codec.ts';
import { XsType } from '../../src/wire/constants.ts';
import { RawClient, show } from './raw-client.ts';

type TypeName = keyof typeof XsType extends `XS_${infer N}` ? N : never;
export type Step = readonly [conn: number, type: TypeName | number, payload: string, txId?: number];

function normalise(m: XsMessage): string {
  if (m.type === XsType.XS_DIRECTORY_PART) {
    // Generation counts are compared too: Typevisor numbers them as xenstored does.
    const s = Buffer.from(m.payload).toString('latin1');
    return `DIRECTORY_PART tx=${m.txId} ${JSON.stringify(s)}`;
  }
  return show(m);
}

export async function runScript(
  socket: string,
  conns: number,
  steps: readonly Step[],
): Promise<string[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < conns; i++) clients.push(await RawClient.open(socket));
  const out: string[] = [];
  try {
    for (const [c, t, payload, tx] of steps) {
      const client = clients[c] as RawClient;
      const type = typeof t === 'number' ? t : XsType[`XS_${t}`];
      const before = client.received.length;
      client.send(type, payload, tx ?? 0, 1);
      await client.waitFor((m) => m.reqId === 1 && client.received.indexOf(m) >= before, 3000);
      for (const other of clients) if (!other.closed) await other.sync();
      const line = clients.map(
        (cl, i) => `${i}: ${cl.take().map(normalise).join(' | ')}${cl.closed ? ' <closed>' : ''}`,
      );
      out.push(
        `${c} ${typeof t === 'number' ? t : t} ${JSON.stringify(payload)} tx=${tx ?? 0}\n  ${line.join('\n  ')}`,
      );
    }
  } finally {
    for (const cl of clients) cl.close();
  }
  return out;
}
