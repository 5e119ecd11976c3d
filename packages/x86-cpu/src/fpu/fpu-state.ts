/**
 * The x87 FPU and SSE register file of one vCPU: eight 80-bit x87 registers (64-bit
 * significand as two int32 halves plus a 16-bit sign/exponent word), TOP, the control, status
 * and tag words, the last-instruction pointers, sixteen XMM registers and MXCSR.
 * @see Intel SDM Vol. 1 §8.1 (x87 FPU execution environment), §10.2 (SSE), §10.5.1 (FXSAVE)
 */

/** x87 and SSE state as plain JSON-safe data (part of {@link CpuState}). */
export interface FpuState {
  /** x87 control word (FCW). */
  fcw: number;
  /** x87 status word (FSW) including TOP in bits 11..13. */
  fsw: number;
  /** Abridged tag word: bit i set when physical register i is not empty. */
  ftw: number;
  /** Opcode of the last x87 non-control instruction (11 bits). */
  fop: number;
  /** Instruction pointer of the last x87 non-control instruction. */
  fip: number;
  /** Its code-segment selector. */
  fcs: number;
  /** Data pointer of the last x87 memory operand. */
  fdp: number;
  /** Its data-segment selector. */
  fds: number;
  /** Physical registers R0..R7 as `[significand low, significand high, sign/exponent]` triples (int32). */
  st: number[];
  /** MXCSR. */
  mxcsr: number;
  /** XMM0..XMM15 as 64 int32 dwords (little-endian lane order). */
  xmm: number[];
}

/** MXCSR bits. @see Intel SDM Vol. 1 §10.2.3 */
export const MXCSR = {
  /** Invalid operation flag. */ IE: 0x1,
  /** Denormal flag. */ DE: 0x2,
  /** Divide-by-zero flag. */ ZE: 0x4,
  /** Overflow flag. */ OE: 0x8,
  /** Underflow flag. */ UE: 0x10,
  /** Precision flag. */ PE: 0x20,
  /** Denormals are zeros. */ DAZ: 0x40,
  /** Invalid operation mask. */ IM: 0x80,
  /** Denormal mask. */ DM: 0x100,
  /** Divide-by-zero mask. */ ZM: 0x200,
  /** Overflow mask. */ OM: 0x400,
  /** Underflow mask. */ UM: 0x800,
  /** Precision mask. */ PM: 0x1000,
  /** Rounding control (2 bits). */ RC: 0x6000,
  /** Flush to zero. */ FTZ: 0x8000,
} as const;

/** @internal Bits of MXCSR that software may set (MXCSR_MASK reported by FXSAVE). */
export const MXCSR_MASK = 0xffff;

/**
 * @internal The FPU/SSE register file. Typed arrays over one buffer give integer and
 * floating-point lane views of the XMM registers (the model assumes a little-endian host, as
 * every JavaScript engine in use is). Slots 16..19 are scratch operands for handlers (18 and 19
 * stage MMX operands).
 */
