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

/** MXCSR values for a case: the default mostly, else a random rounding mode with DAZ/FTZ. */
function mxcsrFor(rnd: () => number): number {
  const k = rnd() % 4;
  if (k < 2) return 0x1f80;
  return 0x1f80 | (rnd() & 0x6000) | (rnd() & 0x8040);
}

/** Builds the SSE program for `seed` with `perTemplate` cases per template (`fp`: the floating-point group). */
export function buildProgramSse(seed: number, perTemplate: number, fp = false): DiffProgram {
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
  for (const tpl of fp ? [] : intTemplates()) {
    for (let i = 0; i < perTemplate; i++) {
      const insn = tpl.replaceAll('#i', String(rnd() & 0xff));
      lines.push('call fill');
      lines.push(`mov eax, ${(rnd() | 1) >>> 0}`, 'call xfill');
      lines.push(`mov dword [0x6400], ${mxcsrFor(rnd)}`, 'ldmxcsr [0x6400]');
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
  mov dword [0x1000], 0x2003
  mov dword [0x2000], 0x3003
  mov dword [0x3000], 0x83
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
gdt: dq 0, 0x00209a0000000000, 0x0000920000000000
gdtr: dw 23
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
