/**
 * The 64-bit variant of the differential programs: the body switches from real mode to long
 * mode itself (identity-mapped 2 MiB page, GDT, EFER.LME, CR0.PG, far jump), so that entry
 * path is compared too, then runs single-instruction cases on 64-bit registers and dumps the
 * sixteen GPRs and RFLAGS (136 bytes) to port 0xE9.
 */
import type { DiffProgram } from './program.ts';

/** Bytes per case: R15..R0 (push order reversed) then RFLAGS. */
export const DUMP_BYTES_64 = 136;

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
  0n,
  1n,
  0x7fn,
  0x80n,
  0xffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
  0x3fn,
  0x40n,
];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];

function templates(): { insn: string; div?: 'u' | 's' }[] {
  const t: { insn: string; div?: 'u' | 's' }[] = [];
  for (const op of ALU) {
    t.push({ insn: `${op} rax, rbx` });
    t.push({ insn: `${op} r8, r9` });
    t.push({ insn: `${op} rax, -0x7f` });
    t.push({ insn: `${op} eax, ebx` });
    t.push({ insn: `${op} sil, dil` });
  }
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    t.push({ insn: `${op} rax` });
    t.push({ insn: `${op} r10d` });
  }
  for (const op of SHIFTS) {
    t.push({ insn: `${op} rax, cl` });
    t.push({ insn: `${op} rax, 1` });
    t.push({ insn: `${op} r11, 37` });
  }
  t.push(
    { insn: 'mul rbx' },
    { insn: 'imul rbx' },
    { insn: 'imul rax, rbx' },
    { insn: 'imul rax, rbx, 1000' },
  );
  t.push({ insn: 'div rbx', div: 'u' }, { insn: 'idiv rbx', div: 's' });
  for (const op of ['bt', 'bts', 'btr', 'btc']) t.push({ insn: `${op} rax, rbx` });
  for (const op of ['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt']) t.push({ insn: `${op} rax, rbx` });
  t.push({ insn: 'shld rax, rbx, cl' }, { insn: 'shrd rax, rbx, cl' });
  t.push(
    { insn: 'cmpxchg rbx, rcx' },
    { insn: 'xadd rax, rbx' },
    { insn: 'bswap rax' },
    { insn: 'bswap r12' },
  );
  t.push(
    { insn: 'movsxd rax, ebx' },
    { insn: 'movzx rax, bl' },
    { insn: 'movsx r13, bx' },
    { insn: 'cqo' },
    { insn: 'cdqe' },
  );
  t.push(
    { insn: 'cmovz rax, rbx' },
    { insn: 'cmovnz eax, ebx' },
    { insn: 'setg r14b' },
    { insn: 'lea rax, [rbx + rcx*8 + 0x12345]' },
  );
  t.push(
    { insn: 'lea eax, [rbx + rcx*4 - 1]' },
    { insn: 'xchg rax, r15' },
    { insn: 'mov eax, ebx' },
    { insn: 'mov ah, bl' },
  );
  // Memory operands (data area 0x6000..0x61ff refilled before every case), RIP-relative
  // addressing, string instructions and the stack.
  const R8 = 'mov r8d, 0x6000\n';
  for (const insn of [
    `${R8}add [r8], rbx\nmov rsi, [r8]`,
    `${R8}sub qword [r8 + 8], 0x7f\nmov rsi, [r8 + 8]`,
    `${R8}xadd [r8], rax\nmov rsi, [r8]`,
    `${R8}cmpxchg [r8], rcx\nmov rsi, [r8]`,
    `${R8}mov rax, [r8]\nmov rdx, [r8 + 8]\ncmpxchg16b [r8]\nmov rsi, [r8]\nmov rdi, [r8 + 8]`,
    `${R8}cmpxchg16b [r8]\nmov rsi, [r8]\nmov rdi, [r8 + 8]`,
    `${R8}and rbx, 0x7f\nbts qword [r8], rbx\nbtr qword [r8 + 8], 70\nmov rsi, [r8]\nmov rdi, [r8 + 8]`,
    `${R8}shl qword [r8], cl\nmov rsi, [r8]`,
    `${R8}neg dword [r8 + 4]\nmov rsi, [r8]`,
    `${R8}inc word [r8 + 2]\nmov rsi, [r8]`,
    `${R8}movbe rsi, [r8]\nmovbe [r8 + 8], rax\nmov rdi, [r8 + 8]`,
    `${R8}imul rsi, [r8], 13`,
    `${R8}mul qword [r8]`,
    'lea rsi, [rel $]\nmov rdi, [rel fill]\nmovzx eax, byte [rel fill + 1]',
    'mov esi, 0x6000\nmov edi, 0x6100\nmov ecx, 5\ncld\nrep movsq\nmov rax, [0x6100]\nmov rbx, [0x6120]',
    'mov edi, 0x6040\nmov ecx, 4\nstd\nrep stosq\ncld\nmov rsi, [0x6028]',
    'mov esi, 0x6000\nmov edi, 0x6000\nmov ecx, 8\nrepe cmpsq',
    'mov esi, 0x6010\nlodsq\nlodsd',
    'push rax\npush rbx\npop rcx\npop rdx',
    'push -5\npop rsi',
    'pushfq\npop rax',
    'mov rbp, rsp\nenter 16, 0\nmov rsi, rsp\nleave',
  ]) {
    t.push({ insn });
  }
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

