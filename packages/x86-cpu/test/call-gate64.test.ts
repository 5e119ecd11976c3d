/**
 * Far JMP and CALL through 64-bit call gates in IA-32e mode (SDM Vol. 3A 5.8.3.1): 16-byte gates,
 * 64-bit targets only, RSPn and a null SS on a call to an inner ring, quadword pushes, and the
 * #GP/#NP checks on the gate and the target.
 */
import { describe, expect, it } from 'vitest';
import { EXIT, SEG, VECTOR } from '../src/index.ts';
import { asm, CODE, runToHlt, setup } from './helpers.ts';

const GDT = 0x60000;
const TSS = 0x61000;
const RSP0 = 0x90000;
/** Where each test's target code starts (CODE + TARGET). */
const TARGET = 0x200;
const GATE = 0x38;

type Cpu = ReturnType<typeof setup>['cpu'];

/**
 * GDT: null, kernel code64 0x08, kernel data 0x10, user data 0x1b, user code64 0x23, TSS 0x28
 * (16 bytes), the call gate 0x38 (16 bytes), a 32-bit kernel code segment 0x48.
 */
function tables(
  cpu: Cpu,
  gate: { cs?: number; dpl?: number; type?: number; upperType?: number },
): void {
  const m = cpu.memory;
  const q = (i: number, lo: number, hi: number) => {
    m.write32(GDT + i * 8, lo);
    m.write32(GDT + i * 8 + 4, hi);
  };
  q(0, 0, 0);
  q(1, 0xffff, 0x00af9a00);
  q(2, 0xffff, 0x00cf9200);
  q(3, 0xffff, 0x00cff200);
  q(4, 0xffff, 0x00affa00);
  q(5, ((TSS & 0xffff) << 16) | 0x67, (TSS & 0xff000000) | 0x8900 | ((TSS >> 16) & 0xff));
  q(6, 0, 0);
  const target = CODE + TARGET;
  const type = gate.type ?? 0x0c;
  q(
    7,
    ((gate.cs ?? 0x08) << 16) | (target & 0xffff),
    (target & 0xffff0000) | 0x8000 | ((gate.dpl ?? 0) << 13) | (type << 8),
  );
  q(8, 0, (gate.upperType ?? 0) << 8);
  q(9, 0xffff, 0x00cf9a00);
  cpu.gdtBase = GDT;
  cpu.gdtLimit = 10 * 8 - 1;
  m.write32(TSS + 4, RSP0);
  cpu.segSel[SEG.TR] = 0x28;
  cpu.segBase[SEG.TR] = TSS;
  cpu.segLimit[SEG.TR] = 0x67;
  cpu.segAttr[SEG.TR] = 0x8b;
}

/** `caller` runs first (64-bit, at CODE); the gate's target code sits at CODE + TARGET. */
function program(caller: string, target: string): Uint8Array {
  return asm(
    `
${caller}
  hlt
fptr:
  dq 0
  dw ${GATE}
  times ${TARGET} - ($ - $$) db 0xcc
${target}
  hlt
`,
    64,
    CODE,
  );
}

/** Drops to ring 3 (user code 0x23, user stack 0x30000) and continues at label `user`. */
const TO_RING3 = `
  push 0x1b
  push 0x30000
  push 0x2
  push 0x23
  push user
  iretq
user:`;

function trapGp(cpu: Cpu): void {
  cpu.intercepts.exceptionBitmap = (1 << VECTOR.GP) | (1 << VECTOR.NP);
}

