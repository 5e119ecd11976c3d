/**
 * Shadow consistency: for random guest page-table edits (made by the guest itself, through its
 * own linear mapping of its frames, so they go through the shadows' write protection) and random
 * accesses, translating through the shadows equals walking the guest tables directly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  DirtyLog,
  Machine,
  PAGING_MODE,
  PageWalker,
  SHADOW_FAULT,
  ShadowPager,
} from '../src/index.ts';

const GFNS = 32;
const LINEAR = 0x200000; // gfn i is mapped supervisor-RW at LINEAR + i * 4096

function guest() {
  const machine = new Machine({ bytes: 4 * 1024 * 1024 });
  machine.populate(7, 0, 5); // skew gfn != mfn
  machine.populate(1, 0, GFNS);
  const p2m = machine.p2m(1);
  const mfn = (gfn: number) => p2m.get(gfn);
  const raw = (gfn: number, idx: number, lo: number, hi = 0) => {
    machine.memory.write32(mfn(gfn), idx * 8, lo);
    machine.memory.write32(mfn(gfn), idx * 8 + 4, hi);
  };
  // L4 gfn 1 → L3 gfn 2 → L2 gfn 3 → L1 gfn 4 (VA 0..2M, the random area), L1 gfn 5 (linear map).
  raw(1, 0, (2 << 12) | 7);
  raw(2, 0, (3 << 12) | 7);
  raw(3, 0, (4 << 12) | 7);
  raw(3, 1, (5 << 12) | 3);
  for (let i = 0; i < GFNS; i++) raw(5, i, (i << 12) | 3);
  raw(30, 0, (2 << 12) | 7); // a second address space sharing the lower half (L4 gfn 30)
  raw(30, 1, (2 << 12) | 7); // ... which also maps it again at 0x80_0000_0000 (gfn 1 does not)
  const shadow = new ShadowPager(machine, 1);
  const config = {
    mode: PAGING_MODE.LONG,
    cr3Lo: 1 << 12,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  } as const;
  shadow.setGuestPaging(config);
  const ref = new PageWalker(machine.memory, 40);
  ref.p2m = p2m;
  ref.configure(config);

  /** A guest store of 8 bytes at (gfn, idx) through the linear map, as the CPU would do it. */
  const guestWrite = (gfn: number, idx: number, lo: number, hi: number) => {
    const va = LINEAR + gfn * 4096;
    let frame = shadow.translate(va, 0, ACCESS.WRITE);
    let emulated = false;
    if (frame < 0) {
      expect(shadow.status).toBe(SHADOW_FAULT.EMULATE_WRITE);
      frame = shadow.emulateMfn;
      emulated = true;
    }
    expect(frame).toBe(mfn(gfn));
    machine.memory.write32(frame, idx * 8, lo);
    machine.memory.write32(frame, idx * 8 + 4, hi);
    if (emulated) shadow.emulatedWrite(frame);
  };
  /** MOV CR3 to the address space whose L4 is `gfn`. */
  const switchTo = (gfn: number) => {
    const c = { ...config, cr3Lo: gfn << 12 };
    shadow.setGuestPaging(c);
    ref.configure(c);
  };
  return { machine, shadow, ref, guestWrite, mfn, switchTo };
}

type Op =
  | { kind: 'edit'; gfn: number; idx: number; target: number; flags: number; nx: boolean }
  | { kind: 'access'; lo: number; hi: number; access: number }
  | { kind: 'invlpg'; lo: number }
  | { kind: 'switch'; root: number };

const EDITABLE: [number, number[]][] = [
  [4, [0, 1, 2, 3, 4, 5, 6, 7]], // L1 of the random area
  [3, [2, 3]], // L2 slots for VA 4M..8M
  [3, [2, 3]], // (twice: upper-level edits must drop the leaves below them)
  [2, [1]], // L3 slot for VA 1G..2G
  [1, [1]], // L4 slot 1
];
const edit = fc
  .record({
    table: fc.integer({ min: 0, max: EDITABLE.length + 1 }),
    pick: fc.nat(),
    target: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(2, 3, 4, 5) }, // existing tables: no rediscovery reset
      { weight: 5, arbitrary: fc.integer({ min: 0, max: GFNS + 2 }) },
    ),
    flags: fc.constantFrom(0x7, 0x7, 0x5, 0x3, 0x1, 0x0, 0x0, 0x87, 0x67),
    nx: fc.boolean(),
  })
  .map(({ table, pick, target, flags, nx }): Op => {
    if (table >= EDITABLE.length) {
      // A data page (which an edit may already have turned into a table).
      return { kind: 'edit', gfn: 6 + (pick % 8), idx: pick % 4, target, flags, nx };
    }
    const [gfn, slots] = EDITABLE[table] as [number, number[]];
    return { kind: 'edit', gfn, idx: slots[pick % slots.length] as number, target, flags, nx };
  });
