/**
 * x87 escape opcodes D8..DF and WAIT/FWAIT (9B): loads and stores (m32/m64/m80 reals, m16/
 * m32/m64 integers, FISTTP), FADD/FSUB(R)/FMUL/FDIV(R) in every form with precision and
 * rounding control, compares (FCOM/FUCOM/FCOMI/FUCOMI/FICOM/FTST/FXAM), FCHS/FABS/FSQRT/
 * FRNDINT/FSCALE/FXTRACT, constants, FXCH/FINCSTP/FDECSTP/FFREE(P), FCMOVcc, FLDCW/FNSTCW/
 * FNSTSW/FNCLEX/FNINIT, FLDENV/FNSTENV/FNSAVE/FRSTOR. Arithmetic is the exact soft-float of
 * `src/fpu/softfloat.ts` on 80-bit values; FPREM/FPREM1, FBLD/FBSTP and the transcendentals
 * (FSIN/FCOS/FSINCOS/FPTAN/FPATAN/F2XM1/FYL2X/FYL2XP1: exact, src/fpu/x87-trans.ts) are in
 * `src/fpu/x87-math.ts`.
 * @see Intel SDM Vol. 1 ch. 8; Vol. 2 (each mnemonic); Vol. 2D Table A-7..A-22 (x87 opcode maps)
 */
import { CR0, EFLAGS, SEG, VECTOR } from '../constants.ts';
import type { X86Cpu } from '../cpu.ts';
import { getFlags, setFlags } from '../flags.ts';
import { x87Check } from '../fpu/access.ts';
import type { Fpu } from '../fpu/fpu-state.ts';
import {
  arith,
  CLS,
  compare,
  convert,
  F32,
  F64,
  F80,
  F80_24,
  F80_53,
  FLAGS,
  type FloatFormat,
  fromInt,
  OP,
  round,
  special,
  toInt,
  unpack,
} from '../fpu/softfloat.ts';
import { fprem, fromBcd, isNanX, toBcd, toDouble, transResult } from '../fpu/x87-math.ts';
import {
  beginOp,
  C0,
  C1,
  C2,
  C3,
  commitFlags,
  fullTag,
  INDEFINITE,
  isEmpty,
  phys,
  pop,
  push,
  readM80,
  setCompareCodes,
  setPhys,
  setSt,
  st,
  underflow,
  writeM80,
  x87Mode,
} from '../fpu/x87-stack.ts';
import { f2xm1, fcos, fpatan, fsin, ftan, fyl2x, fyl2xp1, piMultiple } from '../fpu/x87-trans.ts';

/**
 * @internal The #MF check of waiting x87 instructions: an unmasked exception pending in FSW
 * (ES set) raises #MF with CR0.NE (the model has no FERR# line; without NE it is ignored).
 */
function pendingMf(cpu: X86Cpu): void {
  if ((cpu.fpu.fsw & 0x80) !== 0 && (cpu.cr0 & CR0.NE) !== 0) cpu.fault(VECTOR.MF, -1);
}

/** @internal WAIT/FWAIT (9B): #NM with CR0.MP and CR0.TS, then pending unmasked x87 exceptions (#MF). */
export function FWAIT(cpu: X86Cpu): void {
  if ((cpu.cr0 & (CR0.MP | CR0.TS)) === (CR0.MP | CR0.TS)) cpu.fault(VECTOR.NM, -1);
  pendingMf(cpu);
}

/** The rounding format selected by FCW.PC for the basic arithmetic. */
function pcFormat(f: Fpu): FloatFormat {
  const pc = (f.fcw >> 8) & 3;
  return pc === 0 ? F80_24 : pc === 2 ? F80_53 : F80;
}

/** Arithmetic kinds by ModRM.reg of D8/DC/DA/DE: ADD MUL COM COMP SUB SUBR DIV DIVR. */
function arithOp(
  cpu: X86Cpu,
  kind: number,
  dest: number,
  a: bigint | null,
  b: bigint | null,
  popAfter: boolean,
): void {
  const f = cpu.fpu;
  if (a === null || b === null) {
    if (!underflow(f)) return;
    setSt(f, dest, INDEFINITE);
    if (popAfter) pop(f);
    return;
  }
  const mode = x87Mode(f);
  let op: number = OP.ADD;
  let x = a;
  let y = b;
  switch (kind) {
    case 0:
      op = OP.ADD;
      break;
    case 1:
      op = OP.MUL;
      break;
    case 4:
      op = OP.SUB;
      break;
    case 5:
      op = OP.SUB;
      x = b;
      y = a;
      break;
    case 6:
      op = OP.DIV;
      break;
    default:
      op = OP.DIV;
      x = b;
      y = a;
  }
  const r = arith(pcFormat(f), op, x, y, mode);
  if (commitFlags(f)) setSt(f, dest, r);
  if (popAfter) pop(f);
}

