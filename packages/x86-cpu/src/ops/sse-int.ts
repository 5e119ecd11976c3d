/**
 * SSE2 integer SIMD on XMM registers (the 66-prefixed 0F 60..7F and D1..FE forms): add/sub with
 * wrap-around and saturation, compares, multiplies, shifts, logic, unpacks, packs, shuffles,
 * PMOVMSKB, min/max, averages, PSADBW, PINSRW/PEXTRW. The checks (#UD/#NM) run in the dispatcher.
 * @see Intel SDM Vol. 2 (each mnemonic); Vol. 1 §11.4.3 (SSE2 128-bit SIMD integer instructions)
 */
import type { X86Cpu } from '../cpu.ts';
import { srcW } from '../fpu/access.ts';

/** Scratch register slot for results that read their destination while writing it. */
const TMP = 17;

function commit(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const d = cpu.reg << 2;
  x[d] = x[TMP * 4];
  x[d + 1] = x[TMP * 4 + 1];
  x[d + 2] = x[TMP * 4 + 2];
  x[d + 3] = x[TMP * 4 + 3];
}

function satS8(v: number): number {
  return Math.min(127, Math.max(-128, v));
}
function satU8(v: number): number {
  return Math.min(255, Math.max(0, v));
}
function satS16(v: number): number {
  return Math.min(32767, Math.max(-32768, v));
}
function satU16(v: number): number {
  return Math.min(65535, Math.max(0, v));
}

/** @internal Byte-lane binary operations by SDM mnemonic. */
function bytes(cpu: X86Cpu, kind: number): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true) << 4;
  const d = cpu.reg << 4;
  const u = f.u8;
  const i8 = f.i8;
  for (let i = 0; i < 16; i++) {
    const a = u[d + i];
    const b = u[s + i];
    switch (kind) {
      case 0: // PADDB
        u[d + i] = a + b;
        break;
      case 1: // PSUBB
        u[d + i] = a - b;
        break;
      case 2: // PADDSB
        i8[d + i] = satS8(i8[d + i] + i8[s + i]);
        break;
      case 3: // PSUBSB
        i8[d + i] = satS8(i8[d + i] - i8[s + i]);
        break;
      case 4: // PADDUSB
        u[d + i] = satU8(a + b);
        break;
      case 5: // PSUBUSB
        u[d + i] = satU8(a - b);
        break;
      case 6: // PCMPEQB
        u[d + i] = a === b ? 0xff : 0;
        break;
      case 7: // PCMPGTB
        u[d + i] = i8[d + i] > i8[s + i] ? 0xff : 0;
        break;
      case 8: // PMINUB
        u[d + i] = Math.min(a, b);
        break;
      case 9: // PMAXUB
        u[d + i] = Math.max(a, b);
        break;
      case 10: // PAVGB
        u[d + i] = (a + b + 1) >> 1;
        break;
    }
  }
}

function words(cpu: X86Cpu, kind: number): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true) << 3;
  const d = cpu.reg << 3;
  const u = f.u16;
  const i16 = f.i16;
  for (let i = 0; i < 8; i++) {
    const a = u[d + i];
    const b = u[s + i];
    const sa = i16[d + i];
    const sb = i16[s + i];
    switch (kind) {
      case 0: // PADDW
        u[d + i] = a + b;
        break;
      case 1: // PSUBW
        u[d + i] = a - b;
        break;
      case 2: // PADDSW
        i16[d + i] = satS16(sa + sb);
        break;
      case 3: // PSUBSW
        i16[d + i] = satS16(sa - sb);
        break;
      case 4: // PADDUSW
        u[d + i] = satU16(a + b);
        break;
      case 5: // PSUBUSW
        u[d + i] = satU16(a - b);
        break;
      case 6: // PCMPEQW
        u[d + i] = a === b ? 0xffff : 0;
        break;
      case 7: // PCMPGTW
        u[d + i] = sa > sb ? 0xffff : 0;
        break;
      case 8: // PMINSW
        i16[d + i] = Math.min(sa, sb);
        break;
      case 9: // PMAXSW
        i16[d + i] = Math.max(sa, sb);
        break;
      case 10: // PAVGW
        u[d + i] = (a + b + 1) >> 1;
        break;
      case 11: // PMULLW
        u[d + i] = Math.imul(a, b);
        break;
      case 12: // PMULHW
        u[d + i] = (sa * sb) >> 16;
        break;
      case 13: // PMULHUW
        u[d + i] = (a * b) >>> 16;
        break;
    }
  }
}

