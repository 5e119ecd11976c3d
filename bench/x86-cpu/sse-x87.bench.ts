/**
 * MIPS of short 64-bit loops of x87 and SSE instructions next to an integer loop on the same
 * interpreter, to show what the FPU/SSE paths cost relative to integer code (not a peer
 * comparison). Each loop is the body below plus `jmp` (cases retire exactly `iters`
 * instructions); XMM0..2 start at 1 + 2^-52 so the SSE FP ops are inexact, round-to-nearest.
 *   integer: add eax, ebx
 *   sse-int: paddd xmm0, xmm1 / pxor xmm2, xmm0
 *   sse-fp:  addsd xmm0, xmm1 / mulsd xmm2, xmm1   (the double fast path, fpu/fast-float.ts)
 *   x87:     fld1 / fld1 / fadd st0, st1 / fmul st0, st1 / fstp st0 / fstp st0   (BigInt soft-float)
 */
import { FlatRam, X86Cpu } from '@typevisor/x86-cpu';
import { defineSuite } from '../harness.ts';

const PRE = '48b8010000000000f03f66480f6ec866480f6ec066480f6ed0';
const LOOPS = {
  integer: `${PRE}01d8ebfc`,
  'sse-int': `${PRE}660ffec1660fefd0ebf6`,
  'sse-fp': `${PRE}f20f58c1f20f59d1ebf6`,
  x87: `${PRE}d9e8d9e8d8c1d8c9ddd8ddd8ebf2`,
};

function makeCpu(hex: string): X86Cpu {
  const ram = new FlatRam(4 << 20);
  ram.load(0x1000, Uint8Array.from(Buffer.from(hex, 'hex')));
  const cpu = X86Cpu.create({ memory: ram });
  ram.write32(0x70000, 0x71007);
  ram.write32(0x71000, 0x72007);
  ram.write32(0x72000, 0x87);
  cpu.cr4 = 0x20 | 0x600;
  cpu.cr3 = 0x70000;
  cpu.efer = 0xd01;
  cpu.cr0 = 0x80000013 | 0;
  for (const s of [0, 2, 3, 4, 5]) {
    cpu.segSel[s] = 0x10;
    cpu.segLimit[s] = -1;
    cpu.segAttr[s] = 0xc093;
  }
  cpu.segSel[1] = 0x08;
  cpu.segLimit[1] = -1;
  cpu.segAttr[1] = 0xa09b;
  cpu.rip = 0x1000;
  cpu.lo[4] = 0x9000;
  cpu.updateMode();
  cpu.flushTlb();
  return cpu;
}

export default defineSuite({
  name: 'x86-cpu/sse-x87',
  description:
    'MIPS of x87 and SSE instruction loops beside an integer loop on the x86-cpu interpreter (long mode): what the FPU/SSE paths cost relative to integer code.',
  unit: 'MIPS',
  divisor: 1e6,
  cases: Object.entries(LOOPS).map(([name, hex]) => {
    const cpu = makeCpu(hex);
    return {
      name,
      run(iters: number): number {
        cpu.run(iters);
        return (cpu.fpu.x[0] ?? 0) ^ (cpu.lo[0] ?? 0);
      },
    };
  }),
});
