import {
  type HypercallContext,
  memoryOp,
  PagedGuestMemory,
  XENMEM_current_reservation,
  XENMEM_decrease_reservation,
  XENMEM_increase_reservation,
  XENMEM_populate_physmap,
} from '@typevisor/hypervisor';
import { Machine } from '@typevisor/mmu';
import { machineReservations } from '@typevisor/toolstack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const DOMID = 1;
const DOMID_XEN = 0x7ff2;
const NR_PAGES = 64;
const ARG = 0x1000;
const LIST = 0x2000;
const SELF = 0x7ff0;

/** A small machine laid out as bootPvDomain lays it out: guest RAM, Xen's M2P frames. */
function machine() {
  const m = new Machine({ bytes: 8 * 1024 * 1024 });
  const m2pPages = Math.ceil((m.memory.frames * 8) / 4096);
  m.populate(DOMID_XEN, 0, 3 + m2pPages);
  m.populate(DOMID, 0, NR_PAGES + 1); // RAM and shared_info
  const sharedInfoMfn = m.p2m(DOMID).get(NR_PAGES);
  const port = machineReservations({ machine: m, domid: DOMID, nrPages: NR_PAGES, sharedInfoMfn });
  const guest = new PagedGuestMemory(4);
  const ctx: HypercallContext = { domid: DOMID, vcpu: 0, abi: 'x86_64', guest };
  return { m, port, guest, ctx, view: new DataView(guest.bytes.buffer) };
}

/** The guest-visible M2P entry of `mfn` (low 32 bits), as the guest reads it. */
function visibleM2p(m: Machine, mfn: number): number {
  const page = m.p2m(DOMID_XEN).get(3 + Math.floor(mfn / 512));
  return m.memory.read32(page, (mfn % 512) * 8) >>> 0;
}

describe('memory_op over the toolstack-side port on the MMU machine', () => {
  it('keeps reservations, frame ownership and the guest-visible M2P in step under random balloon traffic', () => {
    const op = fc.record({
      cmd: fc.constantFrom(
        XENMEM_increase_reservation,
        XENMEM_decrease_reservation,
        XENMEM_populate_physmap,
      ),
      nr: fc.integer({ min: 0, max: 6 }),
      order: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })),
      domid: fc.constantFrom(SELF, DOMID, 0, 300, 0xffff),
      frames: fc.array(fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constant(-1)), {
        minLength: 6,
        maxLength: 6,
      }),
      listOk: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const { m, port, ctx, view } = machine();
        const bootOwned = m.frames.domainPages(DOMID);
        for (const o of ops) {
          const owned = [...Array(m.memory.frames).keys()].filter(
            (f) => m.frames.owner[f] === DOMID,
          );
          o.frames.forEach((f, i) => {
            // -1 picks one of the guest's own frames, so decreases have something to hit.
            const v = f < 0 ? (owned[i % Math.max(1, owned.length)] ?? 0) : f;
            view.setBigUint64(LIST + i * 8, BigInt(v), true);
          });
          view.setBigUint64(ARG, o.listOk ? BigInt(LIST) : 0x7ff000000000n, true);
          view.setBigUint64(ARG + 8, BigInt(o.nr), true);
          view.setUint32(ARG + 16, o.order, true);
          view.setUint16(ARG + 24, o.domid, true);
          const before = port.currentReservation(DOMID);
          const rc = memoryOp(port, ctx, o.cmd, ARG);
          expect(rc).toBeGreaterThanOrEqual(0);
          expect(rc).toBeLessThanOrEqual(o.nr);
          const after = port.currentReservation(DOMID);
          if (o.cmd === XENMEM_decrease_reservation) expect(after).toBe(before - rc);
          else expect(after).toBeGreaterThanOrEqual(before + rc);
          expect(after).toBe(NR_PAGES + m.frames.domainPages(DOMID) - bootOwned);
          expect(after).toBeLessThanOrEqual(port.maximumReservation(DOMID));
          if (o.cmd === XENMEM_populate_physmap && o.listOk) {
            for (let i = 0; i < rc; i++) {
              const mfn = Number(view.getBigUint64(LIST + i * 8, true));
              expect(m.frames.owner[mfn]).toBe(DOMID);
              expect(visibleM2p(m, mfn)).toBe(m.frames.m2p[mfn]);
            }
          }
        }
        // Every frame the guest gave back reads as all-ones in the M2P it can see.
        for (let f = 0; f < m.memory.frames; f++) {
          if (m.frames.owner[f] !== DOMID && m.frames.owner[f] !== DOMID_XEN) {
            const v = visibleM2p(m, f);
            expect(v === 0 || v === 0xffffffff).toBe(true);
          }
        }
        view.setUint16(ARG, SELF, true);
        expect(memoryOp(port, ctx, XENMEM_current_reservation, ARG)).toBe(
          port.currentReservation(DOMID),
        );
      }),
      { numRuns: 60 },
    );
  });
});
