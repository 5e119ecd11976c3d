/**
 * Quotas: `CONTROL quota`/`quota-soft` and the per-domain memory accounting compared with
 * the C xenstored, and the guest-only limits (memory, outstanding requests) that the
 * socket-only reference cannot show, checked through in-process and ring connections.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenstoreRingLayout as L, RingConnection } from '../src/ring.ts';
import { encodeMessage } from '../src/wire/codec.ts';
import { XsType } from '../src/wire/constants.ts';
import { Xenstore } from '../src/xenstore.ts';
import { type Daemon, haveReference, startReference, startTypevisor } from './helpers/daemons.ts';
import { GuestRing } from './helpers/guest-ring.ts';
import { runScript, type Step } from './helpers/script.ts';
import { SyncConn } from './helpers/sync-conn.ts';

const x = (n: number) => 'x'.repeat(n);
const quota = (...args: string[]): Step => [0, 'CONTROL', `${['quota', ...args].join('\0')}\0`];
const soft = (...args: string[]): Step => [0, 'CONTROL', `${['quota-soft', ...args].join('\0')}\0`];

/** Settings, reports, memory accounting and refusals, as a dom0 tool sees them. */
const QUOTA_SCRIPT: Step[] = [
  quota(),
  soft(),
  [0, 'CONTROL', 'help\0'],
  quota('0'),
  quota('1'),
  quota('0', '1'),
  quota('x'),
  [0, 'INTRODUCE', '1\x00100\x005\0'],
  quota('1'),
  [1, 'WATCH', '/g\0gw\0'],
  [1, 'WATCH', 'rel\0tok\0'],
  [1, 'WATCH', '@releaseDomain\0rd\0'],
  quota('0'),
  [0, 'WRITE', '/g\0x'],
  [0, 'SET_PERMS', '/g\0n1\0r0\0'],
  [0, 'WRITE', '/g/a/b\0v'],
  quota('1'),
  quota('0'),
  quota('set', 'memory', '200'),
  quota(),
  [0, 'WRITE', '/g\0small'],
  [0, 'WRITE', `/g\0${x(200)}`],
  [0, 'WRITE', `/g/h\0${x(100)}`],
  [0, 'MKDIR', '/g/k\0'],
  [0, 'WRITE', '/g\0'],
  quota('1'),
  // Transactions: copies of the nodes read or written count until the end; commits are not refused.
  [0, 'TRANSACTION_START', '\0'],
  [0, 'READ', '/g/a/b\0', 1],
  quota('0'),
  [0, 'WRITE', `/g\0${x(300)}`, 1],
  [0, 'RM', '/g/a\0', 1],
  quota('0'),
  quota('1'),
  [0, 'TRANSACTION_END', 'T\0', 1],
  quota('0'),
  quota('1'),
  [0, 'TRANSACTION_START', '\0'],
  [0, 'WRITE', '/other/n\0v', 2],
  [0, 'DIRECTORY', '/\0', 2],
  quota('0'),
  [0, 'TRANSACTION_END', 'F\0', 2],
  quota('0'),
  // Setting quotas: atoi() >= 1, known names only.
  quota('set', 'memory', '0'),
  quota('set', 'memory', '-5'),
  quota('set', 'memory', '12abc'),
  quota('set', 'nodes'),
  quota('set', 'bogus', '5'),
  quota('set', 'path-max', '100', 'extra'),
  quota(),
  quota('set', 'memory', '2621440'),
  soft('set', 'memory', '7'),
  soft('set', 'nodes', '7'),
  soft('set', 'memory'),
  soft('x'),
  soft(),
  // Domains named in permissions get accounting before they are introduced.
  quota('2'),
  [0, 'SET_PERMS', '/other\0n2\0r3\0'],
  quota('2'),
  quota('3'),
  // Releasing a domain removes the nodes it owns, with their subtrees, firing watches.
  [0, 'WRITE', '/local/domain/1/device/vif\0x'],
  [0, 'SET_PERMS', '/local/domain/1\0n1\0'],
  [0, 'WRITE', '/g2/inner\0y'],
  [0, 'SET_PERMS', '/g2/inner\0n1\0'],
  [0, 'WRITE', '/g2/inner/dom0s\0z'],
  quota('1'),
  [1, 'WATCH', '/local\0loc\0'],
  [0, 'RELEASE', '1\0'],
  quota('1'),
  [0, 'READ', '/g\0'],
  [0, 'DIRECTORY', '/\0'],
  [0, 'DIRECTORY', '/local/domain\0'],
  [0, 'DIRECTORY', '/g2\0'],
  [0, 'DIRECTORY_PART', '/\x000\0'],
  quota('0'),
  [1, 'RESET_WATCHES', '\0'],
  quota('0'),
];

