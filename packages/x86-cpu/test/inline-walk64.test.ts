import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuiltinPageWalker, FlatRam, X86Cpu } from '../src/index.ts';

// With a direct RAM view the CPU walks 4-level tables inline (cpu.ts `walkFill4`) for the common
// case and leaves everything else (faults, 1 GiB pages, frames above 4 GiB) to the built-in
// walker; given an explicit walker it always asks the walker. Both must agree on every
// translation, #PF error code, CR2 and accessed/dirty bit.

const PML4 = 0x1000;
const PDPT = [0x2000, 0x3000];
const PD = [0x4000, 0x5000, 0x6000, 0x7000];
const PT0 = 0x8000; // 16 page tables: 0x8000..0x17fff

function translateOrFault(
  cpu: X86Cpu,
  lin: number,
  access: number,
  user: boolean,
  flush: boolean,
): string {
  // Without a flush the access may hit an entry an earlier walk filled (its cached permissions).
  if (flush) cpu.flushTlb();
  try {
    // Loads and stores through the data paths (the direct-RAM fast entries), fetches by translate.
    if (access === 0) return `read ${cpu.readLin32(lin - (lin % 4), user)}`;
    if (access === 1) {
      cpu.writeLin32(lin - (lin % 4), lin | 0, user);
      return 'written';
    }
    return `pa ${cpu.translate(lin, access, user)}`;
  } catch {
    return `#PF ${cpu.faultVec} ${cpu.faultErr} cr2 ${cpu.cr2}`;
  }
}

/** Entry flags: P, RW, US, PWT, PCD, A, D and sometimes PS; hi: NX and rarely address bits. */
const lowBits = fc.integer({ min: 0, max: 0xff }).map((b) => (b % 5 === 0 ? b & ~1 : b | 1));
const highBits = fc
  .integer({ min: 0, max: 63 })
  .map((h) => (h < 16 ? 0x80000000 | 0 : h === 16 ? 1 : 0));

describe('inline 4-level page walks', () => {
  it('agree with the built-in walker on frames, faults, error codes and A/D bits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lowBits, highBits), {
          minLength: 2 + 4 + 16 + 256,
          maxLength: 2 + 4 + 16 + 256,
        }),
        fc.boolean(),
        fc.boolean(),
        fc.array(
          fc.record({
            top: fc.integer({ min: 0, max: 1 }),
            pdpt: fc.integer({ min: 0, max: 1 }),
            // Few pages, so that later accesses hit entries earlier walks filled.
            pd: fc.integer({ min: 0, max: 1 }),
            pt: fc.integer({ min: 0, max: 3 }),
            off: fc.integer({ min: 0, max: 0xfff }),
            access: fc.integer({ min: 0, max: 2 }),
            user: fc.boolean(),
            flush: fc.integer({ min: 0, max: 9 }).map((f) => f === 0),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (bits, wp, nxe, accesses) => {
          const results: string[][] = [];
          const rams: Uint8Array[] = [];
          for (const explicit of [false, true]) {
            const ram = new FlatRam(8 << 20);
            let k = 0;
            const entry = (addr: number, target: number, large: boolean): void => {
              const [lo, hi] = bits[k++] ?? [1, 0];
              // PS only where a large page may be (PDPT: 1 GiB, PD: 2 MiB), else cleared.
              const l = large && (lo & 0x08) !== 0 ? lo : lo & ~0x80;
              ram.write32(addr, target | (l & 0xfff) | 0);
              ram.write32(addr + 4, hi);
            };
            for (let t = 0; t < 2; t++) entry(PML4 + (t === 0 ? 0 : 511) * 8, PDPT[t] ?? 0, false);
            for (let t = 0; t < 2; t++)
              for (let p = 0; p < 2; p++) entry((PDPT[t] ?? 0) + p * 8, PD[t * 2 + p] ?? 0, true);
            for (let d = 0; d < 4; d++)
              for (let e = 0; e < 4; e++) {
                // A 2 MiB page (PS) maps 0x200000 * (1 + e % 3); else a page table.
                const [lo] = bits[k] ?? [0];
                const target =
                  (lo & 0x88) === 0x88 ? 0x200000 * (1 + (e % 3)) : PT0 + (d * 4 + e) * 0x1000;
                entry((PD[d] ?? 0) + e * 8, target, true);
              }
            for (let t = 0; t < 16; t++)
              for (let e = 0; e < 16; e++)
                entry(PT0 + t * 0x1000 + e * 8, 0x100000 + (t * 16 + e) * 0x1000, false);
            const cpu = X86Cpu.create(
              explicit ? { memory: ram, walker: new BuiltinPageWalker(ram) } : { memory: ram },
            );
            cpu.cr4 = 0x20;
            cpu.efer = 0x500 | (nxe ? 0x800 : 0);
            cpu.cr3 = PML4;
            cpu.cr0 = 0x80000011 | (wp ? 0x10000 : 0) | 0;
            cpu.updateMode();
            const out: string[] = [];
            for (const a of accesses) {
              const low = a.pdpt * 0x40000000 + a.pd * 0x200000 + a.pt * 0x1000 + a.off;
              const lin = a.top === 0 ? low : low - 0x8000000000;
              out.push(translateOrFault(cpu, lin, a.access, a.user, a.flush));
            }
            results.push(out);
            rams.push(ram.bytes.slice());
          }
          expect(results[0]).toEqual(results[1]);
          expect(Buffer.from(rams[0] ?? []).equals(Buffer.from(rams[1] ?? []))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
