/**
 * Removing a dead domain (PvMm.removeDomain, Machine.removeDomain) so that its id can be used
 * again: refused while anything of the domain is left, and a domain re-created with the same id
 * starts from nothing the old one left behind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DOMID, Machine, MMUEXT, MmuError, PvMm, XEN_ERRNO } from '../src/index.ts';
import { op, P, pte, RW, rawWrite, US } from './pv-helpers.ts';

/**
 * Gives `domid` `pages` frames and builds L4(pfn 0) → L3(1) → L2(2) → L1(3) mapping pfn 4
 * writable and pfn 5 read-only, pins the L4, loads it as vCPU 0's base pointer and makes pfn 5
 * the GDT. Returns 0 or the first failure.
 */
function create(machine: Machine, mm: PvMm, domid: number, pages: number): number {
  let rc = machine.populate(domid, 0, pages);
  if (rc !== 0) return rc;
  mm.addDomain(domid, { guestWidth: 64 });
  const f = (pfn: number) => machine.p2m(domid).get(pfn);
  rc = rawWrite(mm, domid, [
    [f(3), 0, pte(f(4), P | RW | US)],
    [f(3), 1, pte(f(5), P | US)],
    [f(2), 0, pte(f(3), P | RW | US)],
    [f(1), 0, pte(f(2), P | RW | US)],
    [f(0), 0, pte(f(1), P | RW | US)],
  ]);
  if (rc !== 0) return rc;
  rc = mm.mmuextOp(domid, 0, [
    op(MMUEXT.MMUEXT_PIN_L4_TABLE, f(0)),
    op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0)),
  ]);
  if (rc !== 0) return rc;
  return mm.setGdt(domid, 0, [f(5)], 16);
}

/** Relinquishes `domid`, frees all its frames and removes it; returns the first failing rc. */
function destroy(machine: Machine, mm: PvMm, domid: number): number {
  mm.relinquish(domid);
  const p2m = machine.p2m(domid);
  for (let pfn = 0; pfn < p2m.size; pfn++) {
    const rc = machine.depopulate(domid, pfn);
    if (rc !== 0 && rc !== -XEN_ERRNO.EINVAL) return rc;
  }
  mm.removeDomain(domid);
  machine.removeDomain(domid);
  return 0;
}

/** Per-PFN `[type, typeCount, refCount, pinned]` of a domain's frames. */
function counts(machine: Machine, domid: number): number[][] {
  const ft = machine.frames;
  const p2m = machine.p2m(domid);
  const out: number[][] = [];
  for (let pfn = 0; pfn < p2m.size; pfn++) {
    const mfn = p2m.get(pfn);
    out.push([ft.type[mfn], ft.typeCount[mfn], ft.refCount[mfn], ft.pinned[mfn]]);
  }
  return out;
}

function code(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (err) {
    return err instanceof MmuError ? err.code : 'not an MmuError';
  }
}

