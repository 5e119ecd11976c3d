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
