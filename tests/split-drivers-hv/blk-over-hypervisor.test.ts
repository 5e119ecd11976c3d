/**
 * Issue 7's acceptance over the real hypervisor: a TypeScript blkfront in one domain and dom0's
 * blkback talk through the hypervisor's grant tables and event channels (the toolstack Host's
 * `NativeGrantIssuer`/`NativeGrantMapper`/`NativeEventChannels`, not the in-memory fakes), with
 * the device plugged through xenstore as libxl does. A data-integrity stress (random reads and
 * writes, barriers and flushes, many requests in flight) runs against raw and qcow2 images; the
 * qcow2 images it writes pass `qemu-img check` and read back identically through
 * `qemu-img convert`; an overlay made by `qemu-img create -b base.qcow2` works copy-on-write.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Blkfront, xenbusClientFromXenstore } from '@typevisor/split-drivers';
import { Host, type NativeDomain, openDisk, parseDiskSpec } from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const haveQemuImg = existsSync('/usr/bin/qemu-img');
const SECTOR = 512;
const DISK_SECTORS = 8192; // 4 MiB

let dir = '';

interface Rig {
  host: Host;
  front: NativeDomain;
  blkfront: Blkfront;
  close(): Promise<void>;
}

/** Plugs `target` (an xl disk spec string) into a new native frontend domain and connects. */
async function rig(spec: string): Promise<Rig> {
  const host = new Host();
  const front = host.createNativeDomain('front', 512);
  const disk = parseDiskSpec(spec);
  const opened = await openDisk(disk);
  await host.plugVbd(front.domid, disk, opened.storage);
  const xs = new XenstoreClient(inProcessTransport(host.xenstore, front.domid));
  const blkfront = new Blkfront({
    xenbus: xenbusClientFromXenstore(xs),
    frontendPath: `/local/domain/${front.domid}/device/vbd/51712`,
    grants: front.grants,
    pages: front.pages,
    events: front.events,
  });
  const info = await host.drive(blkfront.connect());
  expect(info?.sectors).toBeGreaterThan(0);
  return {
    host,
    front,
    blkfront,
    close: async () => {
      await host.drive(blkfront.close());
      await host.close();
      for (const f of opened.files) await f.close();
      xs.close();
    },
  };
}

/**
 * Where two byte arrays first differ (-1 if equal). vitest's deep equality walks a 4 MiB array
 * element by element far too slowly, so images are compared with this.
 */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Deterministic pseudo-random bytes. */
function pattern(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Random batches of non-overlapping requests (reads, writes, barrier writes) issued together,
 * with flushes between batches; every read is checked against a model of the disk, and the
 * model is returned.
 */
async function stress(r: Rig, model: Uint8Array, seed: number, batches: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          kind: fc.constantFrom('read', 'write', 'barrier'),
          sector: fc.integer({ min: 0, max: DISK_SECTORS - 64 }),
          count: fc.integer({ min: 1, max: 56 }),
          seed: fc.integer(),
        }),
        { minLength: 1, maxLength: 24 },
      ),
      fc.boolean(),
      async (ops, flush) => {
        // Drop overlapping requests: requests in flight together touch disjoint sectors.
        const used = new Uint8Array(DISK_SECTORS);
        const batch = ops.filter((op) => {
          for (let s = op.sector; s < op.sector + op.count; s++) if (used[s]) return false;
          used.fill(1, op.sector, op.sector + op.count);
          return true;
        });
        const results = await r.host.drive(
          Promise.all(
            batch.map(async (op) => {
              if (op.kind === 'read') return r.blkfront.read(op.sector, op.count);
              const data = pattern(op.seed, op.count * SECTOR);
              const status =
                op.kind === 'write'
                  ? await r.blkfront.write(op.sector, data)
                  : await r.blkfront.writeBarrier(op.sector, data);
              return { status, data };
            }),
          ),
        );
        batch.forEach((op, i) => {
          const res = results[i];
          expect(res?.status).toBe(0);
          const at = op.sector * SECTOR;
          const data = res?.data ?? new Uint8Array();
          if (op.kind === 'read') {
            expect(firstDifference(data, model.subarray(at, at + op.count * SECTOR))).toBe(-1);
          } else model.set(data, at);
        });
        if (flush) expect(await r.host.drive(r.blkfront.flush())).toBe(0);
      },
    ),
    { numRuns: batches, seed },
  );
}

describe.skipIf(!haveQemuImg && !process.env.CI)(
  'blkfront and blkback in two domains over the real hypervisor',
  { timeout: 300_000 },
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'blk-hv-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps a raw image exactly in step with a model under a random stress', async () => {
      const image = join(dir, 'disk.raw');
      const initial = pattern(7, DISK_SECTORS * SECTOR);
      writeFileSync(image, initial);
      const r = await rig(`${image},raw,xvda,w`);
      const model = initial.slice();
      await stress(r, model, 1, 40);
      await r.close();
      expect(firstDifference(readFileSync(image), model)).toBe(-1);
      expect(r.front.pages.available).toBeGreaterThan(0);
    });

    it('writes qcow2 images that qemu-img checks and converts back to the same bytes', async () => {
      const image = join(dir, 'disk.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${DISK_SECTORS * SECTOR}`]);
      const r = await rig(`format=qcow2,vdev=xvda,access=rw,target=${image}`);
      const model = new Uint8Array(DISK_SECTORS * SECTOR);
      await stress(r, model, 2, 40);
      await r.close();
      execFileSync('qemu-img', ['check', '-q', image]);
      const raw = join(dir, 'converted.raw');
      execFileSync('qemu-img', ['convert', '-O', 'raw', image, raw]);
      expect(firstDifference(readFileSync(raw), model)).toBe(-1);
    });

    it('uses an overlay made by qemu-img create -b as a copy-on-write disk', async () => {
      const baseRaw = join(dir, 'base.raw');
      const base = pattern(99, DISK_SECTORS * SECTOR);
      writeFileSync(baseRaw, base);
      const baseQcow = join(dir, 'base.qcow2');
      execFileSync('qemu-img', ['convert', '-O', 'qcow2', baseRaw, baseQcow]);
      const before = readFileSync(baseQcow);
      const overlay = join(dir, 'overlay.qcow2');
      execFileSync('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-b',
        'base.qcow2',
        '-F',
        'qcow2',
        overlay,
      ]);
      const r = await rig(`format=qcow2,vdev=xvda,access=rw,target=${overlay}`);
      const model = base.slice();
      await stress(r, model, 3, 25);
      await r.close();
      expect(readFileSync(baseQcow).equals(before)).toBe(true); // the base is never written
      execFileSync('qemu-img', ['check', '-q', overlay]);
      const raw = join(dir, 'overlay.raw');
      execFileSync('qemu-img', ['convert', '-O', 'raw', overlay, raw]);
      expect(firstDifference(readFileSync(raw), model)).toBe(-1);
    });

    it('fails writes to a read-only device without touching the image', async () => {
      const image = join(dir, 'ro.raw');
      const initial = pattern(5, DISK_SECTORS * SECTOR);
      writeFileSync(image, initial);
      const r = await rig(`${image},raw,xvda,r`);
      const status = await r.host.drive(r.blkfront.write(0, new Uint8Array(SECTOR)));
      expect(status).not.toBe(0);
      const back = await r.host.drive(r.blkfront.read(0, 1));
      expect(firstDifference(back.data, initial.subarray(0, SECTOR))).toBe(-1);
      await r.close();
      expect(firstDifference(readFileSync(image), initial)).toBe(-1);
    });
  },
);
