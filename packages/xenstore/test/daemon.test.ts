/**
 * The socket daemon under malformed input: bad lengths, unknown types, unterminated
 * strings and random bytes get an error reply or cost only the offending connection;
 * everyone else keeps being served and no data is lost.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../src/wire/codec.ts';
import { XsType } from '../src/wire/constants.ts';
import { type Daemon, startTypevisor } from './helpers/daemons.ts';
import { RawClient } from './helpers/raw-client.ts';

describe('the xenstore daemon under malformed input', () => {
  let d: Daemon & { server: { clientCount: number } };
  let good: RawClient;
  beforeAll(async () => {
    d = await startTypevisor();
    good = await RawClient.open(d.socket);
    await good.request(XsType.XS_WRITE, '/precious\0data');
  });
  afterAll(async () => {
    good.close();
    await d.stop();
  });

  async function stillServing(): Promise<void> {
    const r = await good.request(XsType.XS_READ, '/precious\0');
    expect(Buffer.from(r?.payload ?? []).toString()).toBe('data');
  }

  it('drops a connection whose header claims more than 4096 bytes', async () => {
    const bad = await RawClient.open(d.socket);
    const h = encodeMessage({
      type: XsType.XS_WRITE,
      reqId: 0,
      txId: 0,
      payload: new Uint8Array(0),
    });
    new DataView(h.buffer).setUint32(12, 4097, true);
    bad.sendRaw(h);
    await bad.waitFor(() => false, 2000);
    expect(bad.closed).toBe(true);
    await stillServing();
  });

  it('answers unknown types with ENOSYS and unterminated strings with a proper reply', async () => {
    const c = await RawClient.open(d.socket);
    expect(Buffer.from((await c.request(99, 'x'))?.payload ?? []).toString()).toBe('ENOSYS\0');
    expect(
      Buffer.from((await c.request(XsType.XS_WRITE, '/no-nul-anywhere'))?.payload ?? []).toString(),
    ).toBe('EINVAL\0');
    expect(
      Buffer.from(
        (await c.request(XsType.XS_SET_PERMS, '/precious\0q7\0'))?.payload ?? [],
      ).toString(),
    ).toBe('EINVAL\0');
    expect(
      Buffer.from((await c.request(XsType.XS_READ, '/precious'))?.payload ?? []).toString(),
    ).toBe('data');
    c.close();
  });

  it('keeps serving others while clients send random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 8 }),
        async (chunks) => {
          const bad = await RawClient.open(d.socket);
          for (const ch of chunks) bad.sendRaw(ch);
          await new Promise((r) => setTimeout(r, 5));
          bad.close();
          await stillServing();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('disconnects a client that stops reading once its backlog passes the limit', async () => {
    const small = await startTypevisor({}, { maxBacklog: 64 * 1024 });
    try {
      const lazy = await RawClient.open(small.socket);
      lazy.send(XsType.XS_WATCH, '/\0all\0');
      lazy.pause();
      const writer = await RawClient.open(small.socket);
      for (let i = 0; i < 4000 && small.server.clientCount === 2; i++) {
        await writer.request(XsType.XS_WRITE, `/spam/${i % 50}\0${'x'.repeat(1000)}`);
      }
      expect(small.server.clientCount).toBe(1);
      expect(
        Buffer.from((await writer.request(XsType.XS_READ, '/spam/1\0'))?.payload ?? []).length,
      ).toBe(1000);
      writer.close();
      lazy.close();
    } finally {
      await small.stop();
    }
  });

  it('handles requests split into single bytes and many requests in one write', async () => {
    const c = await RawClient.open(d.socket);
    const msg = encodeMessage({
      type: XsType.XS_READ,
      reqId: 42,
      txId: 0,
      payload: Buffer.from('/precious\0'),
    });
    for (const b of msg) c.sendRaw(Uint8Array.of(b));
    const r = await c.waitFor((m) => m.reqId === 42);
    expect(Buffer.from(r?.payload ?? []).toString()).toBe('data');
    const batch = Buffer.concat(
      Array.from({ length: 200 }, (_, i) =>
        encodeMessage({
          type: XsType.XS_READ,
          reqId: 1000 + i,
          txId: 0,
          payload: Buffer.from('/precious\0'),
        }),
      ),
    );
    c.sendRaw(batch);
    await c.waitFor((m) => m.reqId === 1199);
    expect(c.received.filter((m) => m.reqId >= 1000).map((m) => m.reqId)).toEqual(
      Array.from({ length: 200 }, (_, i) => 1000 + i),
    );
    c.close();
  });
});
