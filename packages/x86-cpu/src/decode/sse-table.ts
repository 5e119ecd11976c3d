/**
 * The SSE/SSE2 opcode table: 0F-map opcodes whose meaning depends on the mandatory prefix
 * (none, 66, F2, F3). Each opcode gets one dispatcher in the main handler table; it runs the
 * SSE availability checks (#UD/#NM) and picks the row by the decoder's `rep` field (0 none,
 * 1 66, 2 F2, 3 F3). The disassembler reads the same rows.
 *
 * Operand notation (SDM Appendix A): `V` XMM register in ModRM.reg, `W` XMM register or memory
 * in ModRM.rm, `U` XMM register in ModRM.rm, `M` memory only, `G`/`E` general register/operand;
 * sizes `x` 128-bit, `q` 64-bit, `d` 32-bit, `y` 32/64-bit by REX.W, `ss`/`sd` scalar.
 * @see Intel SDM Vol. 2D Appendix A, Table A-3 (two-byte opcode map) and §A.2.5 (mandatory prefixes)
 */
import type { X86Cpu } from '../cpu.ts';
import { sseCheck } from '../fpu/access.ts';
import * as X from '../ops/mmx.ts';
import * as F from '../ops/sse-fp.ts';
import * as I from '../ops/sse-int.ts';
import * as C from '../ops/sse-mmx.ts';
import * as M from '../ops/sse-move.ts';
import type { Handler } from './table.ts';

/** One SSE opcode-table row. */
export interface SseRow {
  /** Opcode byte after 0F. */
  readonly op: number;
  /** Mandatory prefix: 0 none, 1 = 66, 2 = F2, 3 = F3. */
  readonly pfx: number;
  /** Mnemonic, upper case. */
  readonly mnem: string;
  /** Operands in SDM notation. */
  readonly ops: string;
  /** The handler (called after the SSE checks). */
  readonly fn: Handler;
  /** An MMX form: no CR4.OSFXSR requirement (the handler runs the MMX checks). */
  readonly mmx?: boolean;
}

const N = 0;
const P66 = 1;
const F2 = 2;
const F3 = 3;

