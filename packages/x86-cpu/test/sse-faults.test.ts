import { describe, expect, it } from 'vitest';
import { CR0, CR4, EXIT, VECTOR, X86Cpu } from '../src/index.ts';
import { asm, CODE, runToHlt, setup } from './helpers.ts';

const ALL = 0xffffffff;

/** Runs `source` in long mode with every exception intercepted; returns the CPU after the first exit. */
function run64(source: string, cr0Set: number, cr0Clear: number, cr4: number): X86Cpu {
  const { cpu } = setup('long64', asm(`${source}\nhlt`, 64, CODE), {
    intercepts: { exceptionBitmap: ALL },
  });
  cpu.cr0 = (cpu.cr0 | cr0Set) & ~cr0Clear;
  cpu.cr4 |= cr4;
  cpu.run(1000);
  return cpu;
}

function expectFault(cpu: X86Cpu, vector: number, code = -1): void {
  expect(cpu.exit.reason).toBe(EXIT.EXCEPTION);
  expect(cpu.exit.vector).toBe(vector);
  expect(cpu.exit.errorCode).toBe(code);
}

const OS = CR4.OSFXSR | CR4.OSXMMEXCPT;

describe('SSE availability: CR0.EM/TS/MP and CR4.OSFXSR', () => {
  it('an SSE instruction with CR0.TS raises #NM, and runs once CLTS clears it', () => {
    const cpu = run64('pxor xmm1, xmm1', CR0.TS | CR0.MP, 0, OS);
    expectFault(cpu, VECTOR.NM);
    expect(cpu.rip).toBe(CODE);
    const cpu2 = run64('clts\npcmpeqb xmm1, xmm1\nmovq rax, xmm1', CR0.TS | CR0.MP, 0, OS);
    expect(cpu2.exit.reason).toBe(EXIT.HLT);
    expect(cpu2.getReg64(0)).toBe(-1);
    expect(cpu2.cr0 & CR0.TS).toBe(0);
  });

  it('an SSE instruction with CR0.EM or without CR4.OSFXSR raises #UD (before #NM)', () => {
    expectFault(run64('addps xmm0, xmm1', CR0.EM | CR0.TS, 0, OS), VECTOR.UD);
    expectFault(run64('movdqa xmm0, xmm1', 0, 0, 0), VECTOR.UD);
    expectFault(run64('ldmxcsr [rsp]', 0, 0, 0), VECTOR.UD);
  });

  it('a LOCK prefix on an SSE instruction raises #UD', () => {
    const { cpu } = setup('long64', Uint8Array.of(0xf0, 0x66, 0x0f, 0xef, 0xc0, 0xf4), {
      intercepts: { exceptionBitmap: ALL },
    });
    cpu.cr4 |= OS;
    cpu.run(10);
    expectFault(cpu, VECTOR.UD);
  });

  it('FXSAVE with CR0.TS or CR0.EM raises #NM; without CR4.OSFXSR it saves the x87 part only', () => {
    expectFault(run64('fxsave [0x5000]', CR0.TS, 0, OS), VECTOR.NM);
    expectFault(run64('fxsave [0x5000]', CR0.EM, 0, OS), VECTOR.NM);
    const { cpu, ram } = setup('long64', asm('fxsave [0x5000]\nhlt', 64, CODE));
    cpu.fpu.x[0] = 0x12345678;
    for (let i = 0; i < 512; i += 4) ram.write32(0x5000 + i, 0x5a5a5a5a);
    runToHlt(cpu);
    expect(ram.read16(0x5000)).toBe(0x37f);
    expect(ram.read32(0x5000 + 24)).toBe(0x5a5a5a5a); // MXCSR not written
    expect(ram.read32(0x5000 + 160)).toBe(0x5a5a5a5a); // XMM0 not written
  });

  it('WAIT raises #NM only with both CR0.MP and CR0.TS', () => {
    expectFault(run64('wait', CR0.MP | CR0.TS, 0, OS), VECTOR.NM);
    expect(run64('wait', CR0.TS, CR0.MP, OS).exit.reason).toBe(EXIT.HLT);
  });

  it('x87 instructions raise #NM with CR0.EM or CR0.TS', () => {
    expectFault(run64('fninit', CR0.EM, 0, OS), VECTOR.NM);
    expectFault(run64('fnstsw ax', CR0.TS, 0, OS), VECTOR.NM);
  });
});