describe('64-bit call gates', () => {
  it('CALL at the same privilege pushes CS and RIP as quadwords and lands on the gate offset', () => {
    const code = program(
      '  lea r10, [rel back]\n  mov rbp, rsp\n  call far [rel fptr]\nback:',
      '  mov rbx, rsp\n  mov rcx, [rsp]\n  mov rdx, [rsp + 8]',
    );
    const { cpu } = setup('long64', code);
    tables(cpu, {});
    runToHlt(cpu);
    expect(cpu.getReg64(3)).toBe(cpu.getReg64(5) - 16);
    expect(cpu.getReg64(2)).toBe(0x08);
    expect(cpu.getReg64(1)).toBe(cpu.getReg64(10));
    expect(cpu.rip).toBeGreaterThan(CODE + TARGET);
  });

  it('CALL from ring 3 to ring 0 switches to RSP0 with a null SS and pushes SS, RSP, CS, RIP; RETF returns', () => {
    const code = program(
      `${TO_RING3}\n  call far [rel fptr]\n  mov r8, 0x5a\n  jmp $`,
      '  mov rbx, rsp\n  mov rcx, [rsp + 8]\n  mov rdx, [rsp + 16]\n  mov rsi, [rsp + 24]\n  mov r9w, ss\n  o64 retf',
    );
    const { cpu } = setup('long64', code);
    tables(cpu, { dpl: 3 });
    // Ring 3 cannot HLT: it ends in a `jmp $` loop, so the run ends on its budget.
    expect(cpu.run(10_000)).toBe(EXIT.BUDGET);
    // Back in ring 3 after the far return, with the user stack.
    expect(cpu.lo[8]).toBe(0x5a);
    expect(cpu.cpl).toBe(3);
    expect(cpu.getReg64(4)).toBe(0x30000);
    // What the target saw: the frame on RSP0, SS = null selector with RPL 0.
    expect(cpu.getReg64(3)).toBe(RSP0 - 32);
    expect(cpu.getReg64(1)).toBe(0x23);
    expect(cpu.getReg64(2)).toBe(0x30000);
    expect(cpu.getReg64(6)).toBe(0x1b);
    expect(cpu.lo[9] & 0xffff).toBe(0);
  });

  it('JMP through a gate keeps the privilege and the stack', () => {
    const code = program('  mov rbp, rsp\n  jmp far [rel fptr]', '  mov rbx, rsp');
    const { cpu } = setup('long64', code);
    tables(cpu, {});
    runToHlt(cpu);
    expect(cpu.getReg64(3)).toBe(cpu.getReg64(5));
    expect(cpu.segSel[SEG.CS]).toBe(0x08);
  });

  it('refuses a gate below the caller’s privilege, 16-bit gates, a non-zero upper type and non-64-bit targets', () => {
    const cases: {
      caller: string;
      gate: Parameters<typeof tables>[1];
      vector: number;
      code: number;
    }[] = [
      {
        caller: `${TO_RING3}\n  call far [rel fptr]`,
        gate: { dpl: 0 },
        vector: VECTOR.GP,
        code: GATE,
      },
      { caller: '  call far [rel fptr]', gate: { type: 0x04 }, vector: VECTOR.GP, code: GATE },
      { caller: '  call far [rel fptr]', gate: { upperType: 0x0c }, vector: VECTOR.GP, code: GATE },
      { caller: '  call far [rel fptr]', gate: { cs: 0x48 }, vector: VECTOR.GP, code: 0x48 },
      { caller: '  call far [rel fptr]', gate: { cs: 0 }, vector: VECTOR.GP, code: 0 },
      { caller: '  jmp far [rel fptr]', gate: { type: 0x05 }, vector: VECTOR.GP, code: GATE },
    ];
    for (const c of cases) {
      const { cpu } = setup('long64', program(c.caller, ''));
      tables(cpu, c.gate);
      trapGp(cpu);
      expect(cpu.run(1000)).toBe(EXIT.EXCEPTION);
      expect([cpu.exit.vector, cpu.exit.errorCode]).toEqual([c.vector, c.code]);
    }
    const { cpu } = setup('long64', program('  call far [rel fptr]', ''));
    tables(cpu, {});
    cpu.memory.write32(GDT + 7 * 8 + 4, cpu.memory.read32(GDT + 7 * 8 + 4) & ~0x8000);
    trapGp(cpu);
    expect(cpu.run(1000)).toBe(EXIT.EXCEPTION);
    expect([cpu.exit.vector, cpu.exit.errorCode]).toEqual([VECTOR.NP, GATE]);
  });
});
