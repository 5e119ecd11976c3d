import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuiltinPageWalker, FlatRam, X86Cpu } from '../src/index.ts';

// The CPU walks 2-level page tables of the built-in walker inline when it has a direct RAM view
// (cpu.ts `walk2`); given an explicit walker it always asks the walker. Both must agree on every
// translation, #PF error code, CR2 and accessed/dirty bit.

const PD = 0x1000;
const PT = 0x2000; // four page tables: 0x2000..0x5fff

function translateOrFault(cpu: X86Cpu, lin: number, access: number, user: boolean): string {
  cpu.flushTlb();
  try {
    return `pa ${cpu.translate(lin, access, user)}`;
  } catch {
    return `#PF ${cpu.faultVec} ${cpu.faultErr} cr2 ${cpu.cr2}`;
  }
}

describe('inline 2-level page walks', () => {
  it('agree with the built-in walker on frames, faults, error codes and A/D bits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0x7f }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 0x7f }), { minLength: 64, maxLength: 64 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(
          fc.record({
            pde: fc.integer({ min: 0, max: 3 }),
            pte: fc.integer({ min: 0, max: 15 }),
            off: fc.integer({ min: 0, max: 0xfff }),
            access: fc.integer({ min: 0, max: 2 }),
            user: fc.boolean(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (pdeBits, pteBits, wp, pse, accesses) => {
          const results: string[][] = [];
          const rams: Uint8Array[] = [];
          for (const explicit of [false, true]) {
            const ram = new FlatRam(8 << 20);
            for (let d = 0; d < 4; d++) {
              // Bit 7 (PS) with CR4.PSE makes a 4 MiB page; the low bits are P/RW/US/PWT/PCD/A/D.
              ram.write32(
                PD + d * 4,
                (PT + d * 0x1000) | (pdeBits[d] ?? 0) | ((pdeBits[d] ?? 0) & 0x40 ? 0x80 : 0),
              );
              for (let t = 0; t < 16; t++) {
                const frame = 0x100000 + (d * 16 + t) * 0x1000;
                ram.write32(PT + d * 0x1000 + t * 4, frame | (pteBits[d * 16 + t] ?? 0));
              }
            }
            const cpu = X86Cpu.create(
              explicit ? { memory: ram, walker: new BuiltinPageWalker(ram) } : { memory: ram },
            );
            cpu.cr3 = PD;
            cpu.cr4 = pse ? 0x10 : 0;
            cpu.cr0 = 0x80000011 | (wp ? 0x10000 : 0) | 0;
            cpu.updateMode();
            const out: string[] = [];
            for (const a of accesses) {
              const lin = a.pde * 0x400000 + a.pte * 0x1000 + a.off;
              out.push(translateOrFault(cpu, lin, a.access, a.user));
            }
            results.push(out);
            rams.push(ram.bytes.slice(0, 0x6000));
          }
          expect(results[0]).toEqual(results[1]);
          expect(Buffer.from(rams[0] ?? []).equals(Buffer.from(rams[1] ?? []))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
