import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlatRam, X86Cpu } from '../src/index.ts';
import { asm, flatSeg } from './helpers.ts';

// Guest TLB flushes (MOV CR3/CR0/CR4, task switches) bump a generation instead of clearing the
// entries (cpu.ts `flushGuestTlb`); every 2048th flush clears the arrays, because the
// generation then starts again at 0. Whatever the number of flushes, a remapped page must be seen
// after one, and an entry must survive until one (the TLB is not coherent with page tables).

const PD = 0x1000;
const PT = 0x2000;
const LIN = 0x400000 + 5 * 4096;
const A = 0x100000;
const B = 0x180000;

function pagingCpu(): { cpu: X86Cpu; ram: FlatRam } {
  const ram = new FlatRam(4 << 20);
  ram.write32(PD, PT | 3);
  ram.write32(PD + 4, (PT + 0x1000) | 3);
  for (let i = 0; i < 2048; i++) ram.write32(PT + i * 4, (i * 4096) | 3);
  ram.write32(A, 0xaaaa);
  ram.write32(B, 0xbbbb);
  const cpu = X86Cpu.create({ memory: ram });
  cpu.cr3 = PD;
  cpu.cr0 = 0x80000011 | 0;
  for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
  flatSeg(cpu, 1, 0x08, 0xc09b);
  cpu.updateMode();
  cpu.flushTlb();
  return { cpu, ram };
}

const PTE = PT + (LIN >>> 12) * 4;

describe('TLB generations', () => {
  it('keep an entry until a flush and drop it after any number of flushes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom(0, 1, 2047, 2048, 2049, 4095, 4096, 4097),
        fc.integer({ min: 0, max: 3 }),
        (before, n, extra) => {
          const { cpu, ram } = pagingCpu();
          for (let k = 0; k < before; k++) cpu.flushGuestTlb();
          ram.write32(PTE, A | 3);
          expect(cpu.readLin32(LIN, false)).toBe(0xaaaa);
          ram.write32(PTE, B | 3);
          const flushes = n + (n === 0 ? 0 : extra);
          for (let k = 0; k < flushes; k++) cpu.flushGuestTlb();
          expect(cpu.translate(LIN, 0, false)).toBe(flushes === 0 ? A : B);
          expect(cpu.readLin32(LIN, false)).toBe(flushes === 0 ? 0xaaaa : 0xbbbb);
          if (flushes > 0) {
            // (With no flush, the store's write walk sees the new PTE: write permission is
            // cached only by a write walk.)
            cpu.writeLin32(LIN, 0x1234, false);
            expect(ram.read32(B)).toBe(0x1234);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('INVLPG drops the entry at any generation', () => {
    for (const before of [0, 1, 2047, 2048, 3000]) {
      const { cpu, ram } = pagingCpu();
      for (let k = 0; k < before; k++) cpu.flushGuestTlb();
      ram.write32(PTE, A | 3);
      expect(cpu.readLin32(LIN, false)).toBe(0xaaaa);
      ram.write32(PTE, B | 3);
      expect(cpu.readLin32(LIN, false)).toBe(0xaaaa);
      cpu.invlpg(LIN);
      expect(cpu.readLin32(LIN, false)).toBe(0xbbbb);
    }
  });

  it('a guest reloading CR3 2048 times sees the remapped page afterwards', () => {
    // Remap through the guest's own store to the PTE (no flush), then 2048 CR3 reloads.
    const code = asm(
      `mov eax, [esi]
       mov [edi], edx
       mov ebx, [esi]
       mov ecx, 2048
       again: mov cr3, ebp
       dec ecx
       jnz again
       mov eax, [esi]
       hlt`,
      32,
      0x10000,
    );
    const { cpu, ram } = pagingCpu();
    ram.load(0x10000, code);
    ram.write32(PTE, A | 3);
    cpu.rip = 0x10000;
    cpu.lo[6] = LIN;
    cpu.lo[7] = PTE;
    cpu.lo[2] = B | 3;
    cpu.lo[5] = PD;
    cpu.run(100_000);
    expect(cpu.halted).toBe(true);
    expect(cpu.lo[3]).toBe(0xaaaa);
    expect(cpu.lo[0]).toBe(0xbbbb);
  });
});
