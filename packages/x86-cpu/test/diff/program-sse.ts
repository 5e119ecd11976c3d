/**
 * Differential programs for SSE/SSE2 and the FXSAVE image: the body enters long mode as
 * program64.ts does, sets CR4.OSFXSR/OSXMMEXCPT and CR0.MP/NE, then per case fills XMM0..XMM15
 * from an in-guest xorshift generator (one dword in four from a table of edge values: zeros of
 * both signs, infinities, quiet and signalling NaNs, denormals, integer boundaries), loads
 * random GPRs (RAX..RDX from the program, the rest from the generator), RFLAGS and MXCSR (rounding control, DAZ/FTZ), runs one instruction form and
 * dumps RFLAGS, the GPRs and bytes 0..415 of an FXSAVE image (FCW, FSW, abridged FTW, MXCSR,
 * ST0..ST7, XMM0..XMM15) to port 0xE9.
 */
import type { DiffProgram } from './program.ts';

/** Bytes per case: 136 of GPRs/RFLAGS (as program64.ts), then 416 of FXSAVE image. */
export const DUMP_BYTES_SSE = 136 + 416;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Dword edge values: float and double bit patterns and integer boundaries. */
const EDGES = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x00000001, 0x807fffff,
  0x3f800000, 0xbf800000, 0x7fffffff, 0xffffffff, 0x00008000, 0x7f7fffff, 0x00800000, 0x4b000000,
  0x7ff00000, 0xfff00000, 0x7ff80000, 0xfff80000, 0x7ff40000, 0x000fffff, 0x3ff00000, 0x41e00000,
  0xc1e00000, 0x43e00000, 0x7fefffff, 0x4f000000, 0xcf000000, 0x00100000, 0x0000ffff,
];

/** A template: nasm text with `#i` replaced by a random imm8 per case. */
type Template = string;

const XR = 'mov r8d, 0x6200\nmov r9d, 0x6000\n';
const LOADBACK = '\nmov rsi, [r9]\nmov rdi, [r9 + 8]\nmov rbp, [r9 + 16]';

function intTemplates(): Template[] {
  const t: Template[] = [];
  // Data movement.
  for (const m of ['movups', 'movupd', 'movdqu']) {
    t.push(`${m} xmm1, xmm2`, `${XR}${m} xmm3, [r8 + 4]`, `${XR}${m} [r9 + 3], xmm5${LOADBACK}`);
  }
  for (const m of ['movaps', 'movapd', 'movdqa']) {
    t.push(
      `${m} xmm9, xmm14`,
      `${XR}${m} xmm4, [r8 + 32]`,
      `${XR}${m} [r9 + 16], xmm12${LOADBACK}`,
    );
  }
  for (const m of ['movntps', 'movntpd', 'movntdq']) t.push(`${XR}${m} [r9], xmm6${LOADBACK}`);
  t.push(`${XR}movnti [r9 + 4], rax${LOADBACK}`, `${XR}movnti [r9 + 4], ebx${LOADBACK}`);
  t.push(
    'movss xmm1, xmm2',
    `${XR}movss xmm1, [r8 + 4]`,
    `${XR}movss [r9 + 2], xmm3${LOADBACK}`,
    'movsd xmm1, xmm2',
    `${XR}movsd xmm3, [r8 + 8]`,
    `${XR}movsd [r9 + 3], xmm4${LOADBACK}`,
    `${XR}movlps xmm1, [r8 + 8]`,
    `${XR}movlps [r9], xmm2${LOADBACK}`,
    `${XR}movhps xmm1, [r8 + 8]`,
    `${XR}movhps [r9], xmm3${LOADBACK}`,
    `${XR}movlpd xmm5, [r8]`,
    `${XR}movhpd xmm6, [r8 + 24]`,
    `${XR}movhpd [r9 + 8], xmm7${LOADBACK}`,
    `${XR}movlpd [r9 + 1], xmm8${LOADBACK}`,
    'movhlps xmm1, xmm2',
    'movlhps xmm3, xmm4',
    'movd xmm1, eax',
    `${XR}movd xmm2, [r8 + 4]`,
    'movq xmm3, rbx',
    'movd eax, xmm4',
    'movq rcx, xmm5',
    'movd r10d, xmm13',
    `${XR}movd [r9], xmm6${LOADBACK}`,
    `${XR}movq [r9 + 2], xmm6${LOADBACK}`,
    'movq xmm7, xmm8',
    `${XR}movq xmm9, [r8 + 8]`,
    'movmskps eax, xmm3',
    'movmskpd ecx, xmm4',
    'pmovmskb edx, xmm5',
    'pmovmskb r11d, xmm15',
    'pextrw eax, xmm6, #i',
    'pinsrw xmm7, ebx, #i',
    `${XR}pinsrw xmm7, [r8 + 2], #i`,
    'shufps xmm1, xmm2, #i',
    `${XR}shufps xmm1, [r8 + 16], #i`,
    'shufpd xmm3, xmm4, #i',
    'pshufd xmm5, xmm6, #i',
    'pshufd xmm5, xmm5, #i',
    'pshufhw xmm7, xmm8, #i',
    'pshuflw xmm9, xmm10, #i',
    `${XR}pshufd xmm11, [r8 + 48], #i`,
    'mov edi, 0x6000\nmaskmovdqu xmm1, xmm2\nmov rsi, [0x6000]\nmov rdi, [0x6008]',
    `${XR}stmxcsr [r9]${LOADBACK}`,
    `${XR}fxsave [r9]\nmov dword [r9 + 164], 0x12345678\nmov word [r9], 0x27f\nfxrstor [r9]`,
    // QEMU 7.2 leaves FOP (bytes 6..7) unwritten; the SDM (and the model) store it (0 here).
    `${XR}mov word [r9 + 6], 0\nfxsave [r9]${LOADBACK}\nmov r10, [r9 + 24]\nmov r11, [r9 + 160]\nmov r12, [r9 + 400]`,
  );
  for (const m of ['unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd']) {
    t.push(`${m} xmm1, xmm2`, `${XR}${m} xmm3, [r8 + 16]`);
  }
  for (const m of ['andps', 'andnps', 'orps', 'xorps', 'andpd', 'andnpd', 'orpd', 'xorpd']) {
    t.push(`${m} xmm1, xmm2`);
  }
  const ints = [
    'punpcklbw',
    'punpcklwd',
    'punpckldq',
    'punpcklqdq',
    'punpckhbw',
    'punpckhwd',
    'punpckhdq',
    'punpckhqdq',
    'packsswb',
    'packuswb',
    'packssdw',
    'pcmpgtb',
    'pcmpgtw',
    'pcmpgtd',
    'pcmpeqb',
    'pcmpeqw',
    'pcmpeqd',
    'paddb',
    'paddw',
    'paddd',
    'paddq',
    'psubb',
    'psubw',
    'psubd',
    'psubq',
    'paddsb',
    'paddsw',
    'paddusb',
    'paddusw',
    'psubsb',
    'psubsw',
    'psubusb',
    'psubusw',
    'pmullw',
    'pmulhw',
    'pmulhuw',
    'pmuludq',
    'pmaddwd',
    'psadbw',
    'pminub',
    'pmaxub',
    'pminsw',
    'pmaxsw',
    'pavgb',
    'pavgw',
    'pand',
    'pandn',
    'por',
    'pxor',
  ];
  for (const m of ints) t.push(`${m} xmm1, xmm2`, `${m} xmm10, xmm3`);
  for (const m of ['paddb', 'psubusw', 'pmaddwd', 'packuswb', 'pcmpeqd', 'punpckhbw', 'pxor']) {
    t.push(`${XR}${m} xmm4, [r8 + 64]`);
  }
  for (const m of ['psrlw', 'psraw', 'psllw', 'psrld', 'psrad', 'pslld', 'psrlq', 'psllq']) {
    t.push(`${m} xmm1, #i`, `and ecx, 0x4f\nmovd xmm2, ecx\n${m} xmm3, xmm2`, `${m} xmm4, xmm5`);
  }
  t.push('psrldq xmm1, #i', 'pslldq xmm12, #i');
  return t;
}

