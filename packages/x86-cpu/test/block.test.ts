import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, type FlatRam, type PhysicalMemory, X86Cpu } from '../src/index.ts';
import { asm, CODE, type Mode, setup } from './helpers.ts';

// Basic blocks (DESIGN.md "Blocks"): straight-line runs of decode-cache entries executed as
// closures, with the hot forms specialized. A long `run` executes them as blocks; `run(1)`
// executes one instruction at a time through the decoder or the decode cache's replay.

/** `ram` behind the port's methods only (no direct view), as the hypervisor's machine memory is. */
function portOnly(ram: FlatRam): PhysicalMemory {
  return {
    isRam: (pa) => ram.isRam(pa),
    read8: (pa) => ram.read8(pa),
    read16: (pa) => ram.read16(pa),
    read32: (pa) => ram.read32(pa),
    write8: (pa, v) => ram.write8(pa, v),
    write16: (pa, v) => ram.write16(pa, v),
    write32: (pa, v) => ram.write32(pa, v),
  };
}

/** `portOnly` plus the optional whole-page compare and copy a machine memory offers. */
function portWithPages(ram: FlatRam): PhysicalMemory {
  const words = new Int32Array(ram.bytes.buffer);
  return {
    ...portOnly(ram),
    pageEquals: (pa, w) => {
      for (let k = 0; k < 1024; k++) if (words[(pa >>> 2) + k] !== w[k]) return false;
      return true;
    },
    readPage: (pa, out) => out.set(words.subarray(pa >>> 2, (pa >>> 2) + 1024)),
  };
}

/** A vCPU in `cpu`'s state over the same RAM through `portOnly` (or `portWithPages`). */
function throughPort(cpu: X86Cpu, ram: FlatRam, pages = false): X86Cpu {
  return X86Cpu.fromState(cpu.getState(), { memory: pages ? portWithPages(ram) : portOnly(ram) });
}

