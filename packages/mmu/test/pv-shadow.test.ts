/**
 * PV shadow mode: the guest uses direct paging's hypercalls while the CPU walks shadows. The
 * consistency property drives random validated edits (mmu_update, update_va_mapping, ptwr,
 * pins, base-pointer switches, flushes) and after every step compares each sampled translation
 * through the shadows with a fresh walk of the guest's own tables, and checks that no shadow
 * maps a page-table frame writable.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  DirtyLog,
  Machine,
  MMUEXT,
  PAGING_MODE,
  PageWalker,
  PGT,
  PvMm,
  PvShadow,
  Translator,
} from '../src/index.ts';
import { op, P, pte, ptr, RW, rawWrite, reqs, US } from './pv-helpers.ts';

const GUEST = 1;
const PAGES = 24;

/**
 * Two address spaces sharing their lower levels. 64-bit: roots a0 and a5 → L3 a1 → L2 a2 →
 * L1 a3 (VA 0) and L1 a4 (VA 0x200000). 32-bit: PAE L3s a0 and a5 (slot 3 → Xen L2s a6, a7),
 * slot 0 → L2 a2 → the same L1s. L1 a3 maps a8..a15 (even ones writable), L1 a4 maps a16..a19
 * read-only. Both roots are pinned; a0 is vCPU 0's base.
 */
function world(width: 32 | 64, withLog = false) {
  const machine = new Machine({ bytes: 4 * 1024 * 1024 });
  machine.populate(GUEST, 0, PAGES);
  machine.populate(2, 0, 2);
  const log = withLog ? new DirtyLog(machine.frames) : null;
  const mm = new PvMm(machine, log === null ? {} : { dirtyLog: log });
  mm.addDomain(GUEST, { guestWidth: width });
  mm.addDomain(2, { guestWidth: width });
  const a = (pfn: number) => machine.p2m(GUEST).get(pfn);
  const e: [number, number, number][] = [];
  for (let i = 0; i < 8; i++) e.push([a(3), i, pte(a(8 + i), i % 2 === 0 ? P | RW | US : P | US)]);
  for (let i = 0; i < 4; i++) e.push([a(4), i, pte(a(16 + i), P | US)]);
  e.push([a(2), 0, pte(a(3), P | RW | US)], [a(2), 1, pte(a(4), P | RW | US)]);
  if (width === 64) {
    e.push([a(1), 0, pte(a(2), P | RW | US)]);
    e.push([a(0), 0, pte(a(1), P | RW | US)], [a(5), 0, pte(a(1), P | RW | US)]);
  } else {
    e.push([a(0), 0, pte(a(2), P)], [a(0), 3, pte(a(6), P)]);
    e.push([a(5), 0, pte(a(2), P)], [a(5), 3, pte(a(7), P)]);
  }
  expect(rawWrite(mm, GUEST, e)).toBe(0);
  const pin = width === 64 ? MMUEXT.MMUEXT_PIN_L4_TABLE : MMUEXT.MMUEXT_PIN_L3_TABLE;
  expect(
    mm.mmuextOp(GUEST, 0, [op(pin, a(0)), op(pin, a(5)), op(MMUEXT.MMUEXT_NEW_BASEPTR, a(0))]),
  ).toBe(0);
  const pv = new PvShadow(mm, GUEST, 0);
  if (log !== null) {
    // Log-dirty through the shadows: the translator in front of them marks first writes.
    pv.translator.dirtyLog = log;
    log.attachTlb(GUEST, pv);
  }
  return { machine, mm, pv, a, width, log };
}
type World = ReturnType<typeof world>;

const SAMPLE_VAS: readonly number[] = [
  0x0000,
  0x1000,
  0x2000,
  0x3000,
  0x7000,
  0x8000,
  0x200000,
  0x201000,
  0x203000,
  0x400000,
  0x40000000,
  0xc0000000 | 0,
  0xc0001000 | 0,
];
const ACCESSES = [
  ACCESS.USER,
  ACCESS.WRITE | ACCESS.USER,
  ACCESS.FETCH | ACCESS.USER,
  ACCESS.WRITE,
];