const REGS = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];

/** A floating-point template: `#m` names the 16-byte memory operand, `#p` a CMP predicate. */
interface FpTemplate {
  /** nasm text. */
  insn: string;
  /** Lane format of XMM1 (destination) and XMM2/memory (source): 32- or 64-bit floats. */
  bits: 32 | 64;
}

function fpTemplates(): FpTemplate[] {
  const t: FpTemplate[] = [];
  for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt']) {
    t.push({ insn: `${op}ps xmm1, xmm2`, bits: 32 }, { insn: `${op}pd xmm1, xmm2`, bits: 64 });
    t.push({ insn: `${op}ss xmm1, xmm2`, bits: 32 }, { insn: `${op}sd xmm1, xmm2`, bits: 64 });
  }
  for (const op of ['add', 'mul', 'div']) {
    t.push({ insn: `${op}ps xmm1, [#m]`, bits: 32 }, { insn: `${op}sd xmm1, [#m]`, bits: 64 });
  }
  t.push({ insn: 'sqrtss xmm1, [#m]', bits: 32 });
  for (const f of ['ps', 'pd', 'ss', 'sd'] as const) {
    const bits = f.endsWith('s') ? 32 : 64;
    t.push({ insn: `cmp${f} xmm1, xmm2, #p`, bits }, { insn: `cmp${f} xmm1, xmm2, #p`, bits });
  }
  t.push({ insn: 'cmpps xmm1, [#m], #p', bits: 32 });
  for (const op of ['comiss', 'ucomiss']) {
    t.push({ insn: `${op} xmm1, xmm2`, bits: 32 }, { insn: `${op} xmm1, [#m]`, bits: 32 });
  }
  for (const op of ['comisd', 'ucomisd']) t.push({ insn: `${op} xmm1, xmm2`, bits: 64 });
  t.push(
    { insn: 'cvtsi2ss xmm1, eax', bits: 32 },
    { insn: 'cvtsi2ss xmm1, rax', bits: 32 },
    { insn: 'cvtsi2sd xmm1, eax', bits: 64 },
    { insn: 'cvtsi2sd xmm1, rbx', bits: 64 },
    { insn: 'cvtsi2sd xmm1, dword [#m]', bits: 64 },
  );
  for (const op of ['cvtss2si', 'cvttss2si']) {
    t.push({ insn: `${op} eax, xmm2`, bits: 32 }, { insn: `${op} rax, xmm2`, bits: 32 });
  }
  for (const op of ['cvtsd2si', 'cvttsd2si']) {
    t.push({ insn: `${op} eax, xmm2`, bits: 64 }, { insn: `${op} rcx, xmm2`, bits: 64 });
  }
  t.push(
    { insn: 'cvtps2pd xmm1, xmm2', bits: 32 },
    { insn: 'cvtps2pd xmm1, [#m]', bits: 32 },
    { insn: 'cvtpd2ps xmm1, xmm2', bits: 64 },
    { insn: 'cvtss2sd xmm1, xmm2', bits: 32 },
    { insn: 'cvtsd2ss xmm1, xmm2', bits: 64 },
    { insn: 'cvtdq2ps xmm1, xmm2', bits: 32 },
    { insn: 'cvtps2dq xmm1, xmm2', bits: 32 },
    { insn: 'cvttps2dq xmm1, xmm2', bits: 32 },
    { insn: 'cvtpd2dq xmm1, xmm2', bits: 64 },
    { insn: 'cvttpd2dq xmm1, xmm2', bits: 64 },
    { insn: 'cvtdq2pd xmm1, xmm2', bits: 32 },
    { insn: 'rcpps xmm1, xmm2', bits: 32 },
    { insn: 'rsqrtps xmm1, xmm2', bits: 32 },
    { insn: 'rcpss xmm1, xmm2', bits: 32 },
    { insn: 'rsqrtss xmm1, xmm2', bits: 32 },
  );
  return t;
}

