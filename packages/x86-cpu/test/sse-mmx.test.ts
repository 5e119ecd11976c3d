import { describe, expect, it } from 'vitest';
import { CR0, CR4, disassemble, EXIT, VECTOR, type X86Cpu } from '../src/index.ts';
import { asm, CODE, setup } from './helpers.ts';

const OS = CR4.OSFXSR | CR4.OSXMMEXCPT;

/** Runs `source` in long mode with every exception intercepted; returns the CPU at the first exit. */
function run(source: string, cr0Set = 0, cr4 = OS): X86Cpu {
  const { cpu, ram } = setup('long64', asm(`${source}\nhlt`, 64, CODE), {
    intercepts: { exceptionBitmap: 0xffffffff },
  });
  for (let i = 0; i < 32; i += 4)
    ram.write32(0x5000 + i, [3, -7, 0x3fc00000, 0xbf400000][(i % 16) >> 2] | 0);
  cpu.cr0 |= cr0Set;
  cpu.cr4 |= cr4;
  cpu.run(1000);
  return cpu;
}

function expectFault(cpu: X86Cpu, vector: number, code = -1): void {
  expect(cpu.exit.reason).toBe(EXIT.EXCEPTION);
  expect(cpu.exit.vector).toBe(vector);
  expect(cpu.exit.errorCode).toBe(code);
}

/** Sets up a pending unmasked x87 exception (FSW.ES): division by zero with ZM clear. */
const PENDING = 'fninit\nmov word [0x5100], 0x37b\nfldcw [0x5100]\nfld1\nfldz\nfdivp st1, st0\n';

describe('MMX<->SSE conversions: the x87 state (SDM Vol. 2 CVTPI2PD and friends)', () => {
  it('CVTPI2PD from an MMX register switches to MMX state; from memory it does not (QEMU 7.2 does)', () => {
    const reg = run(
      'fninit\nfld1\nfldz\nmov eax, 5\nmovd xmm0, eax\nmovdq2q mm3, xmm0\nemms\nfld1\ncvtpi2pd xmm1, mm3',
    );
    expect(reg.exit.reason).toBe(EXIT.HLT);
    expect([reg.fpu.top, reg.fpu.ftw]).toEqual([0, 0xff]);
    const mem = run('fninit\nfld1\nfldz\ncvtpi2pd xmm1, [0x5000]\nmovq rax, xmm1');
    expect(mem.exit.reason).toBe(EXIT.HLT);
    expect([mem.fpu.top, mem.fpu.ftw]).toEqual([6, 0xc0]);
    expect(mem.getReg64(0)).toBe(0x4008000000000000 /* 3.0 */);
  });

  it('CVTPI2PS from memory and CVTPS2PI switch to MMX state and write 1s to bits 79..64', () => {
    const cpu = run(
      'fninit\nfld1\ncvtpi2ps xmm1, [0x5000]\nmovq rax, xmm1\ncvtps2pi mm4, [0x5008]',
    );
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect([cpu.fpu.top, cpu.fpu.ftw]).toEqual([0, 0xff]);
    // 3.0f and -7.0f.
    expect([cpu.lo[0], cpu.hi[0]]).toEqual([0x40400000, 0xc0e00000 | 0]);
    // 1.5 -> 2 and -0.75 -> -1 (round to nearest even), bits 79..64 all ones.
    expect([cpu.fpu.stLo[4], cpu.fpu.stHi[4], cpu.fpu.stSe[4]]).toEqual([2, -1, 0xffff]);
  });

  it('MOVQ2DQ zero-extends an MMX register; MOVDQ2Q copies the low qword', () => {
    const cpu = run(
      'mov rax, 0x1122334455667788\nmovq mm2, rax\npcmpeqb xmm5, xmm5\nmovq2dq xmm5, mm2\nmovq rbx, xmm5\npsrldq xmm5, 8\nmovq rcx, xmm5\nmovdq2q mm6, xmm5',
    );
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect([cpu.lo[3], cpu.hi[3]]).toEqual([0x55667788, 0x11223344]);
    expect([cpu.lo[1], cpu.hi[1]]).toEqual([0, 0]);
    expect([cpu.fpu.stLo[6], cpu.fpu.stHi[6]]).toEqual([0, 0]);
  });
});