/** FCOM/FCOMP/FUCOM family: C3/C2/C0 from comparing ST(0) with `b`. */
function compareOp(cpu: X86Cpu, b: bigint | null, signal: boolean, pops: number): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || b === null) {
    if (!underflow(f)) return;
    f.fsw |= C0 | C2 | C3;
  } else {
    const c = compare(F80, st(f, 0), b, x87Mode(f), signal);
    commitFlags(f);
    setCompareCodes(f, c);
  }
  for (let i = 0; i < pops; i++) pop(f);
}

/** FCOMI/FUCOMI(P): ZF/PF/CF from comparing ST(0) with ST(i). */
function comiOp(cpu: X86Cpu, i: number, signal: boolean, popAfter: boolean): void {
  const f = cpu.fpu;
  let c = 3;
  if (isEmpty(f, 0) || isEmpty(f, i)) {
    if (!underflow(f)) return;
  } else {
    beginOp();
    c = compare(F80, st(f, 0), st(f, i), x87Mode(f), signal);
    f.fsw &= ~C1;
    if (!commitFlags(f)) return;
  }
  const bits =
    c === 3 ? EFLAGS.ZF | EFLAGS.PF | EFLAGS.CF : c === 0 ? EFLAGS.CF : c === 1 ? EFLAGS.ZF : 0;
  // Only ZF/PF/CF change (the SDM's operation; QEMU agrees), unlike COMISS which clears OF/SF/AF.
  const fl = getFlags(cpu) & ~(EFLAGS.ZF | EFLAGS.PF | EFLAGS.CF);
  setFlags(cpu, fl | bits);
  if (popAfter) pop(f);
}

/** Reads a memory real/integer operand as an 80-bit value (conversion flags into FLAGS). */
function readMem(cpu: X86Cpu, kind: number): bigint {
  const f = cpu.fpu;
  const mode = x87Mode(f);
  switch (kind) {
    case 0: // m32 real
      return convert(F32, F80, BigInt(cpu.read(cpu.eaSeg, cpu.ea, 32) >>> 0), mode);
    case 1: {
      // m64 real
      const lo = cpu.read64(cpu.eaSeg, cpu.ea);
      return convert(F64, F80, (BigInt(cpu.tmpHi >>> 0) << 32n) | BigInt(lo >>> 0), mode);
    }
    case 2: // m16 integer
      return fromInt(F80, BigInt((cpu.read(cpu.eaSeg, cpu.ea, 16) << 16) >> 16), mode);
    case 3: // m32 integer
      return fromInt(F80, BigInt(cpu.read(cpu.eaSeg, cpu.ea, 32)), mode);
    default: {
      // m64 integer
      const lo = cpu.read64(cpu.eaSeg, cpu.ea);
      return fromInt(
        F80,
        BigInt.asIntN(64, (BigInt(cpu.tmpHi >>> 0) << 32n) | BigInt(lo >>> 0)),
        mode,
      );
    }
  }
}

/** FST/FSTP to m32/m64 real (`kind` 0/1), m80 (2), or FIST(P)/FISTTP m16/m32/m64 (3/4/5, `trunc`). */
function storeMem(cpu: X86Cpu, kind: number, popAfter: boolean, trunc: boolean): void {
  const f = cpu.fpu;
  const mode = x87Mode(f);
  let v: bigint;
  if (isEmpty(f, 0)) {
    if (!underflow(f)) return;
    v = INDEFINITE;
    beginOp();
  } else {
    v = st(f, 0);
    beginOp();
  }
  const seg = cpu.eaSeg;
  switch (kind) {
    case 0: {
      const r = isEmpty(f, 0) ? 0xffc00000n : convert(F80, F32, v, mode);
      cpu.probeWrite(seg, cpu.ea, 4);
      if (!commitFlags(f)) return;
      cpu.write(seg, cpu.ea, 32, Number(r) | 0);
      break;
    }
    case 1: {
      const r = isEmpty(f, 0) ? 0xfff8000000000000n : convert(F80, F64, v, mode);
      cpu.probeWrite(seg, cpu.ea, 8);
      if (!commitFlags(f)) return;
      cpu.write64(seg, cpu.ea, Number(r & 0xffffffffn) | 0, Number(r >> 32n) | 0);
      break;
    }
    case 2:
      writeM80(cpu, 0, v);
      break;
    default: {
      const width = kind === 3 ? 16 : kind === 4 ? 32 : 64;
      const r = isEmpty(f, 0) ? 1n << BigInt(width - 1) : toInt(F80, v, width, trunc, mode);
      cpu.probeWrite(seg, cpu.ea, width >> 3);
      if (!commitFlags(f)) return;
      if (width === 64) cpu.write64(seg, cpu.ea, Number(r & 0xffffffffn) | 0, Number(r >> 32n) | 0);
      else cpu.write(seg, cpu.ea, width, Number(r) | 0);
    }
  }
  if (popAfter) pop(f);
}

