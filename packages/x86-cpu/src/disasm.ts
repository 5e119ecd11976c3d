/**
 * A disassembler for traces and error messages, driven by the same opcode table as the
 * decoder. Output is Intel syntax that nasm assembles back (`mov eax, dword [ebx+0x4]`).
 * @see Intel SDM Vol. 2 §2.1 (instruction format), Appendix A (opcode map)
 */
import { IMM } from './decode/info.ts';
import { ARPL_ROW, DECODE, GROUP_INFO, type OpcodeRow, ROW_INDEX } from './decode/table.ts';
import { fpuText } from './disasm-fpu.ts';

/** One disassembled instruction. */
export interface Disassembly {
  /** The instruction text, e.g. `mov eax, dword [ebx+0x4]`. */
  text: string;
  /** Its length in bytes (1 for an undecodable byte, shown as `(bad)`). */
  length: number;
}

const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const R8X = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
const SREG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const SIZE_NAME: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };
const MEM16 = ['bx+si', 'bx+di', 'bp+si', 'bp+di', 'si', 'di', 'bp', 'bx'];

function regName(size: number, r: number, rex: boolean): string {
  if (size === 8) return r < 8 ? (rex ? R8X[r] : R8[r]) : `r${r}b`;
  if (size === 16) return r < 8 ? R16[r] : `r${r}w`;
  if (size === 32) return r < 8 ? R32[r] : `r${r}d`;
  return r < 8 ? R64[r] : `r${r}`;
}

function hex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/**
 * Disassembles the instruction at `bytes[offset]`, decoded for `bits` (16, 32 or 64) and
 * located at `address` (used for branch targets and RIP-relative operands).
 */
