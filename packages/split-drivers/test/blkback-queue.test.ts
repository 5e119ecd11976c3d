import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLKIF_OP,
  BLKIF_RSP,
  BlkbackQueue,
  type BlkifRequest,
  type BlkifResponse,
  type BlkifSegment,
  type BlockStorage,
  blkifCodecs,
  encodeSegment,
  FrontRing,
  MemoryStorage,
  sharedRingInit,
} from '../src/index.ts';
import { MemoryFabric } from '../src/testing/index.ts';
import { sameBytes } from './ring-helpers.ts';

const codecs = blkifCodecs('x86_64-abi');
if (codecs === undefined) throw new Error('codecs');
const DISK_SECTORS = 64;

/** A hand-driven (possibly hostile) frontend in domain `domid` against a queue in domain 0. */
function rig(options: { writable?: boolean; domid?: number; fabric?: MemoryFabric } = {}) {
  const fabric = options.fabric ?? new MemoryFabric();
  const domid = options.domid ?? 1;
  const guest = fabric.domain(domid);
  const back = fabric.domain(0);
  const ringPage = new Uint8Array(4096);
  sharedRingInit(ringPage);
  const front = new FrontRing<BlkifRequest, BlkifResponse>(
    ringPage,
    codecs!.request,
    codecs!.response,
  );
  const contents = new Uint8Array((DISK_SECTORS + 16) * 512);
  for (let i = 0; i < contents.length; i++) contents[i] = (i * 7 + (i >> 9)) & 0xff;
  // The disk the backend serves is the first DISK_SECTORS of a larger one, so a range check
  // the backend forgot would show up as a write past the end rather than a storage error.
  const inner = new MemoryStorage(DISK_SECTORS + 16, { contents });
  const storage: BlockStorage & {
    data: Uint8Array;
    durable: Uint8Array;
    counters: MemoryStorage['counters'];
  } = {
    sectors: DISK_SECTORS,
    sectorSize: 512,
    readOnly: false,
    data: inner.data,
    durable: inner.durable,
    counters: inner.counters,
    read: (s, d) => inner.read(s, d),
    write: (s, d) => inner.write(s, d),
    flush: () => inner.flush(),
    discard: (s, n) => inner.discard(s, n),
  };
  const ringRef = guest.grants.grantAccess(0, ringPage, false);
  const mapped = back.mapper.mapGrant(domid, ringRef, false);
  if (typeof mapped === 'number') throw new Error('ring map');
  let notifications = 0;
  const queue = new BlkbackQueue({
    ring: mapped.page,
    codecs: codecs!,
    frontendDomid: domid,
    mapper: back.mapper,
    storage,
    writable: options.writable ?? true,
    notify: () => notifications++,
    maxIndirectSegments: 64,
    barrier: true,
    flushCache: true,
  });
  /** Pages the guest owns: index → page, with refs granted rw, ro, or to another domain. */
  const pages: Uint8Array[] = [];
  const refs = { rw: [] as number[], ro: [] as number[], foreign: [] as number[] };
  for (let i = 0; i < 4; i++) {
    const rwPage = new Uint8Array(4096).fill(0x10 + i);
    const roPage = new Uint8Array(4096).fill(0x20 + i);
    const fPage = new Uint8Array(4096).fill(0x30 + i);
    pages.push(rwPage, roPage, fPage);
    refs.rw.push(guest.grants.grantAccess(0, rwPage, false));
    refs.ro.push(guest.grants.grantAccess(0, roPage, true));
    refs.foreign.push(guest.grants.grantAccess(7, fPage, false));
  }
  const send = async (req: BlkifRequest): Promise<BlkifResponse | undefined> => {
    front.putRequest(req);
    front.pushRequests();
    queue.kick();
    await queue.idle();
    return front.takeResponse();
  };
  return {
    fabric,
    guest,
    front,
    queue,
    storage,
    pages,
    refs,
    send,
    ringPage,
    notifications: () => notifications,
  };
}

function rwReq(
  op: number,
  sector: number,
  segments: BlkifSegment[],
  nrSegments = segments.length,
): BlkifRequest {
  return {
    kind: 'rw',
    operation: op,
    nrSegments,
    handle: 0,
    id: 99n,
    sectorNumber: BigInt(sector),
    segments,
  };
}