/** FLD of a loaded value (conversion flags already in FLAGS). */
function loadValue(cpu: X86Cpu, v: bigint): void {
  const f = cpu.fpu;
  if (!commitFlags(f)) return;
  f.fsw &= ~C1;
  push(f, v);
}

/** Constants: 72-bit significands (value m × 2^(e - 71)), rounded by FCW.RC like the hardware. */
const CONSTS: [bigint, number][] = [
  [0x80n << 64n, 0], // 1
  [0xd49a784bcd1b8afe49n, 1], // log2(10)
  [0xb8aa3b295c17f0bbben, 0], // log2(e)
  [0xc90fdaa22168c234c4n, 1], // pi
  [0x9a209a84fbcff7988fn, -2], // log10(2)
  [0xb17217f7d1cf79abc9n, -1], // ln(2)
];

function loadConst(cpu: X86Cpu, k: number): void {
  const f = cpu.fpu;
  let v = 0n;
  if (k < 6) {
    const [m, e] = CONSTS[k];
    const saved = FLAGS[0];
    v = round(F80, 0, m, e - 71, k !== 0, x87Mode(f));
    FLAGS[0] = saved;
  }
  f.fsw &= ~C1;
  push(f, v);
}

/** FRNDINT: ST(0) rounded to an integer by FCW.RC; C1 reports a round-up via {@link roundUpC1}. */
function frndint(f: Fpu): bigint {
  const v = st(f, 0);
  const u = unpack(F80, v, false);
  if (u.cls === CLS.QNAN || u.cls === CLS.SNAN) return arith(F80, OP.ADD, v, 0n, x87Mode(f));
  if (u.denormal) FLAGS[0] |= 0x2;
  if (u.cls !== CLS.FINITE || u.e >= 0) return v;
  const sh = BigInt(-u.e);
  let r = u.m >> sh;
  const rem = u.m & ((1n << sh) - 1n);
  if (rem !== 0n) {
    FLAGS[0] |= 0x20;
    const rc = (f.fcw >> 10) & 3;
    const half = 1n << (sh - 1n);
    let up = false;
    if (rc === 0) up = rem > half || (rem === half && (r & 1n) === 1n);
    else if (rc === 1) up = u.sign === 1;
    else if (rc === 2) up = u.sign === 0;
    if (up) r += 1n;
    roundUpC1 = up;
  }
  if (r === 0n) return special(F80, u.sign, false);
  const saved = FLAGS[0];
  const out = round(F80, u.sign, r, 0, false, x87Mode(f));
  FLAGS[0] = saved;
  return out;
}

/** Set by {@link frndint} when it rounded the magnitude up. */
let roundUpC1 = false;

/** FSCALE: ST(0) × 2^trunc(ST(1)). */
function fscale(f: Fpu): bigint {
  const a = st(f, 0);
  const b = st(f, 1);
  const mode = x87Mode(f);
  const ua = unpack(F80, a, false);
  const ub = unpack(F80, b, false);
  if (ua.cls >= CLS.QNAN || ub.cls >= CLS.QNAN) return arith(F80, OP.ADD, a, b, mode);
  if (ua.denormal || ub.denormal) FLAGS[0] |= 0x2;
  if (ub.cls === CLS.INF) {
    if (ua.cls === CLS.ZERO && ub.sign === 0) {
      FLAGS[0] |= 0x1;
      return INDEFINITE;
    }
    if (ua.cls === CLS.INF && ub.sign === 1) {
      FLAGS[0] |= 0x1;
      return INDEFINITE;
    }
    if (ua.cls === CLS.FINITE) return special(F80, ua.sign, ub.sign === 0);
    return a;
  }
  if (ua.cls !== CLS.FINITE) return a;
  let n = 0;
  if (ub.cls === CLS.FINITE) {
    const t = ub.e >= 0 ? ub.m << BigInt(Math.min(ub.e, 40)) : ub.m >> BigInt(-ub.e);
    const clamped = t > 100000n ? 100000 : Number(t);
    n = ub.sign ? -clamped : clamped;
  }
  return round(F80, ua.sign, ua.m, ua.e + n, false, mode);
}

/** FXAM: the class of ST(0) in C3/C2/C0 and its sign in C1. */
function fxam(f: Fpu): void {
  let c: number;
  const p = phys(f, 0);
  const sign = (f.stSe[p] & 0x8000) !== 0;
  if (isEmpty(f, 0)) c = C3 | C0;
  else {
    const u = unpack(F80, st(f, 0), false);
    const exp = f.stSe[p] & 0x7fff;
    const j = f.stHi[p] >>> 31;
    if (exp !== 0 && j === 0)
      c = 0; // unnormal, pseudo-NaN/infinity: unsupported
    else if (u.cls === CLS.QNAN || u.cls === CLS.SNAN) c = C0;
    else if (u.cls === CLS.INF) c = C2 | C0;
    else if (u.cls === CLS.ZERO) c = C3;
    else if (u.denormal) c = C3 | C2;
    else c = C2;
  }
  f.fsw = (f.fsw & ~(C0 | C1 | C2 | C3)) | c | (sign ? C1 : 0);
}

