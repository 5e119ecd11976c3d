/**
 * Property-based isolation tests: an adversarial PV domain issues arbitrary mmu_update,
 * mmuext_op and update_va_mapping requests. After every request an independent audit
 * recomputes every frame's type and reference counts from the validated tables, pins and base
 * pointers, and checks that no page-table frame is mapped writable and no foreign frame is
 * mapped without a grant (LDT pages mapped with mapLdtPage included). At the end,
 * relinquishing the domain must bring every count to zero.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  Machine,
  MMUEXT,
  PAGING_MODE,
  PageWalker,
  PGT,
  PvMm,
  type PvMm as PvMmType,
} from '../src/index.ts';
import { op, reqs } from './pv-helpers.ts';

const ATTACKER = 1;
const VICTIM = 2;
const PAGES = 20;

type Req =
  | {
      kind: 'mmu';
      cmd: number;
      table: number;
      idx: number;
      target: number;
      flags: number;
      hi: number;
    }
  | { kind: 'ext'; cmd: number; target: number; arg2: number; lo: number; hi: number }
  | { kind: 'uvm'; lo: number; hi: number; target: number; flags: number; uvmf: number }
  | {
      kind: 'ptwr';
      table: number;
      idx: number;
      half: number;
      target: number;
      flags: number;
      hi: number;
    }
  | { kind: 'gdt'; frames: number[]; entries: number }
  | { kind: 'ldt'; base: number; offset: number }
  | { kind: 'desc'; table: number; idx: number; lo: number; hi: number };

function world(width: 32 | 64) {
  const machine = new Machine({ bytes: 4 * 1024 * 1024 });
  machine.populate(VICTIM, 0, 4);
  machine.populate(ATTACKER, 0, PAGES);
  const grantedMfn = machine.p2m(VICTIM).get(1);
  const mm = new PvMm(machine, {
    grants: {
      mayMap: (mapper, mfn, writable) => mapper === ATTACKER && mfn === grantedMfn && !writable,
    },
  });
  mm.addDomain(ATTACKER, { guestWidth: width, vcpus: 2 });
  mm.addDomain(VICTIM, { guestWidth: width });
  // Xen's own entries, pointing at a frame nobody owns, so that the audit can tell them apart.
  mm.xenL4Entries[0] = (machine.frames.frames - 1) * 4096 + 0x63;
  mm.xenL2Entries[0] = (machine.frames.frames - 1) * 4096 + 0x63;
  const a = (pfn: number) => machine.p2m(ATTACKER).get(pfn);
  const pool: number[] = [];
  for (let i = 0; i < PAGES; i++) pool.push(a(i));
  for (let i = 0; i < 4; i++) pool.push(machine.p2m(VICTIM).get(i));
  pool.push(machine.frames.frames - 1, machine.frames.frames + 7, 0xfffff);
  return { machine, mm, pool, grantedMfn, width };
}

// Biased towards a few frames and low slots so that random sequences build real trees.
const frameIdx = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 3, arbitrary: fc.integer({ min: 8, max: PAGES - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: PAGES, max: PAGES + 6 }) },
);
const slot = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 3, arbitrary: fc.constantFrom(4, 255, 256, 260, 271, 272, 427, 428, 511) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 511 }) },
);
const flags = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0x7, 0x7, 0x3, 0x5, 0x1, 0x67, 0x0, 0x103) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xfff }) },
);
const hiBits = fc.constantFrom(0, 0, 0, -0x80000000, 0x10, 0x00100000);

const req: fc.Arbitrary<Req> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('mmu' as const),
      cmd: fc.constantFrom(0, 0, 0, 0, 1, 2, 3, 6),
      table: frameIdx,
      idx: slot,
      target: frameIdx,
      flags,
      hi: hiBits,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ext' as const),
      cmd: fc.constantFrom(
        0,
        0,
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
        5,
        6,
        7,
        10,
        13,
        15,
        16,
        17,
        19,
        40,
      ),
      target: frameIdx,
      arg2: fc.integer({ min: 0, max: PAGES + 6 }),
      lo: fc.constantFrom(0, 0x1000, 0x200000, 0x40000000),
      hi: fc.constantFrom(0, 0xffff8000 | 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('uvm' as const),
      lo: fc
        .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), slot)
        .map(([a, b, c]) => (a << 30) | (b << 21) | (c << 12) | 0),
      hi: fc.constantFrom(0, 0, 0x80, 0xffff8000 | 0),
      target: frameIdx,
      flags,
      uvmf: fc.integer({ min: 0, max: 7 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('ptwr' as const),
      table: frameIdx,
      idx: slot,
      half: fc.constantFrom(-1, 0, 4),
      target: frameIdx,
      flags,
      hi: hiBits,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('gdt' as const),
      frames: fc.array(frameIdx, { maxLength: 2 }),
      entries: fc.constantFrom(0, 16, 512, 700, 7169),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('ldt' as const),
      // -1: the read-only page of prebuild(); else a random address.
      base: fc.oneof(
        fc.constant(-1),
        fc
          .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), slot)
          .map(([a, b, c]) => (a << 30) | (b << 21) | (c << 12) | 0),
      ),
      offset: fc.constantFrom(0, 8, 0x1000, 0x2008, 0x10000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('desc' as const),
      table: frameIdx,
      idx: slot,
      lo: fc.constantFrom(0, 0xffff, 0x00101000),
      hi: fc.constantFrom(0, 0x00cf9300, 0x00af9b00, 0x8900, 0xec00, 0x00cffa00),
    }),
  },
);

function apply(w: ReturnType<typeof world>, r: Req): number {
  const { mm, pool, width } = w;
  const mfnOf = (i: number) => pool[i];
  if (r.kind === 'mmu') {
    const ptrV = mfnOf(r.table) * 4096 + r.idx * 8 + r.cmd;
    const val = r.cmd === 1 ? r.target : mfnOf(r.target) * 4096 + r.flags;
    return mm.mmuUpdate(ATTACKER, reqs([ptrV, val % 0x100000000, r.hi]), 1);
  }
  if (r.kind === 'ext') {
    const arg1 = r.cmd === 7 || r.cmd === 13 ? r.lo : mfnOf(r.target);
    const arg1Hi = r.cmd === 7 || r.cmd === 13 ? r.hi : 0;
    const arg2 = r.cmd === 17 ? mfnOf(r.arg2) : r.cmd === 13 ? r.arg2 * 512 : r.arg2;
    return mm.mmuextOp(ATTACKER, 0, [op(r.cmd, arg1 | 0, arg2, arg1Hi)]);
  }
  if (r.kind === 'ldt') {
    // SET_LDT (a no-op when unchanged), then the access fault that maps an LDT page.
    const base = r.base !== -1 ? r.base : width === 64 ? 0x1000 : 0xc0001000 | 0;
    const rc = mm.mmuextOp(ATTACKER, 0, [op(MMUEXT.MMUEXT_SET_LDT, base, 8192)]);
    if (rc !== 0) return rc;
    return Math.min(0, mm.mapLdtPage(ATTACKER, 0, r.offset));
  }
  if (r.kind === 'gdt') return mm.setGdt(ATTACKER, 0, r.frames.map(mfnOf), r.entries);
  if (r.kind === 'desc')
    return mm.updateDescriptor(ATTACKER, mfnOf(r.table) * 4096 + r.idx * 8, r.lo, r.hi);
  if (r.kind === 'ptwr') {
    const lo = (mfnOf(r.target) * 4096 + r.flags) | 0;
    if (r.half < 0) return mm.ptwrWrite(ATTACKER, mfnOf(r.table), r.idx * 8, lo, r.hi, 8);
    return mm.ptwrWrite(
      ATTACKER,
      mfnOf(r.table),
      r.idx * 8 + r.half,
      r.half === 0 ? lo : r.hi,
      0,
      4,
    );
  }
  return mm.updateVaMapping(
    ATTACKER,
    0,
    r.lo,
    r.hi,
    (mfnOf(r.target) * 4096 + r.flags) | 0,
    0,
    r.uvmf,
  );
}

function isXenSlot(width: number, type: number, i: number): boolean {
  const level = type & 0xff;
  if (level === 4) return width === 64 && i >= 256 && i <= 271;
  if (level === 3) return width === 32 && i >= 4;
  if (level === 2) return (type & PGT.PGT_pae_xen_l2) !== 0 && i >= 428;
  return false;
}

/** Recomputes all counts from scratch and checks the isolation invariants; returns a problem or null. */
function audit(mm: PvMmType, width: 32 | 64, grantedMfn: number): string | null {
  const { frames: ft, memory } = mm.machine;
  const n = ft.frames;
  const type = new Int32Array(n);
  const ref = new Int32Array(n);
  for (let m = 0; m < n; m++) {
    const level = ft.type[m] & 0xff;
    if (ft.typeCount[m] === 0 || level < 1 || level > 4) continue;
    const owner = ft.owner[m];
    for (let i = 0; i < 512; i++) {
      if (isXenSlot(width, ft.type[m], i)) continue;
      const lo = memory.read32(m, i * 8);
      const hi = memory.read32(m, i * 8 + 4);
      if ((lo & 1) === 0) continue;
      const t = (lo >>> 12) | ((hi & 0xfffff) << 20);
      if (t >= n) return `table ${m}[${i}] maps frame ${t} outside RAM`;
      ref[t]++;
      if (level === 1) {
        const writable = (lo & 2) !== 0;
        if (ft.owner[t] !== owner && !(t === grantedMfn && !writable)) {
          return `L1 ${m}[${i}] of domain ${owner} maps frame ${t} of domain ${ft.owner[t]}`;
        }
        if (writable) {
          type[t]++;
          if (ft.type[t] !== PGT.PGT_writable_page)
            return `L1 ${m}[${i}] maps frame ${t} (type ${ft.type[t]}) writable`;
        }
      } else {
        type[t]++;
        if (ft.owner[t] !== owner) return `L${level} ${m}[${i}] references foreign table ${t}`;
        if ((ft.type[t] & 0xff) !== level - 1)
          return `L${level} ${m}[${i}] → ${t} has type ${ft.type[t]}`;
      }
    }
  }
  for (let m = 0; m < n; m++) {
    if (ft.pinned[m] === 1) {
      type[m]++;
      ref[m]++;
    }
  }
  for (const domid of [ATTACKER, VICTIM]) {
    for (const v of mm.domain(domid).vcpus) {
      for (const gf of v.gdtFrames) {
        type[gf]++;
        ref[gf]++;
        if (ft.type[gf] !== PGT.PGT_seg_desc_page) return `GDT frame ${gf} has type ${ft.type[gf]}`;
      }
      for (const lf of v.ldtFrames) {
        if (lf < 0) continue;
        type[lf]++;
        ref[lf]++;
        if (ft.type[lf] !== PGT.PGT_seg_desc_page) return `LDT frame ${lf} has type ${ft.type[lf]}`;
        if (ft.owner[lf] !== domid) return `LDT frame ${lf} of domain ${ft.owner[lf]}`;
      }
      for (const b of [v.baseMfn, v.userBaseMfn]) {
        if (b >= 0) {
          type[b]++;
          ref[b]++;
        }
      }
    }
  }
  for (let m = 0; m < n; m++) {
    if (type[m] !== ft.typeCount[m])
      return `frame ${m}: typeCount ${ft.typeCount[m]}, audit ${type[m]}`;
    if (ref[m] !== ft.refCount[m]) return `frame ${m}: refCount ${ft.refCount[m]}, audit ${ref[m]}`;
    if (ft.typeCount[m] === 0 && ft.type[m] !== 0)
      return `frame ${m}: type ${ft.type[m]} with count 0`;
  }
  return null;
}

