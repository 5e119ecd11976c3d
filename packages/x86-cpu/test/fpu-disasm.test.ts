import { describe, expect, it } from 'vitest';
import { SSE_TABLE } from '../src/decode/sse-table.ts';
import { disassemble } from '../src/index.ts';
import { asm } from './helpers.ts';

const PREFIX = [[], [0x66], [0xf2], [0xf3]];
const SHIFT_REGS: Record<number, number[]> = { 113: [2, 4, 6], 114: [2, 4, 6], 115: [2, 3, 6, 7] };

/** Register- and memory-form encodings of every SSE row and every x87 escape. */
function encodings(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of SSE_TABLE) {
    const ib = r.ops.endsWith(',Ib') ? [0x05] : [];
    const regs = SHIFT_REGS[r.op] ?? [1];
    for (const reg of regs) {
      const pre = [...PREFIX[r.pfx], 0x0f, r.op];
      out.push(Uint8Array.from([...pre, 0xc0 | (reg << 3) | 2, ...ib]));
      if (!r.ops.includes('U'))
        out.push(Uint8Array.from([...pre, 0x40 | (reg << 3) | 3, 0x10, ...ib]));
      // REX.W forms of MOVD/MOVQ and the conversions.
      if ([0x6e, 0x7e, 0x2a, 0x2c, 0x2d].includes(r.op)) {
        out.push(Uint8Array.from([...PREFIX[r.pfx], 0x48, 0x0f, r.op, 0xc0 | (reg << 3) | 2]));
      }
    }
  }
  for (let op = 0xd8; op <= 0xdf; op++) {
    for (let reg = 0; reg < 8; reg++) out.push(Uint8Array.of(op, 0x40 | (reg << 3) | 3, 0x10));
    for (let m = 0xc0; m <= 0xff; m++) out.push(Uint8Array.of(op, m));
  }
  return out;
}

describe('x87 and SSE disassembly', () => {
  it('formats trace lines in nasm syntax', () => {
    expect(disassemble(Uint8Array.of(0xf2, 0x0f, 0x58, 0x4b, 0x08), 0, 64, 0).text).toBe(
      'addsd xmm1, [rbx+0x8]',
    );
    expect(disassemble(Uint8Array.of(0x66, 0x0f, 0xef, 0xc1), 0, 32, 0).text).toBe(
      'pxor xmm0, xmm1',
    );
    expect(disassemble(Uint8Array.of(0xdb, 0x2b), 0, 32, 0).text).toBe('fld tword [ebx]');
    expect(disassemble(Uint8Array.of(0xde, 0xf9), 0, 32, 0).text).toBe('fdivp st1, st0');
    expect(disassemble(Uint8Array.of(0xdd, 0xc8), 0, 32, 0).text).toBe('(bad)');
  });

  it('round-trips every SSE row and every defined x87 encoding through nasm in 64-bit mode', () => {
    const texts: string[] = [];
    const failures: string[] = [];
    for (const bytes of encodings()) {
      const d = disassemble(bytes, 0, 64, 0x1000 + texts.length * 16);
      if (d.text === '(bad)') continue;
      if (d.length !== bytes.length) {
        failures.push(
          `${Buffer.from(bytes).toString('hex')}: ${d.length}/${bytes.length} bytes as "${d.text}"`,
        );
        continue;
      }
      texts.push(d.text);
    }
    const source = texts.map((t, i) => `times ${i * 16} - ($ - $$) db 0x90\n${t}`).join('\n');
    const again = asm(source, 64, 0x1000);
    texts.forEach((t, i) => {
      const d2 = disassemble(again, i * 16, 64, 0x1000 + i * 16);
      if (d2.text !== t) failures.push(`"${t}" reassembled as "${d2.text}"`);
    });
    expect(failures).toEqual([]);
    expect(texts.length).toBeGreaterThan(700);
  });
});
