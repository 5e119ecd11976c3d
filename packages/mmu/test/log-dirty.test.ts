import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACCESS, DirtyLog, Machine, MMUEXT, PAGING_MODE, PvMm, Translator } from '../src/index.ts';
import { op, P, pte, ptr, RW, rawWrite, reqs, US } from './pv-helpers.ts';

const DATA = 8; // PFNs 8..15 are mapped RW at VA 0x8000..0xf000

function setup() {
  const machine = new Machine({ bytes: 4 * 1024 * 1024 });
  machine.populate(1, 0, 20);
  const log = new DirtyLog(machine.frames);
  const mm = new PvMm(machine, { dirtyLog: log });
  mm.addDomain(1, { guestWidth: 64 });
  const f = (pfn: number) => machine.p2m(1).get(pfn);
  const entries: [number, number, number][] = [];
  for (let i = 0; i < 8; i++) entries.push([f(3), DATA + i, pte(f(DATA + i), P | RW | US)]);
  entries.push(
    [f(2), 0, pte(f(3), P | RW | US)],
    [f(1), 0, pte(f(2), P | RW | US)],
    [f(0), 0, pte(f(1), P | RW | US)],
  );
  expect(rawWrite(mm, 1, entries)).toBe(0);
  expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_NEW_BASEPTR, f(0))])).toBe(0);
  const cpu = new Translator(machine.memory);
  cpu.dirtyLog = log;
  mm.attachTlb(1, 0, cpu);
  log.attachTlb(1, cpu);
  cpu.setPaging({
    mode: PAGING_MODE.LONG,
    cr3Lo: f(0) * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  /** A guest access through the CPU's translation port, writing to RAM like a CPU would. */
  const access = (page: number, write: boolean) => {
    const frame = cpu.translate(
      (DATA + page) << 12,
      0,
      write ? ACCESS.WRITE | ACCESS.USER : ACCESS.USER,
    );
    expect(frame).toBe(f(DATA + page));
    if (write) machine.memory.write32(frame, 0, page + 1);
    else machine.memory.read32(frame, 0);
  };
  return { machine, log, mm, f, cpu, access };
}

function bits(bm: Uint8Array | null): number[] {
  const out: number[] = [];
  if (bm === null) return out;
  for (let pfn = 0; pfn < bm.length * 8; pfn++)
    if ((bm[pfn >>> 3] & (1 << (pfn & 7))) !== 0) out.push(pfn);
  return out;
}

describe('log-dirty tracking', () => {
  it('reports exactly the pages written since enabling or the last clean', () => {
    const accesses = fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean()), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(accesses, accesses, accesses, (before, phase1, phase2) => {
        const { log, access, machine } = setup();
        for (const [p, w] of before) access(p, w); // warm the TLB, including write permissions
        log.enable(1, machine.p2m(1).size);
        for (const [p, w] of phase1) access(p, w);
        const expected1 = [...new Set(phase1.filter(([, w]) => w).map(([p]) => DATA + p))].sort(
          (a, b) => a - b,
        );
        expect(bits(log.peek(1))).toEqual(expected1);
        expect(bits(log.clean(1))).toEqual(expected1);
        for (const [p, w] of phase2) access(p, w);
        const expected2 = [...new Set(phase2.filter(([, w]) => w).map(([p]) => DATA + p))].sort(
          (a, b) => a - b,
        );
        expect(bits(log.clean(1))).toEqual(expected2);
        expect(bits(log.peek(1))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('marks pages the hypervisor writes for the guest and nothing while disabled', () => {
    const { log, mm, f, access, machine } = setup();
    access(0, true);
    expect(log.peek(1)).toBeNull();
    log.enable(1, machine.p2m(1).size);
    expect(mm.mmuUpdate(1, reqs([ptr(f(17), 0), 5]), 1)).toBe(0);
    expect(mm.mmuextOp(1, 0, [op(MMUEXT.MMUEXT_CLEAR_PAGE, f(18))])).toBe(0);
    expect(mm.mmuUpdate(1, reqs([ptr(f(3), 30), pte(f(19), P)]), 1)).toBe(0);
    expect(bits(log.clean(1))).toEqual([3, 17, 18]);
    log.disable(1);
    access(1, true);
    expect(log.peek(1)).toBeNull();
  });
});

describe('log-dirty write watch over machine memory', () => {
  it('marks every frame written through the machine memory writers while logging, and only then', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('w32', 'w8', 'ma32', 'ma8', 'bytes', 'clear', 'copy'),
            pfn: fc.integer({ min: 0, max: 15 }),
            src: fc.integer({ min: 0, max: 15 }),
            off: fc.integer({ min: 0, max: 4092 }),
            value: fc.integer(),
          }),
          { maxLength: 40 },
        ),
        fc.boolean(),
        (writes, cleanMidway) => {
          const machine = new Machine({ bytes: 2 * 1024 * 1024 });
          machine.populate(1, 0, 16);
          machine.populate(2, 0, 4);
          const log = new DirtyLog(machine.frames, { memory: machine.memory });
          const mem = machine.memory;
          const f = (pfn: number) => machine.p2m(1).get(pfn);
          mem.write32(machine.p2m(2).get(0), 0, 1); // not logging: no watch installed
          expect(mem.writeWatch).toBe(null);
          log.enable(1, 16);
          expect(mem.writeWatch).toBe(log);
          const expected = new Set<number>();
          writes.forEach((w, i) => {
            if (cleanMidway && i === writes.length >> 1) {
              log.clean(1);
              expected.clear();
            }
            const mfn = f(w.pfn);
            const off = w.off & ~3;
            if (w.kind === 'w32') mem.write32(mfn, off, w.value);
            else if (w.kind === 'w8') mem.write8(mfn, w.off, w.value & 0xff);
            else if (w.kind === 'ma32') mem.writeMa32(mfn * 4096 + w.off, w.value);
            else if (w.kind === 'ma8') mem.writeMa8(mfn * 4096 + w.off, w.value & 0xff);
            else if (w.kind === 'bytes') mem.writeBytes(mfn, off, new Uint8Array([1, 2, 3, 4]));
            else if (w.kind === 'clear') mem.clearFrame(mfn);
            else mem.copyFrame(mfn, f(w.src));
            expected.add(w.pfn);
            // Another domain's writes never show up in this log.
            mem.write32(machine.p2m(2).get(1), 0, i);
          });
          expect(bits(log.peek(1))).toEqual([...expected].sort((a, b) => a - b));
          expect(log.stats(1)?.dirtyCount).toBe(expected.size);
          log.disable(1);
          expect(mem.writeWatch).toBe(null);
        },
      ),
    );
  });
});