/** Walks the attacker's live tables for writes at sampled addresses; writable leaves must be safe. */
function walkCheck(
  mm: PvMmType,
  width: 32 | 64,
  vas: readonly (readonly [number, number])[],
): string | null {
  const base = mm.domain(ATTACKER).vcpus[0].baseMfn;
  if (base < 0) return null;
  const ft = mm.machine.frames;
  const w = new PageWalker(mm.machine.memory, 36);
  w.configure({
    mode: width === 64 ? PAGING_MODE.LONG : PAGING_MODE.PAE,
    cr3Lo: base * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  for (const [lo, hi] of vas) {
    // Skip Xen's own mappings (slot 256 / compat hole): they are not guest mappings.
    if (width === 64 && ((hi >>> 7) & 0x1ff) >= 256 && ((hi >>> 7) & 0x1ff) <= 271) continue;
    if (width === 32 && lo >>> 0 >= 0xf5800000) continue;
    if (!w.walk(lo, hi, ACCESS.WRITE)) continue;
    const t = w.frame;
    if (ft.owner[t] !== ATTACKER) return `write to ${hi}:${lo} reaches foreign frame ${t}`;
    if (ft.type[t] !== PGT.PGT_writable_page)
      return `write to ${hi}:${lo} reaches frame ${t} of type ${ft.type[t]}`;
  }
  return null;
}

const SAMPLE_VAS: [number, number][] = [];
for (const a of [0, 1, 2, 3]) {
  for (const b of [0, 1, 2, 3]) {
    for (const c of [0, 1, 2, 3, 4, 255, 256, 511])
      SAMPLE_VAS.push([(a << 30) | (b << 21) | (c << 12) | 0, 0]);
  }
}
SAMPLE_VAS.push([0, 0x80], [0x1000, 0x80]);

/**
 * A guided start: root a(0) → … → L1 a(3) mapping a(4) writable at VA 0 and a(5) read-only at
 * VA 0x1000, made vCPU 0's base pointer. Returns the NEW_BASEPTR result.
 */
function prebuild(w: ReturnType<typeof world>, width: 32 | 64): number {
  const a = (i: number) => w.pool[i];
  const rootSlot = width === 64 ? 0 : 3;
  w.mm.mmuUpdate(ATTACKER, reqs([a(0) * 4096 + rootSlot * 8, a(1) * 4096 + 1]), 1);
  if (width === 64) {
    w.mm.mmuUpdate(ATTACKER, reqs([a(1) * 4096, a(2) * 4096 + 1]), 1);
    w.mm.mmuUpdate(ATTACKER, reqs([a(2) * 4096, a(3) * 4096 + 7]), 1);
  } else {
    w.mm.mmuUpdate(ATTACKER, reqs([a(1) * 4096, a(3) * 4096 + 7]), 1);
  }
  w.mm.mmuUpdate(ATTACKER, reqs([a(3) * 4096, a(4) * 4096 + 7]), 1);
  w.mm.mmuUpdate(ATTACKER, reqs([a(3) * 4096 + 8, a(5) * 4096 + 5]), 1);
  return w.mm.mmuextOp(ATTACKER, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, a(0))]);
}

