import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Blkback,
  type DeviceSpec,
  MemoryStorage,
  plugDevice,
  unplugDevice,
  waitForState,
} from '../src/index.ts';
import { MemoryFabric, MemoryXenstore } from '../src/testing/index.ts';
import { attach } from './blk-rig.ts';
import { sameBytes } from './ring-helpers.ts';

function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('blkfront and blkback over xenbus', () => {
  it('completes the blkif.h handshake and publishes the keys real frontends read', async () => {
    const { xs, paths, info, back } = await attach();
    expect(info).toMatchObject({
      sectors: 2048,
      sectorSize: 512,
      readOnly: false,
      barrier: true,
      flushCache: true,
      discard: true,
    });
    expect(back.connected).toBe(true);
    expect(xs.get(`${paths.backend}/state`)).toBe('4');
    expect(xs.get(`${paths.frontend}/state`)).toBe('4');
    expect(xs.get(`${paths.frontend}/protocol`)).toBe('x86_64-abi');
    expect(xs.get(`${paths.frontend}/ring-ref`)).toMatch(/^\d+$/);
    expect(xs.get(`${paths.frontend}/event-channel`)).toMatch(/^\d+$/);
    expect(xs.get(`${paths.backend}/sectors`)).toBe('2048');
    expect(xs.get(`${paths.backend}/sector-size`)).toBe('512');
    expect(xs.get(`${paths.backend}/info`)).toBe('0');
    expect(xs.get(`${paths.backend}/feature-max-indirect-segments`)).toBe('256');
  });

  it('reads back what it wrote, direct and indirect, on both ABIs', async () => {
    for (const protocol of ['x86_64-abi', 'x86_32-abi'] as const) {
      const { front, storage } = await attach({ protocol });
      const small = pattern(3 * 512, 1);
      expect(await front.write(10, small)).toBe(0);
      expect(sameBytes(storage.data.subarray(10 * 512, 13 * 512), small)).toBe(true);
      const big = pattern(300 * 512, 2); // 38 pages: one indirect request
      expect(await front.write(100, big)).toBe(0);
      const back = await front.read(100, 300);
      expect(back.status).toBe(0);
      expect(sameBytes(back.data, big)).toBe(true);
      expect((await front.read(10, 3)).data).toEqual(small);
    }
  });

  it('splits large transfers into 11-segment requests when indirect is off', async () => {
    const { front, back } = await attach({ indirect: false });
    const big = pattern(200 * 512, 3);
    expect(await front.write(0, big)).toBe(0);
    expect(back.metrics.writes).toBe(Math.ceil(200 / 88));
    expect(sameBytes((await front.read(0, 200)).data, big)).toBe(true);
  });

  it('keeps data intact under random concurrent I/O with barriers and flushes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            kind: fc.constantFrom('read', 'write', 'write', 'barrier', 'flush', 'discard'),
            sector: fc.nat(1000),
            count: fc.integer({ min: 1, max: 40 }),
            seed: fc.nat(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (ops) => {
          const { front, storage, fabric } = await attach({ sectors: 1100 });
          const model = new Uint8Array(1100 * 512);
          // Writes in one batch must not overlap (the block layer's rule); issue overlapping
          // ones in a later batch.
          let batch: Promise<unknown>[] = [];
          let busy: [number, number][] = [];
          const reads: [Promise<{ data: Uint8Array }>, Uint8Array][] = [];
          for (const op of ops) {
            const end = op.sector + op.count;
            const overlaps = busy.some(([a, b]) => op.sector < b && a < end);
            if (overlaps || op.kind === 'barrier') {
              await Promise.all(batch);
              batch = [];
              busy = [];
            }
            if (op.kind === 'write' || op.kind === 'barrier') {
              const data = pattern(op.count * 512, op.seed);
              model.set(data, op.sector * 512);
              const p =
                op.kind === 'write'
                  ? front.write(op.sector, data)
                  : front.writeBarrier(op.sector, data);
              batch.push(p.then((s) => expect(s).toBe(0)));
              busy.push([op.sector, end]);
            } else if (op.kind === 'read') {
              const p = front.read(op.sector, op.count);
              reads.push([p, model.slice(op.sector * 512, end * 512)]);
              batch.push(p);
              busy.push([op.sector, end]);
            } else if (op.kind === 'discard') {
              model.fill(0, op.sector * 512, end * 512);
              batch.push(front.discard(op.sector, op.count).then((s) => expect(s).toBe(0)));
              busy.push([op.sector, end]);
            } else {
              batch.push(front.flush().then((s) => expect(s).toBe(0)));
            }
          }
          await Promise.all(batch);
          for (const [p, expected] of reads) expect(sameBytes((await p).data, expected)).toBe(true);
          expect(sameBytes(storage.data, model)).toBe(true);
          expect(front.inFlight).toBe(0);
          expect(fabric.activeMappings(5)).toBe(1); // just the ring
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps many requests in flight at once and waits for ring slots when full', async () => {
    const { front, back } = await attach();
    const jobs = [];
    for (let i = 0; i < 100; i++) jobs.push(front.write(i * 8, pattern(4096, i)));
    expect(front.inFlight).toBeGreaterThan(1);
    expect((await Promise.all(jobs)).every((s) => s === 0)).toBe(true);
    expect(back.metrics.writes).toBe(100);
  });

  it('serves a read-only device: reads work, writes fail with BLKIF_RSP_ERROR', async () => {
    const { front, info, storage } = await attach({ mode: 'r' });
    expect(info?.readOnly).toBe(true);
    expect(await front.write(0, new Uint8Array(512).fill(1))).toBe(-1);
    expect(storage.counters.writes).toBe(0);
    expect((await front.read(0, 1)).status).toBe(0);
  });

  it("serves a shared writable (w!) image to two domains, each seeing the other's writes", async () => {
    const shared = new MemoryStorage(64);
    const one = await attach({ mode: 'w!', storage: shared });
    const two = await attach({ mode: 'w!', storage: shared });
    expect([one.info?.readOnly, two.info?.readOnly]).toEqual([false, false]);
    expect(await one.front.write(0, pattern(4096, 1))).toBe(0);
    expect(await two.front.write(8, pattern(4096, 2))).toBe(0);
    expect((await two.front.read(0, 8)).data).toEqual(pattern(4096, 1));
    expect((await one.front.read(8, 8)).data).toEqual(pattern(4096, 2));
  });

  it('fails reads past the end of the disk with BLKIF_RSP_ERROR', async () => {
    const { front } = await attach({ sectors: 16 });
    const r = await front.read(12, 8);
    expect(r.status).toBe(-1);
    expect(r.data.length).toBe(0);
  });

  it('hot-unplugs: frontend closes, backend reaches Closed, grants and channels are released', async () => {
    const { xs, spec, paths, front, back, fabric } = await attach();
    await front.write(0, new Uint8Array(512).fill(9));
    await unplugDevice(xs.client(), spec);
    expect(back.connected).toBe(false);
    expect(xs.get(`${paths.backend}/state`)).toBeUndefined();
    expect(xs.dump(paths.frontend)).toEqual({});
    expect(fabric.activeMappings(5)).toBe(0);
    expect(fabric.activeGrants(5)).toBe(0);
    await back.stop();
  });

  it('unplugs a device whose frontend never connected', async () => {
    const xs = new MemoryXenstore();
    const fabric = new MemoryFabric();
    const spec: DeviceSpec = { type: 'vbd', devid: 768, backendDomid: 0, frontendDomid: 2 };
    const paths = await plugDevice(xs.client(), spec);
    const back = new Blkback({
      xenbus: xs.client(),
      backendPath: paths.backend,
      mapper: fabric.domain(0).mapper,
      events: fabric.domain(0).events,
      storage: new MemoryStorage(8),
    });
    await back.start();
    expect(await waitForState(xs.client(), paths.backend, (s) => s === 2)).toBe(2);
    await unplugDevice(xs.client(), spec);
    expect(xs.dump('/local/domain/0/backend/vbd/2')).toEqual({
      '/local/domain/0/backend/vbd/2': '',
    });
    await back.stop();
  });

  it('closes instead of connecting when the frontend publishes a bad ring-ref', async () => {
    const xs = new MemoryXenstore();
    const fabric = new MemoryFabric();
    const spec: DeviceSpec = { type: 'vbd', devid: 768, backendDomid: 0, frontendDomid: 2 };
    const paths = await plugDevice(xs.client(), spec);
    const back = new Blkback({
      xenbus: xs.client(),
      backendPath: paths.backend,
      mapper: fabric.domain(0).mapper,
      events: fabric.domain(0).events,
      storage: new MemoryStorage(8),
    });
    await back.start();
    const c = xs.client();
    await c.write(`${paths.frontend}/ring-ref`, '4242');
    await c.write(`${paths.frontend}/event-channel`, '1');
    await c.write(`${paths.frontend}/state`, '3');
    expect(await waitForState(c, paths.backend, (s) => s === 5)).toBe(5);
    expect(back.lastError).toMatch(/cannot map ring-ref 4242/);
    expect(back.connected).toBe(false);
    await back.stop();
  });
});

describe('4 KiB logical sectors', () => {
  it('advertises sector-size 4096 and refuses I/O that is not 4 KiB aligned', async () => {
    const { front, xs, paths } = await attach({
      storage: new MemoryStorage(64, { sectorSize: 4096 }),
    });
    expect(xs.get(`${paths.backend}/sector-size`)).toBe('4096');
    expect(front.info?.sectorSize).toBe(4096);
    expect(await front.write(8, new Uint8Array(4096).fill(3))).toBe(0);
    expect(await front.write(9, new Uint8Array(4096))).toBe(-1); // sector 9 is not 4 KiB aligned
    expect(await front.write(16, new Uint8Array(512))).toBe(-1); // shorter than a logical sector
    expect((await front.read(8, 8)).data[4095]).toBe(3);
  });
});