const F32_EDGES = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000, 0xff800001, 0x00000001,
  0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000,
  0x3f000000, 0x40400000, 0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001, 0x5f000000, 0xdf000000,
  0x4b000000, 0x3f800001, 0x00800001, 0x7f000000,
];
const F64_EDGES = [
  0n,
  0x8000000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000000n,
  0x7ff4000000000000n,
  0x7ff0000000000001n,
  1n,
  0x800fffffffffffffn,
  0x0010000000000000n,
  0x8010000000000000n,
  0x7fefffffffffffffn,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x3fe0000000000000n,
  0x41dfffffffc00000n,
  0x41e0000000000000n,
  0xc1e0000000000000n,
  0xc1e0000000200000n,
  0x43e0000000000000n,
  0xc3e0000000000000n,
  0x3ff0000000000001n,
  0x0010000000000001n,
  0x36a0000000000000n,
  0x47efffffe0000000n,
  0x3810000000000000n,
  0x380fffffffffffffn,
];

/** A random lane of `bits`: edges, random bits, or a normal number near 1 or near the range ends. */
function fpLane(rnd: () => number, bits: 32 | 64): bigint {
  const k = rnd() % 8;
  if (bits === 32) {
    if (k < 2) return BigInt(F32_EDGES[rnd() % F32_EDGES.length]);
    if (k === 2) return BigInt(rnd());
    const exp = k === 3 ? rnd() % 6 : k === 4 ? 250 + (rnd() % 5) : 112 + (rnd() % 32);
    return BigInt((((rnd() & 1) << 31) | (exp << 23) | (rnd() & 0x7fffff)) >>> 0);
  }
  if (k < 2) return F64_EDGES[rnd() % F64_EDGES.length];
  const mant = (BigInt(rnd() & 0xfffff) << 32n) | BigInt(rnd());
  if (k === 2) return (BigInt(rnd()) << 32n) | BigInt(rnd());
  const exp =
    k === 3
      ? rnd() % 60
      : k === 4
        ? 2040 + (rnd() % 6)
        : k === 5
          ? 870 + (rnd() % 30)
          : 1008 + (rnd() % 32);
  return (BigInt(rnd() & 1) << 63n) | (BigInt(exp) << 52n) | mant;
}

function isNanBits(v: bigint, bits: 32 | 64): boolean {
  return bits === 32
    ? (v & 0x7f800000n) === 0x7f800000n && (v & 0x7fffffn) !== 0n
    : (v & 0x7ff0000000000000n) === 0x7ff0000000000000n && (v & 0xfffffffffffffn) !== 0n;
}

/**
 * 32 bytes for XMM1 (destination) and XMM2/the memory operand (source). Lanes where both
 * would be NaN get a non-NaN source: QEMU 7.2 propagates NaNs by the x87 rule (larger
 * significand) in SSE too, the SDM says the first operand wins; sse-faults.test.ts checks the
 * SDM rule on the model.
 */
function fpData(rnd: () => number, bits: 32 | 64): bigint[] {
  const n = bits === 32 ? 4 : 2;
  const a = Array.from({ length: n }, () => fpLane(rnd, bits));
  const b = Array.from({ length: n }, () => fpLane(rnd, bits));
  for (let i = 0; i < n; i++) {
    if (rnd() % 6 === 0 && !isNanBits(a[i], bits)) {
      // A nearby source: cancellation and ties in ADD/SUB, equality in CMP.
      b[i] = a[i] ^ BigInt(rnd() & 7);
    }
    while (isNanBits(a[i], bits) && isNanBits(b[i], bits)) b[i] = fpLane(rnd, bits);
  }
  const out: bigint[] = [];
  for (const v of [...a, ...b]) {
    if (bits === 32) out.push(v);
    else out.push(v & 0xffffffffn, v >> 32n);
  }
  return out;
}

const X80_EDGES = [
  0n,
  1n << 79n,
  0x7fff8000000000000000n,
  0xffff8000000000000000n,
  0x7fffc000000000000000n,
  0x7fff8000000000000001n,
  0xffffc000000000000000n,
  0x3fff8000000000000000n,
  0xbfff8000000000000000n,
  0x7ffeffffffffffffffffn,
  0x00018000000000000000n,
  0x00000000000000000001n,
  0x80004000000000000000n,
  0x3ffe8000000000000000n,
  0x403e8000000000000000n,
  0xc03e8000000000000000n,
  0x401e8000000000000000n,
  0x400e8000000000000000n,
  0x3fffc000000000000000n,
  0x3fff8000000000000001n,
];

