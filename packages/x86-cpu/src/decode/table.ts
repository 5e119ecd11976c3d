/**
 * The single opcode table, in SDM operand notation (Intel SDM Vol. 2 Appendix A). It drives
 * the decoder (ModRM presence, immediate kinds, 64-bit mode attributes), the handler dispatch
 * and the disassembler; tests enumerate it.
 *
 * Operand notation: `E` ModRM r/m, `G` ModRM reg, `M` memory-only r/m, `R` register-only
 * r/m, `C`/`D` control/debug register in reg, `S` segment register in reg, `I` immediate,
 * `J` relative offset, `O` moffs, `A` far pointer, `Z` register in the opcode's low bits;
 * sizes `b` byte, `w` word, `d` dword, `v` operand size, `z` 16/32 by operand size.
 * Attributes: `d64` (default 64-bit operand size in long mode), `i64` (invalid in 64-bit mode).
 * @see Intel SDM Vol. 2D Appendix A, "Opcode Map"
 */
import type { X86Cpu } from '../cpu.ts';
import * as A from '../ops/arith.ts';
import * as C from '../ops/control.ts';
import * as D from '../ops/data.ts';
import * as FX from '../ops/fxsave.ts';
import * as L from '../ops/legacy.ts';
import { EMMS } from '../ops/mmx.ts';
import * as SH from '../ops/shift.ts';
import { MOVNTI } from '../ops/sse-move.ts';
import * as ST from '../ops/string.ts';
import * as SY from '../ops/system.ts';
import { FWAIT, X87 } from '../ops/x87.ts';
import { D64, GROUP, I64, IMM, MODRM } from './info.ts';
import { sseDispatch, sseOpcodes } from './sse-table.ts';

/** An instruction handler: reads decoded fields from the CPU and executes. */
export type Handler = (cpu: X86Cpu) => void;

/** One row of the opcode table. */
export interface OpcodeRow {
  /** Opcode: 0x00..0xFF one-byte, 0x1XX for 0F XX, 0x2XX for 0F 38 XX, 0x3XX for 0F 3A XX. */
  readonly op: number;
  /** ModRM.reg for group rows (`/0`..`/7`), else undefined. */
  readonly reg?: number;
  /** Mnemonic, upper case, as in the SDM. */
  readonly mnem: string;
  /** Operands in SDM notation, comma separated (empty for none). */
  readonly ops: string;
  /** Attributes: `d64`, `i64`. */
  readonly attrs?: string;
  /** The handler. */
  readonly fn: Handler;
}

function row(op: number, mnem: string, ops: string, fn: Handler, attrs?: string): OpcodeRow {
  return attrs === undefined ? { op, mnem, ops, fn } : { op, mnem, ops, fn, attrs };
}

function grp(
  op: number,
  reg: number,
  mnem: string,
  ops: string,
  fn: Handler,
  attrs?: string,
): OpcodeRow {
  return attrs === undefined ? { op, reg, mnem, ops, fn } : { op, reg, mnem, ops, fn, attrs };
}

const CC = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];
const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const SHIFTS = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];