function dwords(cpu: X86Cpu, kind: number): void {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  const d = cpu.reg << 2;
  for (let i = 0; i < 4; i++) {
    const a = x[d + i];
    const b = x[s + i];
    if (kind === 0) x[d + i] = (a + b) | 0;
    else if (kind === 1) x[d + i] = (a - b) | 0;
    else if (kind === 6) x[d + i] = a === b ? -1 : 0;
    else x[d + i] = a > b ? -1 : 0;
  }
}

/** Adds or subtracts the two qwords (int32 halves with carry/borrow). */
function qwords(cpu: X86Cpu, sub: boolean): void {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  const d = cpu.reg << 2;
  for (let i = 0; i < 4; i += 2) {
    const al = x[d + i] >>> 0;
    const bl = x[s + i] >>> 0;
    if (sub) {
      x[d + i] = (al - bl) | 0;
      x[d + i + 1] = (x[d + i + 1] - x[s + i + 1] - (al < bl ? 1 : 0)) | 0;
    } else {
      const lo = al + bl;
      x[d + i] = lo | 0;
      x[d + i + 1] = (x[d + i + 1] + x[s + i + 1] + (lo > 0xffffffff ? 1 : 0)) | 0;
    }
  }
}

/** @internal PADDB (66 0F FC). */ export const PADDB = (c: X86Cpu): void => bytes(c, 0);
/** @internal PSUBB (66 0F F8). */ export const PSUBB = (c: X86Cpu): void => bytes(c, 1);
/** @internal PADDSB (66 0F EC). */ export const PADDSB = (c: X86Cpu): void => bytes(c, 2);
/** @internal PSUBSB (66 0F E8). */ export const PSUBSB = (c: X86Cpu): void => bytes(c, 3);
/** @internal PADDUSB (66 0F DC). */ export const PADDUSB = (c: X86Cpu): void => bytes(c, 4);
/** @internal PSUBUSB (66 0F D8). */ export const PSUBUSB = (c: X86Cpu): void => bytes(c, 5);
/** @internal PCMPEQB (66 0F 74). */ export const PCMPEQB = (c: X86Cpu): void => bytes(c, 6);
/** @internal PCMPGTB (66 0F 64). */ export const PCMPGTB = (c: X86Cpu): void => bytes(c, 7);
/** @internal PMINUB (66 0F DA). */ export const PMINUB = (c: X86Cpu): void => bytes(c, 8);
/** @internal PMAXUB (66 0F DE). */ export const PMAXUB = (c: X86Cpu): void => bytes(c, 9);
/** @internal PAVGB (66 0F E0). */ export const PAVGB = (c: X86Cpu): void => bytes(c, 10);
/** @internal PADDW (66 0F FD). */ export const PADDW = (c: X86Cpu): void => words(c, 0);
/** @internal PSUBW (66 0F F9). */ export const PSUBW = (c: X86Cpu): void => words(c, 1);
/** @internal PADDSW (66 0F ED). */ export const PADDSW = (c: X86Cpu): void => words(c, 2);
/** @internal PSUBSW (66 0F E9). */ export const PSUBSW = (c: X86Cpu): void => words(c, 3);
/** @internal PADDUSW (66 0F DD). */ export const PADDUSW = (c: X86Cpu): void => words(c, 4);
/** @internal PSUBUSW (66 0F D9). */ export const PSUBUSW = (c: X86Cpu): void => words(c, 5);
/** @internal PCMPEQW (66 0F 75). */ export const PCMPEQW = (c: X86Cpu): void => words(c, 6);
/** @internal PCMPGTW (66 0F 65). */ export const PCMPGTW = (c: X86Cpu): void => words(c, 7);
/** @internal PMINSW (66 0F EA). */ export const PMINSW = (c: X86Cpu): void => words(c, 8);
/** @internal PMAXSW (66 0F EE). */ export const PMAXSW = (c: X86Cpu): void => words(c, 9);
/** @internal PAVGW (66 0F E3). */ export const PAVGW = (c: X86Cpu): void => words(c, 10);
/** @internal PMULLW (66 0F D5). */ export const PMULLW = (c: X86Cpu): void => words(c, 11);
/** @internal PMULHW (66 0F E5). */ export const PMULHW = (c: X86Cpu): void => words(c, 12);
/** @internal PMULHUW (66 0F E4). */ export const PMULHUW = (c: X86Cpu): void => words(c, 13);
/** @internal PADDD (66 0F FE). */ export const PADDD = (c: X86Cpu): void => dwords(c, 0);
/** @internal PSUBD (66 0F FA). */ export const PSUBD = (c: X86Cpu): void => dwords(c, 1);
/** @internal PCMPEQD (66 0F 76). */ export const PCMPEQD = (c: X86Cpu): void => dwords(c, 6);
/** @internal PCMPGTD (66 0F 66). */ export const PCMPGTD = (c: X86Cpu): void => dwords(c, 7);
/** @internal PADDQ (66 0F D4). */ export const PADDQ = (c: X86Cpu): void => qwords(c, false);
/** @internal PSUBQ (66 0F FB). */ export const PSUBQ = (c: X86Cpu): void => qwords(c, true);