/** FXTRACT: ST(0) → significand (pushed) and exponent (in the old ST(0) slot). */
function fxtract(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const v = st(f, 0);
  const u = unpack(F80, v, false);
  beginOp();
  let sig: bigint;
  let exp: bigint;
  if (u.cls === CLS.QNAN || u.cls === CLS.SNAN) {
    sig = arith(F80, OP.ADD, v, 0n, x87Mode(f));
    exp = sig;
  } else if (u.cls === CLS.ZERO) {
    FLAGS[0] |= 0x4;
    exp = special(F80, 1, true);
    sig = v;
  } else if (u.cls === CLS.INF) {
    exp = special(F80, 0, true);
    sig = v;
  } else {
    if (u.denormal) FLAGS[0] |= 0x2;
    const nb = u.m.toString(2).length;
    const E = u.e + nb - 1;
    exp = fromInt(F80, BigInt(E), x87Mode(f));
    sig = (BigInt(u.sign) << 79n) | (0x3fffn << 64n) | (u.m << BigInt(64 - nb));
  }
  if (!commitFlags(f)) return;
  setSt(f, 0, exp);
  push(f, sig);
}

/** True when FNSTENV/FLDENV use the real-mode layout (real and virtual-8086 mode). */
function realLayout(cpu: X86Cpu): boolean {
  return !cpu.protectedMode || (cpu.eflags & 0x20000) !== 0;
}

/**
 * The FNSTENV/FNSAVE environment: 28 bytes, or 14 with a 16-bit operand size. Protected mode
 * stores offsets and selectors; real and virtual-8086 mode store 20/32-bit linear pointers
 * split around FOP (SDM Vol. 1 Figures 8-9..8-12).
 */
function storeEnv(cpu: X86Cpu): number {
  const f = cpu.fpu;
  const big = cpu.osize !== 16;
  const step = big ? 4 : 2;
  let tags = 0;
  for (let p = 0; p < 8; p++) tags |= fullTag(f, p) << (p * 2);
  let words: number[];
  if (realLayout(cpu)) {
    const ip = ((f.fcs << 4) + f.fip) >>> 0;
    const dp = ((f.fds << 4) + f.fdp) >>> 0;
    words = [
      f.fcw,
      f.getFsw(),
      tags,
      ip & 0xffff,
      ((ip >>> 16) << 12) | (f.fop & 0x7ff),
      dp & 0xffff,
      (dp >>> 16) << 12,
    ];
  } else {
    words = [
      f.fcw,
      f.getFsw(),
      tags,
      f.fip,
      big ? ((f.fop & 0x7ff) << 16) | (f.fcs & 0xffff) : f.fcs,
      f.fdp,
      f.fds & 0xffff,
    ];
  }
  cpu.probeWrite(cpu.eaSeg, cpu.ea, step * 7);
  for (let i = 0; i < 7; i++) {
    const v = big ? (i < 3 ? words[i] & 0xffff : words[i]) : words[i] & 0xffff;
    cpu.write(cpu.eaSeg, cpu.eaPlus(i * step), big ? 32 : 16, v);
  }
  return step * 7;
}

/** FLDENV/FRSTOR: the environment stored by {@link storeEnv}, pointers included. */
function loadEnv(cpu: X86Cpu): number {
  const f = cpu.fpu;
  const big = cpu.osize !== 16;
  const step = big ? 4 : 2;
  const size = big ? 32 : 16;
  const w: number[] = [];
  for (let i = 0; i < 7; i++)
    w.push(cpu.read(cpu.eaSeg, i === 0 ? cpu.ea : cpu.eaPlus(i * step), size));
  f.fcw = w[0] & 0xffff;
  f.setFsw(w[1] & 0xffff);
  let ftw = 0;
  for (let p = 0; p < 8; p++) if (((w[2] >> (p * 2)) & 3) !== 3) ftw |= 1 << p;
  f.ftw = ftw;
  if (realLayout(cpu)) {
    f.fip = (w[3] & 0xffff) | ((w[4] >>> 12) << 16) | 0;
    f.fop = w[4] & 0x7ff;
    f.fcs = 0;
    f.fdp = (w[5] & 0xffff) | ((w[6] >>> 12) << 16) | 0;
    f.fds = 0;
  } else {
    f.fip = big ? w[3] : w[3] & 0xffff;
    f.fcs = w[4] & 0xffff;
    f.fop = big ? (w[4] >>> 16) & 0x7ff : f.fop;
    f.fdp = big ? w[5] : w[5] & 0xffff;
    f.fds = w[6] & 0xffff;
  }
  return step * 7;
}