export function disassemble(
  bytes: Uint8Array,
  offset: number,
  bits: 16 | 32 | 64,
  address: number,
): Disassembly {
  let p = offset;
  const byte = (): number => {
    if (p >= bytes.length) throw new RangeError('truncated');
    return bytes[p++];
  };
  try {
    let opsize = false;
    let adsize = false;
    let seg = '';
    let rep = '';
    let lock = false;
    let rex = 0;
    let b = byte();
    for (;;) {
      if (b === 0x66) opsize = true;
      else if (b === 0x67) adsize = true;
      else if (b === 0xf0) lock = true;
      else if (b === 0xf2) rep = 'repne ';
      else if (b === 0xf3) rep = 'rep ';
      else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) seg = SREG[(b >> 3) & 3];
      else if (b === 0x64) seg = 'fs';
      else if (b === 0x65) seg = 'gs';
      else if (bits === 64 && (b & 0xf0) === 0x40) {
        rex = b;
        b = byte();
        if ((b & 0xf0) === 0x40 && bits === 64) continue;
        break;
      } else break;
      rex = 0;
      b = byte();
    }
    let op = b;
    if (b === 0x0f) {
      op = 0x100 | byte();
      if (op === 0x138) op = 0x200 | byte();
      else if (op === 0x13a) op = 0x300 | byte();
    }
    const info = DECODE[op];
    const d64 = (info & 4) !== 0;
    let osize: number;
    if (bits === 64) osize = (rex & 8) !== 0 ? 64 : d64 ? (opsize ? 16 : 64) : opsize ? 16 : 32;
    else osize = (bits === 16) !== opsize ? 16 : 32;
    const asize = bits === 64 ? (adsize ? 32 : 64) : (bits === 16) !== adsize ? 16 : 32;
    if (bits === 64 && (info & 8) !== 0) return { text: '(bad)', length: 1 };
    let row: OpcodeRow | undefined;
    let mod = 0;
    let reg = 0;
    let rm = 0;
    let mem = '';
    let ripRel = false;
    let ripDisp = 0;
    let immKind = (info >> 8) & 0xff;
    if ((info & 1) !== 0) {
      const modrm = byte();
      mod = modrm >> 6;
      reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
      rm = (modrm & 7) | ((rex & 1) << 3);
      if ((info & 2) !== 0) {
        const key = (op << 3) | (reg & 7);
        row = ROW_INDEX[0x400 + key];
        immKind = (GROUP_INFO[key] >> 8) & 0xff;
        if ((GROUP_INFO[key] & 4) !== 0 && bits === 64 && osize === 32) osize = 64;
      } else row = op === 0x63 && bits !== 64 ? ARPL_ROW : ROW_INDEX[op];
      if (mod !== 3) {
        if (asize === 16) {
          let disp = 0;
          let base = MEM16[modrm & 7];
          if (mod === 0 && (modrm & 7) === 6) {
            base = '';
            disp = byte() | (byte() << 8);
          } else if (mod === 1) disp = (byte() << 24) >> 24;
          else if (mod === 2) disp = ((byte() | (byte() << 8)) << 16) >> 16;
          mem =
            base === ''
              ? hex(disp)
              : disp === 0
                ? base
                : `${base}${disp < 0 ? '' : '+'}${hex(disp)}`;
        } else {
          const rsz = asize === 64 ? 64 : 32;
          let parts = '';
          let disp = 0;
          if ((modrm & 7) === 4) {
            const sib = byte();
            const index = ((sib >> 3) & 7) | ((rex & 2) << 2);
            const baseLow = sib & 7;
            if (baseLow === 5 && mod === 0)
              disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
            else parts = regName(rsz, baseLow | ((rex & 1) << 3), false);
            if (index !== 4) {
              const idx = `${regName(rsz, index, false)}*${1 << (sib >> 6)}`;
              parts = parts === '' ? idx : `${parts}+${idx}`;
            }
          } else if ((modrm & 7) === 5 && mod === 0) {
            disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
            if (bits === 64) {
              ripRel = true;
              ripDisp = disp;
            }
          } else parts = regName(rsz, rm, false);
          if (mod === 1) disp = (byte() << 24) >> 24;
          else if (mod === 2) disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
          if (parts === '') mem = hex(asize === 32 || bits !== 64 ? disp >>> 0 : disp);
          else mem = disp === 0 ? parts : `${parts}${disp < 0 ? '' : '+'}${hex(disp)}`;
        }
      }
    } else row = ROW_INDEX[op];
    if (row === undefined && (info & 1) !== 0) {
      // x87 and SSE: mnemonics by ModRM and mandatory prefix (disasm-fpu.ts).
      const imm8 = immKind === IMM.Ib ? byte() : 0;
      const length = p - offset;
      const where = ripRel ? `rel ${hex(address + length + ripDisp)}` : mem;
      const text = fpuText({
        op,
        pfx: rep === 'rep ' ? 3 : rep === 'repne ' ? 2 : opsize ? 1 : 0,
        mod,
        reg,
        rm,
        w: (rex & 8) !== 0,
        mem: `${seg === '' ? '' : `${seg}:`}[${where}]`,
        imm: imm8,
        bits,
      });
      if (text !== undefined) return { text, length };
    }
    if (row === undefined) return { text: '(bad)', length: 1 };
    // Immediates.
    let imm = 0;
    let immHi = 0;
    let imm2 = 0;
    switch (immKind) {
      case IMM.Ib:
      case IMM.Jb:
        imm = (byte() << 24) >> 24;
        break;
      case IMM.Iw:
        imm = byte() | (byte() << 8);
        break;
      case IMM.Iz:
      case IMM.Jz:
        imm =
          osize === 16
            ? ((byte() | (byte() << 8)) << 16) >> 16
            : byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
        break;
      case IMM.Iv:
        if (osize === 16) imm = byte() | (byte() << 8);
        else imm = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
        if (osize === 64) immHi = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
        break;
      case IMM.Ap:
        imm =
          osize === 16
            ? byte() | (byte() << 8)
            : (byte() | (byte() << 8) | (byte() << 16) | (byte() << 24)) >>> 0;
        imm2 = byte() | (byte() << 8);
        break;
      case IMM.Ov:
        if (asize === 16) mem = hex(byte() | (byte() << 8));
        else if (asize === 32)
          mem = hex((byte() | (byte() << 8) | (byte() << 16) | (byte() << 24)) >>> 0);
        else {
          const lo = (byte() | (byte() << 8) | (byte() << 16) | (byte() << 24)) >>> 0;
          const hi = (byte() | (byte() << 8) | (byte() << 16) | (byte() << 24)) >>> 0;
          mem = hi === 0 ? hex(lo) : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
        }
        break;
      case IMM.IwIb:
        imm = byte() | (byte() << 8);
        imm2 = byte();
        break;
    }
    const length = p - offset;
    const next = address + length;
    if (ripRel) mem = `rel ${hex(next + ripDisp)}`;
    const rexOn = rex !== 0;
    const sizeOf = (code: string): number => {
      const c = code.slice(1);
      if (c === 'b') return 8;
      if (c === 'w') return 16;
      if (c === 'd') return 32;
      if (c === 'q') return 64;
      if (c === 'z') return osize === 16 ? 16 : 32;
      return osize;
    };
    const ops = row.ops === '' ? [] : row.ops.split(',');
    const hasReg = ops.some((o) => /^(G|Z|R|AL$|rAX|eAX|Sw|Cd|Dd)/.test(o));
    const memText = (size: number) => {
      const sz =
        hasReg && !/^(MOVZX|MOVSX|MOVSXD)$/.test(row.mnem) ? '' : `${SIZE_NAME[size] ?? ''} `;
      return `${sz}${seg === '' ? '' : `${seg}:`}[${mem}]`;
    };
    const texts: string[] = [];
    for (const o of ops) {
      if (/^(AL|CL|DX|1|ES|CS|SS|DS|FS|GS)$/.test(o)) {
        texts.push(o.toLowerCase());
        continue;
      }
      switch (o[0]) {
        case 'E':
          texts.push(mod === 3 ? regName(sizeOf(o), rm, rexOn) : memText(sizeOf(o)));
          break;
        case 'M':
          if (mod === 3) return { text: '(bad)', length: 1 };
          if (o === 'Mp')
            texts.push(
              /^(CALLF|JMPF)$/.test(row.mnem) ? `far ${memText(0).trim()}` : memText(0).trim(),
            );
          else texts.push(memText(o === 'Mq' ? 64 : o === 'Mv' ? osize : 0).trim());
          break;
        case 'G':
          texts.push(regName(sizeOf(o), reg, rexOn));
          break;
        case 'R':
          texts.push(regName(bits === 64 ? 64 : 32, rm, false));
          break;
        case 'C':
          texts.push(`cr${reg}`);
          break;
        case 'D':
          texts.push(o === 'DX' ? 'dx' : `dr${reg}`);
          break;
        case 'S':
          texts.push(o === 'SS' ? 'ss' : (SREG[reg & 7] ?? '(bad)'));
          break;
        case 'Z':
          texts.push(regName(o === 'Zb' ? 8 : osize, (op & 7) | ((rex & 1) << 3), rexOn));
          break;
        case 'I':
          if (o === 'Iv' && osize === 64)
            texts.push(
              `0x${(immHi >>> 0).toString(16)}${(imm >>> 0).toString(16).padStart(8, '0')}`,
            );
          else if (
            o === 'Ib' &&
            (row.mnem.startsWith('IN') ||
              row.mnem.startsWith('OUT') ||
              row.mnem === 'INT' ||
              row.mnem === 'ENTER' ||
              row.mnem === 'AAM' ||
              row.mnem === 'AAD' ||
              /^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD|BT|BTS|BTR|BTC)$/.test(row.mnem))
          )
            texts.push(hex(o === 'Ib' && row.mnem === 'ENTER' ? imm2 : imm & 0xff));
          else if (o === 'Iw' && row.mnem === 'ENTER') texts.push(hex(imm));
          else texts.push(hex(imm));
          break;
        case 'J':
          texts.push(
            hex(
              bits === 64 ? next + imm : osize === 16 ? (next + imm) & 0xffff : (next + imm) >>> 0,
            ),
          );
          break;
        case 'A':
          texts.push(`${hex(imm2)}:${hex(imm)}`);
          break;
        case 'O':
          texts.push(memText(o === 'Ob' ? 8 : osize));
          break;
        case 'r':
          texts.push(regName(osize, 0, false));
          break;
        case 'e':
          texts.push(regName(osize === 16 ? 16 : 32, 0, false));
          break;
        default:
          texts.push(o.toLowerCase());
      }
    }
    let mnem = row.mnem.toLowerCase();
    const suffix = osize === 16 ? 'w' : osize === 32 ? 'd' : 'q';
    if (/^(movs|cmps|stos|lods|scas|ins|outs)$/.test(mnem)) mnem += suffix;
    else if (mnem === 'cbw') mnem = osize === 16 ? 'cbw' : osize === 32 ? 'cwde' : 'cdqe';
    else if (mnem === 'cwd') mnem = osize === 16 ? 'cwd' : osize === 32 ? 'cdq' : 'cqo';
    else if (
      /^(pushf|popf|pusha|popa|iret)$/.test(mnem) &&
      osize !== (bits === 16 ? 16 : bits === 64 ? 64 : 32)
    )
      mnem += suffix;
    else if (mnem === 'callf' || mnem === 'jmpf') mnem = mnem.slice(0, -1);
    else if (mnem === 'jcxz') mnem = asize === 16 ? 'jcxz' : asize === 32 ? 'jecxz' : 'jrcxz';
    else if (mnem === 'xlat') mnem = 'xlatb';
    else if ((op === 0x1bc || op === 0x1bd) && rep === 'rep ')
      mnem = op === 0x1bc ? 'tzcnt' : 'lzcnt';
    if (op === 0x1b8 && rep !== 'rep ') return { text: '(bad)', length: 1 };
    const isString = /^(movs|cmps|stos|lods|scas|ins|outs)/.test(mnem);
    const pre = (lock ? 'lock ' : '') + (isString ? rep : '');
    const segPre = seg !== '' && mem === '' && isString ? `${seg} ` : '';
    return {
      text: `${pre}${segPre}${mnem}${texts.length > 0 ? ` ${texts.join(', ')}` : ''}`,
      length,
    };
  } catch {
    return { text: '(bad)', length: 1 };
  }
}

/** Formats one trace line: `0x1234: mov eax, dword [ebx+0x4]`. */
export function traceLine(
  bytes: Uint8Array,
  offset: number,
  bits: 16 | 32 | 64,
  address: number,
): string {
  return `${hex(address)}: ${disassemble(bytes, offset, bits, address).text}`;
}
