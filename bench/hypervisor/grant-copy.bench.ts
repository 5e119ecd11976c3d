/**
 * Grant copy throughput: dom0 copies whole 4 KiB pages out of a domU's grants into its own
 * frames (the netback/blkback data path), one GNTTABOP_copy element per page — each copy checks
 * and pins the grant (GTF_reading set and cleared in the granter's entry) and moves the bytes
 * through the two domains' memory ports. Measured through the library call and through
 * `grant_table_op(GNTTABOP_copy)` with batches of 16 elements read from guest memory; the peer
 * is a plain `Uint8Array.set` of the same pages, the memcpy floor.
 */
import {
  DOMID_SELF,
  GNTCOPY_source_gref,
  GNTTABOP_copy,
  GrantTables,
  GTF_permit_access,
  grantTableOp,
  type HypercallContext,
  PagedGuestMemory,
} from '@typevisor/hypervisor';
import { defineSuite } from '../harness.ts';

const PAGES = 16;
const PAGE = 4096;
const domU = new PagedGuestMemory(64);
const dom0 = new PagedGuestMemory(64);
const grants = new GrantTables();
grants.addDomain({ domid: 0, privileged: true, memory: dom0, grantFrames: [63] });
grants.addDomain({ domid: 1, memory: domU, grantFrames: [63] });
const table = new DataView(domU.bytes.buffer, 63 * PAGE, PAGE);
for (let i = 0; i < PAGES; i++) {
  const ref = 8 + i;
  table.setUint16(ref * 8 + 2, 0, true);
  table.setUint32(ref * 8 + 4, 10 + i, true);
  table.setUint16(ref * 8, GTF_permit_access, true);
  domU.bytes.fill(i + 1, (10 + i) * PAGE, (11 + i) * PAGE);
}

// A batch of 16 gnttab_copy elements (x86_64 layout, 40 bytes each) in dom0's memory.
const ARG = 2 * PAGE;
const args = new DataView(dom0.bytes.buffer, ARG, PAGES * 40);
for (let i = 0; i < PAGES; i++) {
  const o = i * 40;
  args.setUint32(o, 8 + i, true);
  args.setUint16(o + 8, 1, true);
  args.setBigUint64(o + 16, BigInt(20 + i), true);
  args.setUint16(o + 24, DOMID_SELF, true);
  args.setUint16(o + 32, PAGE, true);
  args.setUint16(o + 34, GNTCOPY_source_gref, true);
}
const ctx: HypercallContext = { domid: 0, vcpu: 0, abi: 'x86_64', guest: dom0 };

const src = new Uint8Array(PAGES * PAGE).fill(7);
const dst = new Uint8Array(PAGES * PAGE);

export default defineSuite({
  name: 'hypervisor/grant-copy',
  description:
    'GNTTABOP_copy of whole 4 KiB pages from a domU grant into dom0 frames (grant checked and pinned per element), via the library call and via grant_table_op batches of 16, vs Uint8Array.set of the same pages.',
  unit: 'MiB/s',
  opsPerIter: PAGES * PAGE,
  divisor: 1024 * 1024,
  cases: [
    {
      name: 'copy',
      run(iters) {
        let status = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < PAGES; i++) {
            status |= grants.copy(0, {
              source: { refOrGmfn: 8 + i, domid: 1, offset: 0 },
              dest: { refOrGmfn: 20 + i, domid: DOMID_SELF, offset: 0 },
              len: PAGE,
              flags: GNTCOPY_source_gref,
            });
          }
        }
        return status + (dom0.bytes[20 * PAGE] ?? 0);
      },
    },
    {
      name: 'grant_table_op',
      run(iters) {
        let rc = 0;
        for (let n = 0; n < iters; n++) rc |= grantTableOp(grants, ctx, GNTTABOP_copy, ARG, PAGES);
        return rc + args.getInt16(36, true) + (dom0.bytes[35 * PAGE] ?? 0);
      },
    },
    {
      name: 'uint8array-set',
      peer: true,
      run(iters) {
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < PAGES; i++) dst.set(src.subarray(i * PAGE, (i + 1) * PAGE), i * PAGE);
        }
        return dst[PAGES * PAGE - 1] ?? 0;
      },
    },
  ],
});