/** @internal The x87 escape opcodes D8..DF. */
export function X87(cpu: X86Cpu): void {
  x87Check(cpu);
  const op = cpu.opcode;
  const reg = cpu.reg & 7;
  const f = cpu.fpu;
  const control =
    (op === 0xd9 && cpu.mod !== 3 && reg >= 4) ||
    (op === 0xdb && cpu.mod === 3 && reg === 4) ||
    (op === 0xdd && cpu.mod !== 3 && reg >= 4) ||
    (op === 0xdf && cpu.mod === 3 && reg === 4);
  // Non-control instructions wait for pending unmasked exceptions (#MF) and record their
  // instruction and data pointers (FOP is not recorded, as in QEMU).
  if (!control) {
    pendingMf(cpu);
    f.fip = cpu.instrStart | 0;
    f.fcs = cpu.segSel[SEG.CS];
    if (cpu.mod !== 3) {
      f.fdp = cpu.ea | 0;
      f.fds = cpu.segSel[cpu.eaSeg];
    }
  }
  if (cpu.mod !== 3) {
    memForm(cpu, op, reg);
    return;
  }
  regForm(cpu, op, reg, cpu.rm & 7, f);
}

function memForm(cpu: X86Cpu, op: number, reg: number): void {
  const f = cpu.fpu;
  switch (op) {
    case 0xd8:
    case 0xdc:
    case 0xda:
    case 0xde: {
      const kind = op === 0xd8 ? 0 : op === 0xdc ? 1 : op === 0xda ? 3 : 2;
      beginOp();
      const b = readMem(cpu, kind);
      if (reg === 2 || reg === 3) {
        compareOp(cpu, b, true, reg === 3 ? 1 : 0);
        return;
      }
      arithOp(cpu, reg, 0, isEmpty(f, 0) ? null : st(f, 0), b, false);
      return;
    }
    case 0xd9:
      switch (reg) {
        case 0:
          beginOp();
          loadValue(cpu, readMem(cpu, 0));
          return;
        case 2:
        case 3:
          storeMem(cpu, 0, reg === 3, false);
          return;
        case 4:
          loadEnv(cpu);
          return;
        case 5:
          f.fcw = cpu.read(cpu.eaSeg, cpu.ea, 16);
          if ((f.fsw & ~f.fcw & 0x3f) !== 0) f.fsw |= 0x8080;
          else f.fsw &= ~0x8080;
          return;
        case 6:
          storeEnv(cpu);
          f.fcw |= 0x3f;
          return;
        case 7:
          cpu.write(cpu.eaSeg, cpu.ea, 16, f.fcw);
          return;
      }
      break;
    case 0xdb:
      switch (reg) {
        case 0:
          beginOp();
          loadValue(cpu, readMem(cpu, 3));
          return;
        case 1:
        case 2:
        case 3:
          storeMem(cpu, 4, reg !== 2, reg === 1);
          return;
        case 5: {
          const v = readM80(cpu, 0);
          f.fsw &= ~C1;
          push(f, v);
          return;
        }
        case 7:
          storeMem(cpu, 2, true, false);
          return;
      }
      break;
    case 0xdd:
      switch (reg) {
        case 0:
          beginOp();
          loadValue(cpu, readMem(cpu, 1));
          return;
        case 1:
          storeMem(cpu, 5, true, true);
          return;
        case 2:
        case 3:
          storeMem(cpu, 1, reg === 3, false);
          return;
        case 4: {
          // FRSTOR: environment, then ST(0)..ST(7).
          const n = loadEnv(cpu);
          for (let i = 0; i < 8; i++) {
            const v = readM80(cpu, n + i * 10);
            const p = phys(f, i);
            const tagged = (f.ftw & (1 << p)) !== 0;
            setPhys(f, p, v);
            if (!tagged) f.ftw &= ~(1 << p);
          }
          return;
        }
        case 6: {
          // FNSAVE: environment and registers, then FNINIT.
          cpu.probeWrite(cpu.eaSeg, cpu.ea, cpu.osize !== 16 ? 108 : 94);
          const n = storeEnv(cpu);
          for (let i = 0; i < 8; i++) writeM80(cpu, n + i * 10, st(f, i));
          f.fninit();
          return;
        }
        case 7:
          cpu.write(cpu.eaSeg, cpu.ea, 16, f.getFsw());
          return;
      }
      break;
    default:
      // 0xdf
      switch (reg) {
        case 0:
          beginOp();
          loadValue(cpu, readMem(cpu, 2));
          return;
        case 1:
        case 2:
        case 3:
          storeMem(cpu, 3, reg !== 2, reg === 1);
          return;
        case 4: {
          // FBLD m80bcd.
          const bytes: number[] = [];
          for (let k = 0; k < 10; k++) bytes.push(cpu.read(cpu.eaSeg, cpu.eaPlus(k), 8));
          f.fsw &= ~C1;
          push(f, fromBcd(bytes));
          return;
        }
        case 5:
          beginOp();
          loadValue(cpu, readMem(cpu, 4));
          return;
        case 6: {
          // FBSTP m80bcd.
          let bytes: number[];
          beginOp();
          if (isEmpty(f, 0)) {
            if (!underflow(f)) return;
            bytes = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];
          } else bytes = toBcd(st(f, 0), (f.fcw >> 10) & 3);
          cpu.probeWrite(cpu.eaSeg, cpu.ea, 10);
          if (!commitFlags(f)) return;
          for (let k = 0; k < 10; k++) cpu.write(cpu.eaSeg, cpu.eaPlus(k), 8, bytes[k]);
          pop(f);
          return;
        }
        case 7:
          storeMem(cpu, 5, true, false);
          return;
      }
  }
  cpu.ud();
}

