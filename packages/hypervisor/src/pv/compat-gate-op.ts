/**
 * Far JMP and CALL through a call gate of a 32-bit PV guest's GDT/LDT, emulated as Xen's
 * `pv_emulate_gate_op` does. `check_descriptor` forces every call gate's DPL to 0 (keeping the
 * guest's DPL in the target selector's RPL), so the CPU's use of one is #GP(gate selector); the
 * hypervisor then decodes the instruction (`EA`/`9A` ptr16:32 or `FF /5`, `FF /3` m16:32, after
 * operand-size and segment prefixes), checks the gate and its target code segment against the
 * guest's DPLs, and performs the transfer: a CALL pushes CS and the return EIP, on the
 * `stack_switch` stack (after SS, ESP and the gate's parameters) when it goes from ring 3 to the
 * kernel's ring 1. Whatever fails becomes the exception Xen injects.
 * @see xen/arch/x86/pv/emul-gate-op.c (read_gate_descriptor, pv_emulate_gate_op)
 */
import type { GuestBytes } from '../guest-memory.ts';
import type { PvCpuPort } from './ports.ts';
import {
  compatFlatSegmentAttr,
  loadSegment,
  type Pv32Traps,
  type SegmentLookupPort,
} from './pv32-traps.ts';

const SEG_CS = 1;
const SEG_SS = 2;
const SEG_DS = 3;
const ESP = 4;
const GP = 13;
const NP = 11;
const TS = 10;
const SS_FAULT = 12;
const PF = 14;
/** #PF error code of a failed stack write (PFEC_write_access). */
const PF_WRITE = 2;
/** The segment override prefixes, by the segment register they select. */
const SEGMENT_PREFIX: ReadonlyMap<number, number> = new Map([
  [0x26, 0],
  [0x2e, SEG_CS],
  [0x36, SEG_SS],
  [0x3e, SEG_DS],
  [0x64, 4],
  [0x65, 5],
]);

/** The exception to deliver instead of the transfer (for #PF the address is already in CR2). */
export interface GateFault {
  /** Vector: #GP, #NP, #TS, #SS or #PF. */
  readonly vector: number;
  /** Error code. */
  readonly code: number;
}

/** A segment as its descriptor describes it. */
interface Segment {
  readonly base: number;
  readonly limit: number;
  /** Descriptor bits 8–15 and 20–23, as the CPU caches them. */
  readonly attr: number;
}

/** The segment `selector` names: Xen's flat compat ones, or the guest's through `segments`. */
function segment(segments: SegmentLookupPort, selector: number): Segment | null {
  if ((selector & 0xfffc) === 0) return null;
  const flat = compatFlatSegmentAttr(selector);
  if (flat >= 0) return { base: 0, limit: 0xffffffff, attr: flat };
  if (!segments.readDescriptor(selector)) return null;
  const lo = segments.descLo;
  const hi = segments.descHi;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((hi & 0x800000) !== 0) limit = ((limit << 12) | 0xfff) >>> 0;
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  return { base, limit, attr: (hi >> 8) & 0xf0ff };
}

const dpl = (attr: number): number => (attr >> 5) & 3;
const isCodeOrData = (attr: number): boolean => (attr & 0x10) !== 0;
const isCode = (attr: number): boolean => (attr & 8) !== 0;
const present = (attr: number): boolean => (attr & 0x80) !== 0;
const writableData = (attr: number): boolean => (attr & 0x0a) === 0x02;

/** check_stack_limit: `decr` bytes fit below `esp` in a (possibly expand-down) segment. */
function stackFits(s: Segment, esp: number, decr: number): boolean {
  const below = (esp - decr) >>> 0;
  if (below >= (esp - 1) >>> 0) return false; // wrapped
  return (s.attr & 4) === 0 ? (esp - 1) >>> 0 <= s.limit : below > s.limit;
}

