import { describe, expect, it } from 'vitest';
import { CR4, disassemble, EXIT, SEG, VECTOR, type X86Cpu } from '../src/index.ts';
import { asm, CODE, type Mode, STACK_TOP, setup } from './helpers.ts';

/** Runs `code` in `mode` with every exception intercepted; returns the CPU at the first exit. */
function run(mode: Mode, code: Uint8Array, prepare?: (cpu: X86Cpu) => void): X86Cpu {
  const { cpu } = setup(mode, code, { intercepts: { exceptionBitmap: 0xffffffff } });
  prepare?.(cpu);
  cpu.run(100);
  return cpu;
}

function expectFault(cpu: X86Cpu, vector: number, code = -1): void {
  expect(cpu.exit.reason).toBe(EXIT.EXCEPTION);
  expect(cpu.exit.vector).toBe(vector);
  expect(cpu.exit.errorCode).toBe(code);
  expect(cpu.rip).toBe(CODE);
}

describe('legacy integer instructions (SDM Vol. 2: ARPL, BOUND, INT1, RDPMC; SALC)', () => {
  it('ARPL is #UD in real mode and MOVSXD in 64-bit mode', () => {
    expectFault(run('real', Uint8Array.of(0x63, 0xc8, 0xf4)), VECTOR.UD);
    const cpu = run('long64', Uint8Array.of(0x48, 0x63, 0xc1, 0xf4), (c) => {
      c.lo[1] = -5;
    });
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect(cpu.getReg64(0)).toBe(-5);
  });

  it('ARPL raises the RPL and sets ZF only when the destination RPL is lower', () => {
    const cpu = run(
      'prot32',
      asm('arpl ax, cx\nsetz bl\narpl dx, cx\nsetz bh\nhlt', 32, CODE),
      (c) => {
        c.lo[0] = 0x12345678; // RPL 0
        c.lo[1] = 0xabcd0002 | 0; // RPL 2
        c.lo[2] = 0x0003; // RPL 3
      },
    );
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect(cpu.lo[0]).toBe(0x1234567a);
    expect(cpu.lo[2]).toBe(3);
    expect(cpu.lo[3] & 0xffff).toBe(0x0001);
  });

  it('BOUND with a register operand is #UD, and BOUND and SALC are #UD in 64-bit mode', () => {
    expectFault(run('prot32', Uint8Array.of(0x62, 0xc0, 0xf4)), VECTOR.UD);
    expectFault(run('long64', Uint8Array.of(0x62, 0x00, 0xf4)), VECTOR.UD);
    expectFault(run('long64', Uint8Array.of(0xd6, 0xf4)), VECTOR.UD);
  });

  it('BOUND out of range raises #BR with RIP at the instruction', () => {
    const cpu = run('prot32', asm('mov edx, 11\nbound edx, [0x5000]\nhlt', 32, CODE), (c) => {
      c.memory.write32(0x5000, -3);
      c.memory.write32(0x5004, 10);
    });
    expect(cpu.exit.vector).toBe(VECTOR.BR);
    expect(cpu.rip).toBe(CODE + 5);
  });

  it('INT1 delivers #DB as a trap: the pushed IP is the next instruction', () => {
    const code = asm('int1\nhlt\nhandler: hlt', 16, CODE);
    const { cpu, ram } = setup('real', code);
    ram.write32(4, CODE + 2); // IVT[1] = 0000:handler
    cpu.run(100);
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect(cpu.rip).toBe(CODE + 3);
    expect(ram.read16(STACK_TOP - 6)).toBe(CODE + 1);
  });

  it('RDPMC raises #GP(0): no performance counters (QEMU 7.2 raises #UD)', () => {
    expectFault(run('long64', Uint8Array.of(0x0f, 0x33, 0xf4)), VECTOR.GP, 0);
    const pce = run('long64', Uint8Array.of(0x0f, 0x33, 0xf4), (c) => {
      c.cr4 |= CR4.PCE;
    });
    expectFault(pce, VECTOR.GP, 0);
  });

  it('a task switch to a 16-bit TSS whose limit is below 0x2B raises #TS(selector); 0x2B is enough', () => {
    const gdt = 0x3000;
    const tss = 0x4000;
    const code = asm('ltr ax\ncall 0x20:0\nhlt\ntask: hlt', 32, CODE);
    for (const [limit, ok] of [
      [0x2a, false],
      [0x2b, true],
    ] as const) {
      const { cpu, ram } = setup('prot32', code, { intercepts: { exceptionBitmap: 0xffffffff } });
      cpu.gdtBase = gdt;
      cpu.gdtLimit = 0x27;
      // 08 code, 10 data, 18 the current (16-bit) TSS, 20 the target 16-bit TSS.
      ram.write32(gdt + 8, 0x0000ffff);
      ram.write32(gdt + 12, 0x00cf9b00);
      ram.write32(gdt + 16, 0x0000ffff);
      ram.write32(gdt + 20, 0x00cf9300);
      ram.write32(gdt + 24, ((tss + 0x100) << 16) | 0x2b);
      ram.write32(gdt + 28, 0x00008100);
      ram.write32(gdt + 32, (tss << 16) | limit);
      ram.write32(gdt + 36, 0x00008100);
      // The target: IP = task, CS 08, SS/DS/ES 10, SP 0x8000, AX 0x1234.
      ram.write16(tss + 0x0e, CODE + 11); // task: after ltr (3 bytes), call far (7), hlt (1)
      ram.write16(tss + 0x10, 0x0002);
      ram.write16(tss + 0x12, 0x1234);
      ram.write16(tss + 0x1a, 0x8000);
      for (const [off, sel] of [
        [0x22, 0x10],
        [0x24, 0x08],
        [0x26, 0x10],
        [0x28, 0x10],
      ])
        ram.write16(tss + off, sel);
      cpu.lo[0] = 0x18;
      cpu.run(100);
      if (ok) {
        expect(cpu.exit.reason).toBe(EXIT.HLT);
        expect(cpu.rip).toBe(CODE + 12);
        expect(cpu.lo[0] & 0xffff).toBe(0x1234);
        // The back link and the busy bit of the new task; NT set.
        expect(ram.read16(tss)).toBe(0x18);
        expect((ram.read32(gdt + 36) >> 8) & 0xf).toBe(3);
        expect(cpu.segSel[SEG.TR]).toBe(0x20);
      } else {
        expect(cpu.exit.vector).toBe(VECTOR.TS);
        expect(cpu.exit.errorCode).toBe(0x20);
      }
    }
  });

  it('LOCK is #UD except on read-modify-write memory forms (SDM LOCK), also where QEMU 7.2 lets it through', () => {
    const bad = [
      'mov [0x5000], eax',
      'bt dword [0x5000], 3',
      'test [0x5000], eax',
      'xchg eax, ecx',
      'lea eax, [ebx]',
      'movzx eax, byte [0x5000]',
      'add eax, ecx',
      'cmp [0x5000], eax',
      'inc dword [0x5000]\nlock inc eax',
    ];
    for (const insn of bad) {
      const lines = insn.split('\n');
      const last = lines.pop() ?? '';
      const pre = lines.join('\n');
      const code = asm(`${pre}\ndb 0xf0\n${last.replace(/^lock /, '')}\nhlt`, 32, CODE);
      const cpu = run('prot32', code);
      expect(cpu.exit.vector, insn).toBe(VECTOR.UD);
    }
    for (const insn of [
      'add [0x5000], eax',
      'xchg [0x5000], ecx',
      'bts dword [0x5000], 3',
      'cmpxchg8b [0x5000]',
    ]) {
      const cpu = run('prot32', asm(`db 0xf0\n${insn}\nhlt`, 32, CODE));
      expect(cpu.exit.reason, insn).toBe(EXIT.HLT);
    }
  });

  it('disassembles ARPL outside 64-bit mode, BOUND, SALC, INT1 and RDPMC', () => {
    const cases: [number[], 16 | 32 | 64, string][] = [
      [[0x63, 0xc8], 32, 'arpl ax, cx'],
      [[0x63, 0x0b], 16, 'arpl [bp+di], cx'],
      [[0x62, 0x13], 32, 'bound edx, [ebx]'],
      [[0xd6], 32, 'salc'],
      [[0xf1], 32, 'int1'],
      [[0x0f, 0x33], 64, 'rdpmc'],
    ];
    for (const [bytes, bits, text] of cases) {
      expect(disassemble(Uint8Array.from(bytes), 0, bits, 0).text).toBe(text);
    }
  });
});
