import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, type FlatRam, X86Cpu } from '../src/index.ts';
import { asm, CODE, type Mode, setup } from './helpers.ts';

// Compiled blocks (DESIGN.md "Compiled blocks"): a hot block runs as one generated function.
// Every test runs the same program three ways and wants the same exits, instruction counts,
// registers, flags and memory: compiled from its first execution (`blockCompileAfter = 1`),
// as closures only (`blockCompileAfter = 0`), and one instruction at a time (`run(1)`, which
// never runs a block).

type Env = { cpu: X86Cpu; ram: FlatRam };

/** Three copies of `code` in `mode`: compiled, closures, and stepped. */
function three(mode: Mode, code: Uint8Array, init?: (env: Env) => void): Env[] {
  const envs = [setup(mode, code), setup(mode, code), setup(mode, code)];
  envs[0].cpu.blockCompileAfter = 1;
  envs[1].cpu.blockCompileAfter = 0;
  for (const env of envs) init?.(env);
  return envs;
}

/** Runs `env` for `budget` instructions in one call, or one instruction per call (`step`). */
function go(env: Env, budget: number, step: boolean): number {
  if (!step) return env.cpu.run(budget);
  const end = env.cpu.instructions + budget;
  let r: number = EXIT.BUDGET;
  // A faulting instruction counts against the budget without retiring: stop on any exit.
  for (let left = budget; left > 0 && r === EXIT.BUDGET && env.cpu.instructions < end; left--)
    r = env.cpu.run(1);
  return r;
}

function expectSame(envs: Env[]): void {
  const [a, ...rest] = envs;
  for (const b of rest) {
    expect(b.cpu.instructions).toBe(a.cpu.instructions);
    expect(b.cpu.getState()).toEqual(a.cpu.getState());
    expect(Buffer.from(b.ram.bytes).equals(Buffer.from(a.ram.bytes))).toBe(true);
  }
}

const CCS = [
  'o',
  'no',
  'b',
  'ae',
  'e',
  'ne',
  'be',
  'a',
  's',
  'ns',
  'p',
  'np',
  'l',
  'ge',
  'le',
  'g',
];

// Flag producers the compiler tracks (or does not: ADC, shifts) followed by every condition:
// the Jcc reads its condition from the producer's operands in locals when it can.
const PRODUCERS = [
  'add eax, ebx',
  'sub ecx, edx',
  'cmp eax, ecx',
  'cmp edx, 0x40000000',
  'and ebx, ecx',
  'or eax, edx',
  'xor ecx, ebx',
  'test eax, edx',
  'inc ebx',
  'dec ecx',
  'adc eax, ecx',
  'shl edx, 1',
  'add eax, [esi+0x10]',
];

const FORMS32 = [
  'add eax, ebx',
  'or ecx, edx',
  'adc edx, eax',
  'sbb ebx, ecx',
  'sub ecx, eax',
  'xor ebx, eax',
  'cmp eax, ecx\nsetb dl',
  'add eax, [esi+0x10]',
  'sub ecx, [esi+edi*4]',
  'xor [esi+8], eax',
  'add dword [esi+0x20], 0x12345',
  'cmp dword [esi], 7\ncmovl eax, ebx',
  'add ecx, 0x7f',
  'inc eax',
  'dec ebx',
  'add eax, ebx\ninc ecx',
  'sub eax, ecx\ndec edx\nsetc bl',
  'xor eax, eax\ninc edx',
  'add eax, ebx\nsub ecx, edx',
  'add eax, ebx\nmov edx, ecx\nlea ecx, [eax+4]\nxor ebx, eax',
  'lea edx, [eax+ebx*2+0x40]',
  'mov eax, 0x80000001',
  'mov [esi+4], ebx',
  'mov ecx, [esi+edi+0x30]',
  'mov edx, eax',
  'push eax\npop ecx',
  'rol ebx, 3',
  'sar edx, 31',
  'test eax, ebx\njz $+4\ninc edx\nnop',
  'call f',
  'jmp $+3\nnop',
  'nop',
  'imul eax, ecx, 33',
  'inc dword [esi+0x14]',
  'add eax, 0x12345678',
  'movzx ecx, byte [esi+3]',
  'movsx edx, word [esi+6]',
  'movzx eax, bh',
  ...PRODUCERS.flatMap((p) => CCS.map((cc) => `${p}\nj${cc} $+3\nnop`)),
];