describe('SSE memory operands', () => {
  it('MOVAPS/MOVDQA/PADDB with a misaligned m128 raise #GP(0); MOVUPS/MOVDQU do not', () => {
    expectFault(run64('mov eax, 0x5008\nmovaps xmm0, [rax]', 0, 0, OS), VECTOR.GP, 0);
    expectFault(run64('mov eax, 0x5004\nmovdqa [rax], xmm0', 0, 0, OS), VECTOR.GP, 0);
    expectFault(run64('mov eax, 0x5001\npaddb xmm0, [rax]', 0, 0, OS), VECTOR.GP, 0);
    expect(
      run64('mov eax, 0x5001\nmovups xmm0, [rax]\nmovdqu [rax], xmm0', 0, 0, OS).exit.reason,
    ).toBe(EXIT.HLT);
  });

  it('FXSAVE/FXRSTOR to a misaligned address raise #GP(0)', () => {
    expectFault(run64('fxsave [0x5008]', 0, 0, OS), VECTOR.GP, 0);
    expectFault(run64('fxrstor [0x5004]', 0, 0, OS), VECTOR.GP, 0);
  });

  it('LDMXCSR and FXRSTOR with reserved MXCSR bits raise #GP(0) and change nothing', () => {
    const cpu = run64('mov dword [0x5000], 0x10000\nldmxcsr [0x5000]', 0, 0, OS);
    expectFault(cpu, VECTOR.GP, 0);
    expect(cpu.fpu.mxcsr).toBe(0x1f80);
    const cpu2 = run64(
      'fxsave [0x5000]\nmov dword [0x5000 + 24], 0x20000\nmov word [0x5000], 0x7f\nfxrstor [0x5000]',
      0,
      0,
      OS,
    );
    expectFault(cpu2, VECTOR.GP, 0);
    expect(cpu2.fpu.fcw).toBe(0x37f);
  });

  it('a 16-byte store that crosses into a non-present page writes nothing', () => {
    const { cpu, ram } = setup('long64', asm('movdqu [0x1ffff8], xmm0\nhlt', 64, CODE), {
      intercepts: { exceptionBitmap: ALL },
    });
    cpu.cr4 |= OS;
    // Unmap the 2 MiB page at 0x200000.
    ram.write32(0x72000 + 8, 0);
    cpu.fpu.x.fill(-1, 0, 4);
    cpu.run(10);
    expectFault(cpu, VECTOR.PF, 2);
    expect(ram.read32(0x1ffff8)).toBe(0);
  });
});

describe('FPU/SSE state', () => {
  it('getState/fromState carry x87, MXCSR and XMM state through JSON; old states without it load as reset', () => {
    const { cpu, ram } = setup(
      'long64',
      asm(
        'pcmpeqb xmm3, xmm3\nmov dword [0x5000], 0x3f80\nldmxcsr [0x5000]\nmov word [0x5000], 0x27f\nfldcw [0x5000]\nhlt',
        64,
        CODE,
      ),
    );
    cpu.cr4 |= OS;
    runToHlt(cpu);
    const s = JSON.parse(JSON.stringify(cpu.getState()));
    const copy = X86Cpu.fromState(s, { memory: ram });
    expect(copy.getState()).toEqual(cpu.getState());
    expect(copy.fpu.mxcsr).toBe(0x3f80);
    expect(copy.fpu.fcw).toBe(0x27f);
    expect(Array.from(copy.fpu.x.subarray(12, 16))).toEqual([-1, -1, -1, -1]);
    const old = { ...s };
    delete old.fpu;
    const fresh = X86Cpu.fromState(old, { memory: ram });
    expect(fresh.fpu.mxcsr).toBe(0x1f80);
    expect(fresh.fpu.fcw).toBe(0x37f);
    expect(Array.from(fresh.fpu.x.subarray(12, 16))).toEqual([0, 0, 0, 0]);
  });

  it('CPUID leaf 1 advertises FXSR, SSE and SSE2', () => {
    const { cpu } = setup('long64', asm('mov eax, 1\ncpuid\nhlt', 64, CODE));
    runToHlt(cpu);
    const edx = cpu.lo[2];
    expect((edx >>> 24) & 7).toBe(7);
  });
});