describe.each([64, 32] as const)('isolation of an adversarial %i-bit PV domain', (width) => {
  it('never yields a writable page-table mapping or an unowned mapping, and counts stay exact', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(req, { minLength: 10, maxLength: 80 }), (pre, rs) => {
        const w = world(width);
        if (pre) expect(prebuild(w, width)).toBe(0);
        for (const r of rs) {
          const rc = apply(w, r);
          expect(rc <= 0).toBe(true);
          const problem = audit(w.mm, width, w.grantedMfn) ?? walkCheck(w.mm, width, SAMPLE_VAS);
          if (problem !== null) throw new Error(`${problem} after ${JSON.stringify(r)}`);
        }
        w.mm.relinquish(ATTACKER);
        const ft = w.machine.frames;
        for (let m = 0; m < ft.frames; m++) {
          if (ft.typeCount[m] !== 0 || ft.refCount[m] !== 0) {
            throw new Error(
              `frame ${m} keeps counts ${ft.typeCount[m]}/${ft.refCount[m]} after relinquish`,
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('builds real page-table trees often enough for the property to mean something', () => {
    // Guard against a vacuous property: a guided sequence reaches a validated base pointer.
    const w = world(width);
    const a = (i: number) => w.pool[i];
    expect(prebuild(w, width)).toBe(0);
    expect(audit(w.mm, width, w.grantedMfn)).toBeNull();
    expect(w.machine.frames.type[a(4)]).toBe(PGT.PGT_writable_page);
    // The same start lets the random 'ldt' requests map a descriptor page.
    const ldtBase = width === 64 ? 0x1000 : 0xc0001000 | 0;
    expect(w.mm.mmuextOp(ATTACKER, 0, [op(MMUEXT.MMUEXT_SET_LDT, ldtBase, 8192)])).toBe(0);
    expect(w.mm.mapLdtPage(ATTACKER, 0, 0)).toBe(a(5));
    expect(audit(w.mm, width, w.grantedMfn)).toBeNull();
  });
});

describe('isolation regression cases', () => {
  it('keeps exact counts when a table maps itself read-only and is then unpinned', () => {
    const w = world(64);
    const a = (i: number) => w.pool[i];
    expect(w.mm.mmuUpdate(ATTACKER, reqs([a(0) * 4096, a(0) * 4096 + 1]), 1)).toBe(0);
    expect(w.mm.mmuextOp(ATTACKER, 0, [op(MMUEXT.MMUEXT_PIN_L1_TABLE, a(0))])).toBe(0);
    expect(w.machine.frames.refCount[a(0)]).toBe(2);
    expect(w.mm.mmuextOp(ATTACKER, 0, [op(MMUEXT.MMUEXT_UNPIN_TABLE, a(0))])).toBe(0);
    expect(w.machine.frames.refCount[a(0)]).toBe(0);
    expect(audit(w.mm, 64, w.grantedMfn)).toBeNull();
  });

  it('has the PvMm class under test (not a copy)', () => {
    expect(world(64).mm).toBeInstanceOf(PvMm);
  });
});