describe('blkback request handling', () => {
  it('reads into writable grants and writes from read-only grants, echoing id and operation', async () => {
    const r = rig();
    const rsp = await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_READ, 8, [{ gref: r.refs.rw[0]!, firstSect: 2, lastSect: 3 }]),
    );
    expect(rsp).toEqual({ id: 99n, operation: 0, status: BLKIF_RSP.BLKIF_RSP_OKAY });
    expect(r.pages[0]!.subarray(1024, 2048)).toEqual(r.storage.data.subarray(8 * 512, 10 * 512));
    expect(r.pages[0]![1023]).toBe(0x10); // outside the segment: untouched
    expect(r.pages[0]![2048]).toBe(0x10);
    const w = await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_WRITE, 20, [{ gref: r.refs.ro[1]!, firstSect: 0, lastSect: 7 }]),
    );
    expect(w?.status).toBe(BLKIF_RSP.BLKIF_RSP_OKAY);
    expect(r.storage.data.subarray(20 * 512, 28 * 512).every((b) => b === 0x21)).toBe(true);
    expect(r.queue.metrics).toMatchObject({
      requests: 2,
      reads: 1,
      writes: 1,
      bytesRead: 1024,
      bytesWritten: 4096,
    });
    expect(r.fabric.activeMappings(1)).toBe(1); // only the ring stays mapped
  });

  it('fails each kind of bad request with BLKIF_RSP_ERROR and touches neither disk nor guest pages', async () => {
    const r = rig();
    const rw0 = r.refs.rw[0]!;
    const bad: [string, BlkifRequest][] = [
      ['first > last', rwReq(0, 0, [{ gref: rw0, firstSect: 5, lastSect: 4 }])],
      ['last_sect 8', rwReq(0, 0, [{ gref: rw0, firstSect: 0, lastSect: 8 }])],
      ['no segments', rwReq(0, 0, [])],
      ['12 segments', rwReq(0, 0, [{ gref: rw0, firstSect: 0, lastSect: 0 }], 12)],
      ['past the end', rwReq(0, DISK_SECTORS - 1, [{ gref: rw0, firstSect: 0, lastSect: 1 }])],
      ['huge sector', rwReq(1, 0, [{ gref: rw0, firstSect: 0, lastSect: 0 }])],
      ['bad gref', rwReq(0, 0, [{ gref: 12345, firstSect: 0, lastSect: 0 }])],
      [
        'read into read-only grant',
        rwReq(0, 0, [{ gref: r.refs.ro[0]!, firstSect: 0, lastSect: 0 }]),
      ],
      [
        'grant to someone else',
        rwReq(1, 0, [{ gref: r.refs.foreign[0]!, firstSect: 0, lastSect: 0 }]),
      ],
      [
        'second segment bad',
        rwReq(0, 0, [
          { gref: rw0, firstSect: 0, lastSect: 7 },
          { gref: 4242, firstSect: 0, lastSect: 7 },
        ]),
      ],
      [
        'indirect with bad op',
        {
          kind: 'indirect',
          operation: 6,
          indirectOp: 3,
          nrSegments: 1,
          id: 1n,
          sectorNumber: 0n,
          handle: 0,
          indirectGrefs: [rw0],
        },
      ],
      [
        'indirect too many segments',
        {
          kind: 'indirect',
          operation: 6,
          indirectOp: 0,
          nrSegments: 65,
          id: 1n,
          sectorNumber: 0n,
          handle: 0,
          indirectGrefs: [rw0],
        },
      ],
      [
        'discard past the end',
        {
          kind: 'discard',
          operation: 5,
          flag: 0,
          handle: 0,
          id: 1n,
          sectorNumber: 60n,
          nrSectors: 5n,
        },
      ],
    ];
    // Make the "huge sector" case really huge.
    (bad[5]![1] as { sectorNumber: bigint }).sectorNumber = 0xffff_ffff_ffff_fff0n;
    const disk = r.storage.data.slice();
    const guestPages = r.pages.map((p) => p.slice());
    for (const [name, req] of bad) {
      const rsp = await r.send(req);
      expect(rsp?.status, name).toBe(BLKIF_RSP.BLKIF_RSP_ERROR);
    }
    expect(sameBytes(r.storage.data, disk)).toBe(true);
    for (const [i, p] of r.pages.entries()) expect(sameBytes(p, guestPages[i])).toBe(true);
    expect(r.queue.metrics.errors).toBe(bad.length);
    expect(r.fabric.activeMappings(1)).toBe(1);
  });

  it('answers unknown operations and secure discard with EOPNOTSUPP', async () => {
    const r = rig();
    for (const op of [4, 7, 200]) {
      expect((await r.send(rwReq(op, 0, [])))?.status).toBe(BLKIF_RSP.BLKIF_RSP_EOPNOTSUPP);
    }
    const d = await r.send({
      kind: 'discard',
      operation: 5,
      flag: 1,
      handle: 0,
      id: 1n,
      sectorNumber: 0n,
      nrSectors: 1n,
    });
    expect(d?.status).toBe(BLKIF_RSP.BLKIF_RSP_EOPNOTSUPP);
  });

  it('refuses every write-type request on a read-only device', async () => {
    const r = rig({ writable: false });
    const seg = [{ gref: r.refs.ro[0]!, firstSect: 0, lastSect: 0 }];
    for (const op of [
      BLKIF_OP.BLKIF_OP_WRITE,
      BLKIF_OP.BLKIF_OP_WRITE_BARRIER,
      BLKIF_OP.BLKIF_OP_FLUSH_DISKCACHE,
    ]) {
      expect((await r.send(rwReq(op, 0, seg)))?.status).toBe(BLKIF_RSP.BLKIF_RSP_ERROR);
    }
    const d = await r.send({
      kind: 'discard',
      operation: 5,
      flag: 0,
      handle: 0,
      id: 1n,
      sectorNumber: 0n,
      nrSectors: 1n,
    });
    expect(d?.status).toBe(BLKIF_RSP.BLKIF_RSP_ERROR);
    expect(r.storage.counters.writes + r.storage.counters.discards).toBe(0);
    const ok = await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_READ, 0, [{ gref: r.refs.rw[0]!, firstSect: 0, lastSect: 0 }]),
    );
    expect(ok?.status).toBe(BLKIF_RSP.BLKIF_RSP_OKAY);
  });

  it('makes barrier writes durable and flushes earlier writes first', async () => {
    const r = rig();
    await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_WRITE, 0, [{ gref: r.refs.ro[0]!, firstSect: 0, lastSect: 0 }]),
    );
    expect(r.storage.durable[0]).not.toBe(0x20);
    await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_WRITE_BARRIER, 8, [
        { gref: r.refs.ro[1]!, firstSect: 0, lastSect: 0 },
      ]),
    );
    expect(r.storage.durable[0]).toBe(0x20);
    expect(r.storage.durable[8 * 512]).toBe(0x21);
    await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_WRITE, 16, [{ gref: r.refs.ro[2]!, firstSect: 0, lastSect: 0 }]),
    );
    expect(r.storage.durable[16 * 512]).not.toBe(0x22);
    expect((await r.send(rwReq(BLKIF_OP.BLKIF_OP_FLUSH_DISKCACHE, 0, [])))?.status).toBe(0);
    expect(r.storage.durable[16 * 512]).toBe(0x22);
  });

  it('reads segment lists from granted indirect pages', async () => {
    const r = rig();
    const ind = new Uint8Array(4096);
    const v = new DataView(ind.buffer);
    // 3 segments: rw pages 0..2 (indices 0, 3, 6 in r.pages), 8 sectors each.
    for (let i = 0; i < 3; i++)
      encodeSegment(v, i * 8, { gref: r.refs.rw[i]!, firstSect: 0, lastSect: 7 });
    const indRef = r.guest.grants.grantAccess(0, ind, true);
    const rsp = await r.send({
      kind: 'indirect',
      operation: 6,
      indirectOp: 0,
      nrSegments: 3,
      id: 5n,
      sectorNumber: 16n,
      handle: 0,
      indirectGrefs: [indRef, 0, 0, 0, 0, 0, 0, 0],
    });
    expect(rsp).toEqual({ id: 5n, operation: 0, status: 0 });
    for (let i = 0; i < 3; i++) {
      expect(r.pages[i * 3]).toEqual(
        r.storage.data.subarray((16 + 8 * i) * 512, (24 + 8 * i) * 512),
      );
    }
  });

  it('abandons a ring whose frontend claims more requests than fit, and keeps serving other domains', async () => {
    const fabric = new MemoryFabric();
    const evil = rig({ fabric, domid: 1 });
    const good = rig({ fabric, domid: 2 });
    new DataView(evil.ringPage.buffer).setUint32(0, 1000, true);
    evil.queue.kick();
    await evil.queue.idle();
    expect(evil.queue.broken).toBe(true);
    expect(evil.queue.metrics.ringOverflows).toBe(1);
    const rsp = await good.send(
      rwReq(0, 0, [{ gref: good.refs.rw[0]!, firstSect: 0, lastSect: 7 }]),
    );
    expect(rsp?.status).toBe(0);
  });

  it('never writes outside what a hostile frontend granted writable, and releases every mapping (property)', async () => {
    const segArb = (r: ReturnType<typeof rig>) => {
      const anySeg = fc.record({
        gref: fc.oneof(
          fc.constantFrom(...r.refs.rw, ...r.refs.ro, ...r.refs.foreign),
          fc.nat(0xffffffff),
        ),
        firstSect: fc.nat(9),
        lastSect: fc.nat(9),
      });
      const plausible = fc
        .record({ gref: fc.constantFrom(...r.refs.rw, ...r.refs.ro), a: fc.nat(7), b: fc.nat(7) })
        .map(({ gref, a, b }) => ({ gref, firstSect: Math.min(a, b), lastSect: Math.max(a, b) }));
      return fc.oneof({ arbitrary: plausible, weight: 6 }, { arbitrary: anySeg, weight: 1 });
    };
    const probe = rig();
    const tally = { ok: 0, failed: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom(0, 0, 1, 1, 2, 3, 4, 5, 6, 9),
            sector: fc.oneof(
              { arbitrary: fc.nat(DISK_SECTORS + 4), weight: 5 },
              { arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), weight: 1 },
            ),
            segs: fc.oneof(
              { arbitrary: fc.array(segArb(probe), { maxLength: 3 }), weight: 4 },
              { arbitrary: fc.array(segArb(probe), { maxLength: 12 }), weight: 1 },
            ),
            nr: fc.oneof(
              { arbitrary: fc.constant(undefined), weight: 8 },
              { arbitrary: fc.nat(255), weight: 1 },
            ),
            corruptProd: fc.oneof(
              { arbitrary: fc.constant(undefined), weight: 15 },
              { arbitrary: fc.nat(0xffffffff), weight: 1 },
            ),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (reqs) => {
          const r = rig();
          const before = r.pages.map((p) => p.slice());
          const tail = r.storage.data.slice(DISK_SECTORS * 512);
          // Unique ids, so every response is judged against the request it answers (a corrupted
          // req_prod can make the backend serve a stale slot late).
          const sent = new Map<bigint, BlkifRequest>();
          for (const q of reqs) {
            const id = BigInt(1000 + sent.size);
            const sector = typeof q.sector === 'bigint' ? q.sector : BigInt(q.sector);
            let req: BlkifRequest;
            if (q.op === 5) {
              req = {
                kind: 'discard',
                operation: 5,
                flag: 0,
                handle: 0,
                id,
                sectorNumber: sector,
                nrSectors: BigInt(q.segs.length),
              };
            } else if (q.op === 6) {
              req = {
                kind: 'indirect',
                operation: 6,
                indirectOp: q.segs.length % 3,
                nrSegments: q.nr ?? q.segs.length,
                id,
                sectorNumber: sector,
                handle: 0,
                indirectGrefs: q.segs.map((s) => s.gref).slice(0, 8),
              };
            } else {
              req = {
                kind: 'rw',
                operation: q.op,
                nrSegments: q.nr ?? q.segs.length,
                handle: 0,
                id,
                sectorNumber: sector,
                segments: q.segs.slice(0, 11),
              };
            }
            if (r.front.isFull()) break;
            sent.set(id, req);
            r.front.putRequest(req);
            r.front.pushRequests();
            if (q.corruptProd !== undefined)
              new DataView(r.ringPage.buffer).setUint32(0, q.corruptProd, true);
            r.queue.kick();
            await r.queue.idle();
            for (
              let rsp = r.front.takeResponse();
              rsp !== undefined;
              rsp = r.front.takeResponse()
            ) {
              expect([0, -1, -2]).toContain(rsp.status);
              tally[rsp.status === 0 ? 'ok' : 'failed']++;
              const answered = sent.get(rsp.id);
              if (answered?.kind === 'rw') {
                expect(rsp.status === 0).toBe(expectedOkay(answered, r.refs));
              }
            }
            if (r.queue.broken) break;
          }
          // Only pages granted writable to the backend may have changed.
          r.pages.forEach((p, i) => {
            if (i % 3 !== 0) expect(sameBytes(p, before[i])).toBe(true);
          });
          expect(r.fabric.activeMappings(1)).toBe(1);
          expect(sameBytes(r.storage.data.subarray(DISK_SECTORS * 512), tail)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    // The generator reaches both outcomes, so the oracle above was really exercised.
    expect(tally.ok).toBeGreaterThan(20);
    expect(tally.failed).toBeGreaterThan(20);
  });
});

