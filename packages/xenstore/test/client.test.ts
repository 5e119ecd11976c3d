/** The typed async client, in-process and over the unix socket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessTransport, XenstoreClient } from '../src/client.ts';
import { XenstoreError } from '../src/errors.ts';
import { connectSocket, defaultSocketPath } from '../src/node/socket-transport.ts';
import { Xenstore } from '../src/xenstore.ts';
import { type Daemon, startTypevisor } from './helpers/daemons.ts';

describe('XenstoreClient', () => {
  it('reads, writes, lists and removes nodes', async () => {
    const c = new XenstoreClient(inProcessTransport(new Xenstore()));
    await c.write('/vm/a', 'hello');
    await c.mkdir('/vm/b');
    expect(await c.readString('/vm/a')).toBe('hello');
    expect(await c.directory('/vm')).toEqual(['a', 'b']);
    await c.setPerms('/vm/a', ['n0', 'r3']);
    expect(await c.getPerms('/vm/a')).toEqual(['n0', 'r3']);
    expect(await c.exists('/vm/none')).toBe(false);
    await c.rm('/vm');
    expect(await c.exists('/vm')).toBe(false);
    expect(await c.getDomainPath(7)).toBe('/local/domain/7');
    expect(await c.control('print', 'hi')).toBe('OK');
  });

  it('manages domains: introduce, target, resume, release (with @releaseDomain)', async () => {
    const xs = new Xenstore();
    const c = new XenstoreClient(inProcessTransport(xs));
    const w = await c.watch('@releaseDomain');
    await w.next();
    expect(await c.isDomainIntroduced(3)).toBe(false);
    await c.introduceDomain(3, 1234, 5);
    await c.introduceDomain(4, 1235, 6);
    expect(await c.isDomainIntroduced(3)).toBe(true);
    await c.setTarget(4, 3);
    expect(xs.domains.get(4)?.target).toBe(3);
    await c.resumeDomain(3);
    await c.releaseDomain(3);
    expect((await w.next()).value).toEqual({ path: '@releaseDomain', token: 'tv-watch-1' });
    await expect(c.releaseDomain(3)).rejects.toMatchObject({ errno: 'ENOENT' });
    await c.resetWatches();
    expect(xs.connections.values().next().value?.watches).toEqual([]);
  });

  it('lists a directory too long for one reply through DIRECTORY_PART', async () => {
    const xs = new Xenstore();
    const c = new XenstoreClient(inProcessTransport(xs));
    const names = Array.from(
      { length: 300 },
      (_, i) => `a-long-child-name-number-${String(i).padStart(4, '0')}`,
    );
    await c.transaction(async (tx) => {
      for (const n of names) await tx.mkdir(`/big/${n}`);
    });
    expect(await c.directory('/big')).toEqual(names);
  });

  it('rejects with the daemon’s error name', async () => {
    const c = new XenstoreClient(inProcessTransport(new Xenstore()));
    const err = await c.read('/none').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XenstoreError);
    expect((err as XenstoreError).errno).toBe('ENOENT');
    expect((err as XenstoreError).code).toBe('REQUEST_FAILED');
  });

  it('retries a transaction whose commit conflicts (EAGAIN) and commits on the next attempt', async () => {
    const xs = new Xenstore();
    const a = new XenstoreClient(inProcessTransport(xs));
    const b = new XenstoreClient(inProcessTransport(xs));
    await a.write('/counter', '0');
    let attempts = 0;
    const result = await a.transaction(async (tx) => {
      attempts++;
      const n = Number(await tx.readString('/counter'));
      if (attempts === 1) await b.write('/counter', '10');
      await tx.write('/counter', String(n + 1));
      return n + 1;
    });
    expect(attempts).toBe(2);
    expect(result).toBe(11);
    expect(await a.readString('/counter')).toBe('11');
  });

  it('aborts the transaction when the body throws', async () => {
    const c = new XenstoreClient(inProcessTransport(new Xenstore()));
    await expect(
      c.transaction(async (tx) => {
        await tx.write('/t', 'x');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await c.exists('/t')).toBe(false);
  });

  it('delivers watch events through an async iterator until closed', async () => {
    const xs = new Xenstore();
    const c = new XenstoreClient(inProcessTransport(xs));
    const w = await c.watch('/w', 'tok');
    const seen: string[] = [];
    const done = (async () => {
      for await (const ev of w) {
        seen.push(`${ev.path} ${ev.token}`);
        if (seen.length === 3) break;
      }
    })();
    await c.write('/w/a', '1');
    await c.write('/other', '1');
    await c.rm('/w');
    await done;
    expect(seen).toEqual(['/w tok', '/w/a tok', '/w tok']);
    expect(xs.connections.values().next().value?.watches).toEqual([]);
  });

  it('uses XENSTORED_PATH, then XENSTORED_RUNDIR, then /var/run/xenstored like libxenstore', () => {
    expect(defaultSocketPath({ XENSTORED_PATH: '/x/s' })).toBe('/x/s');
    expect(defaultSocketPath({ XENSTORED_RUNDIR: '/r' })).toBe('/r/socket');
    expect(defaultSocketPath({})).toBe('/var/run/xenstored/socket');
  });
});

describe('XenstoreClient over the unix socket', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startTypevisor();
  });
  afterAll(async () => {
    await d.stop();
  });

  it('talks to the daemon and sees other connections’ writes as watch events', async () => {
    const a = new XenstoreClient(await connectSocket(d.socket));
    const b = new XenstoreClient(await connectSocket(d.socket));
    const w = await a.watch('/sock');
    expect((await w.next()).value).toEqual({ path: '/sock', token: 'tv-watch-1' });
    await b.write('/sock/x', 'y');
    expect((await w.next()).value).toEqual({ path: '/sock/x', token: 'tv-watch-1' });
    expect(await a.readString('/sock/x')).toBe('y');
    await w.close();
    a.close();
    await expect(a.read('/sock/x')).rejects.toThrow(/closed/);
    b.close();
  });
});