/** A fresh walk of the guest's own tables from the vCPU's base pointer (no TLB). */
function reference(w: World): PageWalker {
  const base = w.mm.domain(GUEST).vcpus[0].baseMfn;
  const walker = new PageWalker(w.machine.memory, 40);
  walker.configure({
    mode: w.width === 64 ? PAGING_MODE.LONG : PAGING_MODE.PAE,
    cr3Lo: base * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  return walker;
}

/** Compares every sampled translation; returns a problem or null. */
function check(w: World): string | null {
  const ref = reference(w);
  const ft = w.machine.frames;
  for (const va of SAMPLE_VAS) {
    for (const acc of ACCESSES) {
      const ok = ref.walk(va, 0, acc);
      const got = w.pv.translate(va, 0, acc);
      if (ok && got !== ref.frame)
        return `va ${va.toString(16)}/${acc}: shadow ${got}, guest ${ref.frame}`;
      if (!ok && (got !== -1 || w.pv.faultCode !== ref.errorCode))
        return `va ${va.toString(16)}/${acc}: shadow ${got}/${w.pv.faultCode}, guest #PF ${ref.errorCode}`;
    }
  }
  // Structural: whatever the shadows map writable is an ordinary writable page of the guest.
  const sw = new PageWalker(w.machine.memory, 40);
  sw.configure({
    mode: PAGING_MODE.LONG,
    cr3Lo: w.pv.pager.rootMfn * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  for (const va of SAMPLE_VAS) {
    if (!sw.walk(va, 0, ACCESS.WRITE)) continue;
    if (ft.type[sw.frame] !== PGT.PGT_writable_page || ft.owner[sw.frame] !== GUEST)
      return `shadow maps frame ${sw.frame} (type ${ft.type[sw.frame]}) writable at ${va}`;
  }
  return null;
}

type Step =
  | { kind: 'mmu'; table: number; idx: number; target: number; flags: number; cmd: number }
  | { kind: 'uvm'; va: number; target: number; flags: number; uvmf: number }
  | { kind: 'ptwr'; table: number; idx: number; target: number; flags: number }
  | { kind: 'ext'; cmd: number; target: number; va: number }
  | { kind: 'touch'; va: number; access: number; idx: number; value: number };

const frameIdx = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 3, arbitrary: fc.integer({ min: 8, max: PAGES - 1 }) },
  { weight: 1, arbitrary: fc.constant(PAGES) }, // the other domain's frame
);
const slot = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(3, 256, 427, 428, 511) },
);
const flags = fc.constantFrom(P | RW | US, P | US, P, 0, P | RW, P | RW | US | 0x60);
const va = fc.constantFrom(...SAMPLE_VAS);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('mmu' as const),
      table: frameIdx,
      idx: slot,
      target: frameIdx,
      flags,
      cmd: fc.constantFrom(0, 0, 2),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('uvm' as const),
      va,
      target: frameIdx,
      flags,
      uvmf: fc.integer({ min: 0, max: 7 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('ptwr' as const),
      table: fc.constantFrom(3, 4),
      idx: fc.integer({ min: 0, max: 8 }),
      target: frameIdx,
      flags,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ext' as const),
      cmd: fc.constantFrom(
        MMUEXT.MMUEXT_NEW_BASEPTR,
        MMUEXT.MMUEXT_NEW_BASEPTR,
        MMUEXT.MMUEXT_PIN_L1_TABLE,
        MMUEXT.MMUEXT_PIN_L2_TABLE,
        MMUEXT.MMUEXT_UNPIN_TABLE,
        MMUEXT.MMUEXT_TLB_FLUSH_LOCAL,
        MMUEXT.MMUEXT_INVLPG_LOCAL,
      ),
      target: fc.constantFrom(0, 5, 0, 5, 3, 4, 2, 1, 9),
      va,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('touch' as const),
      va,
      access: fc.constantFrom(...ACCESSES),
      // A write access also stores `value` at entry `idx` of the page, as the guest's CPU would
      // (which matters when the page is a former page table).
      idx: fc.integer({ min: 0, max: 3 }),
      value: fc.constantFrom(0, 1, 0x67),
    }),
  },
);

