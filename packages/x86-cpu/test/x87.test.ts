import { describe, expect, it } from 'vitest';
import { CR0, CR4, EXIT, VECTOR, X86Cpu } from '../src/index.ts';
import { asm, CODE, setup } from './helpers.ts';

const ALL = 0xffffffff;

/** Runs `source` (then HLT) in long mode with every exception intercepted. */
function run(source: string, cr0 = 0): { cpu: X86Cpu; ram: ReturnType<typeof setup>['ram'] } {
  const { cpu, ram } = setup('long64', asm(`${source}\nhlt`, 64, CODE), {
    intercepts: { exceptionBitmap: ALL },
  });
  cpu.cr0 |= cr0;
  cpu.cr4 |= CR4.OSFXSR | CR4.OSXMMEXCPT;
  cpu.run(1000);
  return { cpu, ram };
}

/** ST(i) as `[sign/exponent, significand high, significand low]` (unsigned). */
function st(cpu: X86Cpu, i: number): number[] {
  const f = cpu.fpu;
  const p = (f.top + i) & 7;
  return [f.stSe[p], f.stHi[p] >>> 0, f.stLo[p] >>> 0];
}

const INDEFINITE = [0xffff, 0xc0000000, 0];

describe('x87 stack faults (SDM Vol. 1 §8.5.1.1; QEMU 7.2 does not model them)', () => {
  it('a ninth push overflows: IE, SF and C1 set, the indefinite is pushed', () => {
    const { cpu } = run(`fninit\n${'fld1\n'.repeat(9)}`);
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    const fsw = cpu.fpu.getFsw();
    expect(fsw & 0x241).toBe(0x241);
    expect(st(cpu, 0)).toEqual(INDEFINITE);
  });

  it('an operation on an empty register underflows: IE and SF, C1 clear, the indefinite is stored', () => {
    const { cpu } = run('fninit\nfld1\nfadd st0, st1');
    const fsw = cpu.fpu.getFsw();
    expect(fsw & 0x241).toBe(0x41);
    expect(st(cpu, 0)).toEqual(INDEFINITE);
  });

  it('FST to an empty ST(i) tags it valid', () => {
    const { cpu } = run('fninit\nfld1\nfst st3');
    expect(cpu.fpu.ftw & (1 << ((cpu.fpu.top + 3) & 7))).not.toBe(0);
  });
});

describe('x87 exceptions and #MF', () => {
  it('C1 reports a rounded-up inexact result and DE a denormal operand (QEMU 7.2 sets neither)', () => {
    // 1/3 rounds up in the last place of the 64-bit significand (…AAAB).
    const { cpu } = run('fninit\nfld1\nmov dword [0x5000], 3\nfidiv dword [0x5000]');
    expect(st(cpu, 0)).toEqual([0x3ffd, 0xaaaaaaaa, 0xaaaaaaab]);
    expect(cpu.fpu.getFsw() & 0x220).toBe(0x220);
    const d = run('fninit\nmov dword [0x5000], 1\nfld dword [0x5000]').cpu;
    expect(d.fpu.getFsw() & 0x2).toBe(0x2);
  });

  it('an unmasked invalid operation sets ES and B, keeps the destination, and raises #MF at the next waiting instruction with CR0.NE', () => {
    const src =
      'fninit\nmov word [0x5000], 0x37e\nfldcw [0x5000]\nfldz\nfldz\nfdiv st0, st1\nnop\nfwait';
    const { cpu } = run(src, CR0.NE);
    expect(cpu.exit.reason).toBe(EXIT.EXCEPTION);
    expect(cpu.exit.vector).toBe(VECTOR.MF);
    expect(cpu.fpu.getFsw() & 0x8081).toBe(0x8081);
    expect(st(cpu, 0)).toEqual([0, 0, 0]);
    // Without CR0.NE the model has no FERR# line: FWAIT completes.
    expect(run(src).cpu.exit.reason).toBe(EXIT.HLT);
    // FNCLEX clears the pending exception.
    expect(run(`${src.replace('nop', 'fnclex')}`, CR0.NE).cpu.exit.reason).toBe(EXIT.HLT);
  });

  it('a masked divide by zero gives a signed infinity with ZE', () => {
    const { cpu } = run('fninit\nfldz\nfchs\nfld1\nfdiv st0, st1');
    expect(st(cpu, 0)).toEqual([0xffff, 0x80000000, 0]);
    expect(cpu.fpu.getFsw() & 0x3f).toBe(0x4);
  });
});