function logic(cpu: X86Cpu, kind: number): void {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  const d = cpu.reg << 2;
  for (let i = 0; i < 4; i++) {
    const a = x[d + i];
    const b = x[s + i];
    x[d + i] = kind === 0 ? a & b : kind === 1 ? ~a & b : kind === 2 ? a | b : a ^ b;
  }
}

/** @internal PAND/ANDPS/ANDPD (0F 54, 66 0F DB). */ export const PAND = (c: X86Cpu): void =>
  logic(c, 0);
/** @internal PANDN/ANDNPS/ANDNPD (0F 55, 66 0F DF). */ export const PANDN = (c: X86Cpu): void =>
  logic(c, 1);
/** @internal POR/ORPS/ORPD (0F 56, 66 0F EB). */ export const POR = (c: X86Cpu): void =>
  logic(c, 2);
/** @internal PXOR/XORPS/XORPD (0F 57, 66 0F EF). */ export const PXOR = (c: X86Cpu): void =>
  logic(c, 3);

/** @internal PMULUDQ (66 0F F4): unsigned 32×32→64 on dwords 0 and 2. */
export function PMULUDQ(cpu: X86Cpu): void {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  const d = cpu.reg << 2;
  for (let i = 0; i < 4; i += 2) {
    const a = x[d + i] >>> 0;
    const b = x[s + i] >>> 0;
    // 16-bit pieces keep every partial product exact in a double.
    const al = a & 0xffff;
    const ah = a >>> 16;
    const bl = b & 0xffff;
    const bh = b >>> 16;
    const ll = al * bl;
    const mid = ah * bl + al * bh + (ll >>> 16);
    const lo = ((mid & 0xffff) << 16) | (ll & 0xffff);
    const hi = ah * bh + Math.floor(mid / 65536);
    x[d + i] = lo;
    x[d + i + 1] = hi | 0;
  }
}

/** @internal PMADDWD (66 0F F5). */
export function PMADDWD(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true) << 3;
  const d = cpu.reg << 3;
  const w = f.i16;
  for (let i = 0; i < 4; i++) {
    const k = i * 2;
    const v = w[d + k] * w[s + k] + w[d + k + 1] * w[s + k + 1];
    f.x[(d >> 1) + i] = v | 0;
  }
}

/** @internal PSADBW (66 0F F6). */
export function PSADBW(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true) << 4;
  const d = cpu.reg << 4;
  const u = f.u8;
  for (let h = 0; h < 16; h += 8) {
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Math.abs(u[d + h + i] - u[s + h + i]);
    f.x[(d >> 2) + (h >> 2)] = sum;
    f.x[(d >> 2) + (h >> 2) + 1] = 0;
  }
}

/** Shifts register `r` by `count` (unsigned; ≥ width clears, or fills with the sign for SAR). */
function shiftReg(cpu: X86Cpu, r: number, width: number, kind: number, count: number): void {
  const f = cpu.fpu;
  if (width === 16) {
    const u = f.u16;
    const b = r << 3;
    for (let i = 0; i < 8; i++) {
      if (kind === 2) u[b + i] = f.i16[b + i] >> Math.min(count, 15);
      else if (count > 15) u[b + i] = 0;
      else u[b + i] = kind === 0 ? u[b + i] << count : u[b + i] >>> count;
    }
  } else if (width === 32) {
    const x = f.x;
    const b = r << 2;
    for (let i = 0; i < 4; i++) {
      if (kind === 2) x[b + i] = x[b + i] >> Math.min(count, 31);
      else if (count > 31) x[b + i] = 0;
      else x[b + i] = kind === 0 ? x[b + i] << count : x[b + i] >>> count;
    }
  } else {
    const x = f.x;
    const b = r << 2;
    for (let i = 0; i < 4; i += 2) {
      const lo = x[b + i];
      const hi = x[b + i + 1];
      if (count > 63) {
        x[b + i] = 0;
        x[b + i + 1] = 0;
      } else if (count >= 32) {
        if (kind === 0) {
          x[b + i + 1] = lo << (count - 32);
          x[b + i] = 0;
        } else {
          x[b + i] = hi >>> (count - 32);
          x[b + i + 1] = 0;
        }
      } else if (count > 0) {
        if (kind === 0) {
          x[b + i + 1] = (hi << count) | (lo >>> (32 - count));
          x[b + i] = lo << count;
        } else {
          x[b + i] = (lo >>> count) | (hi << (32 - count));
          x[b + i + 1] = hi >>> count;
        }
      }
    }
  }
}