/**
 * Emulates the far JMP/CALL at CS:EIP that raised #GP(`errorCode`) through a call gate.
 * Returns null when done (CS, EIP and for a CALL the stack updated), else the fault to deliver.
 */
export function emulateCompatGateOp(
  cpu: PvCpuPort,
  traps: Pv32Traps,
  segments: SegmentLookupPort,
  guest: GuestBytes,
  errorCode: number,
): GateFault | null {
  const gp = { vector: GP, code: errorCode };
  const cpl = cpu.cpl;
  // read_gate_descriptor: a present 32-bit call gate whose DPL check_descriptor zeroed.
  if (errorCode < 4 || (errorCode >= 0xe000 && (errorCode & 4) === 0)) return gp;
  if (!segments.readDescriptor(errorCode)) return gp;
  const ga = segments.descLo;
  const gb = segments.descHi;
  if ((gb & 0x6000) !== 0 || (gb & 0x1f00) !== 0x0c00) return gp;
  const gateDpl = (ga >>> 16) & 3;
  const target = (ga >>> 16) & 0xfffc;
  const offset = ((ga & 0xffff) | (gb & 0xffff0000)) >>> 0;
  const nparm = gb & 0x1f;
  if (gateDpl < cpl) return gp;
  if ((gb & 0x8000) === 0) return { vector: NP, code: errorCode };

  // Decode the instruction: prefixes, then EA / 9A ptr16:32 or FF /5, /3 with a memory operand.
  const cs = segment(segments, cpu.segSel[SEG_CS] ?? 0);
  if (cs === null || !isCodeOrData(cs.attr) || !present(cs.attr) || !isCode(cs.attr)) return gp;
  const insn = new Uint8Array(16);
  const eip = cpu.rip >>> 0;
  if (!guest.read((cs.base + eip) >>> 0, insn)) return gp;
  let i = 0;
  let opsize = 4;
  let seg = -1;
  for (; i < 4; i++) {
    const b = insn[i] ?? 0;
    if (b === 0x66) opsize = 2;
    else if (SEGMENT_PREFIX.has(b)) seg = SEGMENT_PREFIX.get(b) ?? -1;
    else break;
  }
  const view = new DataView(insn.buffer);
  const op = insn[i++] ?? 0;
  let jump: boolean;
  let selector: number;
  if (op === 0xea || op === 0x9a) {
    jump = op === 0xea;
    selector = view.getUint16(i + opsize, true);
    i += opsize + 2;
  } else if (op === 0xff) {
    const modrm = insn[i++] ?? 0;
    const mod = modrm >> 6;
    const reg = (modrm >> 3) & 7;
    const rm = modrm & 7;
    if (mod === 3 || (reg !== 3 && reg !== 5)) return gp;
    jump = reg === 5;
    let ea = 0;
    let stackBased = false;
    if (rm === 4) {
      const sib = insn[i++] ?? 0;
      const index = (sib >> 3) & 7;
      const base = sib & 7;
      if (index !== 4) ea += (cpu.lo[index] ?? 0) * (1 << (sib >> 6));
      if (base === 5 && mod === 0) {
        ea += view.getInt32(i, true);
        i += 4;
      } else {
        ea += cpu.lo[base] ?? 0;
        stackBased = base === 4 || base === 5;
      }
    } else if (rm === 5 && mod === 0) {
      ea = view.getInt32(i, true);
      i += 4;
    } else {
      ea = cpu.lo[rm] ?? 0;
      stackBased = rm === 5;
    }
    if (mod === 1) ea += view.getInt8(i++);
    else if (mod === 2) {
      ea += view.getInt32(i, true);
      i += 4;
    }
    const s = seg >= 0 ? seg : stackBased ? SEG_SS : SEG_DS;
    const sel = new Uint8Array(2);
    const at = ((cpu.segBase[s] ?? 0) + ((ea + opsize) >>> 0)) >>> 0;
    if (!guest.read(at, sel)) return gp;
    selector = (sel[0] ?? 0) | ((sel[1] ?? 0) << 8);
  } else return gp;
  const length = i;
  if ((selector & ~3) !== errorCode || gateDpl < (selector & 3)) return gp;

  // The target code segment: a CALL may go inward (DPL <= CPL), a JMP only to its own ring.
  const code = segment(segments, target);
  if (code === null || !isCodeOrData(code.attr) || !isCode(code.attr)) {
    return { vector: GP, code: target };
  }
  const conforming = (code.attr & 4) !== 0;
  if (!jump || conforming ? dpl(code.attr) > cpl : dpl(code.attr) !== cpl) {
    return { vector: GP, code: target };
  }
  if (!present(code.attr)) return { vector: NP, code: target };
  if (offset > code.limit) return { vector: GP, code: 0 };

  let newCs = target;
  if (jump) newCs |= cpl;
  else {
    const frame: number[] = [];
    let ss: number;
    let esp: number;
    let stack: Segment;
    if (dpl(code.attr) < cpl) {
      // Inward (ring 3 to the kernel's ring 1): the stack_switch stack, SS and ESP first.
      newCs |= dpl(code.attr);
      if ((newCs & 3) !== 1) return gp;
      ss = traps.kernelSs;
      esp = traps.kernelSp >>> 0;
      const k = segment(segments, ss);
      if (
        (ss & 3) !== 1 ||
        k === null ||
        dpl(k.attr) !== 1 ||
        !isCodeOrData(k.attr) ||
        !writableData(k.attr)
      ) {
        return { vector: TS, code: ss & ~3 };
      }
      if (!present(k.attr) || !stackFits(k, esp, (4 + nparm) * 4)) {
        return { vector: SS_FAULT, code: ss & ~3 };
      }
      stack = k;
      const oldSs = (cpu.segSel[SEG_SS] ?? 0) & 0xffff;
      const oldEsp = (cpu.lo[ESP] ?? 0) >>> 0;
      frame.push(oldSs, oldEsp);
      if (nparm > 0) {
        const u = segment(segments, oldSs);
        if (u === null || dpl(u.attr) !== cpl || !writableData(u.attr)) return gp;
        const parms = new Uint8Array(nparm * 4);
        if (!guest.read((u.base + oldEsp) >>> 0, parms)) return gp;
        const pv = new DataView(parms.buffer);
        for (let p = nparm - 1; p >= 0; p--) frame.push(pv.getUint32(p * 4, true));
      }
    } else {
      newCs |= cpl;
      ss = (cpu.segSel[SEG_SS] ?? 0) & 0xffff;
      esp = (cpu.lo[ESP] ?? 0) >>> 0;
      const s = segment(segments, ss);
      if (s === null || dpl(s.attr) !== cpl) return gp;
      if (!stackFits(s, esp, 8)) return { vector: SS_FAULT, code: 0 };
      stack = s;
    }
    frame.push((cpu.segSel[SEG_CS] ?? 0) & 0xffff, (eip + length) >>> 0);
    // Pushed in order: the first item ends up highest.
    const bytes = new Uint8Array(frame.length * 4);
    const bv = new DataView(bytes.buffer);
    for (let f = 0; f < frame.length; f++)
      bv.setUint32((frame.length - 1 - f) * 4, frame[f] ?? 0, true);
    const top = (esp - bytes.length) >>> 0;
    if (!guest.write((stack.base + top) >>> 0, bytes)) {
      cpu.cr2 = (stack.base + esp - 4) >>> 0;
      return { vector: PF, code: PF_WRITE };
    }
    if (ss !== ((cpu.segSel[SEG_SS] ?? 0) & 0xffff)) loadSegment(cpu, SEG_SS, ss, segments);
    cpu.lo[ESP] = top | 0;
  }
  loadSegment(cpu, SEG_CS, newCs, segments);
  cpu.cpl = newCs & 3;
  cpu.rip = offset;
  return null;
}