function buildRows(): OpcodeRow[] {
  const r: OpcodeRow[] = [];
  for (let k = 0; k < 8; k++) {
    const b = k << 3;
    r.push(row(b, ALU[k], 'Eb,Gb', A.ALU_form));
    r.push(row(b + 1, ALU[k], 'Ev,Gv', A.ALU_form));
    r.push(row(b + 2, ALU[k], 'Gb,Eb', A.ALU_form));
    r.push(row(b + 3, ALU[k], 'Gv,Ev', A.ALU_form));
    r.push(row(b + 4, ALU[k], 'AL,Ib', A.ALU_form));
    r.push(row(b + 5, ALU[k], 'rAX,Iz', A.ALU_form));
    r.push(grp(0x80, k, ALU[k], 'Eb,Ib', A.GRP1_EbIb));
    r.push(grp(0x81, k, ALU[k], 'Ev,Iz', A.GRP1_EvI));
    r.push(grp(0x82, k, ALU[k], 'Eb,Ib', A.GRP1_EbIb, 'i64'));
    r.push(grp(0x83, k, ALU[k], 'Ev,Ib', A.GRP1_EvI));
    for (const op of [0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3]) {
      const size = (op & 1) === 0 ? 'Eb' : 'Ev';
      const count = op <= 0xc1 ? ',Ib' : op <= 0xd1 ? ',1' : ',CL';
      r.push(grp(op, k, SHIFTS[k], size + count, SH.GRP2));
    }
  }
  r.push(row(0x06, 'PUSH', 'ES', D.PUSH_S, 'i64'));
  r.push(row(0x07, 'POP', 'ES', D.POP_S, 'i64'));
  r.push(row(0x0e, 'PUSH', 'CS', D.PUSH_S, 'i64'));
  r.push(row(0x16, 'PUSH', 'SS', D.PUSH_S, 'i64'));
  r.push(row(0x17, 'POP', 'SS', D.POP_S, 'i64'));
  r.push(row(0x1e, 'PUSH', 'DS', D.PUSH_S, 'i64'));
  r.push(row(0x1f, 'POP', 'DS', D.POP_S, 'i64'));
  r.push(row(0x27, 'DAA', '', A.DAA_DAS, 'i64'));
  r.push(row(0x2f, 'DAS', '', A.DAA_DAS, 'i64'));
  r.push(row(0x37, 'AAA', '', A.AAA_AAS, 'i64'));
  r.push(row(0x3f, 'AAS', '', A.AAA_AAS, 'i64'));
  for (let i = 0; i < 8; i++) {
    r.push(row(0x40 + i, 'INC', 'Zv', A.INCDEC_Zv, 'i64'));
    r.push(row(0x48 + i, 'DEC', 'Zv', A.INCDEC_Zv, 'i64'));
    r.push(row(0x50 + i, 'PUSH', 'Zv', D.PUSH_Z, 'd64'));
    r.push(row(0x58 + i, 'POP', 'Zv', D.POP_Z, 'd64'));
    r.push(row(0x90 + i, 'XCHG', 'Zv,rAX', D.XCHG_Z));
    r.push(row(0xb0 + i, 'MOV', 'Zb,Ib', D.MOV_ZI));
    r.push(row(0xb8 + i, 'MOV', 'Zv,Iv', D.MOV_ZI));
    r.push(row(0x1c8 + i, 'BSWAP', 'Zv', D.BSWAP));
  }
  for (let c = 0; c < 16; c++) {
    r.push(row(0x70 + c, `J${CC[c]}`, 'Jb', C.Jcc, 'd64'));
    r.push(row(0x180 + c, `J${CC[c]}`, 'Jz', C.Jcc, 'd64'));
    r.push(row(0x190 + c, `SET${CC[c]}`, 'Eb', D.SETcc));
    r.push(row(0x140 + c, `CMOV${CC[c]}`, 'Gv,Ev', D.CMOVcc));
  }
  r.push(row(0x60, 'PUSHA', '', D.PUSHA, 'i64'));
  r.push(row(0x61, 'POPA', '', D.POPA, 'i64'));
  r.push(row(0x62, 'BOUND', 'Gv,Ma', L.BOUND, 'i64'));
  r.push(row(0x63, 'MOVSXD', 'Gv,Ed', movsxdOrArpl));
  r.push(row(0x68, 'PUSH', 'Iz', D.PUSH_I, 'd64'));
  r.push(row(0x69, 'IMUL', 'Gv,Ev,Iz', A.IMUL_GvEvI));
  r.push(row(0x6a, 'PUSH', 'Ib', D.PUSH_I, 'd64'));
  r.push(row(0x6b, 'IMUL', 'Gv,Ev,Ib', A.IMUL_GvEvI));
  r.push(row(0x6c, 'INSB', '', ST.INS));
  r.push(row(0x6d, 'INS', '', ST.INS));
  r.push(row(0x6e, 'OUTSB', '', ST.OUTS));
  r.push(row(0x6f, 'OUTS', '', ST.OUTS));
  r.push(row(0x84, 'TEST', 'Eb,Gb', A.TEST_form));
  r.push(row(0x85, 'TEST', 'Ev,Gv', A.TEST_form));
  r.push(row(0x86, 'XCHG', 'Eb,Gb', D.XCHG_EG));
  r.push(row(0x87, 'XCHG', 'Ev,Gv', D.XCHG_EG));
  r.push(row(0x88, 'MOV', 'Eb,Gb', D.MOV_form));
  r.push(row(0x89, 'MOV', 'Ev,Gv', D.MOV_form));
  r.push(row(0x8a, 'MOV', 'Gb,Eb', D.MOV_form));
  r.push(row(0x8b, 'MOV', 'Gv,Ev', D.MOV_form));
  r.push(row(0x8c, 'MOV', 'Ew,Sw', D.MOV_EwSw));
  r.push(row(0x8d, 'LEA', 'Gv,M', D.LEA));
  r.push(row(0x8e, 'MOV', 'Sw,Ew', D.MOV_SwEw));
  r.push(grp(0x8f, 0, 'POP', 'Ev', D.POP_Ev, 'd64'));
  r.push(row(0x98, 'CBW', '', A.CBW));
  r.push(row(0x99, 'CWD', '', A.CWD));
  r.push(row(0x9a, 'CALLF', 'Ap', C.FAR_Ap, 'i64'));
  r.push(row(0x9b, 'WAIT', '', FWAIT));
  r.push(row(0x9c, 'PUSHF', '', D.PUSHF, 'd64'));
  r.push(row(0x9d, 'POPF', '', D.POPF, 'd64'));
  r.push(row(0x9e, 'SAHF', '', D.SAHF));
  r.push(row(0x9f, 'LAHF', '', D.LAHF));
  r.push(row(0xa0, 'MOV', 'AL,Ob', D.MOV_moffs));
  r.push(row(0xa1, 'MOV', 'rAX,Ov', D.MOV_moffs));
  r.push(row(0xa2, 'MOV', 'Ob,AL', D.MOV_moffs));
  r.push(row(0xa3, 'MOV', 'Ov,rAX', D.MOV_moffs));
  r.push(row(0xa4, 'MOVSB', '', ST.STRING));
  r.push(row(0xa5, 'MOVS', '', ST.STRING));
  r.push(row(0xa6, 'CMPSB', '', ST.STRING));
  r.push(row(0xa7, 'CMPS', '', ST.STRING));
  r.push(row(0xa8, 'TEST', 'AL,Ib', A.TEST_form));
  r.push(row(0xa9, 'TEST', 'rAX,Iz', A.TEST_form));
  r.push(row(0xaa, 'STOSB', '', ST.STRING));
  r.push(row(0xab, 'STOS', '', ST.STRING));
  r.push(row(0xac, 'LODSB', '', ST.STRING));
  r.push(row(0xad, 'LODS', '', ST.STRING));
  r.push(row(0xae, 'SCASB', '', ST.STRING));
  r.push(row(0xaf, 'SCAS', '', ST.STRING));
  r.push(row(0xc2, 'RET', 'Iw', C.RET, 'd64'));
  r.push(row(0xc3, 'RET', '', C.RET, 'd64'));
  r.push(row(0xc4, 'LES', 'Gz,Mp', D.LFP, 'i64'));
  r.push(row(0xc5, 'LDS', 'Gz,Mp', D.LFP, 'i64'));
  r.push(grp(0xc6, 0, 'MOV', 'Eb,Ib', D.MOV_EI));
  r.push(grp(0xc7, 0, 'MOV', 'Ev,Iz', D.MOV_EI));
  r.push(row(0xc8, 'ENTER', 'Iw,Ib', D.ENTER, 'd64'));
  r.push(row(0xc9, 'LEAVE', '', D.LEAVE, 'd64'));
  r.push(row(0xca, 'RETF', 'Iw', C.RETF));
  r.push(row(0xcb, 'RETF', '', C.RETF));
  r.push(row(0xcc, 'INT3', '', C.INT));
  r.push(row(0xcd, 'INT', 'Ib', C.INT));
  r.push(row(0xce, 'INTO', '', C.INT, 'i64'));
  r.push(row(0xcf, 'IRET', '', C.IRET));
  r.push(row(0xd4, 'AAM', 'Ib', A.AAM, 'i64'));
  r.push(row(0xd5, 'AAD', 'Ib', A.AAD, 'i64'));
  r.push(row(0xd6, 'SALC', '', L.SALC, 'i64'));
  r.push(row(0xd7, 'XLAT', '', D.XLAT));
  r.push(row(0xe0, 'LOOPNE', 'Jb', C.LOOP, 'd64'));
  r.push(row(0xe1, 'LOOPE', 'Jb', C.LOOP, 'd64'));
  r.push(row(0xe2, 'LOOP', 'Jb', C.LOOP, 'd64'));
  r.push(row(0xe3, 'JCXZ', 'Jb', C.LOOP, 'd64'));
  r.push(row(0xe4, 'IN', 'AL,Ib', ST.IN));
  r.push(row(0xe5, 'IN', 'eAX,Ib', ST.IN));
  r.push(row(0xe6, 'OUT', 'Ib,AL', ST.OUT));
  r.push(row(0xe7, 'OUT', 'Ib,eAX', ST.OUT));
  r.push(row(0xe8, 'CALL', 'Jz', C.CALL_J, 'd64'));
  r.push(row(0xe9, 'JMP', 'Jz', C.JMP_J, 'd64'));
  r.push(row(0xea, 'JMPF', 'Ap', C.FAR_Ap, 'i64'));
  r.push(row(0xeb, 'JMP', 'Jb', C.JMP_J, 'd64'));
  r.push(row(0xec, 'IN', 'AL,DX', ST.IN));
  r.push(row(0xed, 'IN', 'eAX,DX', ST.IN));
  r.push(row(0xee, 'OUT', 'DX,AL', ST.OUT));
  r.push(row(0xef, 'OUT', 'DX,eAX', ST.OUT));
  r.push(row(0xf1, 'INT1', '', L.INT1));
  r.push(row(0xf4, 'HLT', '', SY.HLT));
  r.push(row(0xf5, 'CMC', '', SY.FLAGOP));
  r.push(row(0xf8, 'CLC', '', SY.FLAGOP));
  r.push(row(0xf9, 'STC', '', SY.FLAGOP));
  r.push(row(0xfa, 'CLI', '', SY.CLI_STI));
  r.push(row(0xfb, 'STI', '', SY.CLI_STI));
  r.push(row(0xfc, 'CLD', '', SY.FLAGOP));
  r.push(row(0xfd, 'STD', '', SY.FLAGOP));
  const g3 = ['TEST', 'TEST', 'NOT', 'NEG', 'MUL', 'IMUL', 'DIV', 'IDIV'];
  for (let k = 0; k < 8; k++) {
    r.push(grp(0xf6, k, g3[k], k < 2 ? 'Eb,Ib' : 'Eb', A.GRP3));
    r.push(grp(0xf7, k, g3[k], k < 2 ? 'Ev,Iz' : 'Ev', A.GRP3));
  }
  r.push(grp(0xfe, 0, 'INC', 'Eb', A.GRP4_Eb));
  r.push(grp(0xfe, 1, 'DEC', 'Eb', A.GRP4_Eb));
  r.push(grp(0xff, 0, 'INC', 'Ev', A.INCDEC_Ev));
  r.push(grp(0xff, 1, 'DEC', 'Ev', A.INCDEC_Ev));
  r.push(grp(0xff, 2, 'CALL', 'Ev', C.CALL_Ev, 'd64'));
  r.push(grp(0xff, 3, 'CALLF', 'Mp', C.FAR_Mp));
  r.push(grp(0xff, 4, 'JMP', 'Ev', C.JMP_Ev, 'd64'));
  r.push(grp(0xff, 5, 'JMPF', 'Mp', C.FAR_Mp));
  r.push(grp(0xff, 6, 'PUSH', 'Ev', D.PUSH_Ev, 'd64'));
  // Two-byte opcodes (0F xx).
  const g6 = ['SLDT', 'STR', 'LLDT', 'LTR', 'VERR', 'VERW'];
  for (let k = 0; k < 6; k++) r.push(grp(0x100, k, g6[k], 'Ew', SY.GRP6));
  r.push(row(0x102, 'LAR', 'Gv,Ew', SY.LAR_LSL));
  r.push(row(0x103, 'LSL', 'Gv,Ew', SY.LAR_LSL));
  const g7 = ['SGDT', 'SIDT', 'LGDT', 'LIDT', 'SMSW', '', 'LMSW', 'INVLPG'];
  for (let k = 0; k < 8; k++)
    if (k !== 5) r.push(grp(0x101, k, g7[k], k === 4 || k === 6 ? 'Ew' : 'M', SY.GRP7));
  r.push(row(0x105, 'SYSCALL', '', SY.SYSCALL));
  r.push(row(0x106, 'CLTS', '', SY.CLTS));
  r.push(row(0x107, 'SYSRET', '', SY.SYSRET));
  r.push(row(0x108, 'INVD', '', SY.NOP));
  r.push(row(0x109, 'WBINVD', '', SY.NOP));
  r.push(row(0x10b, 'UD2', '', SY.UD));
  r.push(row(0x10d, 'NOP', 'Ev', SY.NOP));
  for (let i = 0x118; i <= 0x11f; i++) r.push(row(i, 'NOP', 'Ev', SY.NOP));
  r.push(row(0x120, 'MOV', 'Rd,Cd', SY.MOV_CR));
  r.push(row(0x121, 'MOV', 'Rd,Dd', SY.MOV_DR));
  r.push(row(0x122, 'MOV', 'Cd,Rd', SY.MOV_CR));
  r.push(row(0x123, 'MOV', 'Dd,Rd', SY.MOV_DR));
  r.push(row(0x130, 'WRMSR', '', SY.WRMSR));
  r.push(row(0x131, 'RDTSC', '', SY.RDTSC));
  r.push(row(0x132, 'RDMSR', '', SY.RDMSR));
  r.push(row(0x133, 'RDPMC', '', L.RDPMC));
  r.push(row(0x134, 'SYSENTER', '', SY.SYSENTER));
  r.push(row(0x135, 'SYSEXIT', '', SY.SYSEXIT));
  r.push(row(0x1a0, 'PUSH', 'FS', D.PUSH_S, 'd64'));
  r.push(row(0x1a1, 'POP', 'FS', D.POP_S, 'd64'));
  r.push(row(0x1a2, 'CPUID', '', SY.CPUID));
  r.push(row(0x1a3, 'BT', 'Ev,Gv', D.BT_EvGv));
  r.push(row(0x1a4, 'SHLD', 'Ev,Gv,Ib', SH.SHxD));
  r.push(row(0x1a5, 'SHLD', 'Ev,Gv,CL', SH.SHxD));
  r.push(row(0x1a8, 'PUSH', 'GS', D.PUSH_S, 'd64'));
  r.push(row(0x1a9, 'POP', 'GS', D.POP_S, 'd64'));
  r.push(row(0x1ab, 'BTS', 'Ev,Gv', D.BT_EvGv));
  r.push(row(0x1ac, 'SHRD', 'Ev,Gv,Ib', SH.SHxD));
  r.push(row(0x1ad, 'SHRD', 'Ev,Gv,CL', SH.SHxD));
  const g15 = [FX.FXSAVE, FX.FXRSTOR, FX.LDMXCSR, FX.STMXCSR];
  for (let k = 0; k < 4; k++)
    r.push(grp(0x1ae, k, ['FXSAVE', 'FXRSTOR', 'LDMXCSR', 'STMXCSR'][k], 'M', g15[k]));
  for (let k = 4; k < 8; k++)
    r.push(grp(0x1ae, k, k === 7 ? 'CLFLUSH' : k >= 5 ? 'FENCE' : 'GRP15', 'Ev', SY.GRP15));
  r.push(row(0x1af, 'IMUL', 'Gv,Ev', A.IMUL_GvEv));
  r.push(row(0x1b0, 'CMPXCHG', 'Eb,Gb', A.CMPXCHG_EG));
  r.push(row(0x1b1, 'CMPXCHG', 'Ev,Gv', A.CMPXCHG_EG));
  r.push(row(0x1b2, 'LSS', 'Gv,Mp', D.LFP));
  r.push(row(0x1b3, 'BTR', 'Ev,Gv', D.BT_EvGv));
  r.push(row(0x1b4, 'LFS', 'Gv,Mp', D.LFP));
  r.push(row(0x1b5, 'LGS', 'Gv,Mp', D.LFP));
  r.push(row(0x1b6, 'MOVZX', 'Gv,Eb', D.MOVX));
  r.push(row(0x1b7, 'MOVZX', 'Gv,Ew', D.MOVX));
  r.push(row(0x1b8, 'POPCNT', 'Gv,Ev', D.POPCNT));
  for (let k = 4; k < 8; k++)
    r.push(grp(0x1ba, k, ['BT', 'BTS', 'BTR', 'BTC'][k - 4], 'Ev,Ib', D.GRP8));
  r.push(row(0x1bb, 'BTC', 'Ev,Gv', D.BT_EvGv));
  r.push(row(0x1bc, 'BSF', 'Gv,Ev', D.BSx));
  r.push(row(0x1bd, 'BSR', 'Gv,Ev', D.BSx));
  r.push(row(0x1be, 'MOVSX', 'Gv,Eb', D.MOVX));
  r.push(row(0x1bf, 'MOVSX', 'Gv,Ew', D.MOVX));
  r.push(row(0x1c0, 'XADD', 'Eb,Gb', A.XADD_EG));
  r.push(row(0x1c1, 'XADD', 'Ev,Gv', A.XADD_EG));
  r.push(row(0x177, 'EMMS', '', EMMS));
  r.push(row(0x1c3, 'MOVNTI', 'Mv,Gv', MOVNTI));
  r.push(grp(0x1c7, 1, 'CMPXCHG8B', 'Mq', A.CMPXCHG8B));
  r.push(row(0x2f0, 'MOVBE', 'Gv,Mv', D.MOVBE));
  r.push(row(0x2f1, 'MOVBE', 'Mv,Gv', D.MOVBE));
  return r;
}