/** A random 80-bit value: edges, numbers near 1, near the float/double range ends, or anything. */
function x80(rnd: () => number): bigint {
  const k = rnd() % 10;
  if (k < 2) return X80_EDGES[rnd() % X80_EDGES.length];
  const sig = (1n << 63n) | (BigInt(rnd() & 0x7fffffff) << 32n) | BigInt(rnd());
  const centers = [0x3fff, 0x3fff, 0x3fff, 0x3f80, 0x407e, 0x3c01, 0x43fe, 0x3fff];
  const exp = k === 2 ? 1 + (rnd() % 0x7ffe) : centers[k - 2] + (rnd() % 41) - 20;
  return (BigInt(rnd() & 1) << 79n) | (BigInt(exp) << 64n) | sig;
}

/** Small integers, boundaries and random values of `bits` bits (two's complement, unsigned). */
function intOf(rnd: () => number, bits: 16 | 32 | 64): bigint {
  const k = rnd() % 4;
  let v: bigint;
  if (k === 0) v = BigInt(rnd() % 200) - 100n;
  else if (k === 1) v = [0n, -1n, 1n << BigInt(bits - 1), (1n << BigInt(bits - 1)) - 1n][rnd() % 4];
  else v = (BigInt(rnd()) << 32n) | BigInt(rnd());
  return BigInt.asUintN(bits, v);
}

function x87Templates(): string[] {
  const t: string[] = [];
  const AB = 'fld tword [#a]\nfld tword [#b]\n';
  t.push(
    'fld tword [#a]\nfstp tword [#o]',
    'fld tword [#a]\nfst dword [#o]',
    'fld tword [#a]\nfstp qword [#o]',
  );
  t.push(
    'fld dword [#d]',
    'fld qword [#q]',
    'fild word [#w]',
    'fild dword [#i]',
    'fild qword [#l]',
  );
  for (const [m, w] of [
    ['fist', 'word'],
    ['fist', 'dword'],
    ['fistp', 'word'],
    ['fistp', 'dword'],
    ['fistp', 'qword'],
    ['fisttp', 'word'],
    ['fisttp', 'dword'],
    ['fisttp', 'qword'],
  ]) {
    t.push(`fld tword [#a]\n${m} ${w} [#o]`);
  }
  for (const op of ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr']) {
    t.push(`${AB}${op} st0, st1`, `${AB}${op} st1, st0`, `${AB}${op}p st1`);
    t.push(`fld tword [#a]\n${op} dword [#d]`, `fld tword [#a]\n${op} qword [#q]`);
    t.push(
      `fld tword [#a]\nfi${op.slice(1)} dword [#i]`,
      `fld tword [#a]\nfi${op.slice(1)} word [#w]`,
    );
  }
  for (const c of ['fcom st1', 'fcomp st1', 'fcompp', 'fucom st1', 'fucomp st1', 'fucompp']) {
    t.push(`${AB}${c}\nfnstsw ax`);
  }
  for (const c of ['fcomi st0, st1', 'fcomip st0, st1', 'fucomi st0, st1', 'fucomip st0, st1']) {
    t.push(`${AB}${c}`);
  }
  t.push(
    'fld tword [#a]\nfcom dword [#d]',
    'fld tword [#a]\nfcomp qword [#q]',
    'fld tword [#a]\nficom dword [#i]',
    'fld tword [#a]\nficomp word [#w]',
    'fld tword [#a]\nftst',
    'fld tword [#a]\nfxam',
    'fxam',
    'fld dword [#d]\nfxam',
  );
  for (const u of ['fchs', 'fabs', 'fsqrt', 'frndint', 'fxtract']) t.push(`fld tword [#a]\n${u}`);
  t.push(`${AB}fprem`, `${AB}fprem1`, `${AB}fprem`, `${AB}fprem1`);
  t.push(
    'fild dword [#i]\nfbstp tword [#o]',
    'fild qword [#l]\nfbstp tword [#o]',
    'fbld tword [#a]',
  );
  t.push(
    'fld qword [#q]\nfsqrt',
    'fld tword [#a]\nfld tword [#b]\nfscale',
    'fild word [#w]\nfld tword [#b]\nfscale',
  );
  t.push(
    `${AB}fxch st1`,
    `${AB}fincstp`,
    `${AB}fdecstp\nfdecstp`,
    `${AB}ffree st1`,
    `${AB}fld st1`,
    // FST to an empty ST(i): QEMU 7.2 leaves its tag empty, the SDM tags it valid (x87.test.ts).
    `${AB}fst st1`,
    `${AB}fstp st1`,
    'fld1',
    'fldz',
    'fldpi',
    'fldl2t',
    'fldl2e',
    'fldlg2',
    'fldln2',
  );
  for (const c of [
    'fcmovb',
    'fcmove',
    'fcmovbe',
    'fcmovu',
    'fcmovnb',
    'fcmovne',
    'fcmovnbe',
    'fcmovnu',
  ]) {
    t.push(`${AB}${c} st0, st1`);
  }
  t.push(
    // Stack overflow and underflow (IE + SF) are not modelled by QEMU 7.2: x87.test.ts checks them.
    `${AB}fnstenv [r9]\nmov rsi, [r9]\nmov rdi, [r9 + 8]\nmov rbp, [r9 + 16]`,
    `${AB}fnsave [r9]\nmov rsi, [r9]\nmov rdi, [r9 + 28]\nmov rbp, [r9 + 36]\nfld1\nfrstor [r9]`,
    `${AB}fnstenv [r9]\nfninit\nfldenv [r9]`,
    'fld tword [#a]\nfnclex\nfnstcw [#o]',
  );
  return t;
}