function apply(w: World, s: Step): void {
  const mfn = (i: number) => (i === PAGES ? w.machine.p2m(2).get(0) : w.a(i));
  const { mm } = w;
  switch (s.kind) {
    case 'mmu':
      mm.mmuUpdate(GUEST, reqs([ptr(mfn(s.table), s.idx, s.cmd), pte(mfn(s.target), s.flags)]), 1);
      return;
    case 'uvm':
      mm.updateVaMapping(GUEST, 0, s.va, 0, pte(mfn(s.target), s.flags), 0, s.uvmf);
      return;
    case 'ptwr':
      mm.ptwrWrite(GUEST, mfn(s.table), s.idx * 8, pte(mfn(s.target), s.flags), 0, 8);
      return;
    case 'ext': {
      const arg = s.cmd === MMUEXT.MMUEXT_INVLPG_LOCAL ? s.va : mfn(s.target);
      mm.mmuextOp(GUEST, 0, [op(s.cmd, arg)]);
      return;
    }
    case 'touch': {
      const f = w.pv.translate(s.va, 0, s.access);
      if (f >= 0 && (s.access & ACCESS.WRITE) !== 0) {
        const target = s.value === 0 ? 0 : pte(w.a(8 + s.idx), s.value);
        w.machine.memory.write32(f, s.idx * 8, target);
      }
    }
  }
}

describe.each([64, 32] as const)('PV shadow mode for a %i-bit guest', (width) => {
  it('translates through the shadows exactly as a walk of the guest tables, after random edits', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 40 }), (steps) => {
        const w = world(width);
        const first = check(w);
        if (first !== null) throw new Error(`initially: ${first}`);
        for (const s of steps) {
          apply(w, s);
          const problem = check(w);
          if (problem !== null) throw new Error(`${problem} after ${JSON.stringify(s)}`);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('keeps the shadows of each address space across base-pointer switches', () => {
    const w = world(width);
    const { mm, pv, a } = w;
    expect(pv.translate(0x2000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(a(10));
    expect(pv.translate(0x201000, 0, ACCESS.USER)).toBe(a(17));
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(5))])).toBe(0);
    expect(pv.rootMfn).toBe(a(5));
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(a(10));
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(0))])).toBe(0);
    const faults = pv.pager.faults;
    expect(pv.translate(0x2000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(a(10));
    expect(pv.translate(0x201000, 0, ACCESS.USER)).toBe(a(17));
    expect(pv.pager.faults).toBe(faults); // found in the kept shadows, no shadow fault
  });

  it('sees an update_va_mapping without a flush request at once, and faults as the guest tables say', () => {
    const w = world(width);
    const { mm, pv, a } = w;
    expect(pv.translate(0x1000, 0, ACCESS.USER)).toBe(a(9));
    expect(mm.updateVaMapping(GUEST, 0, 0x1000, 0, pte(a(20), P | US), 0, 0)).toBe(0);
    expect(pv.translate(0x1000, 0, ACCESS.USER)).toBe(a(20));
    expect(pv.translate(0x1000, 0, ACCESS.WRITE | ACCESS.USER)).toBe(-1);
    expect(pv.faultCode).toBe(0x7); // present, write, user
    expect(mm.updateVaMapping(GUEST, 0, 0x1000, 0, 0, 0, 0)).toBe(0);
    expect(pv.translate(0x1000, 0, ACCESS.USER)).toBe(-1);
    expect(pv.faultCode).toBe(0x4);
    // A page-table frame is never writable, whatever the guest asks for.
    expect(mm.updateVaMapping(GUEST, 0, 0x1000, 0, pte(a(3), P | RW | US), 0, 0)).not.toBe(0);
  });
});

describe('PV shadow mode and the 64-bit user base pointer', () => {
  it('walks the user root in user mode and the kernel root otherwise', () => {
    const w = world(64);
    const { mm, pv, a } = w;
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_USER_BASEPTR, a(5))])).toBe(0);
    expect(mm.mmuUpdate(GUEST, reqs([ptr(a(5), 0), 0]), 1)).toBe(0); // the user root maps nothing
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(a(10));
    pv.setUserMode(true);
    expect(pv.rootMfn).toBe(a(5));
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(-1);
    expect(pv.faultCode).toBe(ACCESS.USER);
    pv.setUserMode(false);
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(a(10));
  });
});