describe('log-dirty marks follow a frame to its new PFN and owner', () => {
  it('marks a frame written again after the M2P moved it to another PFN or another logging domain', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    machine.populate(1, 0, 4);
    machine.populate(2, 0, 4);
    const log = new DirtyLog(machine.frames, { memory: machine.memory });
    log.enable(1, 8);
    log.enable(2, 8);
    const mfn = machine.p2m(1).get(2);
    machine.memory.write32(mfn, 0, 1);
    expect(bits(log.peek(1))).toEqual([2]);
    // The same frame now stands for PFN 6 (as after a remapping): the next write marks PFN 6.
    machine.frames.m2p[mfn] = 6;
    machine.memory.write32(mfn, 4, 2);
    expect(bits(log.peek(1))).toEqual([2, 6]);
    // …and, handed to domain 2 as its PFN 5, domain 2's log.
    machine.frames.owner[mfn] = 2;
    machine.frames.m2p[mfn] = 5;
    machine.memory.write32(mfn, 8, 3);
    expect(bits(log.peek(2))).toEqual([5]);
  });
});

describe('log-dirty bitmaps grow with the domain', () => {
  it('marks a PFN past the bitmap given at enable (a domain that ballooned up)', () => {
    const machine = new Machine({ bytes: 2 * 1024 * 1024 });
    machine.populate(1, 0, 4);
    const log = new DirtyLog(machine.frames, { memory: machine.memory });
    log.enable(1, 4);
    expect(log.pages(1)).toBe(8);
    expect(machine.populate(1, 100, 1)).toBe(0);
    machine.memory.write32(machine.p2m(1).get(100), 0, 7);
    machine.memory.write32(machine.p2m(1).get(1), 0, 7);
    expect(bits(log.peek(1))).toEqual([1, 100]);
    expect(log.pages(1)).toBeGreaterThan(100);
    expect(bits(log.clean(1))).toEqual([1, 100]);
    expect(bits(log.peek(1))).toEqual([]);
  });
});
