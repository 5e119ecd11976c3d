/**
 * A system-level differential program for the legacy pieces: ARPL (register and memory forms,
 * seeded random selectors and flags), SALC, BOUND (in range, and out of range with the #BR
 * handler fixing the index and restarting), LOCK on lockable and non-lockable forms (#UD), ENTER
 * with nesting levels, SMSW/LMSW/CLTS, RDTSCP's
 * TSC_AUX, LAR/LSL/VERR/VERW on every descriptor type at CPL 0 and 3, SYSENTER/SYSEXIT between
 * ring 3 and ring 0, then, with TR holding a
 * 16-bit TSS: INT from ring 3 through a 32-bit and a 16-bit interrupt gate (SS0:SP0 from the
 * 16-bit TSS), and a task switch by CALL to a 16-bit TSS and back by IRET (NT), and finally the
 * LAR/LSL/VERR/VERW probes again in 64-bit mode (16-byte system descriptors), with the
 * outgoing task's 16-bit TSS image dumped from the incoming task. (INT1/ICEBP is not here:
 * QEMU 7.2 TCG hands it to its debugger stub instead of delivering #DB; legacy.test.ts checks
 * the SDM behaviour.)
 *
 * Each dump is 48 bytes on port 0xE9: PUSHAD's eight registers, EFLAGS, then the CS, SS, DS,
 * ES, FS and GS selectors as words; the TSS dump is 44 bytes.
 */
import type { DiffProgram } from './program.ts';

/** Seeds recorded in test/vectors/system16.json. */
export const SYSTEM16_SEEDS = [1, 2, 3, 4];

/**
 * Compares QEMU's and the model's outputs dump by dump; returns readable mismatches (register
 * dumps field by field).
 */
export function compareSystem16(
  p: { cases: { insn: string }[]; sizes: number[] },
  want: Uint8Array,
  got: Uint8Array,
): string[] {
  const out: string[] = [];
  if (want.length !== got.length) out.push(`output length qemu=${want.length} model=${got.length}`);
  const names = ['EDI', 'ESI', 'EBP', 'ESP', 'EBX', 'EDX', 'ECX', 'EAX', 'EFLAGS'];
  const segs = ['CS', 'SS', 'DS', 'ES', 'FS', 'GS'];
  let off = 0;
  p.cases.forEach((c, i) => {
    const n = p.sizes[i];
    let a = Buffer.from(want.subarray(off, off + n));
    const b = Buffer.from(got.subarray(off, off + n));
    off += n;
    // In IA-32e mode LAR/LSL reject 16-bit TSSs (types 1, 3), 16-bit call gates (4) and task
    // gates (5) (SDM LAR/LSL, valid types in 64-bit mode); QEMU 7.2 accepts them as in legacy
    // mode. For those the model must answer "not valid": ZF clear, destinations unchanged.
    if (/in 64-bit mode.*(type 0x[1345] |16-bit TSS)/.test(c.insn)) {
      a = Buffer.from('efbeadde00efbeadde000000', 'hex');
      a[11] = want[off - 1] ?? 0;
      a[10] = want[off - 2] ?? 0;
    }
    if (a.equals(b)) return;
    const d: string[] = [];
    if (n === DUMP16_BYTES && a.length === n && b.length === n) {
      for (let k = 0; k < 9; k++) {
        const x = a.readUInt32LE(k * 4);
        const y = b.readUInt32LE(k * 4);
        if (x !== y) d.push(`${names[k]} qemu=${x.toString(16)} model=${y.toString(16)}`);
      }
      for (let k = 0; k < 6; k++) {
        const x = a.readUInt16LE(36 + k * 2);
        const y = b.readUInt16LE(36 + k * 2);
        if (x !== y) d.push(`${segs[k]} qemu=${x.toString(16)} model=${y.toString(16)}`);
      }
    } else d.push(`qemu=${a.toString('hex')} model=${b.toString('hex')}`);
    out.push(`${c.insn}: ${d.join(', ')}`);
  });
  return out;
}

/** Bytes of one register dump. */
export const DUMP16_BYTES = 48;

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