/** The shift count of an xmm/m128 operand: its low qword, saturated. */
function countFromSrc(cpu: X86Cpu): number {
  const x = cpu.fpu.x;
  const s = srcW(cpu, true) << 2;
  return x[s + 1] !== 0 || x[s] >>> 0 > 255 ? 255 : x[s];
}

/** @internal PSRLW (66 0F D1). */ export const PSRLW = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 16, 1, countFromSrc(c));
/** @internal PSRLD (66 0F D2). */ export const PSRLD = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 32, 1, countFromSrc(c));
/** @internal PSRLQ (66 0F D3). */ export const PSRLQ = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 64, 1, countFromSrc(c));
/** @internal PSRAW (66 0F E1). */ export const PSRAW = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 16, 2, countFromSrc(c));
/** @internal PSRAD (66 0F E2). */ export const PSRAD = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 32, 2, countFromSrc(c));
/** @internal PSLLW (66 0F F1). */ export const PSLLW = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 16, 0, countFromSrc(c));
/** @internal PSLLD (66 0F F2). */ export const PSLLD = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 32, 0, countFromSrc(c));
/** @internal PSLLQ (66 0F F3). */ export const PSLLQ = (c: X86Cpu): void =>
  shiftReg(c, c.reg, 64, 0, countFromSrc(c));

/** Byte shift of a whole register (PSRLDQ right, PSLLDQ left). */
function shiftBytes(cpu: X86Cpu, r: number, left: boolean, n: number): void {
  const u = cpu.fpu.u8;
  const b = r << 4;
  const t = TMP << 4;
  for (let i = 0; i < 16; i++) {
    const k = left ? i - n : i + n;
    u[t + i] = k >= 0 && k < 16 ? u[b + k] : 0;
  }
  for (let i = 0; i < 16; i++) u[b + i] = u[t + i];
}

/**
 * @internal Groups 12/13/14 (66 0F 71/72/73 /r ib): PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD,
 * PSRLQ/PSRLDQ/PSLLQ/PSLLDQ by an immediate on the register in ModRM.rm.
 */
export function PSHIFT_imm(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  const n = cpu.imm & 0xff;
  const op = cpu.opcode & 0xff;
  const k = cpu.reg & 7;
  const r = cpu.rm;
  if (op === 0x73 && (k === 3 || k === 7)) {
    shiftBytes(cpu, r, k === 7, n);
    return;
  }
  const width = op === 0x71 ? 16 : op === 0x72 ? 32 : 64;
  if (k === 2) shiftReg(cpu, r, width, 1, n);
  else if (k === 6) shiftReg(cpu, r, width, 0, n);
  else if (k === 4 && width !== 64) shiftReg(cpu, r, width, 2, n);
  else cpu.ud();
}

/** Interleaves the low (`high` false) or high halves of dest and source by `size` bytes. */
function unpack(cpu: X86Cpu, size: number, high: boolean): void {
  const u = cpu.fpu.u8;
  const s = srcW(cpu, true) << 4;
  const d = cpu.reg << 4;
  const t = TMP << 4;
  const base = high ? 8 : 0;
  for (let i = 0, o = 0; i < 8; i += size) {
    for (let k = 0; k < size; k++) u[t + o + k] = u[d + base + i + k];
    o += size;
    for (let k = 0; k < size; k++) u[t + o + k] = u[s + base + i + k];
    o += size;
  }
  commit(cpu);
}

/** @internal PUNPCKLBW (66 0F 60). */ export const PUNPCKLBW = (c: X86Cpu): void =>
  unpack(c, 1, false);
/** @internal PUNPCKLWD (66 0F 61). */ export const PUNPCKLWD = (c: X86Cpu): void =>
  unpack(c, 2, false);
/** @internal PUNPCKLDQ/UNPCKLPS (66 0F 62, 0F 14). */ export const PUNPCKLDQ = (c: X86Cpu): void =>
  unpack(c, 4, false);