function mmxTemplates(): Template[] {
  const t: Template[] = [];
  const ops = [
    'punpcklbw',
    'punpcklwd',
    'punpckldq',
    'punpckhbw',
    'punpckhwd',
    'punpckhdq',
    'packsswb',
    'packuswb',
    'packssdw',
    'pcmpgtb',
    'pcmpgtw',
    'pcmpgtd',
    'pcmpeqb',
    'pcmpeqw',
    'pcmpeqd',
    'paddb',
    'paddw',
    'paddd',
    'paddq',
    'psubb',
    'psubw',
    'psubd',
    'psubq',
    'paddsb',
    'paddsw',
    'paddusb',
    'paddusw',
    'psubsb',
    'psubsw',
    'psubusb',
    'psubusw',
    'pmullw',
    'pmulhw',
    'pmulhuw',
    'pmuludq',
    'pmaddwd',
    'psadbw',
    'pminub',
    'pmaxub',
    'pminsw',
    'pmaxsw',
    'pavgb',
    'pavgw',
    'pand',
    'pandn',
    'por',
    'pxor',
  ];
  for (const m of ops) t.push(`${m} mm1, mm2`);
  for (const m of ['paddw', 'punpckhbw', 'packssdw', 'pmaddwd', 'psubusb'])
    t.push(`${XR}${m} mm3, [r8 + 8]`);
  for (const m of ['psrlw', 'psraw', 'psllw', 'psrld', 'psrad', 'pslld', 'psrlq', 'psllq']) {
    t.push(`${m} mm4, #i`, `and ecx, 0x4f\nmovd mm2, ecx\n${m} mm5, mm2`);
  }
  t.push(
    'movd mm1, eax',
    'movq mm2, rbx',
    `${XR}movd mm3, [r8 + 4]`,
    'movd eax, mm4',
    'movq rcx, mm5',
    `${XR}movd [r9], mm6${LOADBACK}`,
    'movq mm7, mm0',
    `${XR}movq mm1, [r8 + 3]`,
    `${XR}movq [r9 + 1], mm2${LOADBACK}`,
    `${XR}movntq [r9], mm3${LOADBACK}`,
    'pshufw mm1, mm2, #i',
    'pinsrw mm3, ebx, #i',
    'pextrw eax, mm4, #i',
    'pmovmskb edx, mm5',
    'mov edi, 0x6000\nmaskmovq mm1, mm2\nmov rsi, [0x6000]',
    'emms',
    'paddb mm1, mm2\nemms',
  );
  return t;
}

/**
 * The MMX<->SSE conversions and moves. `#m` is the memory operand (the source half of the
 * case's data); each runs once as it is and once after `emms; fld1; fldz`, so that TOP is 6
 * and two registers are tagged valid when it starts (the MMX transition is visible).
 */
interface CvtTemplate {
  /** nasm text. */
  insn: string;
  /** Source data: 0 = int32 pairs, 32/64 = float lanes of that width. */
  src: 0 | 32 | 64;
}

function cvtTemplates(): CvtTemplate[] {
  const t: CvtTemplate[] = [];
  for (const pre of ['', 'emms\nfld1\nfldz\n']) {
    t.push(
      { insn: `${pre}cvtpi2ps xmm1, mm2`, src: 0 },
      { insn: `${pre}cvtpi2ps xmm1, [#m]`, src: 0 },
      { insn: `${pre}cvtpi2pd xmm1, mm2`, src: 0 },
      // QEMU 7.2 switches to MMX state here too; the SDM does not (sse-kind.ts masks it).
      { insn: `${pre}cvtpi2pd xmm1, [#m]`, src: 0 },
      { insn: `${pre}cvtps2pi mm1, xmm2`, src: 32 },
      { insn: `${pre}cvtps2pi mm1, [#m]`, src: 32 },
      { insn: `${pre}cvttps2pi mm1, xmm2`, src: 32 },
      { insn: `${pre}cvttps2pi mm1, [#m]`, src: 32 },
      { insn: `${pre}cvtpd2pi mm1, xmm2`, src: 64 },
      { insn: `${pre}cvtpd2pi mm1, [#m]`, src: 64 },
      { insn: `${pre}cvttpd2pi mm1, xmm2`, src: 64 },
      { insn: `${pre}cvttpd2pi mm1, [#m]`, src: 64 },
      { insn: `${pre}movq2dq xmm1, mm2`, src: 0 },
      { insn: `${pre}movdq2q mm1, xmm2`, src: 0 },
    );
  }
  t.push(
    { insn: 'cvtpi2ps xmm9, mm2', src: 0 },
    { insn: 'cvtps2pi mm7, xmm2', src: 32 },
    { insn: 'movq2dq xmm14, mm2', src: 0 },
    { insn: 'cvtpi2pd xmm2, mm2', src: 0 },
    { insn: 'cvtpi2ps xmm2, mm2', src: 0 },
    { insn: 'movdq2q mm2, xmm2', src: 0 },
  );
  return t;
}

/** Eight dwords: four for XMM1 (the destination) and four for the source (XMM2, MM2, `#m`). */
function cvtData(rnd: () => number, src: 0 | 32 | 64): bigint[] {
  if (src !== 0) return fpData(rnd, src);
  const ints = (): bigint => {
    const k = rnd() % 4;
    // Above 2^24 in magnitude, so CVTPI2PS rounds (PE) in every rounding mode.
    if (k === 0) return BigInt.asUintN(32, BigInt((rnd() | 0x1000001) >> (rnd() % 4)));
    return intOf(rnd, 32);
  };
  return [
    fpLane(rnd, 32),
    fpLane(rnd, 32),
    fpLane(rnd, 32),
    fpLane(rnd, 32),
    ints(),
    ints(),
    ints(),
    ints(),
  ];
}

