/**
 * The default CPUID leaves: only features the model implements are advertised.
 * @see Intel SDM Vol. 2A "CPUID"
 */
import type { CpuidResult } from '../ports.ts';

function str4(s: string): number {
  return (
    s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24) | 0
  );
}

/** @internal The built-in answer for `leaf`/`sub` when the embedder configured none. */
export function defaultCpuid(leaf: number, sub: number): CpuidResult {
  void sub;
  switch (leaf) {
    case 0:
      // "GenuineIntel": EBX, EDX, ECX.
      return { eax: 1, ebx: str4('Genu'), edx: str4('ineI'), ecx: str4('ntel') };
    case 1:
      // Family 6; EDX: FPU, PSE, TSC, MSR, PAE, CX8, SEP-less, CMOV, MMX, FXSR, SSE, SSE2; ECX: CX16, MOVBE, POPCNT.
      return {
        eax: 0x000306a9,
        ebx: 0x00010800,
        ecx: (1 << 13) | (1 << 22) | (1 << 23),
        edx:
          1 |
          (1 << 3) |
          (1 << 4) |
          (1 << 5) |
          (1 << 6) |
          (1 << 8) |
          (1 << 15) |
          (1 << 23) |
          (1 << 24) |
          (1 << 25) |
          (1 << 26),
      };
    case 0x80000000:
      return { eax: 0x80000001 | 0, ebx: 0, ecx: 0, edx: 0 };
    case 0x80000001:
      // ECX: LAHF/SAHF in 64-bit mode, LZCNT (ABM); EDX: SYSCALL, NX, LM.
      return { eax: 0, ebx: 0, ecx: (1 << 0) | (1 << 5), edx: (1 << 11) | (1 << 20) | (1 << 29) };
    default:
      return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  }
}