const vaArb = fc
  .tuple(
    fc.constantFrom(0, 1),
    fc.constantFrom(0, 1),
    fc.constantFrom(0, 2, 3),
    fc.integer({ min: 0, max: 7 }),
  )
  .map(([l4, l3, l2, l1]) => ({ lo: (l3 << 30) | (l2 << 21) | (l1 << 12) | 0, hi: l4 << 7 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: edit },
  {
    weight: 6,
    arbitrary: fc
      .tuple(vaArb, fc.constantFrom(0, 2, 4, 6, 0x10, 0x14))
      .map(([va, access]): Op => ({ kind: 'access', lo: va.lo, hi: va.hi, access })),
  },
  { weight: 1, arbitrary: vaArb.map((va): Op => ({ kind: 'invlpg', lo: va.lo })) },
  { weight: 2, arbitrary: fc.constantFrom(1, 30).map((root): Op => ({ kind: 'switch', root })) },
);

/** Structural audit: shadow tables live in Xen's frames, shadow leaves map only guest frames. */
function auditShadow(shadow: ShadowPager): string | null {
  const { memory, frames } = shadow.machine;
  const walk = (mfn: number, level: number): string | null => {
    if (frames.owner[mfn] !== 0x7ff2) return `shadow L${level} ${mfn} is not a Xen frame`;
    for (let i = 0; i < 512; i++) {
      const lo = memory.read32(mfn, i * 8);
      if ((lo & 1) === 0) continue;
      const t = (lo >>> 12) | ((memory.read32(mfn, i * 8 + 4) & 0xfffff) << 20);
      if (level === 1) {
        if (frames.owner[t] !== 1)
          return `shadow leaf ${mfn}[${i}] maps frame ${t} of ${frames.owner[t]}`;
        if ((lo & 2) !== 0 && shadow.isGuestTable(t))
          return `shadow leaf ${mfn}[${i}] maps table ${t} writable`;
      } else {
        const r = walk(t, level - 1);
        if (r !== null) return r;
      }
    }
    return null;
  };
  return walk(shadow.rootMfn, 4);
}

describe('shadow page tables', () => {
  it('translate exactly as the guest tables do, for random guest edits and accesses', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 60 }), (ops) => {
        const { shadow, ref, guestWrite, machine, switchTo } = guest();
        for (const o of ops) {
          const problem = auditShadow(shadow);
          if (problem !== null) throw new Error(`${problem} before ${JSON.stringify(o)}`);
          if (o.kind === 'switch') {
            switchTo(o.root);
          } else if (o.kind === 'edit') {
            guestWrite(o.gfn, o.idx, (o.target << 12) | o.flags | 0, o.nx ? -0x80000000 : 0);
          } else if (o.kind === 'invlpg') {
            shadow.invlpg(o.lo, 0);
          } else {
            const got = shadow.translate(o.lo, o.hi, o.access);
            const ok = ref.walk(o.lo, o.hi, o.access);
            if (got >= 0) {
              expect(ok).toBe(true);
              expect(got).toBe(ref.frame);
              // Writes land only on frames that are not guest page tables.
              if ((o.access & 2) !== 0) expect(shadow.isGuestTable(got)).toBe(false);
            } else if (shadow.status === SHADOW_FAULT.GUEST_FAULT) {
              expect(ok).toBe(false);
              expect(ref.p2mMiss).toBe(0);
              expect(shadow.errorCode).toBe(ref.errorCode);
            } else if (shadow.status === SHADOW_FAULT.EMULATE_WRITE) {
              expect(ok).toBe(true);
              expect(shadow.emulateMfn).toBe(ref.frame);
            } else {
              expect(ok).toBe(false);
              expect(ref.p2mMiss).toBe(1);
            }
          }
        }
        const problem = auditShadow(shadow);
        if (problem !== null) throw new Error(problem);
        shadow.destroy();
        expect(machine.frames.domainPages(0x7ff2)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the shadows of each address space across CR3 switches until a table changes', () => {
    const { shadow, guestWrite, mfn, switchTo } = guest();
    guestWrite(4, 3, (20 << 12) | 7, 0);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    switchTo(30); // first use of L4 gfn 30 discovers a new table: all shadows drop once
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    switchTo(1);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    switchTo(30);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    const faults = shadow.faults;
    switchTo(1);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    switchTo(30);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    expect(shadow.faults).toBe(faults); // both address spaces kept their shadows
    guestWrite(4, 3, (21 << 12) | 7, 0);
    switchTo(1);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(21));
  });

  it('drops leaves derived from an upper-level entry when that entry changes', () => {
    const { shadow, guestWrite, mfn } = guest();
    guestWrite(4, 3, (20 << 12) | 7, 0);
    guestWrite(3, 2, (4 << 12) | 7, 0); // L2[2] → the existing L1: VA 4 MiB + 3 pages → gfn 20
    expect(shadow.translate(0x403000, 0, ACCESS.USER)).toBe(mfn(20));
    expect(shadow.translate(0x403000, 0, ACCESS.USER)).toBe(mfn(20));
    guestWrite(3, 2, 0, 0); // unmap the whole 2 MiB
    expect(shadow.translate(0x403000, 0, ACCESS.USER)).toBe(-1);
    expect(shadow.status).toBe(SHADOW_FAULT.GUEST_FAULT);
    expect(shadow.errorCode).toBe(0x4);
  });

  it('write-protects guest page tables so edits are emulated and picked up', () => {
    const { shadow, guestWrite, mfn } = guest();
    expect(shadow.translate(0x3000, 0, ACCESS.READ)).toBe(-1);
    expect(shadow.status).toBe(SHADOW_FAULT.GUEST_FAULT);
    expect(shadow.errorCode).toBe(0);
    guestWrite(4, 3, (20 << 12) | 7, 0);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(20));
    const resets = shadow.resets;
    const resyncs = shadow.resyncs;
    guestWrite(4, 3, (21 << 12) | 7, 0);
    expect(shadow.resets).toBe(resets);
    expect(shadow.resyncs).toBe(resyncs + 1);
    expect(shadow.translate(0x3000, 0, ACCESS.USER)).toBe(mfn(21));
    expect(shadow.translate(LINEAR + 4 * 4096, 0, ACCESS.WRITE)).toBe(-1);
    expect(shadow.status).toBe(SHADOW_FAULT.EMULATE_WRITE);
    expect(shadow.isGuestTable(mfn(4))).toBe(true);
    expect(shadow.isGuestTable(mfn(20))).toBe(false);
  });
});