/** A transcendental template: `#a` is ST(0)'s operand, `#b` ST(1)'s; `gen` draws both. */
interface TransTemplate {
  /** nasm text. */
  insn: string;
  /** The two 80-bit operands (a = x in ST(0), b = y in ST(1)). */
  gen: (rnd: () => number) => [bigint, bigint];
}

/** An 80-bit value with random sign (unless `sign` is given), exponent `exp` and a random normal significand. */
function x80Of(rnd: () => number, exp: number, sign?: number): bigint {
  const sig = (1n << 63n) | (BigInt(rnd() & 0x7fffffff) << 32n) | BigInt(rnd());
  return (BigInt(sign ?? rnd() & 1) << 79n) | (BigInt(exp) << 64n) | sig;
}

function transTemplates(): TransTemplate[] {
  const near = (rnd: () => number, c: number, r: number) => c + (rnd() % (2 * r + 1)) - r;
  const any = (rnd: () => number) => x80Of(rnd, near(rnd, 0x3fff, 20));
  // |x| <= 1: mostly in [2^-8, 1), sometimes tiny, sometimes exactly +-1.
  const unit = (rnd: () => number): bigint => {
    const k = rnd() % 8;
    if (k === 0) return (BigInt(rnd() & 1) << 79n) | 0x3fff8000000000000000n;
    return x80Of(rnd, k === 1 ? near(rnd, 0x3fc0, 60) : 0x3ffe - (rnd() % 8));
  };
  const trig = (rnd: () => number): bigint => {
    const k = rnd() % 4;
    // |x| < pi/4, up to 2^6, up to 2^62.
    const exp =
      k < 2 ? 0x3ffe - (rnd() % 12) : k === 2 ? 0x3fff + (rnd() % 6) : 0x3fff + (rnd() % 63);
    return x80Of(rnd, exp);
  };
  const t: TransTemplate[] = [];
  const one = 'fld tword [#a]\n';
  const two = 'fld tword [#b]\nfld tword [#a]\n';
  t.push({ insn: `${one}f2xm1`, gen: (r) => [unit(r), 0n] });
  t.push({ insn: `${one}f2xm1`, gen: (r) => [unit(r), 0n] });
  t.push({
    insn: `${two}fyl2x`,
    gen: (r) => [
      r() % 6 === 0
        ? (BigInt(near(r, 0x3fff, 30)) << 64n) | (1n << 63n)
        : x80Of(r, near(r, 0x3fff, 30), 0),
      any(r),
    ],
  });
  t.push({ insn: `${two}fyl2x`, gen: (r) => [x80Of(r, near(r, 0x3ffe, 1), 0), any(r)] });
  t.push({
    insn: `${two}fyl2xp1`,
    gen: (r) => [x80Of(r, 0x3ffc - (r() % (r() % 3 === 0 ? 80 : 10))), any(r)],
  });
  t.push({ insn: `${two}fpatan`, gen: (r) => [any(r), any(r)] });
  t.push({
    insn: `${two}fpatan`,
    gen: (r) => [x80Of(r, near(r, 0x3fff, 2)), x80Of(r, near(r, 0x3fff, 2))],
  });
  // QEMU 7.2 computes these on host doubles (sse-kind.ts compares their values loosely); the
  // comment names the operand's range for the comparator.
  for (const op of ['fsin', 'fcos', 'fsincos', 'fptan']) {
    t.push({ insn: `${one}${op} ; small`, gen: (r) => [x80Of(r, 0x3ffe - (r() % 12)), 0n] });
    t.push({ insn: `${one}${op} ; large`, gen: (r) => [trig(r), 0n] });
  }
  return t;
}

/** MXCSR values for a case: the default mostly, else a random rounding mode with DAZ/FTZ. */
function mxcsrFor(rnd: () => number): number {
  const k = rnd() % 4;
  if (k < 2) return 0x1f80;
  return 0x1f80 | (rnd() & 0x6000) | (rnd() & 0x8040);
}