const FCMOV_CC = [EFLAGS.CF, EFLAGS.ZF, EFLAGS.CF | EFLAGS.ZF, EFLAGS.PF];

function regForm(cpu: X86Cpu, op: number, reg: number, i: number, f: Fpu): void {
  switch (op) {
    case 0xd8:
      beginOp();
      if (reg === 2 || reg === 3) {
        compareOp(cpu, isEmpty(f, i) ? null : st(f, i), true, reg === 3 ? 1 : 0);
        return;
      }
      arithOp(cpu, reg, 0, isEmpty(f, 0) ? null : st(f, 0), isEmpty(f, i) ? null : st(f, i), false);
      return;
    case 0xdc:
    case 0xde: {
      // ST(i) = ST(i) op ST(0); SUB/SUBR and DIV/DIVR swap meaning in these maps.
      beginOp();
      if (op === 0xde && reg === 3 && i === 1) {
        compareOp(cpu, isEmpty(f, 1) ? null : st(f, 1), true, 2); // FCOMPP
        return;
      }
      if (reg === 2 || reg === 3) break;
      const kind = reg >= 4 ? reg ^ 1 : reg;
      arithOp(
        cpu,
        kind,
        i,
        isEmpty(f, i) ? null : st(f, i),
        isEmpty(f, 0) ? null : st(f, 0),
        op === 0xde,
      );
      return;
    }
    case 0xd9:
      d9Reg(cpu, reg, i, f);
      return;
    case 0xda:
      if (reg < 4) {
        fcmov(cpu, (getFlags(cpu) & FCMOV_CC[reg]) !== 0, i);
        return;
      }
      if (reg === 5 && i === 1) {
        beginOp();
        compareOp(cpu, isEmpty(f, 1) ? null : st(f, 1), false, 2); // FUCOMPP
        return;
      }
      break;
    case 0xdb:
      if (reg < 4) {
        fcmov(cpu, (getFlags(cpu) & FCMOV_CC[reg]) === 0, i);
        return;
      }
      if (reg === 4) {
        if (i === 3) f.fninit();
        else if (i === 2) f.fsw &= 0x7f00;
        else if (i > 4) break;
        return;
      }
      if (reg === 5 || reg === 6) {
        comiOp(cpu, i, reg === 6, false);
        return;
      }
      break;
    case 0xdd:
      switch (reg) {
        case 0:
          f.ftw &= ~(1 << phys(f, i));
          return;
        case 2:
        case 3:
          if (isEmpty(f, 0)) {
            if (!underflow(f)) return;
            setSt(f, i, INDEFINITE);
          } else setSt(f, i, st(f, 0));
          if (reg === 3) pop(f);
          return;
        case 4:
        case 5:
          beginOp();
          compareOp(cpu, isEmpty(f, i) ? null : st(f, i), false, reg === 5 ? 1 : 0);
          return;
      }
      break;
    default:
      // 0xdf
      if (reg === 0) {
        // FFREEP
        f.ftw &= ~(1 << phys(f, i));
        pop(f);
        return;
      }
      if (reg === 4 && i === 0) {
        cpu.lo[0] = (cpu.lo[0] & ~0xffff) | f.getFsw();
        return;
      }
      if (reg === 5 || reg === 6) {
        comiOp(cpu, i, reg === 6, true);
        return;
      }
  }
  cpu.ud();
}

function fcmov(cpu: X86Cpu, cond: boolean, i: number): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, i)) {
    if (!underflow(f)) return;
    setSt(f, 0, INDEFINITE);
    return;
  }
  f.fsw &= ~C1;
  if (cond) setSt(f, 0, st(f, i));
}