/** 63: MOVSXD in 64-bit mode, ARPL elsewhere. */
function movsxdOrArpl(cpu: X86Cpu): void {
  if (cpu.mode64) D.MOVSXD(cpu);
  else L.ARPL(cpu);
}

/** The row of opcode 63 outside 64-bit mode (the table's row is MOVSXD), for the disassembler. */
export const ARPL_ROW: OpcodeRow = /* @__PURE__ */ row(0x63, 'ARPL', 'Ew,Gw', L.ARPL);

function udHandler(cpu: X86Cpu): void {
  cpu.ud();
}

/** Every opcode row, in table order. */
export const OPCODE_TABLE: readonly OpcodeRow[] = /* @__PURE__ */ buildRows();

const OPERAND_MODRM = /^[EGMRCDS][a-z]/;

function immKind(ops: string): number {
  const list = ops.split(',');
  if (list.includes('Iw') && list.includes('Ib')) return IMM.IwIb;
  for (const o of list) {
    switch (o) {
      case 'Ib':
        return IMM.Ib;
      case 'Iw':
        return IMM.Iw;
      case 'Iz':
        return IMM.Iz;
      case 'Iv':
        return IMM.Iv;
      case 'Jb':
        return IMM.Jb;
      case 'Jz':
        return IMM.Jz;
      case 'Ap':
        return IMM.Ap;
      case 'Ob':
      case 'Ov':
        return IMM.Ov;
    }
  }
  return IMM.None;
}