/** Builds the program for `seed` with `perTemplate` cases per template, for one group of templates. */
export function buildProgramSse(
  seed: number,
  perTemplate: number,
  group: 'int' | 'fp' | 'x87' | 'mmx' | 'cvt' | 'trans' | 'sys64' = 'int',
): DiffProgram {
  const fp = group === 'fp';
  const rnd = mulberry32(seed);
  const lines: string[] = [];
  const data: string[] = [];
  const cases: { insn: string }[] = [];
  const value = (): bigint => {
    const k = rnd() % 4;
    if (k === 0) return BigInt(EDGES[rnd() % EDGES.length]);
    if (k === 1) return BigInt(rnd());
    return (BigInt(rnd()) << 32n) | BigInt(rnd());
  };
  const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;
  if (fp) {
    for (const tpl of fpTemplates()) {
      for (let i = 0; i < perTemplate; i++) {
        const label = `d${data.length}`;
        const insn = tpl.insn
          .replaceAll('#m', `rel ${label} + 16`)
          .replaceAll('#p', String(rnd() & 7));
        data.push(
          `${label}: dd ${fpData(rnd, tpl.bits)
            .map((v) => `0x${v.toString(16)}`)
            .join(', ')}`,
        );
        lines.push('call fill');
        lines.push(`mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
        const mx =
          0x1f80 |
          ((rnd() & 3) << 13) |
          (rnd() % 4 === 0 ? 0x40 : 0) |
          (rnd() % 4 === 0 ? 0x8000 : 0);
        lines.push(`mov dword [0x6400], ${mx}`, 'ldmxcsr [0x6400]');
        lines.push(`movdqa xmm1, [rel ${label}]`, `movdqa xmm2, [rel ${label} + 16]`);
        for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
        lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', insn, 'call dump');
        cases.push({ insn });
      }
    }
  }
  if (group === 'x87') {
    for (const tpl of x87Templates()) {
      for (let i = 0; i < perTemplate; i++) {
        const label = `d${data.length}`;
        const insn = tpl
          .replaceAll('#a', `rel ${label}`)
          .replaceAll('#b', `rel ${label} + 16`)
          .replaceAll('#q', `rel ${label} + 32`)
          .replaceAll('#d', `rel ${label} + 40`)
          .replaceAll('#i', `rel ${label} + 44`)
          .replaceAll('#l', `rel ${label} + 48`)
          .replaceAll('#w', `rel ${label} + 56`)
          .replaceAll('#o', `rel ${label} + 64`);
        const a = x80(rnd);
        const b = x80(rnd);
        const q = fpLane(rnd, 64);
        const words = [
          a & 0xffffffffn,
          (a >> 32n) & 0xffffffffn,
          a >> 64n,
          0n,
          b & 0xffffffffn,
          (b >> 32n) & 0xffffffffn,
          b >> 64n,
          0n,
          q & 0xffffffffn,
          q >> 32n,
          fpLane(rnd, 32),
          intOf(rnd, 32),
          ...((l) => [l & 0xffffffffn, l >> 32n])(intOf(rnd, 64)),
          intOf(rnd, 16),
          0n,
          0x11111111n,
          0x22222222n,
          0x33333333n,
          0x44444444n,
        ];
        data.push(`${label}: dd ${words.map((v) => `0x${v.toString(16)}`).join(', ')}`);
        // QEMU 7.2 applies precision control to FRNDINT, FSCALE, FPREM and FBLD too; the SDM limits it to the
        // basic arithmetic and FSQRT (the model follows the SDM), so those run at 64 bits.
        // QEMU 7.2 also rounds an m64 real or m32 integer operand to precision control 24 when it
        // loads it (double rounding); the SDM converts it exactly. Such templates use PC 53 or 64.
        let pc = /frndint|fscale|fprem|fbld/.test(tpl) ? 3 : [0, 2, 3, 3][rnd() & 3];
        if (pc === 0 && (tpl.includes('[#q]') || tpl.includes('dword [#i]'))) pc = 2;
        const fcw = 0x3f | 0x40 | (pc << 8) | ((rnd() & 3) << 10);
        lines.push('call fill', `mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
        lines.push('fninit', `mov word [0x6400], ${fcw}`, 'fldcw [0x6400]');
        for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
        lines.push('mov r9d, 0x6000');
        lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', insn);
        lines.push(`mov r10, [rel ${label} + 64]`, `mov r11, [rel ${label} + 72]`, 'call dump');
        cases.push({ insn });
      }
    }
  }
  // SYSEXIT (REX.W) to 64-bit ring 3 and SYSENTER back: user-accessible pages and ring-3
  // descriptors at IA32_SYSENTER_CS + 32/40 (0x28/0x30); IOPL 3 so that ring 3 can dump.
  const user = group === 'sys64';
  if (user) {
    lines.push('mov ecx, 0x174', 'mov eax, 0x08', 'xor edx, edx', 'wrmsr');
    lines.push('pushfq', 'or dword [rsp], 0x3000', 'popfq');
    for (let i = 0; i < perTemplate; i++) {
      const rsp0 = 0x6800 + (rnd() % 64) * 8;
      const rsp3 = 0x6c00 + (rnd() % 64) * 8;
      lines.push('mov ecx, 0x175', `mov eax, ${rsp0}`, 'xor edx, edx', 'wrmsr');
      lines.push(
        'mov ecx, 0x176',
        `lea rax, [rel sys_entry${i}]`,
        'mov rdx, rax',
        'shr rdx, 32',
        'wrmsr',
      );
      lines.push('call fill', `mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
      for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
      lines.push(
        `lea rdx, [rel user${i}]`,
        `mov ecx, ${rsp3}`,
        'o64 sysexit',
        `user${i}:`,
        'mov r14d, cs',
        'mov r13d, ss',
        'call dump',
      );
      cases.push({ insn: `o64 sysexit to ring 3 (rsp ${hex(BigInt(rsp3))})` });
      lines.push(
        `mov eax, ${(rnd() | 1) >>> 0}`,
        'call xfill',
        'sysenter',
        `sys_entry${i}:`,
        'mov r14d, cs',
        'mov r13d, ss',
        'call dump',
      );
      cases.push({ insn: `sysenter from 64-bit ring 3 (IA32_SYSENTER_ESP ${hex(BigInt(rsp0))})` });
    }
  }
  if (group === 'trans') {
    for (const tpl of transTemplates()) {
      for (let i = 0; i < perTemplate; i++) {
        const label = `d${data.length}`;
        const insn = tpl.insn
          .replaceAll('#a', `rel ${label}`)
          .replaceAll('#b', `rel ${label} + 16`);
        const [a, b] = tpl.gen(rnd);
        const words = [a & 0xffffffffn, (a >> 32n) & 0xffffffffn, a >> 64n, 0n];
        words.push(b & 0xffffffffn, (b >> 32n) & 0xffffffffn, b >> 64n, 0n);
        data.push(`${label}: dd ${words.map((v) => `0x${v.toString(16)}`).join(', ')}`);
        // Every rounding control; precision control 64 (it does not apply to these).
        const fcw = 0x37f | ((rnd() & 3) << 10);
        lines.push('call fill', `mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
        lines.push('fninit', `mov word [0x6400], ${fcw}`, 'fldcw [0x6400]');
        for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
        lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', insn, 'call dump');
        cases.push({ insn });
      }
    }
  }
  if (group === 'cvt') {
    for (const tpl of cvtTemplates()) {
      for (let i = 0; i < perTemplate; i++) {
        const label = `d${data.length}`;
        const insn = tpl.insn.replaceAll('#m', `rel ${label} + 16`);
        data.push(
          `${label}: dd ${cvtData(rnd, tpl.src)
            .map((v) => `0x${v.toString(16)}`)
            .join(', ')}`,
        );
        lines.push('call fill', `mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
        lines.push(`mov dword [0x6400], ${mxcsrFor(rnd)}`, 'ldmxcsr [0x6400]', 'fninit');
        for (let k = 0; k < 8; k++) lines.push(`movq mm${k}, [0x${(0x6280 + k * 8).toString(16)}]`);
        lines.push(`movdqa xmm1, [rel ${label}]`, `movdqa xmm2, [rel ${label} + 16]`);
        lines.push(`movq mm2, [rel ${label} + 16]`);
        for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
        lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', insn, 'call dump');
        cases.push({ insn });
      }
    }
  }
  for (const tpl of group === 'int' ? intTemplates() : group === 'mmx' ? mmxTemplates() : []) {
    for (let i = 0; i < perTemplate; i++) {
      const insn = tpl.replaceAll('#i', String(rnd() & 0xff));
      lines.push('call fill');
      lines.push(`mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
      lines.push(`mov dword [0x6400], ${mxcsrFor(rnd)}`, 'ldmxcsr [0x6400]');
      if (group === 'mmx') {
        lines.push('fninit');
        for (let k = 0; k < 8; k++) lines.push(`movq mm${k}, [0x${(0x6280 + k * 8).toString(16)}]`);
      }
      for (const r of REGS.slice(0, 4)) lines.push(`mov ${r}, ${hex(value())}`);
      lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', insn, 'call dump');
      cases.push({ insn });
    }
  }
  const source = `bits 16
org 0x7c00
start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7000
  mov word [dap + 2], (image_end - body + 511) / 512
  mov si, dap
  mov ah, 0x42
  int 0x13
  jmp 0:body
dap: db 0x10, 0
  dw 0, body, 0
  dq 1
times 510-($-$$) db 0
dw 0xaa55
body:
  cli
  mov di, 0x1000
  xor eax, eax
  mov cx, 0xc00
  cld
  rep stosd
  mov dword [0x1000], 0x2003${user ? ' | 4' : ''}
  mov dword [0x2000], 0x3003${user ? ' | 4' : ''}
  mov dword [0x3000], 0x83${user ? ' | 4' : ''}
  mov eax, 0x1000
  mov cr3, eax
  mov eax, cr4
  or eax, 0x620
  mov cr4, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  lgdt [gdtr]
  mov eax, cr0
  and eax, ~0xc
  or eax, 0x80000023
  mov cr0, eax
  jmp 0x08:long_start
align 8
gdt: dq 0, 0x00209a0000000000, 0x0000920000000000${user ? ', 0, 0, 0x0020fa0000000000, 0x0000f20000000000' : ''}
gdtr: dw ${user ? 55 : 23}
  dd gdt
bits 64
long_start:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov rsp, 0x7000
  fninit
${lines.join('\n')}
  mov al, 0
  out 0xf4, al
  hlt
fill:
  push rax
  push rdi
  mov edi, 0x6000
  mov al, 3
.f:
  mov [rdi], al
  add al, 7
  inc edi
  cmp edi, 0x6200
  jne .f
  pop rdi
  pop rax
  ret
xfill:
  push rbx
  push rcx
  push rdx
  push rdi
  mov edi, 0x6200
  mov ecx, 86
.n:
  mov edx, eax
  shl edx, 13
  xor eax, edx
  mov edx, eax
  shr edx, 17
  xor eax, edx
  mov edx, eax
  shl edx, 5
  xor eax, edx
  mov ebx, eax
  test bl, 3
  jnz .r
  shr ebx, 2
  and ebx, 31
  mov ebx, [edges + rbx * 4]
.r:
  mov [rdi], ebx
  add edi, 4
  dec ecx
  jnz .n
${Array.from({ length: 16 }, (_, i) => `  movdqa xmm${i}, [0x${(0x6200 + i * 16).toString(16)}]`).join('\n')}
  pop rdi
  pop rdx
  pop rcx
  pop rbx
${REGS.slice(4)
  .map((r, i) => `  mov ${r}, [0x${(0x6300 + i * 8).toString(16)}]`)
  .join('\n')}
  ret
dump:
  pushfq
${['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rsp'].map((r) => `  push ${r}`).join('\n')}
  xor esi, esi
.l:
  mov al, [rsp + rsi]
  out 0xe9, al
  inc esi
  cmp esi, 136
  jne .l
  mov edi, 0x5000
  mov ecx, 64
  xor eax, eax
  rep stosq
  fxsave [0x5000]
  mov esi, 0x5000
.m:
  mov al, [rsi]
  out 0xe9, al
  inc esi
  cmp esi, 0x5000 + 416
  jne .m
  add rsp, 8
${['r15', 'r14', 'r13', 'r12', 'r11', 'r10', 'r9', 'r8', 'rbp', 'rdi', 'rsi', 'rdx', 'rcx', 'rbx', 'rax'].map((r) => `  pop ${r}`).join('\n')}
  popfq
  ret
align 16
${data.join('\n')}
align 4
edges: dd ${EDGES.map((e) => `0x${e.toString(16)}`).join(', ')}
image_end:
%if image_end - body > 0x8000
%error program too large for one real-mode segment
%endif
times (512 - ($ - $$) % 512) % 512 db 0
`;
  return { source, cases };
}