/** Builds the program for `seed`; `cases` names every dump in output order (byte sizes vary). */
export function buildSystem16Program(seed: number): DiffProgram & { sizes: number[] } {
  const rnd = mulberry32(seed);
  const lines: string[] = [];
  const cases: { insn: string }[] = [];
  const sizes: number[] = [];
  const dump = (insn: string, bytes = DUMP16_BYTES) => {
    cases.push({ insn });
    sizes.push(bytes);
  };
  const h = (v: number) => `0x${(v >>> 0).toString(16)}`;
  const flags = () => h((rnd() & 0x8d5) | 2);
  for (let i = 0; i < 24; i++) {
    const a = rnd();
    const c = rnd();
    lines.push(`mov eax, ${h(a)}`, `mov ecx, ${h(c)}`, `push dword ${flags()}`, 'popfd');
    lines.push('arpl ax, cx', 'call dump');
    dump(`arpl ax, cx (eax=${h(a)} ecx=${h(c)})`);
    const m = rnd() & 0xffff;
    lines.push(`mov word [scratch], ${h(m)}`, `mov edx, ${h(c)}`, `push dword ${flags()}`);
    lines.push('popfd', 'arpl [scratch], dx', 'movzx esi, word [scratch]', 'call dump');
    dump(`arpl [m16], dx (m=${h(m)} edx=${h(c)})`);
  }
  for (let i = 0; i < 6; i++) {
    lines.push(`mov eax, ${h(rnd())}`, `push dword ${flags()}`, 'popfd', 'salc', 'call dump');
    dump('salc');
  }
  for (let i = 0; i < 8; i++) {
    const lo = (rnd() % 2000) - 1000;
    const hi = lo + (rnd() % 2000);
    const idx = lo + (rnd() % 3000) - 500;
    const w = i % 2 === 0;
    lines.push(
      `mov ${w ? 'word' : 'dword'} [bounds], ${lo}`,
      `mov ${w ? 'word' : 'dword'} [bounds + ${w ? 2 : 4}], ${hi}`,
      `mov edx, ${h(idx)}`,
      `mov dword [bounds_fix], ${lo}`,
      `push dword ${flags()}`,
      'popfd',
      `bound ${w ? 'dx' : 'edx'}, [bounds]`,
      'call dump',
    );
    if (idx < lo || idx > hi) dump(`#BR from bound (${lo} <= ${idx} <= ${hi})`);
    dump(`bound ${w ? 16 : 32} (${lo} <= ${idx} <= ${hi})`);
  }
  // LOCK: allowed on read-modify-write memory forms, #UD on everything else (the #UD handler
  // dumps and resumes at the label stored in ud_resume).
  const locked: [string, boolean][] = [
    ['add [scratch], eax', true],
    ['or byte [scratch], 0x12', true],
    ['adc [scratch], cx', true],
    ['sbb dword [scratch], 0x1234', true],
    ['and [scratch], dl', true],
    ['sub dword [scratch], 7', true],
    ['xor [scratch], ebx', true],
    ['xchg [scratch], edx', true],
    ['not dword [scratch]', true],
    ['neg word [scratch]', true],
    ['inc dword [scratch]', true],
    ['dec byte [scratch]', true],
    ['bts dword [scratch], 5', true],
    ['btr dword [scratch], 9', true],
    ['btc word [scratch], 3', true],
    ['cmpxchg [scratch], ecx', true],
    ['xadd [scratch], ebx', true],
    ['cmpxchg8b [bounds]', true],
    ['add eax, ecx', false],
    ['cmp [scratch], eax', false],
    ['cmp dword [scratch], 3', false],
    ['inc eax', false],
    ['not ecx', false],
    ['nop', false],
    // QEMU 7.2 lets LOCK through on MOV, BT, TEST, XCHG r,r, LEA and MOVZX (no #UD); the SDM
    // and the model raise #UD (legacy.test.ts), so they are not compared here.
  ];
  locked.forEach(([insn, ok], i) => {
    lines.push(`mov dword [ud_resume], .lock${i}`, `mov eax, ${h(rnd())}`, `mov ecx, ${h(rnd())}`);
    lines.push(`mov edx, ${h(rnd())}`, `mov ebx, ${h(rnd())}`, `push dword ${flags()}`, 'popfd');
    lines.push(`mov dword [scratch], ${h(rnd())}`, 'db 0xf0', insn, `.lock${i}:`);
    lines.push('mov esi, [scratch]', 'call dump');
    if (!ok) dump(`#UD from lock ${insn}`);
    dump(`lock ${insn}`);
  });
  // INTO: no trap with OF clear; #OF (a trap: the pushed EIP is the next instruction) with OF set.
  for (let i = 0; i < 4; i++) {
    const of = i % 2 === 1;
    lines.push(`push dword ${h((rnd() & 0x8d5 & ~0x800) | (of ? 0x800 : 0) | 2)}`, 'popfd');
    lines.push(`mov eax, ${h(rnd())}`, 'into', 'call dump');
    if (of) dump('#OF from into (OF = 1)');
    dump(`into with OF = ${of ? 1 : 0}`);
  }
  // ENTER with nesting levels (32- and 16-bit operand size) over a prepared frame chain.
  lines.push('mov edi, 0x70000', 'mov eax, 0x10203040', '.fill:', 'mov [edi], eax');
  lines.push('add eax, 0x01010101', 'add edi, 4', 'cmp edi, 0x70100', 'jne .fill');
  for (const [o16, size, level] of [
    [false, 0x10, 1],
    [false, 8, 2],
    [false, 0x20, 3],
    [false, 4, 5],
    [false, 0, 31],
    [true, 6, 2],
    [true, 0x12, 4],
  ] as const) {
    const pre = o16 ? 'o16 ' : '';
    lines.push(`mov ebp, ${h(0x70080 + (rnd() % 16) * 4)}`, `${pre}enter ${size}, ${level}`);
    lines.push('call dump', 'mov esi, esp', 'call dump_stack', `${pre}leave`);
    dump(`${pre}enter ${size}, ${level}`);
    dump(`${pre}enter ${size}, ${level}: 48 bytes at the new ESP`, 48);
  }
  // SMSW, LMSW, CLTS; RDTSCP's ECX (IA32_TSC_AUX).
  lines.push(
    'smsw eax',
    'smsw word [scratch]',
    'movzx esi, word [scratch]',
    'smsw di',
    'call dump',
    'mov ax, 0x000f',
    'lmsw ax',
    'smsw ebx',
    'xor eax, eax',
    'lmsw ax',
    'smsw ecx',
    'mov ax, 0x8',
    'lmsw ax',
    'smsw esi',
    'clts',
    'smsw edx',
    'call dump',
    'mov ecx, 0xc0000103',
    `mov eax, ${h(rnd())}`,
    `mov edx, ${h(rnd())}`,
    'wrmsr',
    'rdtscp',
    'xor eax, eax',
    'xor edx, edx',
    'call dump',
  );
  dump('smsw r32, m16, r16');
  dump('lmsw 0xf, 0 (PE stays), 8, then clts');
  dump('rdtscp: ECX = IA32_TSC_AUX');
  // LAR/LSL/VERR/VERW on every descriptor type with DPL 0 and 3, and special selectors.
  const descs: string[] = [];
  const sels: number[] = [0, 3, 0x28, 0x30, 0x2b, 0xfff8, 0x3c, 0x1b, 0x13];
  const what: string[] = [
    'null',
    'null RPL 3',
    'busy 16-bit TSS',
    '16-bit TSS',
    'busy 16-bit TSS RPL 3',
    'beyond the GDT',
    'LDT (none loaded)',
    'ring-3 code',
    'ring-0 data RPL 3',
  ];
  for (let i = 0; i < 64; i++) {
    const type = i & 0x1f;
    const dpl = i < 32 ? 0 : 3;
    const present = rnd() % 8 !== 0 ? 1 : 0;
    const limit = rnd() & 0xfffff;
    const base = rnd();
    const flagsHi = rnd() & 0xd; // G, D/B, AVL (L clear)
    const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
    const hi =
      (base & 0xff000000) |
      (flagsHi << 20) |
      (limit & 0xf0000) |
      (present << 15) |
      (dpl << 13) |
      (type << 8) |
      ((base >>> 16) & 0xff);
    descs.push(`  dd ${h(lo)}, ${h(hi)}`);
    const sel = 0x40 + i * 8;
    for (const rpl of [0, 3]) {
      sels.push(sel | rpl);
      what.push(`type ${h(type)} DPL ${dpl} P ${present} RPL ${rpl}`);
    }
  }
  for (const cpl of [0, 3]) {
    for (let i = 0; i < sels.length; i++) {
      dump(`lar/lsl/verr/verw ${h(sels[i])} at CPL ${cpl}: ${what[i]}`, 12);
    }
    if (cpl === 0) lines.push('call desc_probe');
  }
  lines.push('mov ecx, 0x174', 'xor edx, edx', 'mov eax, 0x08', 'wrmsr');
  lines.push('mov ecx, 0x175', 'mov eax, 0x5000', 'wrmsr');
  lines.push('mov ecx, 0x176', 'mov eax, sysenter_entry', 'wrmsr');
  dump('SYSENTER from ring 3: the ring-0 entry (CS 0x08, SS 0x10, ESP from the MSR)');
  dump('SYSEXIT to ring 3 at EDX with ESP = ECX (CS 0x1b, SS 0x23)');
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
  lgdt [gdtr]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp 0x08:pm
bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, 0x90000
  lidt [idtr]
  mov ax, 0x28
  ltr ax
  ; The same starting point on both: no LDT (QEMU's LDTR still has its reset base 0 and limit
  ; 0xFFFF over SeaBIOS's IVT), CR0.CD/NW clear (SeaBIOS clears them, the model starts from reset).
  xor eax, eax
  lldt ax
  mov eax, cr0
  and eax, 0x9fffffff
  mov cr0, eax
  xor eax, eax
  xor ebx, ebx
  xor ecx, ecx
  xor edx, edx
  xor esi, esi
  xor edi, edi
  xor ebp, ebp
${lines.join('\n')}
  ; Ring 3 through IRET; TR is the 16-bit TSS (SP0 0x6000, SS0 0x10).
  push 0x23
  push 0x8000
  push 0x3002
  push 0x1b
  push user
  iret
user:
  mov ax, 0x23
  mov ds, ax
  mov es, ax
  call desc_probe
  ; SYSENTER to ring 0 and SYSEXIT back (IA32_SYSENTER_CS 0x08: CS 0x08/SS 0x10, then 0x1b/0x23).
  mov ebp, 0x12345678
  sysenter
after_sysexit:
  call dump
  mov eax, 0x11111111
  int 0x80
  mov eax, 0x22222222
  int 0x81
  mov eax, 0x33333333
  int 0x82
  mov al, 0
  out 0xf4, al
  hlt
int80:
  mov esi, [esp + 12]
  mov edi, [esp + 16]
  mov ebp, esp
  call dump
  iret
int81:
  movzx esi, word [esp + 6]
  movzx edi, word [esp + 8]
  mov ebp, esp
  call dump
  o16 iret
int82:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov eax, 0xa1a10001
  mov ecx, 0xa2a20002
  mov edx, 0xa3a30003
  mov ebx, 0xa4a40004
  mov esi, 0xa5a50005
  mov edi, 0xa6a60006
  mov ebp, 0xa7a70007
  push dword 0x8d7
  popfd
  call 0x30:0
back:
  mov ebp, esp
  call dump
  ; Long mode (identity-mapped first 2 MiB, 64-bit code at 0x38) for the same probes in IA-32e
  ; mode, where system descriptors are 16 bytes and other types are valid.
  mov ax, 0x10
  mov es, ax
  mov edi, 0x60000
  xor eax, eax
  mov ecx, 0xc00
  cld
  rep stosd
  mov dword [0x60000], 0x61003
  mov dword [0x61000], 0x62003
  mov dword [0x62000], 0x83
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, 0x60000
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  jmp 0x38:long_entry
task_b:
  call dump
  mov esi, tss16
  mov ecx, 44
.t:
  mov al, [esi]
  out 0xe9, al
  inc esi
  dec ecx
  jnz .t
  pushfd
  pop ebp
  call dump
  iret
brfix:
  mov edx, [esp]
  mov ebp, [esp + 4]
  call dump
  mov edx, [bounds_fix]
  iret
udh:
  mov esi, [esp]
  mov ebp, esp
  call dump
  mov eax, [ud_resume]
  mov [esp], eax
  iret
ofh:
  mov esi, [esp]
  mov ebp, esp
  call dump
  iret
dbh:
  mov esi, [esp]
  mov ebp, esp
  call dump
  iret
sysenter_entry:
  call dump
  mov edx, after_sysexit
  mov ecx, 0x7ff0
  sysexit
desc_probe:
  mov esi, sels
.n:
  movzx ebx, word [esi]
  mov eax, 0xdeadbeef
  lar eax, bx
  setz dl
  call out_eax_dl
  mov eax, 0xdeadbeef
  lsl eax, bx
  setz dl
  call out_eax_dl
  verr bx
  setz al
  out 0xe9, al
  verw bx
  setz al
  out 0xe9, al
  add esi, 2
  cmp esi, sels_end
  jne .n
  ret
out_eax_dl:
  mov ecx, 4
.o:
  out 0xe9, al
  shr eax, 8
  dec ecx
  jnz .o
  mov al, dl
  out 0xe9, al
  ret
dump_stack:
  mov ecx, 48
.k:
  mov al, [esi]
  out 0xe9, al
  inc esi
  dec ecx
  jnz .k
  ret
dump:
  push gs
  push fs
  push es
  push ds
  push ss
  push cs
  pushfd
  pushad
  mov ebx, esp
  xor ecx, ecx
.l:
  mov al, [ebx + ecx]
  out 0xe9, al
  inc ecx
  cmp ecx, 36
  jne .l
.s:
  mov al, [ebx + ecx]
  out 0xe9, al
  mov al, [ebx + ecx + 1]
  out 0xe9, al
  add ecx, 4
  cmp ecx, 60
  jne .s
  popad
  popfd
  add esp, 24
  ret
bits 64
long_entry:
  mov esi, sels
.n:
  movzx ebx, word [rsi]
  mov eax, 0xdeadbeef
  lar eax, bx
  setz dl
  call .out
  mov eax, 0xdeadbeef
  lsl eax, bx
  setz dl
  call .out
  verr bx
  setz al
  out 0xe9, al
  verw bx
  setz al
  out 0xe9, al
  add esi, 2
  cmp esi, sels_end
  jne .n
  mov al, 0
  out 0xf4, al
  hlt
.out:
  mov ecx, 4
.o:
  out 0xe9, al
  shr eax, 8
  dec ecx
  jnz .o
  mov al, dl
  out 0xe9, al
  ret
align 8
gdt:
  ; Code descriptors start accessed: QEMU 7.2 does not set the accessed bit of a code
  ; descriptor that IRET loads into CS (the SDM and the model do), which LAR would show.
  dq 0
  dq 0x00cf9b000000ffff
  dq 0x00cf92000000ffff
  dq 0x00cffb000000ffff
  dq 0x00cff2000000ffff
  dw 0x2b, (tss16 - $$ + 0x7c00) & 0xffff
  db ((tss16 - $$ + 0x7c00) >> 16) & 0xff, 0x81, 0, 0
  dw 0x2b, (tss_b - $$ + 0x7c00) & 0xffff
  db ((tss_b - $$ + 0x7c00) >> 16) & 0xff, 0x81, 0, 0
  dq 0x00af9b000000ffff
${descs.join('\n')}
gdt_end:
gdtr: dw gdt_end - gdt - 1
  dd gdt
idtr: dw 0x83 * 8 - 1
  dd idt
align 4
scratch: dd 0
ud_resume: dd 0
sels: dw ${sels.map(h).join(', ')}
sels_end:
bounds: dd 0, 0
bounds_fix: dd 0
tss16:
  dw 0, 0x6000, 0x10, 0, 0, 0, 0
  times 44 - ($ - tss16) db 0
tss_b:
  dw 0, 0, 0, 0, 0, 0, 0
  dw task_b - $$ + 0x7c00, 0x0046
  dw 0xb001, 0xb002, 0xb003, 0xb004, 0x5800, 0xb006, 0xb007, 0xb008
  dw 0x10, 0x08, 0x10, 0x10, 0
align 8
idt:
${Array.from({ length: 0x83 }, (_, v) => {
  const g: Record<number, [string, string]> = {
    1: ['dbh', '0x8e'],
    4: ['ofh', '0x8e'],
    6: ['udh', '0x8e'],
    5: ['brfix', '0x8e'],
    128: ['int80', '0xee'],
    129: ['int81', '0xe6'],
    130: ['int82', '0xee'],
  };
  const e = g[v];
  if (e === undefined) return '  dq 0';
  return `  dw (${e[0]} - $$ + 0x7c00) & 0xffff, 0x08\n  db 0, ${e[1]}\n  dw (${e[0]} - $$ + 0x7c00) >> 16`;
}).join('\n')}
image_end:
times (512 - ($ - $$) % 512) % 512 db 0
`;
  dump('INT 0x80 from ring 3 through a 32-bit gate, stack from the 16-bit TSS');
  dump('INT 0x81 from ring 3 through a 16-bit gate, stack from the 16-bit TSS');
  dump('task B entered by CALL to a 16-bit TSS');
  dump("the outgoing task's 16-bit TSS image", 44);
  dump('task B flags');
  dump('back in the first task after IRET with NT');
  for (let i = 0; i < sels.length; i++) {
    dump(`lar/lsl/verr/verw ${h(sels[i])} in 64-bit mode at CPL 0: ${what[i]}`, 12);
  }
  return { source, cases, sizes };
}