function d9Reg(cpu: X86Cpu, reg: number, i: number, f: Fpu): void {
  switch (reg) {
    case 0: {
      // FLD ST(i)
      if (isEmpty(f, i)) {
        if (!underflow(f)) return;
        push(f, INDEFINITE);
        return;
      }
      const v = st(f, i);
      f.fsw &= ~C1;
      push(f, v);
      return;
    }
    case 1: {
      // FXCH ST(i)
      if (isEmpty(f, 0) || isEmpty(f, i)) {
        if (!underflow(f)) return;
        const a = isEmpty(f, 0) ? INDEFINITE : st(f, 0);
        const b = isEmpty(f, i) ? INDEFINITE : st(f, i);
        setSt(f, 0, b);
        setSt(f, i, a);
        return;
      }
      const a = st(f, 0);
      setSt(f, 0, st(f, i));
      setSt(f, i, a);
      f.fsw &= ~C1;
      return;
    }
    case 2:
      if (i === 0) return; // FNOP
      break;
    case 4:
      if (i === 4 || i === 5 || i === 0 || i === 1) {
        d9e(cpu, i, f);
        return;
      }
      break;
    case 5:
      if (i < 7) {
        loadConst(cpu, i === 6 ? 6 : i);
        return;
      }
      break;
    case 6:
      if (i === 4) {
        fxtractChecked(cpu);
        return;
      }
      if (i === 6 || i === 7) {
        f.top = (f.top + (i === 6 ? 7 : 1)) & 7;
        f.fsw &= ~C1;
        return;
      }
      if (i === 5) premOp(cpu, true);
      else transOp(cpu, i);
      return;
    case 7:
      if (i === 2 || i === 4 || i === 5) {
        unaryOp(cpu, i);
        return;
      }
      if (i === 0) premOp(cpu, false);
      else transOp(cpu, 8 + i);
      return;
  }
  cpu.ud();
}

/** FPREM (D9 F8) and FPREM1 (D9 F5). */
function premOp(cpu: X86Cpu, ieee: boolean): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, 1)) {
    if (!underflow(f)) return;
    setSt(f, 0, INDEFINITE);
    return;
  }
  beginOp();
  const r = fprem(st(f, 0), st(f, 1), ieee, x87Mode(f));
  if (!commitFlags(f)) return;
  let cc = f.fsw & ~(C0 | C1 | C2 | C3);
  if (!r.complete) cc |= C2;
  else {
    if ((r.q & 4) !== 0) cc |= C0;
    if ((r.q & 2) !== 0) cc |= C3;
    if ((r.q & 1) !== 0) cc |= C1;
  }
  f.fsw = cc;
  setSt(f, 0, r.value);
}

/**
 * The transcendentals by D9 Fx low nibble: F0 F2XM1, F1 FYL2X, F2 FPTAN, F3 FPATAN, F9 FYL2XP1,
 * FB FSINCOS, FE FSIN, FF FCOS: finite nonzero operands in the domain are computed exactly and
 * rounded once ({@link transExact}); zeros, infinities, NaNs and out-of-domain operands take the
 * double-precision path (their results are exact: zeros, infinities, the indefinite).
 */
function transOp(cpu: X86Cpu, k: number): void {
  const f = cpu.fpu;
  const two = k === 1 || k === 3 || k === 9;
  if (isEmpty(f, 0) || (two && isEmpty(f, 1))) {
    if (!underflow(f)) return;
    setSt(f, 0, INDEFINITE);
    if (two) pop(f);
    else if (k === 2 || k === 11) push(f, INDEFINITE);
    return;
  }
  beginOp();
  const mode = x87Mode(f);
  const a = st(f, 0);
  const x = toDouble(a);
  f.fsw &= ~(C1 | C2);
  // Finite nonzero operands in the instruction's domain: exact (src/fpu/x87-trans.ts).
  const exact = transExact(f, k, a, mode);
  if (exact !== undefined) {
    if (!commitFlags(f)) return;
    if (two) {
      setSt(f, 1, exact);
      pop(f);
      return;
    }
    setSt(f, 0, exact);
    if (k === 2) push(f, fromInt(F80, 1n, mode));
    else if (k === 11) push(f, transSecond);
    return;
  }
  if (two) {
    const b = st(f, 1);
    const y = toDouble(b);
    let v: number;
    if (k === 3) v = Math.atan2(y, x);
    else if (k === 1) {
      if (x === 0 && !isNanX(a) && !isNanX(b) && y !== 0 && Number.isFinite(y)) FLAGS[0] |= 0x4;
      v = y * Math.log2(x);
    } else v = y * (Math.log1p(x) / Math.LN2);
    let r = transResult(v, b, a, mode);
    if (k === 3 && !isNanX(a) && !isNanX(b)) {
      // FPATAN with a zero or infinite operand: ±0 exactly, or a multiple of π/4 rounded once.
      FLAGS[0] &= ~0x20;
      if (v !== 0) r = piMultiple(v < 0 ? 1 : 0, Math.round(Math.abs(v) / (Math.PI / 4)), mode);
    }
    if (!commitFlags(f)) return;
    setSt(f, 1, r);
    pop(f);
    return;
  }
  // FSIN/FCOS/FSINCOS/FPTAN leave an operand of magnitude 2^63 or more alone and set C2.
  if (
    (k === 2 || k === 11 || k === 14 || k === 15) &&
    Number.isFinite(x) &&
    Math.abs(x) >= 2 ** 63
  ) {
    f.fsw |= C2;
    return;
  }
  let v: number;
  switch (k) {
    case 0:
      v = Math.expm1(x * Math.LN2);
      break;
    case 2:
      v = Math.tan(x);
      break;
    case 14:
      v = Math.sin(x);
      break;
    case 15:
      v = Math.cos(x);
      break;
    default:
      v = Math.sin(x);
  }
  const r = transResult(v, a, null, mode);
  const second =
    k === 11 ? transResult(Math.cos(x), a, null, mode) : k === 2 ? fromInt(F80, 1n, mode) : 0n;
  if (!commitFlags(f)) return;
  if (x === 0 && !isNanX(a) && k !== 15) setSt(f, 0, a);
  else setSt(f, 0, r);
  if (k === 2 || k === 11) push(f, second);
}