describe('removing a dead domain', () => {
  it('refuses a domain that still holds a base pointer, a GDT, pins or frames', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    const mm = new PvMm(machine);
    expect(create(machine, mm, 3, 8)).toBe(0);
    expect(code(() => mm.removeDomain(3))).toBe('DOMAIN_BUSY');
    expect(code(() => machine.removeDomain(3))).toBe('DOMAIN_BUSY');
    mm.relinquish(3);
    // Relinquished, but the frames are still the domain's.
    expect(code(() => mm.removeDomain(3))).toBe('DOMAIN_BUSY');
    expect(mm.hasDomain(3)).toBe(true);
    for (let pfn = 0; pfn < 8; pfn++) expect(machine.depopulate(3, pfn)).toBe(0);
    mm.removeDomain(3);
    machine.removeDomain(3);
    expect(mm.hasDomain(3)).toBe(false);
    expect(machine.hasP2m(3)).toBe(false);
    expect(code(() => mm.removeDomain(3))).toBe('UNKNOWN_DOMAIN');
    expect(code(() => mm.domain(3))).toBe('UNKNOWN_DOMAIN');
    expect(mm.getState().domains).toEqual([]);
    expect(machine.getState().p2m).toEqual([]);
    expect(machine.frames.freeFrames).toBe(512);
  });

  it('lets the same domain id be created again with fresh counts and an empty P2M', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    const mm = new PvMm(machine);
    expect(create(machine, mm, 7, 10)).toBe(0);
    const first = counts(machine, 7);
    expect(code(() => mm.addDomain(7, { guestWidth: 64 }))).toBe('INVALID_STATE');
    expect(destroy(machine, mm, 7)).toBe(0);
    expect(create(machine, mm, 7, 8)).toBe(0);
    expect(machine.p2m(7).size).toBe(8);
    expect(counts(machine, 7)).toEqual(first.slice(0, 8));
  });

  it('refuses a vCPU that still maps an LDT page', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    const mm = new PvMm(machine);
    expect(create(machine, mm, 1, 8)).toBe(0);
    // Map pfn 6 read-only at VA 0x2000 (L1 slot 2) and make it the LDT.
    const f = (pfn: number) => machine.p2m(1).get(pfn);
    expect(rawWrite(mm, 1, [[f(3), 2, pte(f(6), P | US)]])).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_SET_LDT, 0x2000, 16)])).toBe(0);
    expect(mm.mapLdtPage(1, 0, 0)).toBe(f(6));
    const v = mm.domain(1).vcpus[0];
    // A vCPU whose LDT page is still mapped is not relinquished.
    v.baseMfn = -1;
    v.gdtFrames = [];
    expect(code(() => mm.removeDomain(1))).toBe('DOMAIN_BUSY');
  });

  it('never leaves stale ownership or counts across random create/destroy/save of random domain ids', () => {
    const PAGES = 6;
    // The counts a freshly built domain has on a machine nothing ever ran on.
    const fresh = (() => {
      const m = new Machine({ bytes: 2 * 1024 * 1024 });
      const mm = new PvMm(m);
      if (create(m, mm, 1, PAGES + 2) !== 0) throw new Error('reference build failed');
      return counts(m, 1);
    })();
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('create' as const),
        domid: fc.integer({ min: 1, max: 5 }),
        extra: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({ kind: fc.constant('destroy' as const), domid: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('remove' as const), domid: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('save' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        let machine = new Machine({ bytes: 2 * 1024 * 1024 });
        let mm = new PvMm(machine);
        const live = new Map<number, number>();
        for (const s of steps) {
          if (s.kind === 'create') {
            if (live.has(s.domid)) {
              expect(code(() => mm.addDomain(s.domid, { guestWidth: 64 }))).toBe('INVALID_STATE');
              continue;
            }
            const pages = PAGES + s.extra;
            expect(create(machine, mm, s.domid, pages)).toBe(0);
            live.set(s.domid, pages);
            expect(counts(machine, s.domid)).toEqual(fresh.slice(0, pages));
          } else if (s.kind === 'destroy') {
            if (!live.has(s.domid)) continue;
            expect(destroy(machine, mm, s.domid)).toBe(0);
            live.delete(s.domid);
          } else if (s.kind === 'remove') {
            // Removing a live domain is refused and changes nothing; an unknown one is unknown.
            const before = JSON.stringify([mm.getState(), machine.getState()]);
            expect(code(() => mm.removeDomain(s.domid))).toBe(
              live.has(s.domid) ? 'DOMAIN_BUSY' : 'UNKNOWN_DOMAIN',
            );
            expect(JSON.stringify([mm.getState(), machine.getState()])).toBe(before);
          } else {
            // Through plain data (RAM copied for the frames in use, as a save image does).
            const ms = JSON.parse(JSON.stringify(machine.getState()));
            const next = Machine.fromState(ms);
            for (const f of ms.frames.used) {
              next.memory.writeBytes(f.mfn, 0, machine.memory.readFrame(f.mfn));
            }
            mm = PvMm.fromState(JSON.parse(JSON.stringify(mm.getState())), next);
            machine = next;
          }
          // Invariants: every owned frame belongs to a live domain, every free frame is clean,
          // and only live domains are known to paging and have a P2M.
          const ft = machine.frames;
          let owned = 0;
          for (let mfn = 0; mfn < ft.frames; mfn++) {
            const o = ft.owner[mfn];
            if (o === DOMID.DOMID_INVALID) {
              expect([ft.typeCount[mfn], ft.refCount[mfn], ft.pinned[mfn]]).toEqual([0, 0, 0]);
            } else {
              expect(live.has(o)).toBe(true);
              owned++;
            }
          }
          let total = 0;
          for (const [domid, pages] of live) {
            expect(ft.domainPages(domid)).toBe(pages);
            total += pages;
          }
          expect(owned).toBe(total);
          expect(ft.freeFrames).toBe(ft.frames - total);
          expect(
            mm
              .getState()
              .domains.map((d) => d.domid)
              .sort(),
          ).toEqual([...live.keys()].sort());
          expect(
            machine
              .getState()
              .p2m.map(([d]) => d)
              .sort(),
          ).toEqual([...live.keys()].sort());
        }
      }),
      { numRuns: 100 },
    );
  });
});
