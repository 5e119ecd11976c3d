/**
 * Differential test programs in the spirit of v86's tests/nasm: one boot-sector image per
 * seed that loads itself with INT 13h AH=42h, then runs many single-instruction cases. Each
 * case sets every GPR and EFLAGS from seeded random values, executes one instruction form,
 * and dumps EFLAGS plus the eight GPRs (PUSHAD order) as 36 bytes to the debug port 0xE9.
 * The same bytes run on QEMU (TCG, SeaBIOS) and on the model, which starts at the body.
 */

/** One generated case. */
export interface DiffCase {
  /** The instruction under test, in nasm syntax. */
  insn: string;
}

/** A generated program. */
export interface DiffProgram {
  /** nasm source (bits 16, org 0x7c00). */
  source: string;
  /** Cases in output order. */
  cases: DiffCase[];
}

/** Bytes each case writes to port 0xE9: EDI, ESI, EBP, ESP, EBX, EDX, ECX, EAX (PUSHAD image), then EFLAGS. */
export const DUMP_BYTES = 36;
/** Where the body starts (the sector after the boot sector). */
export const BODY = 0x7e00;

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

const EDGES = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xffffffff, 0xfffffffe, 0x99, 0x09, 0x0f, 0x1f, 0x20, 0x21,
];

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];
const CCS = [
  'o',
  'no',
  'b',
  'ae',
  'e',
  'ne',
  'be',
  'a',
  's',
  'ns',
  'p',
  'np',
  'l',
  'ge',
  'le',
  'g',
];
const A = { 8: 'al', 16: 'ax', 32: 'eax' } as const;
const B = { 8: 'bl', 16: 'bx', 32: 'ebx' } as const;

/** Instruction templates; `div` ones get constrained inputs. */
function templates(): { insn: string; div?: 'u' | 's'; size?: 8 | 16 | 32 }[] {
  const t: { insn: string; div?: 'u' | 's'; size?: 8 | 16 | 32 }[] = [];
  for (const s of [8, 16, 32] as const) {
    for (const op of ALU) {
      t.push({ insn: `${op} ${A[s]}, ${B[s]}` });
      t.push({
        insn: `${op} ${A[s]}, 0x${(s === 8 ? 0x85 : s === 16 ? 0x8001 : 0x7ffffffe).toString(16)}`,
      });
    }
    t.push({ insn: `test ${A[s]}, ${B[s]}` });
    for (const op of ['inc', 'dec', 'neg', 'not']) t.push({ insn: `${op} ${A[s]}` });
    for (const op of SHIFTS) {
      t.push({ insn: `${op} ${A[s]}, cl` });
      t.push({ insn: `${op} ${A[s]}, 1` });
      t.push({ insn: `${op} ${A[s]}, 3` });
    }
    t.push({ insn: `mul ${B[s]}` });
    t.push({ insn: `imul ${B[s]}` });
    t.push({ insn: `div ${B[s]}`, div: 'u', size: s });
    t.push({ insn: `idiv ${B[s]}`, div: 's', size: s });
    if (s !== 8) {
      t.push({ insn: `imul ${A[s]}, ${B[s]}` });
      t.push({ insn: `imul ${A[s]}, ${B[s]}, -3` });
      for (const op of ['bt', 'bts', 'btr', 'btc']) t.push({ insn: `${op} ${A[s]}, ${B[s]}` });
      t.push({ insn: `bt ${A[s]}, 5` });
      for (const op of ['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt'])
        t.push({ insn: `${op} ${A[s]}, ${B[s]}` });
      t.push({ insn: `shld ${A[s]}, ${B[s]}, cl` });
      t.push({ insn: `shrd ${A[s]}, ${B[s]}, cl` });
      t.push({ insn: `shld ${A[s]}, ${B[s]}, 7` });
      t.push({ insn: `shrd ${A[s]}, ${B[s]}, 1` });
      t.push({ insn: `movzx ${A[s]}, bl` });
      t.push({ insn: `movsx ${A[s]}, bl` });
    }
    t.push({ insn: `cmpxchg ${B[s]}, ${s === 8 ? 'cl' : s === 16 ? 'cx' : 'ecx'}` });
    t.push({ insn: `xadd ${A[s]}, ${B[s]}` });
    t.push({ insn: `xchg ${A[s]}, ${B[s]}` });
  }
  for (const cc of CCS) {
    t.push({ insn: `set${cc} al` });
    t.push({ insn: `cmov${cc} eax, ebx` });
  }
  for (const op of [
    'daa',
    'das',
    'aaa',
    'aas',
    'aam',
    'aad',
    'aam 7',
    'aad 3',
    'cbw',
    'cwde',
    'cwd',
    'cdq',
    'lahf',
    'sahf',
    'cmc',
    'clc',
    'stc',
    'bswap eax',
    'movsx eax, bx',
  ]) {
    t.push({ insn: op });
  }
  // Memory operands (data area 0x6000..0x61ff, refilled with a pattern before every case),
  // string instructions, stack and address-size forms; results are loaded back into registers.
  const M = 'mov esi, [0x6000]\nmov edi, [0x6004]';
  for (const op of ['add', 'sub', 'xor', 'adc', 'cmp'])
    t.push({ insn: `${op} dword [0x6000], ebx\n${M}` });
  t.push({ insn: `inc word [0x6002]\n${M}` });
  t.push({ insn: `shl dword [0x6000], cl\n${M}` });
  t.push({ insn: `btc dword [0x6000], ebx\n${M}` });
  t.push({ insn: `xadd [0x6004], ebx\n${M}` });
  t.push({ insn: `cmpxchg [0x6000], ecx\n${M}` });
  t.push({ insn: `neg byte [0x6001]\n${M}` });
  t.push({ insn: 'mov bx, 0x6000\nmov si, 3\nadd eax, [bx+si+4]' });
  t.push({ insn: 'mov bx, 0x6010\nxlatb' });
  t.push({
    insn: 'mov si, 0x6000\nmov di, 0x6100\nmov cx, 9\ncld\nrep movsb\nmov eax, [0x6100]\nmov ebx, [0x6104]',
  });
  t.push({ insn: 'mov si, 0x6000\nmov di, 0x6000\nmov cx, 4\nrepe cmpsw' });
  t.push({ insn: 'mov di, 0x6003\nmov cx, 0x40\nmov al, 0x2a\ncld\nrepne scasb' });
  t.push({ insn: 'mov di, 0x6020\nmov cx, 3\nstd\nrep stosd\ncld\nmov esi, [0x6018]' });
  t.push({ insn: 'mov si, 0x6008\nlodsd\nlodsw' });
  t.push({ insn: 'push eax\npush bx\npop ecx\npop dx' });
  t.push({ insn: 'pushad\nxor eax, eax\npopad' });
  t.push({ insn: 'pushfd\npop eax' });
  t.push({ insn: 'lea eax, [ebx+ecx*4+0x12]\nlea si, [bx+di-3]' });
  t.push({ insn: 'mov bp, sp\nenter 8, 0\nmov esi, esp\nleave' });
  t.push({ insn: 'shld [0x6000], ebx, cl\nmov esi, [0x6000]' });
  for (const s of ['eax, ebx', 'ax, bx', 'al, bl']) {
    t.push({
      insn: `cmp ${s}\nsetl cl\nsetb ch\nsetle dl\nseta dh\nsetge bl\nsetae bh\nsetg al\nsetbe ah`,
    });
    t.push({ insn: `sub ${s}\nsetz cl\nsetnz ch\nsets dl\nseto dh\nsetp bl` });
  }
  return t;
}