describe('PV shadow resynchronisation on revalidation', () => {
  it('drops shadows derived from a table the guest rewrote while it was an ordinary page', () => {
    const w = world(64);
    const { mm, pv, a, machine } = w;
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_UNPIN_TABLE, a(0))])).toBe(0);
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(a(10)); // shadowed through root a0
    // Leaving a0 drops its last type reference: it is an ordinary page now.
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(5))])).toBe(0);
    expect(machine.frames.typeCount[a(0)]).toBe(0);
    // The guest maps the former root writable, clears its slot 0 with a plain store, unmaps it.
    // (Through L1 a4, so that no table on the shadowed walk of 0x2000 is written.)
    expect(mm.updateVaMapping(GUEST, 0, 0x203000, 0, pte(a(0), P | RW | US), 0, 0)).toBe(0);
    const f = pv.translate(0x203000, 0, ACCESS.WRITE | ACCESS.USER);
    expect(f).toBe(a(0));
    machine.memory.write32(f, 0, 0);
    expect(mm.updateVaMapping(GUEST, 0, 0x203000, 0, pte(a(19), P | US), 0, 0)).toBe(0);
    // Back on a0: it is validated afresh, and the shadows kept for it must not survive.
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(0))])).toBe(0);
    expect(pv.translate(0x2000, 0, ACCESS.USER)).toBe(-1);
    expect(pv.faultCode).toBe(ACCESS.USER);
    expect(check(w)).toBeNull();
  });
});

describe('log-dirty through PV shadows', () => {
  it('reports exactly the pages written through the shadows since enabling or cleaning', () => {
    const move = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()),
      fc.constant('switch' as const),
    );
    const moves = fc.array(move, { maxLength: 40 });
    fc.assert(
      fc.property(moves, moves, moves, (before, phase1, phase2) => {
        const w = world(64, true);
        const log = w.log as DirtyLog;
        const run = (ms: typeof before): number[] => {
          const written = new Set<number>();
          for (const m of ms) {
            if (m === 'switch') {
              const base = w.mm.domain(GUEST).vcpus[0].baseMfn;
              const next = base === w.a(0) ? w.a(5) : w.a(0);
              expect(w.mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, next)])).toBe(0);
              continue;
            }
            const [page, write] = m;
            const data = 8 + page * 2; // the writable data pages a8, a10, a12, a14
            const f = w.pv.translate(
              page * 0x2000,
              0,
              write ? ACCESS.WRITE | ACCESS.USER : ACCESS.USER,
            );
            expect(f).toBe(w.a(data));
            if (write) {
              w.machine.memory.write32(f, 0, page + 1);
              written.add(data);
            }
          }
          return [...written].sort((x, y) => x - y);
        };
        run(before);
        log.enable(GUEST, w.machine.p2m(GUEST).size);
        const e1 = run(phase1);
        expect(bits(log.peek(GUEST))).toEqual(e1);
        expect(bits(log.clean(GUEST))).toEqual(e1);
        const e2 = run(phase2);
        expect(bits(log.clean(GUEST))).toEqual(e2);
      }),
      { numRuns: 150 },
    );
  });
});

function bits(bm: Uint8Array | null): number[] {
  const out: number[] = [];
  if (bm === null) return out;
  for (let pfn = 0; pfn < bm.length * 8; pfn++)
    if ((bm[pfn >>> 3] & (1 << (pfn & 7))) !== 0) out.push(pfn);
  return out;
}

describe('PV shadow mode as a translation port', () => {
  it('faults everything before the first base pointer and follows NEW_BASEPTR afterwards', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    machine.populate(GUEST, 0, 8);
    const mm = new PvMm(machine);
    mm.addDomain(GUEST, { guestWidth: 64 });
    const a = (pfn: number) => machine.p2m(GUEST).get(pfn);
    const pv = new PvShadow(mm, GUEST);
    expect(pv.translate(0, 0, ACCESS.WRITE)).toBe(-1);
    expect(pv.faultCode).toBe(ACCESS.WRITE);
    rawWrite(mm, GUEST, [
      [a(3), 0, pte(a(4), P | RW)],
      [a(2), 0, pte(a(3), P | RW)],
      [a(1), 0, pte(a(2), P | RW)],
      [a(0), 0, pte(a(1), P | RW)],
    ]);
    expect(mm.mmuextOp(GUEST, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(0))])).toBe(0);
    expect(pv.translate(0, 0, ACCESS.WRITE)).toBe(a(4));
    // Same result as a direct-paging translator on the same tables.
    const direct = new Translator(machine.memory, { physAddrBits: 40 });
    direct.setPaging({
      mode: PAGING_MODE.LONG,
      cr3Lo: a(0) * 4096,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
    });
    expect(direct.translate(0, 0, ACCESS.WRITE)).toBe(a(4));
    expect(direct.translate(0x1000, 0, ACCESS.USER)).toBe(-1);
    expect(pv.translate(0x1000, 0, ACCESS.USER)).toBe(-1);
    expect(pv.faultCode).toBe(direct.faultCode);
    pv.destroy();
  });
});