const FORMS64 = [
  'add rax, rbx',
  'adc rdx, rax',
  'sub rcx, rax',
  'cmp rax, rcx\nsetb dl',
  'add rcx, 0x7f',
  'lea rdx, [rax+rbx*2+0x40]',
  'mov [rsi+8], rbx',
  'mov rcx, [rsi+rdi+0x30]',
  'mov rdx, rax',
  'mov ecx, ebx',
  'add eax, ebx\ninc ecx',
  'push rax\npop r10',
  'rol rbx, 3',
  'ror rcx, 1',
  'rol rdx, 32',
  'ror r11, 45',
  'rol rax, 63\nsetc cl\nseto dl',
  'ror rbx, 7\npushfq\npop r10',
  'rol r10, 33\njo $+3\nnop',
  'call f',
  'jmp $+3\nnop',
  'inc rcx',
  'dec r11',
  'add rax, [rsi+0x10]',
  'sub [rsi+0x18], rdx',
  'add rax, rbx\npushfq\npop r10',
  'mov eax, [rsi+4]',
  'add eax, [rsi+0x10]',
  'lea ecx, [rax+rbx*2-7]',
  // 64-bit ALU whose flags the next ALU overwrites: no flags computed at all.
  'add rax, rbx\nxor rbx, rax',
  'sub rcx, rax\nand rbx, rcx',
  'cmp rax, rbx\nor rdx, rax',
  'add rdx, rdx\nmov r10, rcx\nsub r10, rdx',
  'sub rdx, -3\nadd rcx, 0x7f',
  'xor rcx, 0x55\nadd rcx, rcx\nsbb rax, rbx',
  'and r11, 0x7fffff00\nadd r11, rax\ncmp r11, rcx\nsetb dl',
  ...['sub ecx, edx', 'and eax, ebx', 'inc edx', 'cmp rax, rbx'].flatMap((p) =>
    CCS.map((cc) => `${p}\nj${cc} $+3\nnop`),
  ),
];