describe('SSE floating-point exceptions (SDM Vol. 1 §11.5)', () => {
  /** Runs `source` with XMM1/XMM2 low dwords set and MXCSR = `mxcsr`. */
  function fp(source: string, a: number[], b: number[], mxcsr: number, cr4 = OS): X86Cpu {
    const { cpu } = setup('long64', asm(`${source}\nhlt`, 64, CODE), {
      intercepts: { exceptionBitmap: ALL },
    });
    cpu.cr4 |= cr4;
    cpu.fpu.mxcsr = mxcsr;
    for (let i = 0; i < 4; i++) {
      cpu.fpu.x[4 + i] = a[i] ?? 0;
      cpu.fpu.x[8 + i] = b[i] ?? 0;
    }
    cpu.run(100);
    return cpu;
  }

  it('an unmasked divide-by-zero raises #XM with CR4.OSXMMEXCPT (#UD without) and leaves the destination', () => {
    const one = 0x3f800000;
    const cpu = fp('divss xmm1, xmm2', [one, 7], [0], 0x1f80 & ~0x200);
    expectFault(cpu, VECTOR.XM);
    expect(cpu.fpu.x[4]).toBe(one);
    expect(cpu.fpu.mxcsr & 0x3f).toBe(0x4);
    expectFault(fp('divss xmm1, xmm2', [one], [0], 0x1f80 & ~0x200, CR4.OSFXSR), VECTOR.UD);
    const masked = fp('divss xmm1, xmm2', [one], [0], 0x1f80);
    expect(masked.exit.reason).toBe(EXIT.HLT);
    expect(masked.fpu.x[4]).toBe(0x7f800000);
    expect(masked.fpu.mxcsr & 0x3f).toBe(0x4);
  });

  it('a denormal source sets MXCSR.DE (QEMU 7.2 never does); with DAZ it reads as zero and DE stays clear', () => {
    const cpu = fp('addss xmm1, xmm2', [0x3f800000], [1], 0x1f80);
    expect(cpu.fpu.mxcsr & 0x3f).toBe(0x2 | 0x20);
    const daz = fp('mulss xmm1, xmm2', [0x3f800000], [0x80000001], 0x1f80 | 0x40);
    expect(daz.fpu.x[4]).toBe(0x80000000 | 0);
    expect(daz.fpu.mxcsr & 0x3f).toBe(0);
  });

  it('two NaN operands give the first one, quieted, with IE for an SNaN (SDM Table 4-7; QEMU 7.2 picks by the x87 rule)', () => {
    const cpu = fp('addps xmm1, xmm2', [0x7f800001, 0x7fc00002], [0x7fc12345, 0xffc00003], 0x1f80);
    expect(cpu.fpu.x[4]).toBe(0x7fc00001);
    expect(cpu.fpu.x[5]).toBe(0x7fc00002);
    expect(cpu.fpu.mxcsr & 1).toBe(1);
  });

  it('a masked overflow gives ∞ in round-to-nearest and the largest finite value toward zero, with OE and PE', () => {
    const max = 0x7f7fffff;
    const two = 0x40000000;
    expect(fp('mulss xmm1, xmm2', [max], [two], 0x1f80).fpu.x[4]).toBe(0x7f800000);
    const rz = fp('mulss xmm1, xmm2', [max], [two], 0x1f80 | 0x6000);
    expect(rz.fpu.x[4]).toBe(max);
    expect(rz.fpu.mxcsr & 0x3f).toBe(0x28);
  });

  it('FTZ keeps a result that rounds up to the smallest normal (tininess after rounding; QEMU 7.2 flushes it)', () => {
    // 2^-126 × (1 - 2^-30) as a double rounds to 2^-126 in binary32.
    const cpu = fp('cvtsd2ss xmm1, xmm2', [], [0xff800000 | 0, 0x380fffff], 0x1f80 | 0x8000);
    expect(cpu.fpu.x[4]).toBe(0x00800000);
    expect(cpu.fpu.mxcsr & 0x3f).toBe(0x20);
    // Below the rounding boundary the result is tiny: flushed to zero with UE and PE.
    const tiny = fp('cvtsd2ss xmm1, xmm2', [], [0, 0x380f0000], 0x1f80 | 0x8000);
    expect(tiny.fpu.x[4]).toBe(0);
    expect(tiny.fpu.mxcsr & 0x3f).toBe(0x30);
  });

  it('an out-of-range conversion gives the integer indefinite with IE', () => {
    const cpu = fp('cvttss2si eax, xmm2', [], [0x4f000000], 0x1f80);
    expect(cpu.lo[0]).toBe(0x80000000 | 0);
    expect(cpu.fpu.mxcsr & 1).toBe(1);
  });
});