/** Builds the program for `seed` with `perTemplate` random cases per template. */
export function buildProgram(seed: number, perTemplate: number): DiffProgram {
  const rnd = mulberry32(seed);
  const value = (): number => {
    const k = rnd() % 8;
    if (k < 3) return EDGES[rnd() % EDGES.length];
    if (k === 3) return rnd() & 0xff;
    if (k === 4) return rnd() & 0xffff;
    return rnd();
  };
  const lines: string[] = [];
  const cases: DiffCase[] = [];
  const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
  for (const tpl of templates()) {
    for (let i = 0; i < perTemplate; i++) {
      let eax = value();
      let ebx = value();
      let edx = value();
      const ecx = value();
      if (tpl.div !== undefined) {
        const s = tpl.size ?? 32;
        const m = s === 32 ? 0xffffffff : (1 << s) - 1;
        ebx = (ebx & m) >>> 0;
        if (ebx === 0) ebx = 3;
        if (tpl.div === 'u') {
          // Dividend high part below the divisor: no quotient overflow.
          if (s === 8) eax = ((eax & 0xffff00ff) | ((((eax >>> 8) & 0xff) % ebx) << 8)) >>> 0;
          else edx = s === 32 ? (edx >>> 0) % ebx : ((edx & ~m) | ((edx & m) % ebx)) >>> 0;
        } else {
          // Sign-extend the low half into the high half; avoid MIN / -1.
          const low = s === 8 ? eax & 0xff : eax & m;
          const neg = (low & (s === 32 ? 0x80000000 : 1 << (s - 1))) !== 0;
          if (s === 8) eax = ((eax & 0xffff0000) | ((neg ? 0xff00 : 0) | low)) >>> 0;
          else edx = ((edx & ~m) | (neg ? m : 0)) >>> 0;
          if ((ebx & m) >>> 0 === m) ebx = (ebx - 2) >>> 0;
        }
      }
      const flags = (rnd() & 0x8d5) | 2;
      lines.push(
        'call fill',
        `mov eax, ${hex(eax)}`,
        `mov ebx, ${hex(ebx)}`,
        `mov ecx, ${hex(ecx)}`,
        `mov edx, ${hex(edx)}`,
        `mov esi, ${hex(value())}`,
        `mov edi, ${hex(value())}`,
        `mov ebp, ${hex(value())}`,
        `push dword ${hex(flags)}`,
        'popfd',
        tpl.insn,
        'call dump',
      );
      cases.push({ insn: tpl.insn });
    }
  }
  const body = lines.join('\n');
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
${body}
  mov al, 0
  out 0xf4, al
  hlt
fill:
  pushad
  mov di, 0x6000
  mov al, 3
.f:
  mov [di], al
  add al, 7
  inc di
  cmp di, 0x6200
  jne .f
  popad
  ret
dump:
  pushfd
  pushad
  mov bp, sp
  xor si, si
.l:
  mov al, [bp+si]
  out 0xe9, al
  inc si
  cmp si, ${DUMP_BYTES}
  jne .l
  popad
  popfd
  ret
image_end:
%if image_end - body > 0x8000
%error program too large for one real-mode segment
%endif
times (512 - ($ - $$) % 512) % 512 db 0
`;
  return { source, cases };
}
