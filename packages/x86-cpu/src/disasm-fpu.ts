/**
 * Disassembly of the x87 escapes (D8..DF) and the SSE/SSE2 opcodes, whose mnemonics depend on
 * ModRM and on the mandatory prefix; `disasm.ts` calls it for opcodes without a row in the main
 * table. Output is nasm syntax (`addsd xmm1, [rax+0x8]`, `fadd st0, st3`, `fld tword [rbx]`).
 * @see Intel SDM Vol. 2D Appendix A.4 (x87 opcode maps), A.3 (two-byte map, mandatory prefixes)
 */
import { SSE_ROW_INDEX } from './decode/sse-table.ts';

/** The decoded fields the formatter needs. */
export interface FpuDisasmInput {
  /** Opcode (one byte, or 0x1XX for 0F XX). */
  readonly op: number;
  /** Mandatory prefix: 0 none, 1 = 66, 2 = F2, 3 = F3. */
  readonly pfx: number;
  /** ModRM.mod. */
  readonly mod: number;
  /** ModRM.reg with REX.R. */
  readonly reg: number;
  /** ModRM.rm with REX.B. */
  readonly rm: number;
  /** REX.W. */
  readonly w: boolean;
  /** Memory operand text without size (`[rax+0x8]`, with any segment). */
  readonly mem: string;
  /** imm8 (unsigned), if the opcode has one. */
  readonly imm: number;
  /** Code size (16/32/64): the size of general registers by default. */
  readonly bits: number;
}

const MEM_X87 = [
  ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'],
  ['fld', '', 'fst', 'fstp', 'fldenv', 'fldcw', 'fnstenv', 'fnstcw'],
  ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'],
  ['fild', 'fisttp', 'fist', 'fistp', '', 'fld', '', 'fstp'],
  ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'],
  ['fld', 'fisttp', 'fst', 'fstp', 'frstor', '', 'fnsave', 'fnstsw'],
  ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'],
  ['fild', 'fisttp', 'fist', 'fistp', 'fbld', 'fild', 'fbstp', 'fistp'],
];
const MEM_SIZE = [
  ['dword', 'dword', 'dword', 'dword', 'dword', 'dword', 'dword', 'dword'],
  ['dword', '', 'dword', 'dword', '', '', '', ''],
  ['dword', 'dword', 'dword', 'dword', 'dword', 'dword', 'dword', 'dword'],
  ['dword', 'dword', 'dword', 'dword', '', 'tword', '', 'tword'],
  ['qword', 'qword', 'qword', 'qword', 'qword', 'qword', 'qword', 'qword'],
  ['qword', 'qword', 'qword', 'qword', '', '', '', ''],
  ['word', 'word', 'word', 'word', 'word', 'word', 'word', 'word'],
  ['word', 'word', 'word', 'word', 'tword', 'qword', 'tword', 'qword'],
];
const D9_SPECIAL: Record<number, string> = {
  208: 'fnop',
  224: 'fchs',
  225: 'fabs',
  228: 'ftst',
  229: 'fxam',
  232: 'fld1',
  233: 'fldl2t',
  234: 'fldl2e',
  235: 'fldpi',
  236: 'fldlg2',
  237: 'fldln2',
  238: 'fldz',
  240: 'f2xm1',
  241: 'fyl2x',
  242: 'fptan',
  243: 'fpatan',
  244: 'fxtract',
  245: 'fprem1',
  246: 'fdecstp',
  247: 'fincstp',
  248: 'fprem',
  249: 'fyl2xp1',
  250: 'fsqrt',
  251: 'fsincos',
  252: 'frndint',
  253: 'fscale',
  254: 'fsin',
  255: 'fcos',
};
const ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
/** DC/DE register forms: ST(i) is the destination; E0/E8 and F0/F8 name the reversed forms. */
const ARITH_REV = ['fadd', 'fmul', '', '', 'fsubr', 'fsub', 'fdivr', 'fdiv'];
const FCMOV = ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu'];
const FCMOVN = ['fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'];

