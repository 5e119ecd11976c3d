/**
 * The inner-ring stack of the current TSS, for interrupt/exception delivery and CALL through a
 * call gate to a more privileged ring: ESPn at 4 + 8n and SSn at 8 + 8n in a 32-bit TSS, SPn at
 * 2 + 4n and SSn at 4 + 4n in a 16-bit one (types 1/3). #TS(TR) when the fields lie beyond the
 * TSS limit.
 * @see Intel SDM Vol. 3A §7.2.1 (32-bit TSS), §7.6 (16-bit TSS), §6.12.1 (stack switch)
 */
import { SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';

/** @internal Result of {@link tssStack}: the new stack pointer (unsigned) and SS selector. */
export const TSS_STACK: Float64Array = /* @__PURE__ */ new Float64Array(2);

/** @internal Reads the ring-`dpl` stack of the current TSS into {@link TSS_STACK}. */
export function tssStack(cpu: X86Cpu, dpl: number): void {
  const tss = cpu.segBase[SEG.TR];
  const limit = cpu.segLimit[SEG.TR] >>> 0;
  if ((cpu.segAttr[SEG.TR] & 8) === 0) {
    const off = 2 + dpl * 4;
    if (off + 3 > limit) cpu.fault(VECTOR.TS, cpu.segSel[SEG.TR] & 0xfffc);
    TSS_STACK[0] = cpu.readLin16(tss + off, false);
    TSS_STACK[1] = cpu.readLin16(tss + off + 2, false);
    return;
  }
  const off = 4 + dpl * 8;
  if (off + 5 > limit) cpu.fault(VECTOR.TS, cpu.segSel[SEG.TR] & 0xfffc);
  TSS_STACK[0] = cpu.sysRead32(tss + off) >>> 0;
  TSS_STACK[1] = cpu.sysRead32(tss + off + 4) & 0xffff;
}
