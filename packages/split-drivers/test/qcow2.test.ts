import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BlockStorage,
  MemoryByteStore,
  parseQcow2Header,
  Qcow2Storage,
  RawStorage,
  SplitDriversError,
} from '../src/index.ts';
import { attach } from './blk-rig.ts';
import { FileByteStore } from './file-byte-store.ts';
import { sameBytes } from './ring-helpers.ts';

const haveQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'split-drivers-qcow2-'));
afterAll(async () => {
  await FileByteStore.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `qemu-img check`: exit status 0 means no corruption and no leaks. */
function qemuCheck(path: string): { status: number | null; out: string } {
  const r = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function qemuToRaw(path: string): Uint8Array {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}.raw`);
  execFileSync('qemu-img', ['convert', '-O', 'raw', path, out]);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

async function openFile(name: string, readOnly = false): Promise<Qcow2Storage> {
  const store = await FileByteStore.open(join(dir, name));
  return Qcow2Storage.open(store, {
    readOnly,
    openBacking: async (backing, format) => {
      const s = await FileByteStore.open(join(dir, backing));
      return format === 'raw'
        ? RawStorage.open(s, { readOnly: true })
        : Qcow2Storage.open(s, { readOnly: true });
    },
  });
}

describe('qcow2 storage in memory', () => {
  it('reads zeros from a fresh image and reads back writes across clusters', async () => {
    const q = await Qcow2Storage.create(new MemoryByteStore(), { size: 4 << 20, clusterBits: 12 });
    expect(q.sectors).toBe(8192);
    const z = new Uint8Array(4096).fill(1);
    await q.read(100, z);
    expect(z.every((b) => b === 0)).toBe(true);
    const data = pattern(20 * 512, 3);
    await q.write(5, data); // unaligned, spans 4 KiB clusters
    const back = new Uint8Array(20 * 512);
    await q.read(5, back);
    expect(sameBytes(back, data)).toBe(true);
  });

  it('agrees with a flat model under random writes and discards, and after reopening (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            sector: fc.nat(2000),
            count: fc.integer({ min: 1, max: 40 }),
            seed: fc.nat(),
            discard: fc.boolean(),
          }),
          {
            maxLength: 25,
          },
        ),
        fc.constantFrom(9, 12, 16),
        async (writes, clusterBits) => {
          const store = new MemoryByteStore();
          const q = await Qcow2Storage.create(store, { size: 2048 * 512, clusterBits });
          const model = new Uint8Array(2048 * 512);
          for (const w of writes) {
            const count = Math.min(w.count, 2048 - w.sector);
            if (count <= 0) continue;
            if (w.discard) {
              // Whole clusters inside the range read as zeros; partial ones keep their data.
              await q.discard(w.sector, count);
              const c = 2 ** clusterBits;
              const from = Math.ceil((w.sector * 512) / c) * c;
              const to = Math.floor(((w.sector + count) * 512) / c) * c;
              if (to > from) model.fill(0, from, to);
              continue;
            }
            const d = pattern(count * 512, w.seed);
            await q.write(w.sector, d);
            model.set(d, w.sector * 512);
          }
          const all = new Uint8Array(model.length);
          await q.read(0, all);
          expect(sameBytes(all, model)).toBe(true);
          const again = await Qcow2Storage.open(new MemoryByteStore(store.bytes()));
          const all2 = new Uint8Array(model.length);
          await again.read(0, all2);
          expect(sameBytes(all2, model)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects foreign and corrupt images with BAD_IMAGE and out-of-range access with INVALID_ARGUMENT', async () => {
    await expect(
      Qcow2Storage.open(new MemoryByteStore(new Uint8Array(4096))),
    ).rejects.toMatchObject({ code: 'BAD_IMAGE' });
    const store = new MemoryByteStore();
    await Qcow2Storage.create(store, { size: 1 << 20 });
    const bytes = store.bytes();
    new DataView(bytes.buffer).setUint32(20, 40); // cluster_bits
    expect(() => parseQcow2Header(bytes)).toThrow(SplitDriversError);
    const q = await Qcow2Storage.open(store);
    expect(() => q.read(2048, new Uint8Array(512))).toThrow(/outside the disk/);
  });
});

describe.skipIf(!haveQemuImg && !process.env.CI)('qcow2 images checked with qemu-img', () => {
  it('writes images that pass qemu-img check and convert back identically', async () => {
    const store = await FileByteStore.open(join(dir, 'ours.qcow2'), true);
    const q = await Qcow2Storage.create(store, { size: 16 << 20 });
    const model = new Uint8Array(16 << 20);
    for (let i = 0; i < 60; i++) {
      const sector = (i * 7919) % 32000;
      const d = pattern(((i % 9) + 1) * 512 * 17, i);
      const count = Math.min(d.length / 512, 32768 - sector);
      await q.write(sector, d.subarray(0, count * 512));
      model.set(d.subarray(0, count * 512), sector * 512);
    }
    await q.flush();
    await store.close();
    const check = qemuCheck(join(dir, 'ours.qcow2'));
    expect(check.out).toContain('No errors were found');
    expect(check.status).toBe(0);
    expect(sameBytes(qemuToRaw(join(dir, 'ours.qcow2')), model)).toBe(true);
  });

  it('reads images qemu-img wrote, and writes to them without breaking them', async () => {
    const raw = pattern(3 << 20, 77);
    raw.fill(0, 1 << 20, 2 << 20); // a hole qemu-img leaves unallocated
    writeFileSync(join(dir, 'src.raw'), raw);
    execFileSync('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'qcow2',
      join(dir, 'src.raw'),
      join(dir, 'theirs.qcow2'),
    ]);
    const q = await openFile('theirs.qcow2');
    const all = new Uint8Array(raw.length);
    await q.read(0, all);
    expect(sameBytes(all, raw)).toBe(true);
    const d = pattern(70000 - (70000 % 512), 5);
    await q.write(2047, d); // straddles allocated and unallocated clusters
    raw.set(d, 2047 * 512);
    await q.flush();
    expect(qemuCheck(join(dir, 'theirs.qcow2')).status).toBe(0);
    expect(sameBytes(qemuToRaw(join(dir, 'theirs.qcow2')), raw)).toBe(true);
  });

  it('serves overlays made by qemu-img create -b as copy-on-write disks, leaving the base untouched', async () => {
    const base = pattern(4 << 20, 11);
    writeFileSync(join(dir, 'base.raw'), base);
    execFileSync('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'qcow2',
      join(dir, 'base.raw'),
      join(dir, 'base.qcow2'),
    ]);
    execFileSync(
      'qemu-img',
      ['create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', join(dir, 'overlay.qcow2')],
      {
        cwd: dir,
      },
    );
    const baseBefore = readFileSync(join(dir, 'base.qcow2'));
    const q = await openFile('overlay.qcow2');
    expect(q.backing).toBeDefined();
    const all = new Uint8Array(base.length);
    await q.read(0, all);
    expect(sameBytes(all, base)).toBe(true);
    const model = base.slice();
    for (const [sector, len] of [
      [1, 3],
      [200, 300],
      [8000, 1],
    ] as const) {
      const d = pattern(len * 512, sector);
      await q.write(sector, d);
      model.set(d, sector * 512);
    }
    await q.flush();
    await q.read(0, all);
    expect(sameBytes(all, model)).toBe(true);
    expect(Buffer.compare(readFileSync(join(dir, 'base.qcow2')), baseBefore)).toBe(0);
    expect(qemuCheck(join(dir, 'overlay.qcow2')).status).toBe(0);
    expect(sameBytes(qemuToRaw(join(dir, 'overlay.qcow2')), model)).toBe(true);
  });

  it('discards whole clusters through blkback: freed, read as zeros, still clean for qemu-img', async () => {
    const path = join(dir, 'discard.qcow2');
    const store = await FileByteStore.open(path, true);
    const q = await Qcow2Storage.create(store, { size: 1 << 20 }); // 16 clusters of 64 KiB
    const model = pattern(1 << 20, 3);
    const { front, xs, paths } = await attach({ storage: q });
    expect(xs.get(`${paths.backend}/feature-discard`)).toBe('1');
    expect(xs.get(`${paths.backend}/discard-granularity`)).toBe('65536');
    expect(await front.write(0, model)).toBe(0);
    // Sectors 100..700: cluster 0 partly (kept), clusters 1..4 wholly (freed), cluster 5 partly.
    expect(await front.discard(100, 600)).toBe(0);
    model.fill(0, 65536, 5 * 65536);
    expect(sameBytes((await front.read(0, 2048)).data, model)).toBe(true);
    expect(await front.flush()).toBe(0);
    expect(qemuCheck(path).out).toContain('No errors were found');
    expect(sameBytes(qemuToRaw(path), model)).toBe(true);
    // Writing into a discarded cluster allocates it again, still cleanly.
    const d = pattern(4096, 9);
    expect(await front.write(300, d)).toBe(0);
    model.set(d, 300 * 512);
    await front.flush();
    await front.close();
    await store.close();
    expect(qemuCheck(path).status).toBe(0);
    expect(sameBytes(qemuToRaw(path), model)).toBe(true);
  });

  it('discards in qemu-img overlays (v3: zeros, not the base) and v2 images (unallocated)', async () => {
    writeFileSync(join(dir, 'dbase.raw'), pattern(1 << 20, 31));
    execFileSync(
      'qemu-img',
      ['create', '-f', 'qcow2', '-b', 'dbase.raw', '-F', 'raw', join(dir, 'dov.qcow2')],
      { cwd: dir },
    );
    execFileSync('qemu-img', [
      'create',
      '-f',
      'qcow2',
      '-o',
      'compat=0.10',
      join(dir, 'v2.qcow2'),
      '1M',
    ]);
    const ov = await openFile('dov.qcow2');
    const v2 = await openFile('v2.qcow2');
    expect(v2.header.version).toBe(2);
    const expectedOv = pattern(1 << 20, 31);
    const expectedV2 = new Uint8Array(1 << 20);
    for (const [q, expected] of [
      [ov, expectedOv],
      [v2, expectedV2],
    ] as const) {
      await q.write(128, pattern(65536 * 2, 8)); // clusters 1 and 2
      expected.set(pattern(65536 * 2, 8), 65536);
      await q.discard(128, 128); // cluster 1 only
      expected.fill(0, 65536, 2 * 65536);
      const all = new Uint8Array(1 << 20);
      await q.read(0, all);
      expect(sameBytes(all, expected)).toBe(true);
      await q.flush();
    }
    for (const [name, expected] of [
      ['dov.qcow2', expectedOv],
      ['v2.qcow2', expectedV2],
    ] as const) {
      expect(qemuCheck(join(dir, name)).out).toContain('No errors were found');
      expect(sameBytes(qemuToRaw(join(dir, name)), expected)).toBe(true);
    }
  });

  it('creates overlays of its own that qemu-img resolves through the backing file', async () => {
    writeFileSync(join(dir, 'b2.raw'), pattern(1 << 20, 21));
    const store = await FileByteStore.open(join(dir, 'ov2.qcow2'), true);
    const q = await Qcow2Storage.create(
      store,
      { size: 1 << 20, backingFile: 'b2.raw', backingFormat: 'raw' },
      {
        openBacking: async () =>
          RawStorage.open(await FileByteStore.open(join(dir, 'b2.raw')), { readOnly: true }),
      },
    );
    const storage: BlockStorage = q;
    await storage.write(10, new Uint8Array(1024).fill(0xee));
    await storage.flush();
    await store.close();
    const expected = pattern(1 << 20, 21);
    expected.fill(0xee, 10 * 512, 12 * 512);
    expect(qemuCheck(join(dir, 'ov2.qcow2')).status).toBe(0);
    expect(sameBytes(qemuToRaw(join(dir, 'ov2.qcow2')), expected)).toBe(true);
  });
});

describe('qcow2 header', () => {
  it('records any backing file name and format and reads them back (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' }),
        fc.constantFrom('raw', 'qcow2'),
        async (name, format) => {
          const store = new MemoryByteStore();
          // Opening needs an openBacking port, so create writes the image, then refuses to open it.
          await expect(
            Qcow2Storage.create(store, { size: 1 << 20, backingFile: name, backingFormat: format }),
          ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
          const h = parseQcow2Header(store.bytes().subarray(0, 65536));
          expect(h).toMatchObject({
            version: 3,
            clusterBits: 16,
            size: 1 << 20,
            backingFile: name,
            backingFormat: format,
          });
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe.skipIf(!haveQemuImg && !process.env.CI)('blkfront and blkback on image files', () => {
  async function stress(
    storageName: string,
    storage: BlockStorage & { sectors: number },
  ): Promise<Uint8Array> {
    const { front, back } = await attach({ storage });
    const model = new Uint8Array(storage.sectors * 512);
    await storage.read(0, model);
    for (let round = 0; round < 12; round++) {
      // A batch of non-overlapping writes in flight at once, then a barrier, then reads.
      const jobs: Promise<number>[] = [];
      for (let i = 0; i < 8; i++) {
        const sector = i * 256 + ((round * 37) % 200);
        const d = pattern((((round + i) % 5) + 1) * 4096, round * 100 + i);
        model.set(d, sector * 512);
        jobs.push(front.write(sector, d));
      }
      expect(await Promise.all(jobs), storageName).toEqual(new Array(8).fill(0));
      const b = pattern(1024, round);
      model.set(b, (3000 + round) * 512);
      expect(await front.writeBarrier(3000 + round, b)).toBe(0);
      const r = await front.read(0, 4096);
      expect(r.status).toBe(0);
      expect(sameBytes(r.data, model.subarray(0, 4096 * 512))).toBe(true);
    }
    expect(await front.flush()).toBe(0);
    expect(back.metrics.errors).toBe(0);
    await front.close();
    await back.stop();
    return model;
  }

  it('keeps a qcow2 overlay consistent under a blkfront stress, as qemu-img sees it', async () => {
    writeFileSync(join(dir, 'stress-base.raw'), pattern(4 << 20, 99));
    execFileSync(
      'qemu-img',
      ['convert', '-f', 'raw', '-O', 'qcow2', 'stress-base.raw', 'stress-base.qcow2'],
      { cwd: dir },
    );
    execFileSync(
      'qemu-img',
      ['create', '-f', 'qcow2', '-b', 'stress-base.qcow2', '-F', 'qcow2', 'stress.qcow2'],
      { cwd: dir },
    );
    const model = await stress('qcow2', await openFile('stress.qcow2'));
    expect(qemuCheck(join(dir, 'stress.qcow2')).status).toBe(0);
    expect(sameBytes(qemuToRaw(join(dir, 'stress.qcow2')), model)).toBe(true);
  });

  it('keeps a raw image consistent under a blkfront stress', async () => {
    writeFileSync(join(dir, 'stress.raw'), new Uint8Array(4 << 20));
    const model = await stress(
      'raw',
      await RawStorage.open(await FileByteStore.open(join(dir, 'stress.raw'))),
    );
    expect(sameBytes(new Uint8Array(readFileSync(join(dir, 'stress.raw'))), model)).toBe(true);
  });
});
