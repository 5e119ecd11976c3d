/**
 * Known places where QEMU TCG (Debian's 7.2) deviates from the Intel SDM. Cases are never
 * dropped: each rule recomputes the SDM-defined part of a case from its initial state and, when
 * QEMU's recorded result differs in exactly the way the rule describes, the case is marked with
 * `qemuDeviation`. The CPU model follows the SDM; its replay test must expect the SDM value for
 * marked cases. The list is in vectors/README.md.
 */
import { GPR_NAMES } from './machine.ts';
import { sdmCheck } from './sdm-oracle.ts';
import { isException, type VectorCase } from './vectors.ts';

interface Rule {
  /** The deviation's explanation, or undefined when the case is not affected. */
  check: (v: VectorCase) => string | undefined;
}

const REG32: Readonly<Record<string, number>> = Object.fromEntries([
  ...['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'].map((n, i) => [n, i] as const),
  ...Array.from({ length: 8 }, (_, i) => [`r${i + 8}d`, i + 8] as const),
]);

/**
 * CMPXCHG r/m32, r32 with a register destination in 64-bit mode, comparison failing: the SDM's
 * operation writes TEMP back to the destination ("The destination operand is written back if the
 * comparison fails"), and a 32-bit register write zero-extends (SDM Vol. 1, 3.4.1.1). QEMU 7.2
 * TCG leaves bits 63:32 of the destination register unchanged.
 */
const cmpxchgWriteBack: Rule = {
  check(v) {
    const m = /^cmpxchg (\w+), (\w+)$/.exec(v.asm);
    if (v.mode !== 64 || !m || isException(v.expect)) return undefined;
    const dest = REG32[m[1] ?? ''];
    if (dest === undefined || dest === 0) return undefined;
    const name = GPR_NAMES[dest] ?? '';
    const before = BigInt(`0x${v.init[name]}`);
    const acc = BigInt(`0x${v.init.rax}`) & 0xffffffffn;
    if ((before & 0xffffffffn) === acc) return undefined;
    const after = BigInt(`0x${v.expect[name]}`);
    if (after >> 32n === 0n || after !== before) return undefined;
    return (
      `CMPXCHG failed with a 32-bit register destination: the SDM writes the destination back ` +
      `(a 32-bit write, so bits 63:32 of ${name} become 0); QEMU 7.2 TCG leaves ${name} unchanged`
    );
  },
};

/**
 * MOVBE in 16-bit code: QEMU 7.2's translator picks the operand size as
 * `prefix & PREFIX_DATA ? MO_16 : MO_32`, ignoring the code segment's default size. So in real
 * mode it moves 32 bits without 66h and 16 bits with it, the reverse of the SDM's operand-size
 * rules (SDM Vol. 1, 3.6). Marked only where the SDM model disagrees with QEMU's result.
 */
const movbe16: Rule = {
  check(v) {
    if (v.mode !== 16 || !v.asm.startsWith('movbe ')) return undefined;
    const diff = sdmCheck(v);
    if (diff === undefined || diff.length === 0) return undefined;
    return (
      'MOVBE in 16-bit code: QEMU 7.2 TCG takes the operand size from the 66h prefix as in 32-bit ' +
      'code (32 bits without it, 16 with it); the SDM gives 16 bits without 66h and 32 with it'
    );
  },
};

const RULES: readonly Rule[] = [cmpxchgWriteBack, movbe16];

/** The known QEMU deviation affecting this case, if any. */
export function markDeviation(v: VectorCase): string | undefined {
  for (const rule of RULES) {
    const why = rule.check(v);
    if (why !== undefined) return why;
  }
  return undefined;
}