/** Builds the 64-bit program for `seed`. */
export function buildProgram64(seed: number, perTemplate: number): DiffProgram {
  const rnd = mulberry32(seed);
  const value = (): bigint => {
    const k = rnd() % 6;
    if (k < 2) return EDGES[rnd() % EDGES.length];
    if (k === 2) return BigInt(rnd());
    return (BigInt(rnd()) << 32n) | BigInt(rnd());
  };
  const lines: string[] = [];
  const cases: { insn: string }[] = [];
  const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;
  for (const tpl of templates()) {
    for (let i = 0; i < perTemplate; i++) {
      const vals = new Map<string, bigint>();
      for (const r of REGS) vals.set(r, value());
      if (tpl.div !== undefined) {
        let b = vals.get('rbx') ?? 3n;
        if (b === 0n) b = 3n;
        const a = vals.get('rax') ?? 0n;
        if (tpl.div === 'u') vals.set('rdx', (vals.get('rdx') ?? 0n) % b);
        else {
          if (b === 0xffffffffffffffffn) b = 7n;
          vals.set('rdx', (a >> 63n) & 1n ? 0xffffffffffffffffn : 0n);
        }
        vals.set('rbx', b);
      }
      lines.push('call fill');
      for (const r of REGS) lines.push(`mov ${r}, ${hex(vals.get(r) ?? 0n)}`);
      lines.push(`push qword ${(rnd() & 0x8d5) | 2}`, 'popfq', tpl.insn, 'call dump');
      cases.push({ insn: tpl.insn });
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
  or eax, 0x20
  mov cr4, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  lgdt [gdtr]
  mov eax, cr0
  or eax, 0x80000001
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
dump:
  pushfq
${['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rsp'].map((r) => `  push ${r}`).join('\n')}
  xor esi, esi
.l:
  mov al, [rsp + rsi]
  out 0xe9, al
  inc esi
  cmp esi, ${DUMP_BYTES_64}
  jne .l
  add rsp, 8
${['r15', 'r14', 'r13', 'r12', 'r11', 'r10', 'r9', 'r8', 'rbp', 'rdi', 'rsi', 'rdx', 'rcx', 'rbx', 'rax'].map((r) => `  pop ${r}`).join('\n')}
  popfq
  ret
image_end:
%if image_end - body > 0x8000
%error program too large for one real-mode segment
%endif
times (512 - ($ - $$) % 512) % 512 db 0
`;
  return { source, cases };
}
