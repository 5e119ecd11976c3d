import { describe, expect, it } from 'vitest';
import { CR4, disassemble, EXIT, VECTOR, type X86Cpu } from '../src/index.ts';
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
