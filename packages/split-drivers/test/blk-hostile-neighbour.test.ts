import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Blkback,
  BlkbackQueue,
  Blkfront,
  blkifCodecs,
  MemoryStorage,
  plugDevice,
  sharedRingInit,
} from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';
import { sameBytes } from './ring-helpers.ts';

const codecs = blkifCodecs('x86_64-abi');
if (codecs === undefined) throw new Error('codecs');
const SECTORS = 256;

function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** One step: the hostile domain scribbles on its ring page and kicks, the good one does I/O. */
const step = fc.record({
  scribble: fc.array(
    fc.record({
      // Mostly the first entries, sometimes the indices or anywhere in the page.
      at: fc.oneof(
        { arbitrary: fc.integer({ min: 64, max: 64 + 4 * 112 }), weight: 6 },
        { arbitrary: fc.nat(15), weight: 1 },
        { arbitrary: fc.nat(4095), weight: 2 },
      ),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    { maxLength: 6 },
  ),
  useRealRef: fc.boolean(),
  /** How far the hostile frontend moves req_prod (beyond the ring size: an overflow). */
  produce: fc.oneof(
    { arbitrary: fc.nat(8), weight: 20 },
    { arbitrary: fc.nat(0xffffffff), weight: 1 },
  ),
  sector: fc.nat(SECTORS - 16),
  sectors: fc.integer({ min: 1, max: 16 }),
  seed: fc.integer(),
});

describe('blkback next to a hostile frontend', () => {
  it('keeps serving a well-behaved domain correctly whatever another writes into its ring (property)', async () => {
    let hostileRequests = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const fabric = new MemoryFabric();
        // The hostile domain 8: a raw ring page it fully controls, served by a queue in dom0.
        const evil = fabric.domain(8);
        const ringPage = new Uint8Array(4096);
        sharedRingInit(ringPage);
        const mapped = fabric
          .domain(0)
          .mapper.mapGrant(8, evil.grants.grantAccess(0, ringPage, false), false);
        if (typeof mapped === 'number') throw new Error('map');
        const evilPages = [new Uint8Array(4096).fill(0x55), new Uint8Array(4096).fill(0x66)];
        const rwRef = evil.grants.grantAccess(0, evilPages[0] as Uint8Array, false);
        const roRef = evil.grants.grantAccess(0, evilPages[1] as Uint8Array, true);
        const evilDisk = new MemoryStorage(64);
        const evilQueue = new BlkbackQueue({
          ring: mapped.page,
          codecs,
          frontendDomid: 8,
          mapper: fabric.domain(0).mapper,
          storage: evilDisk,
          writable: true,
          notify: () => {},
          maxIndirectSegments: 32,
          barrier: true,
          flushCache: true,
        });

        // The well-behaved domain 9: blkfront over xenbus against a Blkback in dom0.
        const xs = new MemoryXenstore();
        const paths = await plugDevice(xs.client(), {
          type: 'vbd',
          devid: 51712,
          backendDomid: 0,
          frontendDomid: 9,
        });
        const disk = new MemoryStorage(SECTORS);
        const back = new Blkback({
          xenbus: xs.client(),
          backendPath: paths.backend,
          mapper: fabric.domain(0).mapper,
          events: fabric.domain(0).events,
          storage: disk,
        });
        await back.start();
        const good = fabric.domain(9);
        const front = new Blkfront({
          xenbus: xs.client(),
          frontendPath: paths.frontend,
          grants: good.grants,
          pages: good.pages,
          events: good.events,
        });
        await front.connect();
        const model = new Uint8Array(SECTORS * 512);
        let evilProd = 0;

        for (const s of steps) {
          for (const w of s.scribble) {
            ringPage.set(w.bytes.subarray(0, 4096 - w.at), w.at);
            if (s.useRealRef && w.at >= 64) {
              // Plant a real grant ref where a segment's gref sits, so some requests map.
              new DataView(ringPage.buffer).setUint32(
                64 + 24,
                w.at % 2 === 0 ? rwRef : roRef,
                true,
              );
            }
          }
          evilProd = (evilProd + s.produce) >>> 0;
          new DataView(ringPage.buffer).setUint32(0, evilProd, true); // req_prod
          evilQueue.kick(); // not awaited: runs alongside the good domain's I/O
          const data = pattern(s.sectors * 512, s.seed);
          expect(await front.write(s.sector, data)).toBe(0);
          model.set(data, s.sector * 512);
          const r = await front.read(s.sector, s.sectors);
          expect(r.status).toBe(0);
          const want = model.subarray(s.sector * 512, (s.sector + s.sectors) * 512);
          expect(sameBytes(r.data, want)).toBe(true);
        }
        await evilQueue.idle();
        hostileRequests += evilQueue.metrics.requests;
        expect(sameBytes(disk.data, model)).toBe(true); // nothing of the hostile domain's reached our disk
        expect(back.metrics.errors).toBe(0);
        // The hostile backend queue holds no mapping beyond the ring; the read-only page is intact.
        expect(fabric.activeMappings(8)).toBe(1);
        expect((evilPages[1] as Uint8Array).every((b) => b === 0x66)).toBe(true);
        expect(fabric.activeMappings(9)).toBe(1);
        await front.close();
        await back.stop();
      }),
      { numRuns: 60 },
    );
    expect(hostileRequests).toBeGreaterThan(100); // the hostile rings really were served
  });
});