/** @internal PUNPCKLQDQ/UNPCKLPD (66 0F 6C, 66 0F 14). */ export const PUNPCKLQDQ = (
  c: X86Cpu,
): void => unpack(c, 8, false);
/** @internal PUNPCKHBW (66 0F 68). */ export const PUNPCKHBW = (c: X86Cpu): void =>
  unpack(c, 1, true);
/** @internal PUNPCKHWD (66 0F 69). */ export const PUNPCKHWD = (c: X86Cpu): void =>
  unpack(c, 2, true);
/** @internal PUNPCKHDQ/UNPCKHPS (66 0F 6A, 0F 15). */ export const PUNPCKHDQ = (c: X86Cpu): void =>
  unpack(c, 4, true);
/** @internal PUNPCKHQDQ/UNPCKHPD (66 0F 6D, 66 0F 15). */ export const PUNPCKHQDQ = (
  c: X86Cpu,
): void => unpack(c, 8, true);

/** Packs dest then source lanes with saturation (kind 0 SSWB, 1 USWB, 2 SSDW). */
function pack(cpu: X86Cpu, kind: number): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true);
  const d = cpu.reg;
  const t = TMP;
  if (kind === 2) {
    for (let i = 0; i < 4; i++) f.i16[(t << 3) + i] = satS16(f.x[(d << 2) + i]);
    for (let i = 0; i < 4; i++) f.i16[(t << 3) + 4 + i] = satS16(f.x[(s << 2) + i]);
  } else {
    for (let i = 0; i < 8; i++) {
      const a = f.i16[(d << 3) + i];
      const b = f.i16[(s << 3) + i];
      f.u8[(t << 4) + i] = kind === 0 ? satS8(a) & 0xff : satU8(a);
      f.u8[(t << 4) + 8 + i] = kind === 0 ? satS8(b) & 0xff : satU8(b);
    }
  }
  commit(cpu);
}

/** @internal PACKSSWB (66 0F 63). */ export const PACKSSWB = (c: X86Cpu): void => pack(c, 0);
/** @internal PACKUSWB (66 0F 67). */ export const PACKUSWB = (c: X86Cpu): void => pack(c, 1);
/** @internal PACKSSDW (66 0F 6B). */ export const PACKSSDW = (c: X86Cpu): void => pack(c, 2);

/** @internal PSHUFD (66 0F 70), PSHUFHW (F3 0F 70), PSHUFLW (F2 0F 70). */
export function PSHUF(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const s = srcW(cpu, true);
  const n = cpu.imm & 0xff;
  const t = TMP;
  if (cpu.rep === 1) {
    for (let i = 0; i < 4; i++) f.x[(t << 2) + i] = f.x[(s << 2) + ((n >> (i * 2)) & 3)];
  } else {
    const hi = cpu.rep === 3 ? 4 : 0;
    const keep = 4 - hi;
    for (let i = 0; i < 4; i++) f.u16[(t << 3) + keep + i] = f.u16[(s << 3) + keep + i];
    for (let i = 0; i < 4; i++)
      f.u16[(t << 3) + hi + i] = f.u16[(s << 3) + hi + ((n >> (i * 2)) & 3)];
  }
  commit(cpu);
}

/** @internal PMOVMSKB (66 0F D7): the byte sign bits to a general register. */
export function PMOVMSKB(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  const u = cpu.fpu.u8;
  const s = cpu.rm << 4;
  let m = 0;
  for (let i = 0; i < 16; i++) m |= (u[s + i] >> 7) << i;
  cpu.setReg(cpu.mode64 && (cpu.rex & 8) !== 0 ? 64 : 32, cpu.reg, m, 0);
}

/** @internal PINSRW (66 0F C4 /r ib). */
export function PINSRW(cpu: X86Cpu): void {
  const v = cpu.mod === 3 ? cpu.lo[cpu.rm] : cpu.read(cpu.eaSeg, cpu.ea, 16);
  cpu.fpu.u16[(cpu.reg << 3) + (cpu.imm & 7)] = v;
}

/** @internal PEXTRW (66 0F C5 /r ib): a word to a general register (register form only). */
export function PEXTRW(cpu: X86Cpu): void {
  if (cpu.mod !== 3) cpu.ud();
  const v = cpu.fpu.u16[(cpu.rm << 3) + (cpu.imm & 7)];
  cpu.setReg(cpu.mode64 && (cpu.rex & 8) !== 0 ? 64 : 32, cpu.reg, v, 0);
}