describe.skipIf(!haveReference && !process.env.CI)(
  'quota settings and memory accounting, compared with the C xenstored',
  () => {
    let ref: Daemon;
    let tv: Daemon;
    beforeAll(async () => {
      ref = startReference();
      tv = await startTypevisor();
    }, 300_000);
    afterAll(async () => {
      await ref?.stop();
      await tv?.stop();
    });

    it('prints, sets and enforces quotas, and accounts memory byte for byte like xenstored', async () => {
      expect(await runScript(tv.socket, 2, QUOTA_SCRIPT)).toEqual(
        await runScript(ref.socket, 2, QUOTA_SCRIPT),
      );
    });
  },
);

describe.skipIf(!haveReference && !process.env.CI)(
  'quota settings given on the C daemon command line',
  () => {
    let ref: Daemon;
    let tv: Daemon;
    beforeAll(async () => {
      ref = startReference([
        '-E',
        '50',
        '-S',
        '300',
        '-W',
        '9',
        '-t',
        '3',
        '-A',
        '4',
        '-M',
        '700',
        '-Q',
        'transaction-nodes=77',
        '-Q',
        'memory=123456',
        '-Q',
        'outstanding=6',
        '-q',
        'memory=65432',
      ]);
      tv = await startTypevisor({
        quotas: {
          nodes: 50,
          nodeSize: 300,
          watches: 9,
          transactions: 3,
          permissions: 4,
          pathMax: 700,
          transactionNodes: 77,
          memory: 123456,
          outstanding: 6,
          memorySoft: 65432,
        },
      });
    }, 300_000);
    afterAll(async () => {
      await ref?.stop();
      await tv?.stop();
    });

    it('report the same settings as Typevisor given the same quotas', async () => {
      const script: Step[] = [quota(), soft()];
      expect(await runScript(tv.socket, 1, script)).toEqual(await runScript(ref.socket, 1, script));
    });
  },
);

function guestSetup(quotas: Partial<Xenstore['quotas']> = {}) {
  const xs = new Xenstore({ quotas });
  const dom0 = new SyncConn(xs, 0);
  dom0.call('INTRODUCE', '5\x0099\x001\0');
  dom0.call('WRITE', '/local/domain/5\0');
  dom0.call('SET_PERMS', '/local/domain/5\0n5\0r0\0');
  const guest = new SyncConn(xs, 5);
  const memory = () => Number(/memory\s*:\s*(\d+)/.exec(dom0.call('CONTROL', 'quota\x005\0'))?.[1]);
  return { xs, dom0, guest, memory };
}

