import { describe, expect, it } from 'vitest';
import { CR0, CR4, EXIT, VECTOR, type X86Cpu } from '../src/index.ts';
import { asm, CODE, setup } from './helpers.ts';

function run(source: string, cr0 = 0, cr4 = 0): X86Cpu {
  const { cpu } = setup('long64', asm(`${source}\nhlt`, 64, CODE), {
    intercepts: { exceptionBitmap: 0xffffffff },
  });
  cpu.cr0 |= cr0;
  cpu.cr4 |= cr4;
  cpu.run(1000);
  return cpu;
}

describe('MMX (SDM Vol. 1 §9.5: MMX state is the x87 state)', () => {
  it('runs without CR4.OSFXSR, sets TOP to 0, tags every register valid and writes 1s to bits 79..64 (QEMU 7.2 leaves them)', () => {
    const cpu = run('fninit\nfld1\nfld1\nmov eax, 5\nmovd mm3, eax\npaddd mm3, mm3');
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    const f = cpu.fpu;
    expect(f.top).toBe(0);
    expect(f.ftw).toBe(0xff);
    expect([f.stSe[3], f.stHi[3], f.stLo[3]]).toEqual([0xffff, 0, 10]);
  });

  it('EMMS tags every register empty', () => {
    expect(run('movq mm1, rax\nemms').fpu.ftw).toBe(0);
  });

  it('raises #UD with CR0.EM and #NM with CR0.TS', () => {
    const ud = run('paddb mm0, mm1', CR0.EM, CR4.OSFXSR);
    expect(ud.exit.vector).toBe(VECTOR.UD);
    const nm = run('paddb mm0, mm1', CR0.TS);
    expect(nm.exit.vector).toBe(VECTOR.NM);
  });
});