function buildSseRows(): SseRow[] {
  const r: SseRow[] = [];
  const add = (op: number, pfx: number, mnem: string, ops: string, fn: Handler): void => {
    r.push({ op, pfx, mnem, ops, fn });
  };
  const mmx = (op: number, mnem: string, ops: string, fn: Handler): void => {
    r.push({ op, pfx: N, mnem, ops, fn, mmx: true });
  };
  // Data movement.
  add(0x10, N, 'MOVUPS', 'Vx,Wx', M.MOVU_load);
  add(0x10, P66, 'MOVUPD', 'Vx,Wx', M.MOVU_load);
  add(0x10, F3, 'MOVSS', 'Vx,Wss', M.MOVSS_load);
  add(0x10, F2, 'MOVSD', 'Vx,Wsd', M.MOVSD_load);
  add(0x11, N, 'MOVUPS', 'Wx,Vx', M.MOVU_store);
  add(0x11, P66, 'MOVUPD', 'Wx,Vx', M.MOVU_store);
  add(0x11, F3, 'MOVSS', 'Wss,Vx', M.MOVSS_store);
  add(0x11, F2, 'MOVSD', 'Wsd,Vx', M.MOVSD_store);
  add(0x12, N, 'MOVLPS', 'Vx,Mq', M.MOVLH_load);
  add(0x12, P66, 'MOVLPD', 'Vx,Mq', M.MOVLH_load);
  add(0x13, N, 'MOVLPS', 'Mq,Vx', M.MOVLH_store);
  add(0x13, P66, 'MOVLPD', 'Mq,Vx', M.MOVLH_store);
  add(0x14, N, 'UNPCKLPS', 'Vx,Wx', I.PUNPCKLDQ);
  add(0x14, P66, 'UNPCKLPD', 'Vx,Wx', I.PUNPCKLQDQ);
  add(0x15, N, 'UNPCKHPS', 'Vx,Wx', I.PUNPCKHDQ);
  add(0x15, P66, 'UNPCKHPD', 'Vx,Wx', I.PUNPCKHQDQ);
  add(0x16, N, 'MOVHPS', 'Vx,Mq', M.MOVLH_load);
  add(0x16, P66, 'MOVHPD', 'Vx,Mq', M.MOVLH_load);
  add(0x17, N, 'MOVHPS', 'Mq,Vx', M.MOVLH_store);
  add(0x17, P66, 'MOVHPD', 'Mq,Vx', M.MOVLH_store);
  add(0x28, N, 'MOVAPS', 'Vx,Wx', M.MOVA_load);
  add(0x28, P66, 'MOVAPD', 'Vx,Wx', M.MOVA_load);
  add(0x29, N, 'MOVAPS', 'Wx,Vx', M.MOVA_store);
  add(0x29, P66, 'MOVAPD', 'Wx,Vx', M.MOVA_store);
  add(0x2b, N, 'MOVNTPS', 'Mx,Vx', M.MOVNT_store);
  add(0x2b, P66, 'MOVNTPD', 'Mx,Vx', M.MOVNT_store);
  add(0x50, N, 'MOVMSKPS', 'Gd,Ux', M.MOVMSKP);
  add(0x50, P66, 'MOVMSKPD', 'Gd,Ux', M.MOVMSKP);
  add(0x54, N, 'ANDPS', 'Vx,Wx', I.PAND);
  add(0x54, P66, 'ANDPD', 'Vx,Wx', I.PAND);
  add(0x55, N, 'ANDNPS', 'Vx,Wx', I.PANDN);
  add(0x55, P66, 'ANDNPD', 'Vx,Wx', I.PANDN);
  add(0x56, N, 'ORPS', 'Vx,Wx', I.POR);
  add(0x56, P66, 'ORPD', 'Vx,Wx', I.POR);
  add(0x57, N, 'XORPS', 'Vx,Wx', I.PXOR);
  add(0x57, P66, 'XORPD', 'Vx,Wx', I.PXOR);
  add(0x6e, P66, 'MOVD', 'Vx,Ey', M.MOVD_load);
  add(0x6f, P66, 'MOVDQA', 'Vx,Wx', M.MOVA_load);
  add(0x6f, F3, 'MOVDQU', 'Vx,Wx', M.MOVU_load);
  add(0x7e, P66, 'MOVD', 'Ey,Vx', M.MOVD_store);
  add(0x7e, F3, 'MOVQ', 'Vx,Wq', M.MOVQ_load);
  add(0x7f, P66, 'MOVDQA', 'Wx,Vx', M.MOVA_store);
  add(0x7f, F3, 'MOVDQU', 'Wx,Vx', M.MOVU_store);
  add(0xc6, N, 'SHUFPS', 'Vx,Wx,Ib', M.SHUFP);
  add(0xc6, P66, 'SHUFPD', 'Vx,Wx,Ib', M.SHUFP);
  add(0xd6, P66, 'MOVQ', 'Wq,Vx', M.MOVQ_store);
  add(0xe7, P66, 'MOVNTDQ', 'Mx,Vx', M.MOVNT_store);
  add(0xf7, P66, 'MASKMOVDQU', 'Vx,Ux', M.MASKMOVDQU);
  // Floating point.
  const fp: [number, string, Handler][] = [
    [0x51, 'SQRT', F.SQRT],
    [0x58, 'ADD', F.ADD],
    [0x59, 'MUL', F.MUL],
    [0x5c, 'SUB', F.SUB],
    [0x5d, 'MIN', F.MIN],
    [0x5e, 'DIV', F.DIV],
    [0x5f, 'MAX', F.MAX],
    [0xc2, 'CMP', F.CMP],
  ];
  for (const [op, base, fn] of fp) {
    const ib = op === 0xc2 ? ',Ib' : '';
    add(op, N, `${base}PS`, `Vx,Wx${ib}`, fn);
    add(op, P66, `${base}PD`, `Vx,Wx${ib}`, fn);
    add(op, F2, `${base}SD`, `Vx,Wsd${ib}`, fn);
    add(op, F3, `${base}SS`, `Vx,Wss${ib}`, fn);
  }
  add(0x52, N, 'RSQRTPS', 'Vx,Wx', F.RCP);
  add(0x52, F3, 'RSQRTSS', 'Vx,Wss', F.RCP);
  add(0x53, N, 'RCPPS', 'Vx,Wx', F.RCP);
  add(0x53, F3, 'RCPSS', 'Vx,Wss', F.RCP);
  add(0x2e, N, 'UCOMISS', 'Vx,Wss', F.COMIS);
  add(0x2e, P66, 'UCOMISD', 'Vx,Wsd', F.COMIS);
  add(0x2f, N, 'COMISS', 'Vx,Wss', F.COMIS);
  add(0x2f, P66, 'COMISD', 'Vx,Wsd', F.COMIS);
  add(0x2a, F2, 'CVTSI2SD', 'Vx,Ey', F.CVTSI2S);
  add(0x2a, F3, 'CVTSI2SS', 'Vx,Ey', F.CVTSI2S);
  add(0x2c, F2, 'CVTTSD2SI', 'Gy,Wsd', F.CVTS2SI);
  add(0x2c, F3, 'CVTTSS2SI', 'Gy,Wss', F.CVTS2SI);
  add(0x2d, F2, 'CVTSD2SI', 'Gy,Wsd', F.CVTS2SI);
  add(0x2d, F3, 'CVTSS2SI', 'Gy,Wss', F.CVTS2SI);
  add(0x5a, N, 'CVTPS2PD', 'Vx,Wq', F.CVT5A);
  add(0x5a, P66, 'CVTPD2PS', 'Vx,Wx', F.CVT5A);
  add(0x5a, F2, 'CVTSD2SS', 'Vx,Wsd', F.CVT5A);
  add(0x5a, F3, 'CVTSS2SD', 'Vx,Wss', F.CVT5A);
  add(0x5b, N, 'CVTDQ2PS', 'Vx,Wx', F.CVT5B);
  add(0x5b, P66, 'CVTPS2DQ', 'Vx,Wx', F.CVT5B);
  add(0x5b, F3, 'CVTTPS2DQ', 'Vx,Wx', F.CVT5B);
  add(0xe6, P66, 'CVTTPD2DQ', 'Vx,Wx', F.CVTE6);
  add(0xe6, F2, 'CVTPD2DQ', 'Vx,Wx', F.CVTE6);
  add(0xe6, F3, 'CVTDQ2PD', 'Vx,Wq', F.CVTE6);
  // Conversions and moves between MMX and XMM registers (SSE checks, then the MMX transition).
  add(0x2a, N, 'CVTPI2PS', 'Vx,Qq', C.CVTPI2P);
  add(0x2a, P66, 'CVTPI2PD', 'Vx,Qq', C.CVTPI2P);
  add(0x2c, N, 'CVTTPS2PI', 'Pq,Wq', C.CVTP2PI);
  add(0x2c, P66, 'CVTTPD2PI', 'Pq,Wx', C.CVTP2PI);
  add(0x2d, N, 'CVTPS2PI', 'Pq,Wq', C.CVTP2PI);
  add(0x2d, P66, 'CVTPD2PI', 'Pq,Wx', C.CVTP2PI);
  add(0xd6, F3, 'MOVQ2DQ', 'Vx,Nq', C.MOVQ2DQ);
  add(0xd6, F2, 'MOVDQ2Q', 'Pq,Ux', C.MOVDQ2Q);
  // Integer SIMD (66 prefix).
  const ints: [number, string, Handler][] = [
    [0x60, 'PUNPCKLBW', I.PUNPCKLBW],
    [0x61, 'PUNPCKLWD', I.PUNPCKLWD],
    [0x62, 'PUNPCKLDQ', I.PUNPCKLDQ],
    [0x63, 'PACKSSWB', I.PACKSSWB],
    [0x64, 'PCMPGTB', I.PCMPGTB],
    [0x65, 'PCMPGTW', I.PCMPGTW],
    [0x66, 'PCMPGTD', I.PCMPGTD],
    [0x67, 'PACKUSWB', I.PACKUSWB],
    [0x68, 'PUNPCKHBW', I.PUNPCKHBW],
    [0x69, 'PUNPCKHWD', I.PUNPCKHWD],
    [0x6a, 'PUNPCKHDQ', I.PUNPCKHDQ],
    [0x6b, 'PACKSSDW', I.PACKSSDW],
    [0x6c, 'PUNPCKLQDQ', I.PUNPCKLQDQ],
    [0x6d, 'PUNPCKHQDQ', I.PUNPCKHQDQ],
    [0x74, 'PCMPEQB', I.PCMPEQB],
    [0x75, 'PCMPEQW', I.PCMPEQW],
    [0x76, 'PCMPEQD', I.PCMPEQD],
    [0xd1, 'PSRLW', I.PSRLW],
    [0xd2, 'PSRLD', I.PSRLD],
    [0xd3, 'PSRLQ', I.PSRLQ],
    [0xd4, 'PADDQ', I.PADDQ],
    [0xd5, 'PMULLW', I.PMULLW],
    [0xd8, 'PSUBUSB', I.PSUBUSB],
    [0xd9, 'PSUBUSW', I.PSUBUSW],
    [0xda, 'PMINUB', I.PMINUB],
    [0xdb, 'PAND', I.PAND],
    [0xdc, 'PADDUSB', I.PADDUSB],
    [0xdd, 'PADDUSW', I.PADDUSW],
    [0xde, 'PMAXUB', I.PMAXUB],
    [0xdf, 'PANDN', I.PANDN],
    [0xe0, 'PAVGB', I.PAVGB],
    [0xe1, 'PSRAW', I.PSRAW],
    [0xe2, 'PSRAD', I.PSRAD],
    [0xe3, 'PAVGW', I.PAVGW],
    [0xe4, 'PMULHUW', I.PMULHUW],
    [0xe5, 'PMULHW', I.PMULHW],
    [0xe8, 'PSUBSB', I.PSUBSB],
    [0xe9, 'PSUBSW', I.PSUBSW],
    [0xea, 'PMINSW', I.PMINSW],
    [0xeb, 'POR', I.POR],
    [0xec, 'PADDSB', I.PADDSB],
    [0xed, 'PADDSW', I.PADDSW],
    [0xee, 'PMAXSW', I.PMAXSW],
    [0xef, 'PXOR', I.PXOR],
    [0xf1, 'PSLLW', I.PSLLW],
    [0xf2, 'PSLLD', I.PSLLD],
    [0xf3, 'PSLLQ', I.PSLLQ],
    [0xf4, 'PMULUDQ', I.PMULUDQ],
    [0xf5, 'PMADDWD', I.PMADDWD],
    [0xf6, 'PSADBW', I.PSADBW],
    [0xf8, 'PSUBB', I.PSUBB],
    [0xf9, 'PSUBW', I.PSUBW],
    [0xfa, 'PSUBD', I.PSUBD],
    [0xfb, 'PSUBQ', I.PSUBQ],
    [0xfc, 'PADDB', I.PADDB],
    [0xfd, 'PADDW', I.PADDW],
    [0xfe, 'PADDD', I.PADDD],
  ];
  for (const [op, mnem, fn] of ints) {
    add(op, P66, mnem, 'Vx,Wx', fn);
    // The MMX form (no prefix) of the same operation on MM registers.
    if (op === 0x6c || op === 0x6d) continue;
    const wrapped =
      op >= 0x68 && op <= 0x6a
        ? X.mmxUnpackHigh([I.PUNPCKLBW, I.PUNPCKLWD, I.PUNPCKLDQ][op - 0x68])
        : op === 0x63 || op === 0x67
          ? X.mmxPack(fn, false)
          : op === 0x6b
            ? X.mmxPack(fn, true)
            : X.mmxOf(fn);
    mmx(op, mnem, 'Pq,Qq', wrapped);
  }
  mmx(0x6e, 'MOVD', 'Pq,Ey', X.MOVD_mm_load);
  mmx(0x7e, 'MOVD', 'Ey,Pq', X.MOVD_mm_store);
  mmx(0x6f, 'MOVQ', 'Pq,Qq', X.MOVQ_mm_load);
  mmx(0x7f, 'MOVQ', 'Qq,Pq', X.MOVQ_mm_store);
  mmx(0xe7, 'MOVNTQ', 'Mq,Pq', X.MOVQ_mm_store);
  mmx(0x70, 'PSHUFW', 'Pq,Qq,Ib', X.PSHUFW);
  mmx(0x71, 'PSHIFTW', 'Nq,Ib', X.MMX_SHIFT_imm(I.PSHIFT_imm));
  mmx(0x72, 'PSHIFTD', 'Nq,Ib', X.MMX_SHIFT_imm(I.PSHIFT_imm));
  mmx(0x73, 'PSHIFTQ', 'Nq,Ib', X.MMX_SHIFT_imm(I.PSHIFT_imm));
  mmx(0xc4, 'PINSRW', 'Pq,Ew,Ib', X.PINSRW_mm);
  mmx(0xc5, 'PEXTRW', 'Gd,Nq,Ib', X.MMX_TO_GPR);
  mmx(0xd7, 'PMOVMSKB', 'Gd,Nq', X.MMX_TO_GPR);
  mmx(0xf7, 'MASKMOVQ', 'Pq,Nq', X.MASKMOVQ);
  add(0x70, P66, 'PSHUFD', 'Vx,Wx,Ib', I.PSHUF);
  add(0x70, F3, 'PSHUFHW', 'Vx,Wx,Ib', I.PSHUF);
  add(0x70, F2, 'PSHUFLW', 'Vx,Wx,Ib', I.PSHUF);
  add(0x71, P66, 'PSHIFTW', 'Ux,Ib', I.PSHIFT_imm);
  add(0x72, P66, 'PSHIFTD', 'Ux,Ib', I.PSHIFT_imm);
  add(0x73, P66, 'PSHIFTQ', 'Ux,Ib', I.PSHIFT_imm);
  add(0xc4, P66, 'PINSRW', 'Vx,Ew,Ib', I.PINSRW);
  add(0xc5, P66, 'PEXTRW', 'Gd,Ux,Ib', I.PEXTRW);
  add(0xd7, P66, 'PMOVMSKB', 'Gd,Ux', I.PMOVMSKB);
  return r;
}