describe('the memory quota of a guest', () => {
  it('counts its nodes, watches and transaction copies in CONTROL quota <domid>', () => {
    const { guest, memory, dom0 } = guestSetup();
    // /local/domain/5: 24-byte header, two permissions, no value or children, 15-byte path.
    expect(memory()).toBe(24 + 16 + 15);
    guest.call('WRITE', 'a\0hello');
    // the new node (24 + 16 + 5 + 17) and "a\0" in the parent's child list
    expect(memory()).toBe(55 + 62 + 2);
    guest.call('WATCH', 'a\0tok\0');
    expect(memory()).toBe(119 + '/local/domain/5/a'.length + 3);
    expect(dom0.call('CONTROL', 'quota\x005\0')).toMatch(/watches {9}: {8}1\n/);
    const tx = guest.call('TRANSACTION_START', '\0').replace('\0', '');
    guest.call('READ', 'a\0', Number(tx));
    expect(dom0.call('CONTROL', 'quota\x005\0')).toMatch(/transactions {4}: {8}1\n/);
    const withCopy = memory();
    expect(withCopy).toBeGreaterThan(139);
    guest.call('TRANSACTION_END', 'F\0', Number(tx));
    expect(memory()).toBe(139);
    guest.call('RESET_WATCHES', '\0');
    expect(memory()).toBe(119);
  });

  it('refuses node writes and watches that would reach it, and drops events for the guest', () => {
    const { guest, dom0, memory } = guestSetup({ memory: 400 });
    expect(guest.call('WRITE', `a\0${x(200)}`)).toBe('OK\0');
    expect(guest.call('WRITE', `b\0${x(200)}`)).toBe('ERR:EIO');
    expect(guest.call('MKDIR', 'c\0')).toBe('OK\0');
    expect(guest.call('WRITE', `a\0${x(300)}`)).toBe('ERR:ENOENT');
    expect(guest.call('WRITE', `a\0${x(10)}`)).toBe('OK\0');
    // dom0 writing into the guest's nodes is limited by the guest's quota too
    expect(dom0.call('WRITE', `/local/domain/5/a\0${x(300)}`)).toBe('ERR:ENOENT');
    expect(dom0.call('WRITE', `/local/domain/5/big\0${x(300)}`)).toBe('ERR:EIO');
    const before = memory();
    const token = x(400 - before - '/local/domain/5/a'.length);
    expect(guest.call('WATCH', `a\0${token}\0`)).toBe('ERR:ENOMEM');
    expect(guest.call('WATCH', 'a\0t\0')).toBe('OK\0');
    guest.take();
    // At 390 bytes, the 20 bytes of an event (`a\0t\0` plus header) would reach the quota.
    const m0 = memory();
    expect(guest.call('WRITE', `a\0${x(10 + 390 - m0)}`)).toBe('OK\0');
    expect(memory()).toBe(390);
    expect(guest.events()).toEqual([]);
    dom0.call('WRITE', '/local/domain/5/a\0z');
    expect(guest.events()).toEqual(['a\0t\0']);
  });

  it('logs crossing the soft quota once per crossing', () => {
    const lines: string[] = [];
    const xs = new Xenstore({ quotas: { memorySoft: 200 }, log: (l) => lines.push(l) });
    const dom0 = new SyncConn(xs, 0);
    dom0.call('INTRODUCE', '5\x0099\x001\0');
    dom0.call('WRITE', '/local/domain/5\0');
    dom0.call('SET_PERMS', '/local/domain/5\0n5\0r0\0');
    const guest = new SyncConn(xs, 5);
    guest.call('WRITE', `a\0${x(150)}`);
    guest.call('WRITE', `a\0${x(160)}`);
    guest.call('WRITE', 'a\0');
    guest.call('WRITE', 'a\0');
    expect(lines).toEqual([
      'Domain 5 exceeds soft memory quota',
      'Domain 5 below soft memory quota again',
    ]);
  });

  it('keeps the accounting equal to a recount after random guest and dom0 operations', () => {
    const op = fc.oneof(
      fc.tuple(fc.constantFrom('WRITE' as const), fc.constantFrom('a', 'a/b', 'c'), fc.nat(300)),
      fc.tuple(fc.constantFrom('RM' as const, 'MKDIR' as const), fc.constantFrom('a', 'a/b', 'c')),
      fc.tuple(fc.constantFrom('WATCH' as const, 'UNWATCH' as const), fc.constantFrom('a', 'c')),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), op), { maxLength: 40 }), (ops) => {
        const { xs, dom0, guest, memory } = guestSetup({ memory: 1500 });
        for (const [asGuest, [kind, path, n]] of ops) {
          const c = asGuest ? guest : dom0;
          const p = asGuest ? path : `/local/domain/5/${path}`;
          if (kind === 'WRITE') c.call('WRITE', `${p}\0${x(n as number)}`);
          else if (kind === 'WATCH' || kind === 'UNWATCH') c.call(kind, `${p}\0t\0`);
          else c.call(kind, `${p}\0`);
        }
        let nodes = 0;
        for (const node of xs.store.nodes.values()) {
          if (node.perms[0]?.id === 5) nodes += node.size + node.name.length;
        }
        let watches = 0;
        for (const w of guest.conn.watches) watches += w.path.length + w.token.length;
        expect(memory()).toBe(nodes + watches);
        expect(memory()).toBeLessThan(1500);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the outstanding-request quota of a guest ring', () => {
  it('stops reading requests while the guest has that many unread replies, then resumes', () => {
    const xs = new Xenstore({ quotas: { outstanding: 3 } });
    xs.introduceDomain(5, 99, 1);
    const g = new GuestRing(0);
    const ring = new RingConnection(xs, 5, { page: g.page, notify() {} });
    const dom0 = new SyncConn(xs, 0);
    const total = 150;
    let id = 1;
    const fill = () => {
      for (; id <= total; id++) {
        const free =
          1024 - ((g.view.getUint32(L.req_prod, true) - g.view.getUint32(L.req_cons, true)) >>> 0);
        const msg = encodeMessage({
          type: XsType.XS_READ,
          reqId: id,
          txId: 0,
          payload: Buffer.from(`/local/domain/5/n${id}\0`),
        });
        if (msg.length > free) break;
        g.write(msg);
      }
    };
    // The guest sends but never reads: replies fill the response ring, then queue.
    for (let i = 0; i < 10; i++) {
      fill();
      ring.kick();
    }
    const outstanding = () =>
      Number(/outstanding\s*:\s*(\d+)/.exec(dom0.call('CONTROL', 'quota\x005\0'))?.[1]);
    expect(outstanding()).toBeGreaterThanOrEqual(3);
    expect(outstanding()).toBe(ring.conn.outstanding);
    const cons = g.view.getUint32(L.req_cons, true);
    expect(g.view.getUint32(L.req_prod, true)).not.toBe(cons);
    ring.kick();
    expect(g.view.getUint32(L.req_cons, true)).toBe(cons);
    // Once the guest reads, the daemon catches up and answers every request in order.
    for (let i = 0; i < 500 && g.received.length < total; i++) {
      g.read();
      fill();
      ring.kick();
    }
    expect(g.received.map((m) => m.reqId)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(outstanding()).toBe(0);
    expect(ring.conn.queuedBytes).toBe(0);
  });

  it('counts replies as outstanding only until they are in the response ring', () => {
    const xs = new Xenstore({ quotas: { outstanding: 3 } });
    xs.introduceDomain(5, 99, 1);
    const g = new GuestRing(0);
    const ring = new RingConnection(xs, 5, { page: g.page, notify() {} });
    let id = 1;
    const fill = () => {
      for (;;) {
        const used =
          (g.view.getUint32(L.req_prod, true) - g.view.getUint32(L.req_cons, true)) >>> 0;
        const msg = encodeMessage({
          type: XsType.XS_READ,
          reqId: id,
          txId: 0,
          payload: Buffer.from(`/local/domain/5/n${id}\0`),
        });
        if (msg.length > 1024 - used) return;
        g.write(msg);
        id++;
      }
    };
    // Without reading: the response ring fills and replies queue beyond the quota.
    for (let i = 0; i < 3; i++) {
      fill();
      ring.kick();
    }
    expect(ring.conn.outstanding).toBeGreaterThanOrEqual(3);
    expect(g.view.getUint32(L.req_prod, true)).not.toBe(g.view.getUint32(L.req_cons, true));
    // The guest empties the response ring and signals once: the queued replies now fit, so
    // the waiting requests are served in the same kick.
    g.read();
    ring.kick();
    expect(g.view.getUint32(L.req_cons, true)).toBe(g.view.getUint32(L.req_prod, true));
  });
});