/** FSINCOS's cosine, computed by {@link transExact} beside the sine. */
let transSecond = 0n;

/**
 * The exact path of {@link transOp}: the correctly rounded result for finite nonzero operands
 * in the instruction's domain (F2XM1 |x| <= 1, FYL2X x > 0, FYL2XP1 x > -1, FSIN/FCOS/FSINCOS/
 * FPTAN |x| < 2^63), or undefined for the special cases (zeros, infinities, NaNs, out of domain).
 */
function transExact(f: Fpu, k: number, a: bigint, mode: number): bigint | undefined {
  const ua = unpack(F80, a, false);
  if (ua.cls !== CLS.FINITE) return undefined;
  const mag = ua.e + ua.m.toString(2).length; // |x| < 2^mag
  if (k === 1 || k === 3 || k === 9) {
    const ub = unpack(F80, st(f, 1), false);
    if (ub.cls !== CLS.FINITE) return undefined;
    if (k === 3) return fpatan(ub.sign, ub.m, ub.e, ua.sign, ua.m, ua.e, mode);
    if (k === 1) return ua.sign ? undefined : fyl2x(ub.sign, ub.m, ub.e, ua.m, ua.e, mode);
    if (ua.sign && mag > 0) return undefined;
    return fyl2xp1(ub.sign, ub.m, ub.e, ua.sign, ua.m, ua.e, mode);
  }
  if (k === 0) {
    if (mag > 1 || (mag === 1 && ua.m !== 1n << BigInt(ua.m.toString(2).length - 1)))
      return undefined;
    return f2xm1(ua.sign, ua.m, ua.e, mode);
  }
  if (mag > 63) return undefined;
  if (k === 15) return fcos(ua.sign, ua.m, ua.e, mode);
  if (k === 2) return ftan(ua.sign, ua.m, ua.e, mode);
  const s = fsin(ua.sign, ua.m, ua.e, mode);
  if (k === 11) transSecond = fcos(ua.sign, ua.m, ua.e, mode);
  return s;
}

function fxtractChecked(cpu: X86Cpu): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0)) {
    if (!underflow(f)) return;
    setSt(f, 0, INDEFINITE);
    push(f, INDEFINITE);
    return;
  }
  fxtract(cpu);
}

/** D9 E0/E1/E4/E5: FCHS, FABS, FTST, FXAM. */
function d9e(cpu: X86Cpu, i: number, f: Fpu): void {
  if (i === 5) {
    fxam(f);
    return;
  }
  if (isEmpty(f, 0)) {
    if (!underflow(f)) return;
    if (i === 4) f.fsw |= C0 | C2 | C3;
    else setSt(f, 0, INDEFINITE);
    return;
  }
  if (i === 4) {
    beginOp();
    compareOp(cpu, 0n, true, 0);
    return;
  }
  const v = st(f, 0);
  setSt(f, 0, i === 0 ? v ^ (1n << 79n) : v & ~(1n << 79n));
  f.fsw &= ~C1;
}

/** D9 FA/FC/FD: FSQRT, FRNDINT, FSCALE. */
function unaryOp(cpu: X86Cpu, i: number): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || (i === 5 && isEmpty(f, 1))) {
    if (!underflow(f)) return;
    setSt(f, 0, INDEFINITE);
    return;
  }
  beginOp();
  roundUpC1 = false;
  let r: bigint;
  // FSQRT of a negative operand: C0..C3 are undefined; QEMU sets C2 alone, so does the model.
  if (i === 2 && (f.stSe[phys(f, 0)] & 0x8000) !== 0) f.fsw = (f.fsw & ~0x4700) | C2;
  if (i === 2) r = arith(pcFormat(f), OP.SQRT, 0n, st(f, 0), x87Mode(f));
  else if (i === 4) r = frndint(f);
  else r = fscale(f);
  if (!commitFlags(f)) return;
  if (i === 4 && (FLAGS[0] & 0x20) !== 0) {
    if (roundUpC1) f.fsw |= C1;
    else f.fsw &= ~C1;
  }
  setSt(f, 0, r);
}