describe('compiled blocks', () => {
  for (const mode of ['prot32', 'long64'] as const satisfies readonly Mode[]) {
    it(`give the same state as closures and as one instruction at a time on random ${mode} loops`, () => {
      const bits = mode === 'prot32' ? 32 : 64;
      const r = (n: string) => (bits === 64 ? `r${n}` : `e${n}`);
      const forms = mode === 'prot32' ? FORMS32 : FORMS64;
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: forms.length - 1 }), { minLength: 1, maxLength: 16 }),
          fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), {
            minLength: 8,
            maxLength: 8,
          }),
          fc.boolean(),
          (picks, regs, tight) => {
            // `tight`: the body and the loop branch form one block that jumps to its own start.
            const body = picks.map((p) => forms[p]);
            const src = [
              `mov ${r('sp')}, 0x9000`,
              ...['ax', 'bx', 'cx', 'dx', 'di'].map((n, k) => `mov e${n}, ${regs[k]}`),
              'mov ebp, 90',
              `mov ${r('si')}, 0x${(0x3000 + (regs[5] & 0xffc)).toString(16)}`,
              `and ${r('di')}, 0xff`,
              'outer:',
              ...(tight ? body.filter((s) => !/j|call/.test(s)) : body),
              `mov ${r('si')}, 0x${(0x3000 + (regs[6] & 0xffc)).toString(16)}`,
              'dec ebp',
              'jnz outer',
              'hlt',
              `f: add ${r('dx')}, 1`,
              'ret',
            ].join('\n');
            const envs = three(mode, asm(src, bits, CODE), (env) => {
              for (let k = 0; k < 0x2000; k += 4) env.ram.write32(0x3000 + k, regs[k & 7] ^ k);
            });
            const results = envs.map((env, i) => go(env, 200_000, i === 2));
            expect(results).toEqual([EXIT.HLT, EXIT.HLT, EXIT.HLT]);
            expectSame(envs);
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('take every condition after every tracked flag producer as the interpreter does', () => {
    // Operand pairs from values around the sign and carry boundaries, equal pairs included.
    const VALUES = [0, 1, 2, -1, -2, 0x7fffffff, -0x80000000, 0x40000000];
    const data: number[] = [];
    for (const a of VALUES) for (const b of VALUES) data.push(a, b);
    const producers = [
      'cmp eax, ecx',
      'sub eax, ecx',
      'add eax, ecx',
      'and eax, ecx',
      'or eax, ecx',
      'xor eax, ecx',
      'test eax, ecx',
      'inc eax',
      'dec eax',
      'adc eax, ecx',
      'cmp eax, 1',
      'cmp eax, ecx\ninc ecx',
      'add eax, ecx\ndec ecx',
      'xor eax, ecx\ninc ecx',
      'add eax, ecx\nmov edi, eax\nsub ecx, eax',
      'shl eax, 1',
      'shl eax, 7',
      'shr eax, 1',
      'shr eax, 31',
      'sar eax, 3',
      'rol eax, 1',
      'ror eax, 9',
      'xor eax, ecx\nrol eax, 3',
      'and eax, ecx\nror eax, 1',
      'sub eax, ecx\nrol eax, 1',
      'xor eax, ecx\nshl eax, 0',
    ];
    for (const p of producers) {
      // One section per condition; a not-taken branch counts in its own dword at 0x5000.
      const src = [
        'l:',
        ...CCS.flatMap((cc, n) => [
          'mov eax, [esi]',
          'mov ecx, [esi+4]',
          p,
          `j${cc} t${n}`,
          `inc dword [0x5000 + ${n * 4}]`,
          `t${n}:`,
        ]),
        'add esi, 8',
        'dec edx',
        'jnz l',
        'hlt',
      ].join('\n');
      const envs = three('prot32', asm(src, 32, CODE), ({ cpu, ram }) => {
        for (const [k, v] of data.entries()) ram.write32(0x4000 + k * 4, v);
        cpu.lo[6] = 0x4000;
        cpu.lo[2] = data.length / 2;
      });
      for (const [i, env] of envs.entries()) expect(go(env, 100_000, i === 2)).toBe(EXIT.HLT);
      expectSame(envs);
    }
  });

  it('stop at a faulting load in the middle of a compiled block, earlier ones retired', () => {
    // DS limit 0x4fff: the load faults (#GP) once ESI passes it, in the 5th turn.
    const code = asm('l: inc ebx\nmov eax, [esi]\nadd esi, 0x1000\nadd ecx, eax\njmp l', 32, CODE);
    const envs = three('prot32', code, ({ cpu }) => {
      cpu.intercepts.exceptionBitmap = 1 << 13;
      cpu.segLimit[3] = 0x4fff;
      cpu.lo[6] = 0x1000;
    });
    for (const [i, env] of envs.entries()) {
      expect(go(env, 1000, i === 2)).toBe(EXIT.EXCEPTION);
      expect(env.cpu.exit.vector).toBe(13);
      expect(env.cpu.rip).toBe(CODE + 1);
      expect(env.cpu.lo[3]).toBe(5);
    }
    expectSame(envs);
  });

  it('fault with the same address on a 64-bit load whose base has bit 31 set', () => {
    // Turn 2 loads from 0x80003008: outside the identity-mapped gigabyte, a #PF with that CR2.
    const code = asm('l: inc ebx\nmov rax, [rsi+8]\nadd rsi, rcx\njmp l', 64, CODE);
    const envs = three('long64', code, ({ cpu }) => {
      cpu.intercepts.exceptionBitmap = (1 << 13) | (1 << 14);
      cpu.lo[6] = 0x3000;
      cpu.hi[6] = 0;
      cpu.lo[1] = 0x80000000 | 0;
      cpu.hi[1] = 0;
    });
    for (const [i, env] of envs.entries()) {
      expect(go(env, 1000, i === 2)).toBe(EXIT.EXCEPTION);
      expect(env.cpu.exit.vector).toBe(14);
      expect(env.cpu.cr2).toBe(0x80003008);
      expect(env.cpu.lo[3]).toBe(2);
    }
    expectSame(envs);
  });

  it('stop at a faulting instruction without a code generator (DIV) mid-block', () => {
    const code = asm(
      'l: mov eax, 100\nxor edx, edx\ndiv ecx\nadd ebx, eax\ndec ecx\njmp l',
      32,
      CODE,
    );
    const envs = three('prot32', code, ({ cpu }) => {
      cpu.intercepts.exceptionBitmap = 1;
      cpu.lo[1] = 9;
    });
    for (const [i, env] of envs.entries()) {
      expect(go(env, 1000, i === 2)).toBe(EXIT.EXCEPTION);
      expect(env.cpu.exit.vector).toBe(0);
      expect(env.cpu.rip).toBe(CODE + 7);
    }
    expectSame(envs);
  });

  it('exit on an MMIO write and an MMIO read in the middle of a compiled block', () => {
    const code = asm(
      'l: inc ebx\nmov [0x300000], ebx\nadd ecx, 3\nmov eax, [0x300004]\nadd edx, eax\njmp l',
      32,
      CODE,
    );
    const envs = three('prot32', code, ({ cpu }) => {
      cpu.lo[2] = 0;
    });
    for (const [i, env] of envs.entries()) {
      for (let turn = 1; turn <= 80; turn++) {
        expect(go(env, 10_000, i === 2)).toBe(EXIT.MMIO_WRITE);
        expect(env.cpu.exit.value).toBe(turn);
        expect(go(env, 10_000, i === 2)).toBe(EXIT.MMIO_READ);
        expect(env.cpu.exit.address).toBe(0x300004);
        env.cpu.completeMmioRead(turn * 10);
      }
      expect(env.cpu.lo[2]).toBe(10 * 79 * 40);
    }
    expectSame(envs);
  });

  it('see a store into the next instruction of the same compiled block', () => {
    // The MOV patches the immediate of the ADD two instructions later: 1, 2, 3, ...
    const src = 'l: inc ecx\nmov [p + 2], cl\np: add eax, 0x7f\ndec edx\njnz l\nhlt';
    const code = asm(src, 32, CODE);
    const envs = three('prot32', code, ({ cpu }) => {
      cpu.lo[2] = 100;
    });
    for (const [i, env] of envs.entries()) {
      expect(go(env, 10_000, i === 2)).toBe(EXIT.HLT);
      expect(env.cpu.lo[0]).toBe((100 * 101) / 2);
    }
    expectSame(envs);
  });

  it.each([
    ['prot32', 32, 'esp'],
    ['long64', 64, 'rsp'],
  ] as const)('go on after a RET only when it returns to its CALL (%s)', (mode, bits, sp) => {
    // The block goes on through `call f` and f's RET. In odd turns f moves its return address
    // past the NOP (adds EAX = EBX & 1 to it): the RET lands elsewhere and the block must stop
    // there; in even turns it returns to the NOP and the block goes on.
    const src = [
      'l: mov eax, ebx',
      'and eax, 1',
      'call f',
      'nop',
      'inc ebx',
      'dec edx',
      'jnz l',
      'hlt',
      `f: add [${sp}], eax`,
      'ret',
    ].join('\n');
    const envs = three(mode, asm(src, bits, CODE), ({ cpu }) => {
      cpu.lo[2] = 200;
      cpu.lo[3] = 0;
      cpu.lo[7] = 0;
    });
    for (const [i, env] of envs.entries()) {
      expect(go(env, 100_000, i === 2)).toBe(EXIT.HLT);
      expect(env.cpu.lo[3]).toBe(200);
    }
    expectSame(envs);
    // f always moves its return address: the NOP is never decoded, the RET ends the block.
    const straight = asm(
      [
        `l: call f`,
        'nop',
        'inc ebx',
        'dec edx',
        'jnz l',
        'hlt',
        `f: add dword [${sp}], 1`,
        'ret',
      ].join('\n'),
      bits,
      CODE,
    );
    const envs2 = three(mode, straight, ({ cpu }) => {
      cpu.lo[2] = 100;
      cpu.lo[3] = 0;
    });
    for (const [i, env] of envs2.entries()) {
      expect(go(env, 100_000, i === 2)).toBe(EXIT.HLT);
      expect(env.cpu.lo[3]).toBe(100);
      expect(env.cpu.instructions).toBe(100 * 6 + 1); // call, add, ret, inc, dec, jnz; hlt
    }
    expectSame(envs2);
  });

  it('retire exactly the budget inside a compiled block that loops on itself', () => {
    const code = asm('l: inc eax\nadd ebx, eax\nxor ecx, ebx\ninc edx\njmp l', 32, CODE);
    const envs = three('prot32', code);
    for (const [i, env] of envs.entries()) {
      let total = 0;
      for (let k = 1; k <= 40; k++) {
        expect(go(env, k, i === 2)).toBe(EXIT.BUDGET);
        total += k;
        expect(env.cpu.instructions).toBe(total);
      }
    }
    expectSame(envs);
  });

  it('continue exactly from getState/fromState taken in the middle of a run', () => {
    const src = [
      'l: mov eax, [esi]',
      'add eax, ebx',
      'xor ebx, eax',
      'rol ebx, 3',
      'mov [esi + 4], eax',
      'add esi, 8',
      'and esi, 0xff8',
      'or esi, 0x4000',
      'call f',
      'dec edx',
      'jnz l',
      'hlt',
      'f: lea edi, [edi + eax * 2]',
      'ret',
    ].join('\n');
    const code = asm(src, 32, CODE);
    const [a, , c] = three('prot32', code, ({ cpu }) => {
      cpu.lo[2] = 5000;
      cpu.lo[6] = 0x2000;
    });
    // A: stops every 777 instructions, saves, and continues on a fresh vCPU.
    let cpu = a.cpu;
    let r: number = EXIT.BUDGET;
    while (r === EXIT.BUDGET) {
      r = cpu.run(777);
      const next = X86Cpu.fromState(cpu.getState(), { memory: a.ram });
      next.blockCompileAfter = 1;
      cpu = next;
    }
    expect(r).toBe(EXIT.HLT);
    expect(c.cpu.run(1_000_000)).toBe(EXIT.HLT);
    expect(cpu.getState()).toEqual(c.cpu.getState());
    expect(Buffer.from(a.ram.bytes).equals(Buffer.from(c.ram.bytes))).toBe(true);
  });
});