describe('basic blocks', () => {
  it('stop at a faulting instruction with the earlier ones retired and the later ones not', () => {
    const { cpu } = setup(
      'prot32',
      asm('mov eax, 1\nmov edx, 0\nxor ecx, ecx\ndiv ecx\nmov ebx, 2\nhlt', 32, CODE),
      { intercepts: { exceptionBitmap: 1 } },
    );
    // Twice: the first pass decodes, the second runs the cached block.
    for (let pass = 0; pass < 2; pass++) {
      cpu.rip = CODE;
      cpu.lo[0] = 0;
      const before = cpu.instructions;
      expect(cpu.run(100)).toBe(EXIT.EXCEPTION);
      expect(cpu.exit.vector).toBe(0);
      expect(cpu.rip).toBe(CODE + 12);
      expect(cpu.lo[0]).toBe(1);
      expect(cpu.lo[3]).toBe(0);
      expect(cpu.instructions - before).toBe(3);
    }
  });

  it('stop after a store that exits to the embedder (MMIO write), before the next instruction', () => {
    const { cpu } = setup(
      'prot32',
      asm('l: mov eax, 7\nmov [0x300000], eax\ninc ebx\njmp l', 32, CODE),
    );
    for (let pass = 0; pass < 3; pass++) {
      expect(cpu.run(100)).toBe(EXIT.MMIO_WRITE);
      expect(cpu.exit.address).toBe(0x300000);
      expect(cpu.exit.value).toBe(7);
      expect(cpu.rip).toBe(CODE + 10);
      expect(cpu.lo[3]).toBe(pass);
    }
  });

  it('retire exactly the budget when a block is longer than what is left', () => {
    const { cpu } = setup('prot32', asm('l: inc eax\ninc ebx\ninc ecx\ninc edx\njmp l', 32, CODE));
    for (let r = 0; r < 4; r++) cpu.lo[r] = 0;
    cpu.run(50); // warm the cache: the loop is one block of five
    const before = cpu.instructions;
    for (let k = 1; k <= 7; k++) expect(cpu.run(k)).toBe(EXIT.BUDGET);
    expect(cpu.instructions - before).toBe(28);
    // 78 instructions from the loop head: 15 turns (60 INCs) and three more INCs.
    expect(cpu.lo[0] + cpu.lo[3] + cpu.lo[1] + cpu.lo[2]).toBe(63);
  });

  it.each([
    ['a direct RAM view', false, false],
    ['a port without a direct view', true, false],
    ['a port with pageEquals/readPage', true, true],
  ])(
    'see code the embedder patches between runs, inside a loop running as a block (%s)',
    (_, port, pages) => {
      // `add eax, 1` (83 C0 01) at CODE + 2; the patch makes it `add eax, 7`.
      const env = setup('prot32', asm('xor eax, eax\nl: add eax, 1\ninc ebx\njmp l', 32, CODE));
      const ram = env.ram;
      const cpu = port ? throughPort(env.cpu, ram, pages) : env.cpu;
      expect(cpu.run(301)).toBe(EXIT.BUDGET);
      expect(cpu.lo[0]).toBe(100);
      expect(cpu.rip).toBe(CODE + 2);
      ram.write8(CODE + 4, 7);
      expect(cpu.run(300)).toBe(EXIT.BUDGET);
      expect(cpu.lo[0]).toBe(100 + 7 * 100);
      // Writing the same byte again changes nothing: the cached block stays valid.
      ram.write8(CODE + 4, 7);
      expect(cpu.run(300)).toBe(EXIT.BUDGET);
      expect(cpu.lo[0]).toBe(100 + 7 * 200);
    },
  );

  // Random straight-line bodies over the specialized forms (and some that are not), looped:
  // the block execution must equal one-instruction-at-a-time execution exactly.
  const FORMS: Record<'prot32' | 'long64', string[]> = {
    prot32: [
      'add eax, ebx',
      'or ecx, edx',
      'adc edx, eax',
      'sbb ebx, ecx',
      'and eax, esi',
      'sub ecx, eax',
      'xor ebx, eax',
      'cmp eax, ecx\nsetb dl',
      'add eax, [esi+0x10]',
      'sub ecx, [esi+edi*4]',
      'xor [esi+8], eax',
      'add dword [esi+0x20], 0x12345',
      'cmp dword [esi], 7\ncmovl eax, ebx',
      'add ecx, 0x7f',
      'sub edx, -3',
      'inc eax',
      'dec ebx',
      'lea edx, [eax+ebx*2+0x40]',
      'mov eax, 0x80000001',
      'mov [esi+4], ebx',
      'mov ecx, [esi+edi+0x30]',
      'mov edx, eax',
      'push eax\npop ecx',
      'push dword 0x55\npop edx',
      'rol ebx, 3',
      'shr eax, 5',
      'sar edx, 31',
      'test eax, ebx\njz $+4\ninc edx\nnop',
      'call f',
      'jmp $+3\nnop',
      'cmp ebx, eax\nja $+3\nnop',
      'mov ax, bx',
      'imul eax, ecx, 33',
      'shl edx, 1',
      'rcr eax, 1',
      'inc dword [esi+0x14]',
      'add eax, 0x12345678',
      'cmp eax, 0x1000\nsetb cl',
      'xor eax, 0x55aa55aa',
      'movzx ecx, byte [esi+3]',
      'movsx edx, word [esi+6]',
      'movzx eax, bh',
      'movsx ecx, dl',
      'movzx edx, cx',
    ],
    long64: [
      'add rax, rbx',
      'or rcx, rdx',
      'adc rdx, rax',
      'sub rcx, rax',
      'xor rbx, rax',
      'cmp rax, rcx\nsetb dl',
      'add rcx, 0x7f',
      'sub rdx, -3',
      'and r11, 0x7fffff00',
      'lea rdx, [rax+rbx*2+0x40]',
      'lea r10, [r8+r9*8-8]',
      'mov [rsi+8], rbx',
      'mov rcx, [rsi+rdi+0x30]',
      'mov r11, [r8+r9*2]',
      'mov rdx, rax',
      'mov ecx, ebx',
      'add eax, ebx',
      'push rax\npop r10',
      'rol rbx, 3',
      'test rax, rbx\njz $+4\ninc edx\nnop',
      'call f',
      'jmp $+3\nnop',
      'cmp rbx, rax\nja $+3\nnop',
      'mov eax, [rsi+4]',
      'dec edx',
      'inc rcx',
      'dec r11',
      'shl rax, 1',
      'rcl rbx, 1',
      'ror rdx, 7',
      'sar r10, 63',
      'shr ecx, 1',
      'add eax, [rsi+0x10]',
      'sub [rsi+8], ecx',
      'cmp dword [rsi], 5\ncmovb ecx, eax',
      'add rax, [rsi+0x10]',
      'sub [rsi+0x18], rdx',
      'xor rcx, [r8+r9*2]',
      'cmp [rsi], rax\nsetl dl',
      'lea ecx, [rax+rbx*2-7]',
      'add rax, rbx\npushfq\npop r10',
      'sub rcx, rdx\npushfq\npop r10',
      'xor rdx, rax\npushfq\npop r10',
      'cmp rax, [rsi]\npushfq\npop r10',
      // Not RDI: it indexes memory in another form, and RDI + 2^31 leaves the mapped gigabyte.
      'add r11, 0x7fffffff\npushfq\npop r10',
      'cmp rax, rbx\nsetg cl\nsetle r11b',
      'sub rax, rcx\nsetnz dl\nsetp r10b',
      'and rbx, rcx\ncmovs rax, rdx',
      'cmp rdx, rax\nadc rcx, rbx',
      'sub rbx, rax\ndec rcx\nsetc dl',
      'movzx ecx, byte [rsi+3]',
      'movsx edx, sil',
      'movzx eax, r9w',
      'and eax, 0x7fff00ff',
      'movsx ecx, ah',
    ],
  };

  for (const mode of ['prot32', 'long64'] as const satisfies readonly Mode[]) {
    it(`give the same state as one instruction at a time on random ${mode} loops`, () => {
      const bits = mode === 'prot32' ? 32 : 64;
      const r = (n: string) => (bits === 64 ? `r${n}` : `e${n}`);
      const forms = FORMS[mode];
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: forms.length - 1 }), { minLength: 2, maxLength: 24 }),
          fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { minLength: 8, maxLength: 8 }),
          (picks, regs) => {
            const src = [
              `mov ${r('sp')}, 0x9000`,
              ...['ax', 'bx', 'cx', 'dx', 'di'].map((n, k) => `mov ${r(n)}, ${regs[k]}`),
              bits === 64 ? 'mov r8, 0x3100\nmov r9, 0x10' : '',
              'mov ebp, 6',
              'outer:',
              `mov ${r('si')}, 0x${(0x3000 + (regs[5] & 0xffc)).toString(16)}`,
              `mov ${r('bx')}, 0x${(0x3000 + (regs[6] & 0xffc)).toString(16)}`,
              `and ${r('di')}, 0xff`,
              ...picks.map((p) => forms[p]),
              'dec ebp',
              'jnz outer',
              'hlt',
              `f: add ${r('dx')}, 1`,
              'ret',
            ].join('\n');
            const code = asm(src, bits, CODE);
            const a = setup(mode, code);
            const b = setup(mode, code);
            for (const env of [a, b]) {
              for (let k = 0; k < 0x2000; k += 4) env.ram.write32(0x3000 + k, regs[k & 7] ^ k);
            }
            // The same program through a port without a direct view (decode cache and blocks
            // by physical address, memory through the port's methods) on a third copy.
            const c = setup(mode, code);
            for (let k = 0; k < 0x2000; k += 4) c.ram.write32(0x3000 + k, regs[k & 7] ^ k);
            const cp = throughPort(c.cpu, c.ram);
            const ra = a.cpu.run(100_000);
            expect(cp.run(100_000)).toBe(ra);
            expect(cp.getState()).toEqual(a.cpu.getState());
            expect(Buffer.from(c.ram.bytes).equals(Buffer.from(a.ram.bytes))).toBe(true);
            let rb: number = EXIT.BUDGET;
            while (b.cpu.instructions < a.cpu.instructions && rb === EXIT.BUDGET) rb = b.cpu.run(1);
            expect(ra).toBe(EXIT.HLT);
            expect(b.cpu.instructions).toBe(a.cpu.instructions);
            expect(a.cpu.getState()).toEqual(b.cpu.getState());
            expect(Buffer.from(a.ram.bytes).equals(Buffer.from(b.ram.bytes))).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