describe('x87 precision control and pointers', () => {
  it('precision control rounds FDIV to 24 bits but not FRNDINT or loads (SDM §8.1.5.2; QEMU rounds those too)', () => {
    const { cpu } = run(
      'fninit\nmov word [0x5000], 0x07f\nfldcw [0x5000]\nfld1\nmov dword [0x5004], 3\nfidiv dword [0x5004]',
    );
    expect(st(cpu, 0)).toEqual([0x3ffd, 0xaaaaab00, 0]);
    const r = run(
      'fninit\nmov word [0x5000], 0x07f\nfldcw [0x5000]\nmov rax, 0x3ff0000000000001\nmov [0x5008], rax\nfld qword [0x5008]',
    ).cpu;
    expect(st(r, 0)).toEqual([0x3fff, 0x80000000, 0x800]);
  });

  it('FXSAVE stores the last x87 instruction and data pointers (QEMU 7.2 stores zeros)', () => {
    const { cpu, ram } = run('fninit\nfld dword [0x5000]\nfxsave [0x6000]');
    expect(ram.read32(0x6008)).toBe(CODE + 2);
    expect(ram.read32(0x6010)).toBe(0x5000);
    expect(cpu.fpu.fip).toBe(CODE + 2);
  });

  it('FXSAVE64 (REX.W) stores 64-bit FIP/FDP; the 32-bit form stores FCS/FDS beside 32-bit offsets', () => {
    const { ram } = run('fninit\nfld dword [0x5000]\nfxsave64 [0x6000]\nfxsave [0x6200]');
    expect(ram.read32(0x6008)).toBe(CODE + 2);
    expect(ram.read32(0x600c)).toBe(0);
    expect(ram.read32(0x6010)).toBe(0x5000);
    expect(ram.read16(0x620c)).toBe(0x08);
    expect(ram.read16(0x6214)).toBe(0x10);
  });

  it('getState carries the x87 stack bit-exactly', () => {
    const { cpu, ram } = run('fninit\nfldpi\nfld1\nfchs');
    const copy = X86Cpu.fromState(JSON.parse(JSON.stringify(cpu.getState())), { memory: ram });
    expect(st(copy, 1)).toEqual([0x4000, 0xc90fdaa2, 0x2168c235]);
    expect(st(copy, 0)).toEqual([0xbfff, 0x80000000, 0]);
    expect(copy.fpu.getFsw()).toBe(cpu.fpu.getFsw());
  });
});