/** @internal Formats an x87 escape, or returns undefined for a reserved encoding. */
export function x87Text(d: FpuDisasmInput): string | undefined {
  const k = d.op - 0xd8;
  const reg = d.reg & 7;
  if (d.mod !== 3) {
    const m = MEM_X87[k][reg];
    if (m === '') return undefined;
    const size = MEM_SIZE[k][reg];
    return `${m} ${size === '' ? '' : `${size} `}${d.mem}`;
  }
  const i = d.rm & 7;
  const modrm = 0xc0 | (reg << 3) | i;
  const sti = `st${i}`;
  switch (d.op) {
    case 0xd8:
      return reg === 2 || reg === 3 ? `${ARITH[reg]} ${sti}` : `${ARITH[reg]} st0, ${sti}`;
    case 0xd9:
      if (reg === 0) return `fld ${sti}`;
      if (reg === 1) return `fxch ${sti}`;
      return D9_SPECIAL[modrm];
    case 0xda:
      if (reg < 4) return `${FCMOV[reg]} st0, ${sti}`;
      return modrm === 0xe9 ? 'fucompp' : undefined;
    case 0xdb:
      if (reg < 4) return `${FCMOVN[reg]} st0, ${sti}`;
      if (modrm === 0xe2) return 'fnclex';
      if (modrm === 0xe3) return 'fninit';
      if (reg === 5) return `fucomi st0, ${sti}`;
      if (reg === 6) return `fcomi st0, ${sti}`;
      return undefined;
    case 0xdc:
      return ARITH_REV[reg] === '' ? undefined : `${ARITH_REV[reg]} ${sti}, st0`;
    case 0xdd:
      if (reg === 0) return `ffree ${sti}`;
      if (reg === 2) return `fst ${sti}`;
      if (reg === 3) return `fstp ${sti}`;
      if (reg === 4) return `fucom ${sti}`;
      if (reg === 5) return `fucomp ${sti}`;
      return undefined;
    case 0xde:
      if (modrm === 0xd9) return 'fcompp';
      return ARITH_REV[reg] === '' ? undefined : `${ARITH_REV[reg]}p ${sti}, st0`;
    default:
      if (reg === 0) return `ffreep ${sti}`;
      if (modrm === 0xe0) return 'fnstsw ax';
      if (reg === 5) return `fucomip st0, ${sti}`;
      if (reg === 6) return `fcomip st0, ${sti}`;
      return undefined;
  }
}

const SHIFT_GROUPS: Record<number, (string | undefined)[]> = {
  113: [undefined, undefined, 'psrlw', undefined, 'psraw', undefined, 'psllw', undefined],
  114: [undefined, undefined, 'psrld', undefined, 'psrad', undefined, 'pslld', undefined],
  115: [undefined, undefined, 'psrlq', 'psrldq', undefined, undefined, 'psllq', 'pslldq'],
};

function gpr(size: number, r: number): string {
  const n32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
  const n64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
  if (size === 64) return r < 8 ? n64[r] : `r${r}`;
  return r < 8 ? n32[r] : `r${r}d`;
}

/** @internal Formats an SSE/SSE2 instruction (0F map), or returns undefined. */
export function sseText(d: FpuDisasmInput): string | undefined {
  const op = d.op & 0xff;
  const row = SSE_ROW_INDEX[(op << 2) | d.pfx];
  if (row === undefined) return undefined;
  if (op >= 0x71 && op <= 0x73) {
    const m = SHIFT_GROUPS[op][d.reg & 7];
    if (m === undefined || d.mod !== 3) return undefined;
    if (d.pfx === 0) return m.endsWith('dq') ? undefined : `${m} mm${d.rm & 7}, ${d.imm}`;
    return `${m} xmm${d.rm}, ${d.imm}`;
  }
  let mnem = row.mnem.toLowerCase();
  if ((op === 0x6e || op === 0x7e) && d.pfx <= 1 && d.w) mnem = 'movq';
  if (d.mod === 3 && op === 0x12 && d.pfx === 0) mnem = 'movhlps';
  if (d.mod === 3 && op === 0x16 && d.pfx === 0) mnem = 'movlhps';
  const out: string[] = [];
  for (const o of row.ops.split(',')) {
    const kind = o[0];
    if (kind === 'V') out.push(`xmm${d.reg}`);
    else if (kind === 'P') out.push(`mm${d.reg & 7}`);
    else if (kind === 'N') {
      if (d.mod !== 3) return undefined;
      out.push(`mm${d.rm & 7}`);
    } else if (kind === 'Q') out.push(d.mod === 3 ? `mm${d.rm & 7}` : d.mem);
    else if (kind === 'U') {
      if (d.mod !== 3) return undefined;
      out.push(`xmm${d.rm}`);
    } else if (kind === 'W') out.push(d.mod === 3 ? `xmm${d.rm}` : d.mem);
    else if (kind === 'M') {
      if (d.mod === 3 && (d.pfx !== 0 || (mnem !== 'movhlps' && mnem !== 'movlhps')))
        return undefined;
      out.push(d.mod === 3 ? `xmm${d.rm}` : d.mem);
    } else if (kind === 'G') out.push(gpr(o === 'Gy' && d.w ? 64 : 32, d.reg));
    else if (kind === 'E') {
      const size = o === 'Ew' ? 16 : d.w ? 64 : 32;
      if (d.mod === 3) out.push(gpr(size === 64 ? 64 : 32, d.rm));
      else out.push(`${size === 16 ? 'word' : size === 64 ? 'qword' : 'dword'} ${d.mem}`);
    } else if (kind === 'I') out.push(`0x${d.imm.toString(16)}`);
  }
  return `${mnem} ${out.join(', ')}`;
}

/** @internal Formats an x87 or SSE instruction, or returns undefined (the caller shows `(bad)`). */
export function fpuText(d: FpuDisasmInput): string | undefined {
  if (d.op >= 0xd8 && d.op <= 0xdf) return x87Text(d);
  if (d.op >= 0x100 && d.op < 0x200) return sseText(d);
  return undefined;
}