/** Independent statement of which read/write/barrier/flush requests must succeed. */
function expectedOkay(req: BlkifRequest, refs: { rw: number[]; ro: number[] }): boolean {
  if (req.kind !== 'rw' || req.operation > 3 || req.nrSegments > 11) return false;
  const segs: BlkifSegment[] = [];
  for (let i = 0; i < req.nrSegments; i++)
    segs.push(req.segments[i] ?? { gref: 0, firstSect: 0, lastSect: 0 });
  if (segs.length === 0 && req.operation < 2) return false;
  let total = 0n;
  for (const s of segs) {
    if (s.firstSect > s.lastSect || s.lastSect > 7) return false;
    const allowed = req.operation === 0 ? refs.rw : [...refs.rw, ...refs.ro];
    if (!allowed.includes(s.gref)) return false;
    total += BigInt(s.lastSect - s.firstSect + 1);
  }
  return req.sectorNumber + total <= BigInt(DISK_SECTORS);
}

describe('blkback queue state', () => {
  it('resumes on a restored queue exactly where the saved one stopped', async () => {
    const r = rig();
    await r.send(
      rwReq(BLKIF_OP.BLKIF_OP_WRITE, 0, [{ gref: r.refs.ro[0]!, firstSect: 0, lastSect: 0 }]),
    );
    const saved = JSON.parse(JSON.stringify(r.queue.getState()));
    await r.queue.stop();
    // Requests pushed while the backend is away (e.g. during migration of the driver domain).
    r.front.putRequest(
      rwReq(BLKIF_OP.BLKIF_OP_READ, 0, [{ gref: r.refs.rw[1]!, firstSect: 0, lastSect: 0 }]),
    );
    r.front.pushRequests();
    const mapped = r.fabric.domain(0).mapper.mapGrant(1, 8 + 0, false); // the ring was the first grant
    if (typeof mapped === 'number') throw new Error('map');
    const restored = BlkbackQueue.fromState(saved, {
      ring: mapped.page,
      codecs: blkifCodecs('x86_64-abi')!,
      frontendDomid: 1,
      mapper: r.fabric.domain(0).mapper,
      storage: r.storage,
      writable: true,
      notify: () => {},
      maxIndirectSegments: 0,
      barrier: true,
      flushCache: true,
    });
    expect(restored.metrics.writes).toBe(1);
    restored.kick();
    await restored.idle();
    expect(r.front.takeResponse()).toMatchObject({ operation: 0, status: 0 }); // served after restore
    expect(r.front.takeResponse()).toBeUndefined();
    expect(restored.getState().ring).toEqual({ reqCons: 2, rspProdPvt: 2 });
  });
});
