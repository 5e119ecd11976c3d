/**
 * Block IOPS through the whole split driver with 4 KiB requests (one segment each): blkfront →
 * shared ring → blkback → MemoryStorage and back, over the in-memory grant tables and event
 * channels, with 32 requests in flight (a full ring). The peer copies the same 4 KiB per
 * operation with `Uint8Array.set`, the machine's limit for moving the bytes.
 */
import { Blkback, Blkfront, MemoryStorage, plugDevice } from '@typevisor/split-drivers';
import { MemoryFabric, MemoryXenstore } from '@typevisor/split-drivers/testing';
import { defineSuite } from '../harness.ts';

const REQ = 4096;
const IN_FLIGHT = 32;
const DISK_SECTORS = (IN_FLIGHT * REQ) / 512;

let front: Blkfront | undefined;
let backend: Blkback | undefined;
const buffers: Uint8Array[] = [];
for (let i = 0; i < IN_FLIGHT; i++) buffers.push(new Uint8Array(REQ).fill(i));
const copySrc = new Uint8Array(REQ).fill(7);
const copyDst = new Uint8Array(REQ);

async function round(write: boolean): Promise<number> {
  const f = front as Blkfront;
  const jobs: Promise<number>[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    const sector = (i * REQ) / 512;
    jobs.push(
      write
        ? f.write(sector, buffers[i] as Uint8Array)
        : f.read(sector, REQ / 512).then((r) => (r.data.length === REQ ? 0 : -1)),
    );
  }
  let ok = 0;
  for (const s of await Promise.all(jobs)) if (s === 0) ok++;
  return ok;
}

export default defineSuite({
  name: 'split-drivers/blk-iops',
  description:
    'Block IOPS with 4 KiB requests through blkfront, the shared ring and blkback to a memory disk (32 in flight), vs copying the same 4 KiB per operation.',
  unit: 'k IOPS',
  opsPerIter: IN_FLIGHT,
  divisor: 1e3,
  async setup() {
    const xs = new MemoryXenstore();
    const fabric = new MemoryFabric();
    const paths = await plugDevice(xs.client(), {
      type: 'vbd',
      devid: 51712,
      backendDomid: 0,
      frontendDomid: 1,
    });
    backend = new Blkback({
      xenbus: xs.client(),
      backendPath: paths.backend,
      mapper: fabric.domain(0).mapper,
      events: fabric.domain(0).events,
      storage: new MemoryStorage(DISK_SECTORS),
    });
    await backend.start();
    const guest = fabric.domain(1);
    front = new Blkfront({
      xenbus: xs.client(),
      frontendPath: paths.frontend,
      grants: guest.grants,
      pages: guest.pages,
      events: guest.events,
    });
    await front.connect();
  },
  async teardown() {
    await front?.close();
    await backend?.stop();
  },
  cases: [
    {
      name: 'read-4k',
      async run(iters) {
        let ok = 0;
        for (let n = 0; n < iters; n++) ok += await round(false);
        return ok;
      },
    },
    {
      name: 'write-4k',
      async run(iters) {
        let ok = 0;
        for (let n = 0; n < iters; n++) ok += await round(true);
        return ok;
      },
    },
    {
      name: 'memcpy-4k',
      peer: true,
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters * IN_FLIGHT; n++) {
          copyDst.set(copySrc);
          sum = (sum + (copyDst[n & (REQ - 1)] as number)) | 0;
        }
        return sum;
      },
    },
  ],
});