/** Every SSE row, in table order. */
export const SSE_TABLE: readonly SseRow[] = /* @__PURE__ */ buildSseRows();

function ud(cpu: X86Cpu): void {
  cpu.ud();
}

/** @internal Handler per (opcode byte << 2 | mandatory prefix). */
export const SSE_HANDLERS: Handler[] = /* @__PURE__ */ new Array<Handler>(1024).fill(ud);
/** @internal Row per (opcode byte << 2 | mandatory prefix), for the disassembler. */
export const SSE_ROW_INDEX: (SseRow | undefined)[] = /* @__PURE__ */ new Array<SseRow | undefined>(
  1024,
);

/** @internal 1 where the row needs the SSE checks (every row but the MMX forms). */
const SSE_CHECKED: Uint8Array = /* @__PURE__ */ new Uint8Array(1024).fill(1);

for (const row of SSE_TABLE) {
  SSE_HANDLERS[(row.op << 2) | row.pfx] = row.fn;
  SSE_ROW_INDEX[(row.op << 2) | row.pfx] = row;
  if (row.mmx === true) SSE_CHECKED[(row.op << 2) | row.pfx] = 0;
}

/** @internal The dispatcher installed for every SSE opcode: checks, then the row for the prefix. */
export function sseDispatch(cpu: X86Cpu): void {
  const k = ((cpu.opcode & 0xff) << 2) | cpu.rep;
  if (SSE_CHECKED[k] !== 0) sseCheck(cpu);
  SSE_HANDLERS[k](cpu);
}

/** @internal The distinct opcode bytes of the SSE table and whether each takes an imm8. */
export function sseOpcodes(): { op: number; ib: boolean }[] {
  const seen = new Map<number, boolean>();
  for (const row of SSE_TABLE) seen.set(row.op, row.ops.endsWith(',Ib'));
  return [...seen.entries()].map(([op, ib]) => ({ op, ib }));
}
