import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, FlatRam } from '../src/index.ts';
import { asm, CODE, identityMap64, type Mode, runToHlt, setup } from './helpers.ts';

describe('decode cache', () => {
  it('sees a store that patches an instruction it has already cached (self-modifying loop)', () => {
    // Iteration 1 adds 1 and patches the immediate to 5; iterations 2 and 3 must add 5.
    const { cpu } = setup(
      'prot32',
      asm(
        'mov ecx, 3\nxor eax, eax\npatch: add eax, 1\nmov byte [patch + 2], 5\ndec ecx\njnz patch\nhlt',
        32,
        CODE,
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(11);
  });

  it('sees a patch of the very next instruction (a store into the current code page)', () => {
    const { cpu } = setup(
      'prot32',
      asm(
        'mov ecx, 4\nxor ebx, ebx\nl: mov byte [n + 1], cl\nn: mov al, 0\nadd bl, al\ndec ecx\njnz l\nhlt',
        32,
        CODE,
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[3] & 0xff).toBe(4 + 3 + 2 + 1);
  });

  it('sees code the embedder writes into RAM between runs', () => {
    const { cpu, ram } = setup('prot32', asm('mov eax, 1\nhlt', 32, CODE));
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(1);
    ram.load(CODE, asm('mov eax, 2\nhlt', 32, CODE));
    cpu.rip = CODE;
    cpu.halted = false;
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(2);
  });

  it('sees code another vCPU on the same RAM writes between its runs', () => {
    const ram = new FlatRam(1 << 21);
    const loop = asm('l: inc eax\ncmp eax, 100\njne l\nhlt', 32, CODE);
    const a = setup('prot32', loop, { memory: ram }).cpu;
    const b = setup('prot32', loop, { memory: ram });
    ram.load(0x2000, asm('mov byte [0x1000], 0x43\nhlt', 32, 0x2000));
    b.cpu.rip = 0x2000;
    expect(a.run(50)).toBe(EXIT.BUDGET);
    runToHlt(b.cpu);
    // `inc eax` (0x40) became `inc ebx` (0x43): the rest of A's loop increments EBX.
    expect(a.run(1000)).toBe(EXIT.BUDGET);
    expect(a.lo[0]).toBeLessThan(100);
    expect(a.lo[3]).toBeGreaterThan(0);
  });

  it('replays RIP-relative operands relative to each linear alias of a physical code page', () => {
    // The same physical page (0x1000) is mapped at linear 0x40000000 and 0x80000000; a
    // RIP-relative load reads its neighbouring data page through each alias.
    const code = asm('mov rax, [rel data]\nhlt\ntimes 0x1000 - ($ - $$) db 0\ndata:', 64, 0);
    const { cpu, ram } = setup('long64', code);
    // PDPT[1] and PDPT[2] -> a page directory whose entry 0 -> a page table mapping
    // page 0 -> 0x1000 (the code) and page 1 -> 0x2000 or 0x3000 (the data).
    ram.write32(0x71008, 0x73007);
    ram.write32(0x71010, 0x74007);
    ram.write32(0x73000, 0x75007);
    ram.write32(0x74000, 0x76007);
    ram.write32(0x75000, 0x1007);
    ram.write32(0x75008, 0x2007);
    ram.write32(0x76000, 0x1007);
    ram.write32(0x76008, 0x3007);
    ram.write32(0x2000, 0x1111);
    ram.write32(0x3000, 0x2222);
    cpu.flushTlb();
    for (const [lin, want] of [
      [0x40000000, 0x1111],
      [0x80000000, 0x2222],
      [0x40000000, 0x1111],
    ] as const) {
      cpu.rip = lin;
      cpu.halted = false;
      runToHlt(cpu);
      expect(cpu.lo[0]).toBe(want);
    }
  });

  it('follows a page-table change that maps different code at the same linear address', () => {
    const { cpu, ram } = setup('long64', asm('hlt', 64, CODE), {}, 8 << 20);
    identityMap64(ram);
    ram.load(0x200000, asm('mov eax, 7\nhlt', 64, 0x200000));
    ram.load(0x400000, asm('mov eax, 9\nhlt', 64, 0x200000));
    cpu.rip = 0x200000;
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(7);
    // Point the 2 MiB page at 0x200000 to the frame at 0x400000 and reload CR3 in the guest.
    ram.write32(0x72008, 0x400087);
    ram.load(0x3000, asm('mov rax, cr3\nmov cr3, rax\njmp 0x200000', 64, 0x3000));
    cpu.rip = 0x3000;
    cpu.halted = false;
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(9);
  });

  it('decodes the same bytes again after a mode change (32-bit, then 16-bit code segment)', () => {
    // b8 01 00 00 00: `mov eax, 1` in 32-bit code; `mov ax, 1` + `add [bx+si], al` in 16-bit.
    const { cpu } = setup('prot32', Uint8Array.from([0xb8, 1, 0, 0, 0, 0xf4]));
    runToHlt(cpu);
    expect(cpu.rip).toBe(CODE + 6);
    cpu.segAttr[1] = 0x009b;
    cpu.updateMode();
    cpu.rip = CODE;
    cpu.halted = false;
    cpu.lo[3] = 0x100;
    cpu.lo[6] = 0;
    runToHlt(cpu);
    expect(cpu.rip).toBe(CODE + 6);
  });

  // Random loops over many instruction forms: running them with replay (one long run) must
  // give exactly the state of decoding every instruction afresh (one run per instruction).
  const FORMS: Record<Mode, string[]> = {
    real: [
      'add ax, [bx+si+0x10]',
      'mov [bp+di-4], cx',
      'xor dx, [0x300]',
      'adc word [bx+0x20], 0x1234',
      'lea si, [bx+di+0x7f]',
      'mov al, [es:si]',
      'add eax, [ebx+0x40]',
      'imul cx, [bx], 7',
      'inc byte [si+0x200]',
      'shl word [bx+si], 3',
      'rep stosb',
      'push ax\npop dx',
      'mov [patch+1], al',
    ],
    prot32: [
      'add eax, [ebx+ecx*4+0x100]',
      'mov [esi+edi*2-8], edx',
      'sub dword [0x3000], 0x12345',
      'lea edx, [eax+ebx*8+0x11223344]',
      'xor cx, [ebx+0x20]',
      'mov al, [fs:esi+0x10]',
      'cmp byte [esp+4], 0x7f',
      'imul edx, [ebx+esi], 1000',
      'rol dword [ebx+0x30], 5',
      'mul dword [esi+0x44]',
      'mov ax, [bx+si]',
      'add eax, [si+0x10]',
      'push dword [ebx]\npop dword [esi+0x60]',
      'rep movsb',
      'mov [patch+1], al',
      'mov eax, [0x3004]',
      'mov [0x3008], eax',
    ],
    long64: [
      'add rax, [rbx+rcx*4+0x100]',
      'mov [r8+r9*2-8], rdx',
      'sub qword [rel scratch], 0x12345',
      'lea rdx, [rax+r12*8+0x11223344]',
      'mov r10d, [r13+0x20]',
      'xor ax, [rbx+rsi]',
      'mov sil, [rdi+0x10]',
      'add eax, [ebx+ecx*2+4]',
      'lea rdx, [rel scratch]',
      'lea edx, [eax+ecx]',
      'imul r11, [rbx+rsi], 1000',
      'rol qword [rbx+0x30], 5',
      'mov rax, [rel scratch+8]',
      'mov [patch+1], al',
      'push qword [rbx]\npop qword [rsi+0x60]',
      'mov rax, [abs 0x3000]',
    ],
  };

  for (const mode of ['real', 'prot32', 'long64'] as const) {
    it(`replayed execution equals fresh decoding on random ${mode} loops (incl. self-modification)`, () => {
      const bits = mode === 'real' ? 16 : mode === 'prot32' ? 32 : 64;
      const forms = FORMS[mode];
      const mask = bits === 16 ? 0x0ffe : 0x0ffc;
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: forms.length - 1 }), { minLength: 3, maxLength: 10 }),
          fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { minLength: 16, maxLength: 16 }),
          (picks, regs) => {
            // Pointers stay inside a data window at 0x3000..0x4fff; the loop runs 5 times.
            const setRegs = ['bx', 'si', 'di', 'cx']
              .map(
                (r, k) =>
                  `mov ${bits === 64 ? `r${r[0] === 'b' ? 'bx' : r}` : bits === 32 ? `e${r}` : r}, 0x${(0x3000 + (regs[k] & mask)).toString(16)}`,
              )
              .join('\n');
            const extra =
              bits === 64
                ? 'mov r8, 0x3100\nmov r9, 0x10\nmov r12, 0x1\nmov r13, 0x3200\nmov rsp, 0x9000'
                : bits === 32
                  ? 'mov esp, 0x9000\nmov ebp, 0x3400'
                  : 'mov sp, 0x9000\nmov bp, 0x3400\nmov ecx, 0\nmov cx, 4';
            const src = [
              'outer:',
              setRegs.replace(/mov (e?r?cx), .*/, `mov $1, 4`),
              extra,
              `mov eax, ${regs[5]}`,
              ...picks.map((p) => forms[p]),
              `patch: mov ${bits === 16 ? 'ax' : 'eax'}, 0x${(regs[6] & 0xffff).toString(16)}`,
              `dec ${bits === 16 ? 'word' : 'dword'} [${bits === 64 ? 'rel ' : ''}counter]`,
              'jnz outer',
              'hlt',
              // Data on its own page: stores into the code page would drop its cached code.
              'times 0x1000 - ($ - $$) db 0',
              'scratch: dq 0, 0',
              'counter: dd 5',
            ].join('\n');
            const code = asm(src, bits, CODE);
            const a = setup(mode, code);
            const b = setup(mode, code);
            for (const env of [a, b]) {
              for (let k = 0; k < 0x2000; k += 4) env.ram.write32(0x3000 + k, regs[k & 15] ^ k);
              if (mode !== 'real') {
                env.cpu.segBase[4] = 0x100;
              }
            }
            // Wild stores (REP STOSB with a computed count) may overwrite the loop itself:
            // whatever happens, both must agree instruction for instruction.
            a.cpu.run(20_000);
            let r: number = EXIT.BUDGET;
            while (b.cpu.instructions < a.cpu.instructions && r === EXIT.BUDGET) r = b.cpu.run(1);
            expect(b.cpu.instructions).toBe(a.cpu.instructions);
            expect(a.cpu.getState()).toEqual(b.cpu.getState());
            expect(Buffer.from(a.ram.bytes).equals(Buffer.from(b.ram.bytes))).toBe(true);
          },
        ),
        { numRuns: 25 },
      );
    });
  }
});