export class Fpu {
  /** @internal Backing store: 20 × 16 bytes. */
  readonly buf: ArrayBuffer = new ArrayBuffer(20 * 16);
  /** @internal Byte lanes. */
  readonly u8: Uint8Array = new Uint8Array(this.buf);
  /** @internal Signed byte lanes. */
  readonly i8: Int8Array = new Int8Array(this.buf);
  /** @internal Word lanes. */
  readonly u16: Uint16Array = new Uint16Array(this.buf);
  /** @internal Signed word lanes. */
  readonly i16: Int16Array = new Int16Array(this.buf);
  /** @internal Dword lanes (signed). */
  readonly x: Int32Array = new Int32Array(this.buf);
  /** @internal Dword lanes (unsigned). */
  readonly u32: Uint32Array = new Uint32Array(this.buf);
  /** @internal Single-precision lanes. */
  readonly f32: Float32Array = new Float32Array(this.buf);
  /** @internal Double-precision lanes. */
  readonly f64: Float64Array = new Float64Array(this.buf);
  /** @internal MXCSR. */
  mxcsr = 0x1f80;
  /** @internal x87 significand low halves, by physical register. */
  readonly stLo: Int32Array = new Int32Array(8);
  /** @internal x87 significand high halves (bit 31 is the explicit integer bit). */
  readonly stHi: Int32Array = new Int32Array(8);
  /** @internal x87 sign (bit 15) and biased exponent (bits 0..14). */
  readonly stSe: Int32Array = new Int32Array(8);
  /** @internal FCW. */
  fcw = 0x37f;
  /** @internal FSW without TOP. */
  fsw = 0;
  /** @internal TOP of stack. */
  top = 0;
  /** @internal Abridged tag word (bit i: physical register i holds a value). */
  ftw = 0;
  /** @internal Last x87 opcode. */
  fop = 0;
  /** @internal Last x87 instruction pointer. */
  fip = 0;
  /** @internal Its CS. */
  fcs = 0;
  /** @internal Last x87 data pointer. */
  fdp = 0;
  /** @internal Its DS. */
  fds = 0;

  /** @internal The power-on state as QEMU sets it (FCW 0x37F, all registers empty, MXCSR 0x1F80). */
  reset(): void {
    this.u8.fill(0);
    this.mxcsr = 0x1f80;
    this.stLo.fill(0);
    this.stHi.fill(0);
    this.stSe.fill(0);
    this.fninit();
  }

  /** @internal FNINIT: FCW 0x37F, FSW 0, all registers empty, pointers cleared. */
  fninit(): void {
    this.fcw = 0x37f;
    this.fsw = 0;
    this.top = 0;
    this.ftw = 0;
    this.fop = 0;
    this.fip = 0;
    this.fcs = 0;
    this.fdp = 0;
    this.fds = 0;
  }

  /** @internal The status word with TOP merged in. */
  getFsw(): number {
    return (this.fsw & ~0x3800) | (this.top << 11);
  }

  /** @internal Sets the status word (TOP from bits 11..13). */
  setFsw(v: number): void {
    this.top = (v >> 11) & 7;
    this.fsw = v & 0xc7ff;
  }

  /** @internal The state as plain data. */
  getState(): FpuState {
    const st: number[] = [];
    for (let i = 0; i < 8; i++) st.push(this.stLo[i], this.stHi[i], this.stSe[i]);
    return {
      fcw: this.fcw,
      fsw: this.getFsw(),
      ftw: this.ftw,
      fop: this.fop,
      fip: this.fip,
      fcs: this.fcs,
      fdp: this.fdp,
      fds: this.fds,
      st,
      mxcsr: this.mxcsr,
      xmm: Array.from(this.x.subarray(0, 64)),
    };
  }

  /** @internal Loads plain data (the shape is checked by the caller). */
  setState(s: FpuState): void {
    this.fcw = s.fcw & 0xffff;
    this.setFsw(s.fsw);
    this.ftw = s.ftw & 0xff;
    this.fop = s.fop;
    this.fip = s.fip;
    this.fcs = s.fcs;
    this.fdp = s.fdp;
    this.fds = s.fds;
    for (let i = 0; i < 8; i++) {
      this.stLo[i] = s.st[i * 3];
      this.stHi[i] = s.st[i * 3 + 1];
      this.stSe[i] = s.st[i * 3 + 2] & 0xffff;
    }
    this.mxcsr = s.mxcsr & MXCSR_MASK;
    for (let i = 0; i < 64; i++) this.x[i] = s.xmm[i];
  }
}

/** @internal Validates the shape of an {@link FpuState}. */
export function validFpuState(s: FpuState): boolean {
  return (
    Array.isArray(s.st) &&
    s.st.length === 24 &&
    Array.isArray(s.xmm) &&
    s.xmm.length === 64 &&
    [s.fcw, s.fsw, s.ftw, s.fop, s.fip, s.fcs, s.fdp, s.fds, s.mxcsr].every(Number.isFinite)
  );
}
