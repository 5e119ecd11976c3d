import { describe, expect, it } from 'vitest';
import { disassemble, OPCODE_TABLE, type OpcodeRow, traceLine } from '../src/index.ts';
import { asm } from './helpers.ts';

/** Rows whose encodings nasm spells differently (aliases) or that are reserved forms. */
function skip(r: OpcodeRow): boolean {
  if (r.op === 0x82) return true;
  if ((r.op === 0xf6 || r.op === 0xf7) && r.reg === 1) return true;
  if (r.op >= 0xc0 && r.op <= 0xd3 && r.reg === 6) return true;
  if (r.op === 0x1ae) return true;
  if (r.op === 0x63) return true;
  // nasm writes XCHG's symmetric operands in the other order.
  if (r.op === 0x86 || r.op === 0x87) return true;
  return false;
}

const IMM_BYTES: Record<string, number[]> = {
  Ib: [0x7f],
  Iw: [0x34, 0x12],
  Iz: [0x78, 0x56, 0x34, 0x12],
  Iv: [0x78, 0x56, 0x34, 0x12],
  Jb: [0x10],
  Jz: [0x00, 0x01, 0x00, 0x00],
  Ap: [0x78, 0x56, 0x34, 0x12, 0x08, 0x00],
};

/** Builds register-form and memory-form encodings of a row, 32-bit operand size. */
function encodings(r: OpcodeRow, bits: 32 | 64): Uint8Array[] {
  const opBytes =
    r.op < 0x100 ? [r.op] : r.op < 0x200 ? [0x0f, r.op & 0xff] : [0x0f, 0x38, r.op & 0xff];
  const ops = r.ops === '' ? [] : r.ops.split(',');
  const modrm = ops.some((o) => /^[EGMRCDS][a-z]/.test(o)) || r.reg !== undefined;
  let imm: number[] = [];
  for (const o of ops) {
    if (o in IMM_BYTES) imm = IMM_BYTES[o];
    if (o === 'Ov' || o === 'Ob')
      imm = bits === 64 ? [0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0] : [0x78, 0x56, 0x34, 0x12];
  }
  if (r.mnem === 'ENTER') imm = [0x34, 0x12, 0x03];
  const prefix = r.op === 0x1b8 ? [0xf3] : [];
  if (!modrm) return [Uint8Array.from([...prefix, ...opBytes, ...imm])];
  const reg = (r.reg ?? 2) << 3;
  const out: Uint8Array[] = [];
  const memOnly = ops.some((o) => o.startsWith('M'));
  const regOnly = ops.some((o) => /^[RCD][a-z]/.test(o));
  if (!memOnly) out.push(Uint8Array.from([...prefix, ...opBytes, 0xc0 | reg | 1, ...imm]));
  if (!regOnly) out.push(Uint8Array.from([...prefix, ...opBytes, 0x40 | reg | 3, 0x10, ...imm]));
  return out;
}

describe('disassembler', () => {
  it('formats a trace line', () => {
    expect(traceLine(Uint8Array.of(0x8b, 0x43, 0x04), 0, 32, 0x1234)).toBe(
      '0x1234: mov eax, [ebx+0x4]',
    );
    expect(traceLine(Uint8Array.of(0x48, 0x8b, 0x05, 0x10, 0, 0, 0), 0, 64, 0x1000)).toBe(
      '0x1000: mov rax, [rel 0x1017]',
    );
    expect(disassemble(Uint8Array.of(0x0f, 0xff), 0, 32, 0).text).toBe('(bad)');
  });

  for (const bits of [32, 64] as const) {
    it(`round-trips every opcode-table row through nasm in ${bits}-bit mode (text → bytes → same text)`, () => {
      const failures: string[] = [];
      const texts: { row: OpcodeRow; text: string }[] = [];
      // Every instruction sits in its own 16-byte slot so one nasm run assembles them all.
      for (const r of OPCODE_TABLE) {
        if (skip(r) || (bits === 64 && r.attrs?.includes('i64'))) continue;
        if (bits === 64 && r.op >= 0xa0 && r.op <= 0xa3) continue;
        for (const bytes of encodings(r, bits)) {
          const d1 = disassemble(bytes, 0, bits, 0x1000 + texts.length * 16);
          if (d1.length !== bytes.length || d1.text === '(bad)') {
            failures.push(
              `${r.mnem} ${r.ops}: decoded ${d1.length}/${bytes.length} bytes as "${d1.text}"`,
            );
            continue;
          }
          texts.push({ row: r, text: d1.text });
        }
      }
      const source = texts
        .map((t, i) => `times ${i * 16} - ($ - $$) db 0x90\n${t.text}`)
        .join('\n');
      const again = asm(source, bits, 0x1000);
      texts.forEach((t, i) => {
        const d2 = disassemble(again, i * 16, bits, 0x1000 + i * 16);
        if (d2.text !== t.text)
          failures.push(`${t.row.mnem} ${t.row.ops}: "${t.text}" reassembled as "${d2.text}"`);
      });
      expect(failures).toEqual([]);
      expect(texts.length).toBeGreaterThan(300);
    });
  }
});