function attrBits(attrs: string | undefined): number {
  let b = 0;
  if (attrs?.includes('d64')) b |= D64;
  if (attrs?.includes('i64')) b |= I64;
  return b;
}

/** @internal Decode info per opcode: MODRM | GROUP | D64 | I64 | imm kind << 8. */
export const DECODE: Int32Array = /* @__PURE__ */ new Int32Array(0x400);
/** @internal Handler per non-group opcode. */
export const HANDLERS: Handler[] = /* @__PURE__ */ new Array<Handler>(0x400).fill(udHandler);
/** @internal Handler per (group opcode << 3 | reg). */
export const GROUP_HANDLERS: Handler[] = /* @__PURE__ */ new Array<Handler>(0x2000).fill(udHandler);
/** @internal Decode info per (group opcode << 3 | reg): D64 | imm kind << 8. */
export const GROUP_INFO: Int32Array = /* @__PURE__ */ new Int32Array(0x2000);
/** @internal Row per opcode (non-group) or per (op << 3 | reg) + 0x400 (group), for the disassembler. */
export const ROW_INDEX: (OpcodeRow | undefined)[] = /* @__PURE__ */ new Array<
  OpcodeRow | undefined
>(0x2400);

for (const r of OPCODE_TABLE) {
  const modrm = r.ops.split(',').some((o) => OPERAND_MODRM.test(o)) || r.reg !== undefined;
  let info = (modrm ? MODRM : 0) | attrBits(r.attrs);
  if (r.reg !== undefined) {
    info = MODRM | GROUP | (attrBits(r.attrs) & I64);
    DECODE[r.op] |= info;
    GROUP_HANDLERS[(r.op << 3) | r.reg] = r.fn;
    GROUP_INFO[(r.op << 3) | r.reg] = (attrBits(r.attrs) & D64) | (immKind(r.ops) << 8);
    ROW_INDEX[0x400 + ((r.op << 3) | r.reg)] = r;
  } else {
    DECODE[r.op] = info | (immKind(r.ops) << 8);
    HANDLERS[r.op] = r.fn;
    ROW_INDEX[r.op] = r;
  }
}
// SSE/SSE2 opcodes: one dispatcher each, the row chosen by the mandatory prefix (sse-table.ts).
for (const { op, ib } of sseOpcodes()) {
  DECODE[0x100 | op] = MODRM | (ib ? IMM.Ib << 8 : 0);
  HANDLERS[0x100 | op] = sseDispatch;
}
// x87 escapes D8..DF (ops/x87.ts decodes ModRM itself).
for (let op = 0xd8; op <= 0xdf; op++) {
  DECODE[op] = MODRM;
  HANDLERS[op] = X87;
}
// Group opcodes whose rows do not all carry i64 are valid in 64-bit mode.
DECODE[0x82] |= I64;
