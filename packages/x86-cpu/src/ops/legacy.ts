/**
 * Integer instructions outside the hot path that only legacy and compatibility modes know, and
 * the rarely used system ones: ARPL (63 outside 64-bit mode), BOUND (62), SALC (D6), INT1/ICEBP
 * (F1) and RDPMC (0F 33).
 * @see Intel SDM Vol. 2 (ARPL, BOUND, INT n/INTO/INT3/INT1, RDPMC); SALC: AMD APM Vol. 3
 *   ("SALC", undocumented by Intel; QEMU implements it)
 */
import { EFLAGS, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags } from '../flags.ts';

/**
 * @internal ARPL Ew, Gw (63 outside 64-bit mode): if the destination selector's RPL is below
 * the source's, raise it to the source's and set ZF, else clear ZF; other flags unchanged.
 * #UD in real and virtual-8086 mode.
 */
export function ARPL(cpu: X86Cpu): void {
  if (!cpu.protectedMode || (getFlags(cpu) & EFLAGS.VM) !== 0) cpu.ud();
  const dest = cpu.readE(16) & 0xffff;
  const src = cpu.lo[cpu.reg] & 3;
  const f = getFlags(cpu);
  if ((dest & 3) < src) {
    cpu.writeE(16, (dest & ~3) | src, 0);
    setFlags(cpu, f | EFLAGS.ZF);
  } else setFlags(cpu, f & ~EFLAGS.ZF);
}

/**
 * @internal BOUND Gv, Ma (62, not in 64-bit mode): #BR unless lower <= index <= upper (signed
 * words or dwords at the memory operand); the register form is #UD.
 */
export function BOUND(cpu: X86Cpu): void {
  if (cpu.mod === 3) cpu.ud();
  const size = cpu.osize === 16 ? 16 : 32;
  const lower = cpu.read(cpu.eaSeg, cpu.ea, size);
  const upper = cpu.read(cpu.eaSeg, cpu.eaPlus(size >> 3), size);
  let index = cpu.lo[cpu.reg];
  let lo = lower;
  let hi = upper;
  if (size === 16) {
    index = (index << 16) >> 16;
    lo = (lo << 16) >> 16;
    hi = (hi << 16) >> 16;
  } else {
    lo |= 0;
    hi |= 0;
  }
  if (index < lo || index > hi) cpu.fault(VECTOR.BR, -1);
}

/** @internal SALC (D6, not in 64-bit mode): AL = CF ? 0xFF : 0; flags unchanged. */
export function SALC(cpu: X86Cpu): void {
  const cf = getFlags(cpu) & EFLAGS.CF;
  cpu.lo[0] = (cpu.lo[0] & ~0xff) | (cf !== 0 ? 0xff : 0);
}

/**
 * @internal INT1/ICEBP (F1): a debug exception (#DB) delivered as a trap (the pushed EIP is the
 * next instruction) and like a hardware exception: no gate DPL check, no IOPL check in
 * virtual-8086 mode.
 */
export function INT1(cpu: X86Cpu): void {
  cpu.deliverInterrupt(VECTOR.DB, -1, false, cpu.rip);
}

/**
 * @internal RDPMC (0F 33): #GP(0) at CPL > 0 (or in virtual-8086 mode) without CR4.PCE, and
 * #GP(0) for every counter number in ECX otherwise: the model has no performance counters
 * (CPUID leaf 0AH reports none). QEMU 7.2 TCG raises #UD instead.
 */
export function RDPMC(cpu: X86Cpu): void {
  cpu.gp(0);
}