describe('log-dirty on a shadow-mode guest', () => {
  it('reports exactly the guest pages written through the shadows since the last clean', () => {
    const accesses = fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean()), {
      maxLength: 30,
    });
    fc.assert(
      fc.property(accesses, accesses, (before, after) => {
        const { machine, shadow, guestWrite, mfn } = guest();
        for (let i = 0; i < 8; i++) guestWrite(4, i, ((20 + i) << 12) | 7, 0);
        const log = new DirtyLog(machine.frames);
        shadow.translator.dirtyLog = log;
        log.attachTlb(1, shadow.translator);
        const touch = (page: number, write: boolean) => {
          const f = shadow.translate(
            page << 12,
            0,
            write ? ACCESS.WRITE | ACCESS.USER : ACCESS.USER,
          );
          expect(f).toBe(mfn(20 + page));
        };
        for (const [p, w] of before) touch(p, w);
        log.enable(1, GFNS);
        for (const [p, w] of after) touch(p, w);
        const bm = log.clean(1) as Uint8Array;
        const got: number[] = [];
        for (let gfn = 0; gfn < GFNS; gfn++)
          if ((bm[gfn >>> 3] & (1 << (gfn & 7))) !== 0) got.push(gfn);
        const want = [...new Set(after.filter(([, w]) => w).map(([p]) => 20 + p))].sort(
          (a, b) => a - b,
        );
        expect(got).toEqual(want);
      }),
      { numRuns: 100 },
    );
  });
});