describe('MMX<->SSE conversions: exceptions (SDM Vol. 3B Tables 23-5 and 23-6)', () => {
  it('raise #UD without CR4.OSFXSR or with CR0.EM, and #NM with CR0.TS', () => {
    expectFault(run('cvtpi2ps xmm0, mm1', 0, 0), VECTOR.UD);
    expectFault(run('movq2dq xmm0, mm1', CR0.EM), VECTOR.UD);
    expectFault(run('cvtpd2pi mm0, xmm1', CR0.TS), VECTOR.NM);
  });

  it('raise #MF for a pending x87 exception with CR0.NE, except CVTPI2PD from memory', () => {
    const before = run(PENDING, CR0.NE).fpu.top;
    expect(before).not.toBe(0);
    for (const insn of [
      'cvtpi2ps xmm0, [0x5000]',
      'cvtpi2pd xmm0, mm1',
      'cvttps2pi mm0, xmm1',
      'movdq2q mm0, xmm1',
    ]) {
      const cpu = run(`${PENDING}${insn}`, CR0.NE);
      expectFault(cpu, VECTOR.MF);
      expect(cpu.fpu.top).toBe(before);
    }
    const mem = run(`${PENDING}cvtpi2pd xmm0, [0x5000]`, CR0.NE);
    expect(mem.exit.reason).toBe(EXIT.HLT);
    expect(mem.fpu.top).toBe(before);
  });

  it('the memory forms of MOVQ2DQ and MOVDQ2Q are #UD', () => {
    const { cpu } = setup('long64', Uint8Array.of(0xf3, 0x0f, 0xd6, 0x00, 0xf4), {
      intercepts: { exceptionBitmap: 0xffffffff },
    });
    cpu.cr4 |= OS;
    cpu.run(10);
    expectFault(cpu, VECTOR.UD);
  });

  it('CVTPD2PI needs a 16-byte aligned m128; CVTPS2PI reads an m64 anywhere', () => {
    expectFault(run('cvtpd2pi mm0, [0x5008]'), VECTOR.GP, 0);
    expect(run('cvtps2pi mm0, [0x5004]').exit.reason).toBe(EXIT.HLT);
  });

  it('an unmasked precision exception raises #XM and leaves the destination and the x87 state alone', () => {
    const cpu = run(
      'fninit\nmov dword [0x5100], 0x1f80 & ~0x1000\nldmxcsr [0x5100]\nmov rax, 0x12345678\nmovq mm1, rax\nemms\nfld1\ncvtps2pi mm1, [0x5008]',
    );
    expectFault(cpu, VECTOR.XM);
    expect([cpu.fpu.top, cpu.fpu.ftw]).toEqual([7, 0x80]);
    expect(cpu.fpu.stLo[1]).toBe(0x12345678);
    expect(cpu.fpu.mxcsr & 0x20).toBe(0x20);
  });
});

describe('MMX<->SSE conversions: disassembly', () => {
  it('formats every form in nasm syntax', () => {
    const cases: [number[], string][] = [
      [[0x0f, 0x2a, 0xca], 'cvtpi2ps xmm1, mm2'],
      [[0x66, 0x0f, 0x2a, 0x08], 'cvtpi2pd xmm1, [rax]'],
      [[0x0f, 0x2d, 0xca], 'cvtps2pi mm1, xmm2'],
      [[0x0f, 0x2c, 0x0b], 'cvttps2pi mm1, [rbx]'],
      [[0x66, 0x0f, 0x2d, 0xca], 'cvtpd2pi mm1, xmm2'],
      [[0x66, 0x41, 0x0f, 0x2c, 0xcb], 'cvttpd2pi mm1, xmm11'],
      [[0xf3, 0x0f, 0xd6, 0xca], 'movq2dq xmm1, mm2'],
      [[0xf2, 0x0f, 0xd6, 0xca], 'movdq2q mm1, xmm2'],
    ];
    for (const [bytes, text] of cases) {
      expect(disassemble(Uint8Array.from(bytes), 0, 64, 0).text).toBe(text);
    }
  });
});
