/**
 * Hostile input through the dispatcher: structured random sequences (fast-check) and two
 * million cheap random messages. The store must answer every request exactly once with a
 * reply or an error name from xs_wire.h, never throw, and keep the tree consistent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { XenstoreConnection } from '../src/connection.ts';
import { nodeMemory } from '../src/node.ts';
import type { XsMessage } from '../src/wire/codec.ts';
import { XSD_ERRORS, XsType } from '../src/wire/constants.ts';
import { Xenstore } from '../src/xenstore.ts';

function checkTree(xs: Xenstore): void {
  const nodes = xs.store.nodes;
  expect(nodes.get('/')).toBeDefined();
  let owned = 0;
  for (const [path, n] of nodes) {
    expect(n.name).toBe(path);
    expect(n.perms.length).toBeGreaterThan(0);
    for (const c of n.children)
      expect(nodes.has(path === '/' ? `/${c}` : `${path}/${c}`)).toBe(true);
    expect(new Set(n.children).size).toBe(n.children.length);
    if (path !== '/') {
      const parent = nodes.get(path.slice(0, path.lastIndexOf('/')) || '/');
      expect(parent?.children).toContain(path.slice(path.lastIndexOf('/') + 1));
    }
  }
  for (const v of xs.store.owners.values()) owned += v;
  expect(owned).toBe(nodes.size);
  // The memory quota's per-owner accounting equals a recount of the records.
  const memory = new Map<number, number>();
  for (const n of nodes.values()) {
    const owner = n.perms[0]?.id ?? 0;
    memory.set(owner, (memory.get(owner) ?? 0) + nodeMemory(n));
  }
  expect(new Map(xs.store.memory)).toEqual(memory);
  // Watch memory of every connection equals its watches' paths and tokens.
  for (const c of xs.connections) {
    let w = 0;
    for (const watch of c.watches) w += watch.path.length + watch.token.length;
    expect(c.watchMemory).toBe(w);
  }
}

const ERRORS = new Set(XSD_ERRORS.map((e) => `${e}\0`));

class Harness {
  readonly xs = new Xenstore({ quotas: { nodes: 200 } });
  readonly conns: XenstoreConnection[] = [];
  readonly got: XsMessage[][] = [];
  constructor() {
    this.xs.handle(
      this.xs.connect(0, () => {}),
      { type: XsType.XS_INTRODUCE, reqId: 0, txId: 0, payload: Buffer.from('5\x001\x001\0') },
    );
    for (const domid of [0, 0, 5]) {
      const i = this.conns.length;
      this.got.push([]);
      this.conns.push(this.xs.connect(domid, (m) => this.got[i]?.push(m)));
    }
  }
  send(i: number, msg: XsMessage): void {
    const conn = this.conns[i] as XenstoreConnection;
    if (conn.closed) return;
    const inbox = this.got[i] as XsMessage[];
    inbox.length = 0;
    this.xs.handle(conn, msg);
    const replies = inbox.filter((m) => m.type !== XsType.XS_WATCH_EVENT);
    expect(replies.length).toBe(1);
    const r = replies[0] as XsMessage;
    expect(r.reqId).toBe(msg.reqId);
    expect(r.txId).toBe(msg.txId);
    expect(r.payload.length).toBeLessThanOrEqual(4096);
    if (r.type === XsType.XS_ERROR)
      expect(ERRORS.has(Buffer.from(r.payload).toString('latin1'))).toBe(true);
    else expect(r.type).toBe(msg.type);
  }
}

const FRAGMENTS = [
  '/',
  'a',
  'b',
  '/a',
  '/a/b',
  'local/domain/5',
  '@introduceDomain',
  '@releaseDomain',
  '\0',
  '\0',
  '\0',
  'T',
  'F',
  'n0',
  'r5',
  'b5',
  'w1',
  '0',
  '1',
  '5',
  '-1',
  '99999999999',
  '//',
  '..',
  ' ',
  'x'.repeat(300),
  'print',
  'quota',
  'log',
  'on',
  'set',
  'nodes',
];

describe('random requests through the dispatcher', () => {
  it('answers structured hostile sequences once each and keeps the tree consistent', () => {
    const part = fc.oneof(
      fc.constantFrom(...FRAGMENTS),
      fc.string({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const msg = fc.record({
      conn: fc.integer({ min: 0, max: 2 }),
      type: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constant(0xffff), fc.nat()),
      txId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.nat()),
      payload: fc
        .array(part, { maxLength: 6 })
        .map((ps) => Buffer.from(ps.join(''), 'latin1').subarray(0, 4096)),
    });
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 60 }), (msgs) => {
        const h = new Harness();
        let reqId = 1;
        for (const m of msgs)
          h.send(m.conn, { type: m.type, reqId: reqId++, txId: m.txId, payload: m.payload });
        checkTree(h.xs);
      }),
      { numRuns: 500 },
    );
  });

  it('survives two million cheap random messages', () => {
    const h = new Harness();
    let seed = 0x9e3779b9;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const frags = FRAGMENTS.map((f) => Buffer.from(f, 'latin1'));
    const buf = new Uint8Array(4096);
    const N = 2_000_000;
    for (let i = 0; i < N; i++) {
      let len = 0;
      const parts = rnd(5);
      for (let p = 0; p < parts; p++) {
        const f = frags[rnd(frags.length)] as Buffer;
        const n = Math.min(f.length, 4096 - len);
        buf.set(f.subarray(0, n), len);
        len += n;
      }
      if (rnd(8) === 0) for (let k = rnd(6); k > 0 && len < 4096; k--) buf[len++] = rnd(256);
      const conn = rnd(3);
      const c = h.conns[conn] as XenstoreConnection;
      if (c.closed) continue;
      const inbox = h.got[conn] as XsMessage[];
      inbox.length = 0;
      h.xs.handle(c, {
        type: rnd(24),
        reqId: i,
        txId: rnd(4) === 0 ? rnd(4) : 0,
        payload: buf.slice(0, len),
      });
      let replies = 0;
      for (const m of inbox) if (m.type !== XsType.XS_WATCH_EVENT) replies++;
      if (replies !== 1) expect.fail(`request ${i} got ${replies} replies`);
      if (i % 250_000 === 0) checkTree(h.xs);
    }
    checkTree(h.xs);
  }, 60_000);
});