describe('x87 remainders, BCD and transcendentals', () => {
  /** ST(0) as a JS number (through its 64-bit significand). */
  function value(cpu: X86Cpu): number {
    const [se, hi, lo] = st(cpu, 0);
    const sig = hi * 2 ** 32 + lo;
    return (se & 0x8000 ? -1 : 1) * sig * 2 ** ((se & 0x7fff) - 16383 - 63);
  }

  it('FPREM1 rounds the quotient to nearest and reports its low bits in C0/C3/C1 (QEMU 7.2 often reports zeros)', () => {
    // 7 / 2 = 3.5 rounds to 4 (even): remainder -1, quotient bits 100 → C0 only.
    const { cpu } = run(
      'fninit\nmov dword [0x5000], 2\nfild dword [0x5000]\nmov dword [0x5000], 7\nfild dword [0x5000]\nfprem1',
    );
    expect(value(cpu)).toBe(-1);
    expect(cpu.fpu.getFsw() & 0x4700).toBe(0x100);
    // FPREM truncates: 7 rem 2 = 1, quotient 3 → C3 and C1.
    const t = run(
      'fninit\nmov dword [0x5000], 2\nfild dword [0x5000]\nmov dword [0x5000], 7\nfild dword [0x5000]\nfprem',
    ).cpu;
    expect(value(t)).toBe(1);
    expect(t.fpu.getFsw() & 0x4700).toBe(0x4200);
  });

  it('FBSTP stores packed BCD and FBLD reads it back', () => {
    const { cpu, ram } = run(
      'fninit\nmov rax, -123456789012345678\nmov [0x5000], rax\nfild qword [0x5000]\nfbstp tword [0x5010]\nfbld tword [0x5010]',
    );
    // Digits two per byte, least significant first; the sign in bit 7 of byte 9.
    expect(ram.read32(0x5010)).toBe(0x12345678 | 0);
    expect(ram.read32(0x5014)).toBe(0x34567890 | 0);
    expect(ram.read8(0x5018)).toBe(0x12);
    expect(ram.read8(0x5019)).toBe(0x80);
    expect(st(cpu, 0)).toEqual([0xc037, 0xdb4da5d3, 0x1879a700]);
  });

  it('the transcendentals agree with double-precision math (within 2^-50 relative) and push/pop as the SDM says', () => {
    const close = (got: number, want: number) =>
      expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -50);
    close(value(run('fninit\nfld1\nfld1\nfpatan').cpu), Math.PI / 4);
    close(value(run('fninit\nfld1\nfchs\nfld1\nfscale\nfstp st1\nf2xm1').cpu), Math.SQRT2 - 1);
    expect(value(run('fninit\nfld1\nmov dword [0x5000], 8\nfild dword [0x5000]\nfyl2x').cpu)).toBe(
      3,
    );
    const sc = run('fninit\nfld1\nfchs\nfld1\nfscale\nfstp st1\nfsincos').cpu;
    close(value(sc), Math.cos(0.5));
    expect(sc.fpu.top).toBe(6);
    const tan = run('fninit\nfld1\nfptan').cpu;
    expect(value(tan)).toBe(1);
    expect(sc.fpu.getFsw() & 0x20).toBe(0x20);
    // An operand of 2^64 is out of range: C2 set, ST(0) unchanged.
    const big = run(
      'fninit\nmov rax, 0x43f0000000000000\nmov [0x5000], rax\nfld qword [0x5000]\nfsin',
    ).cpu;
    expect(big.fpu.getFsw() & 0x400).toBe(0x400);
    expect(value(big)).toBe(2 ** 64);
  });

  it('CPUID leaf 1 advertises the FPU', () => {
    const { cpu } = setup('long64', asm('mov eax, 1\ncpuid\nhlt', 64, CODE));
    cpu.run(100);
    expect(cpu.lo[2] & 1).toBe(1);
  });
});

describe('x87/SSE state images in 32-bit protected mode', () => {
  it('FXSAVE outside 64-bit mode stores XMM0..7 only; FNSTENV has the 28-byte and (o16) 14-byte layouts', () => {
    const { cpu, ram } = setup(
      'prot32',
      asm(
        'fninit\nfld1\npcmpeqb xmm1, xmm1\nfxsave [0x6000]\nfnstenv [0x5000]\no16 fnstenv [0x5100]\nhlt',
        32,
        CODE,
      ),
    );
    cpu.cr4 |= CR4.OSFXSR;
    for (let i = 0; i < 512; i += 4) ram.write32(0x6000 + i, 0x5a5a5a5a);
    cpu.run(100);
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect(ram.read32(0x6000 + 160 + 16)).toBe(-1);
    expect(ram.read32(0x6000 + 160 + 16 * 8)).toBe(0x5a5a5a5a);
    // 28-byte environment: FCW, FSW, FTW as dwords (ST0 valid: tag 00 for physical 7).
    expect(ram.read16(0x5000)).toBe(0x37f);
    expect(ram.read16(0x5004)).toBe(0x3800);
    expect(ram.read16(0x5008)).toBe(0x3fff);
    expect(ram.read32(0x500c)).toBe(CODE + 2);
    // 14-byte environment: words.
    expect(ram.read16(0x5100 + 2)).toBe(0x3800);
    expect(ram.read16(0x5100 + 4)).toBe(0x3fff);
  });
});

describe('x87 environment in real mode (SDM Vol. 1 Figure 8-10; QEMU 7.2 stores the protected layout)', () => {
  it('FNSTENV stores linear pointers split around FOP, and FLDENV reads them back', () => {
    const code = asm('fninit\nfld1\nfnstenv [0x5000]\nfninit\nfldenv [0x5000]\nhlt', 16, 0);
    const { cpu, ram } = setup('real', code);
    // Run the code at CS = 0x0100 (base 0x1000), IP 0.
    cpu.segSel[1] = 0x0100;
    cpu.segBase[1] = CODE;
    cpu.rip = 0;
    cpu.run(100);
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    // fld1 at 0100:0002 → linear 0x1002.
    expect(ram.read16(0x5006)).toBe(0x1002);
    expect(ram.read16(0x5008)).toBe(0);
    expect(cpu.fpu.fip).toBe(0x1002);
    expect(cpu.fpu.ftw).toBe(0x80);
  });
});
