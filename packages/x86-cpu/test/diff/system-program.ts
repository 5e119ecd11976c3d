/**
 * A fixed system-level differential program: the boot sector loads the body, which enters
 * 32-bit protected mode (GDT, IDT, TSS, 2-level paging with one not-present page), drops to
 * ring 3 with IRET, and then exercises INT 0x80 through a DPL 3 gate (TSS stack switch), a
 * #PF (error code, CR2, handler maps the page, the access restarts) and HLT at ring 3 (#GP(0)).
 * Every handler dumps the GPRs and EFLAGS (36 bytes) to port 0xE9 at ring 0; the last one
 * writes isa-debug-exit. All registers start zeroed so QEMU and the model begin identically.
 */
import type { DiffProgram } from './program.ts';

/** The system program (nasm source, bits 16, org 0x7c00) and its dump labels. */
export function buildSystemProgram(): DiffProgram {
  const idt = Array.from({ length: 256 }, (_, v) => {
    const g =
      v === 0x80
        ? ['int80', '0xee']
        : v === 14
          ? ['pf', '0x8e']
          : v === 13
            ? ['gp', '0x8e']
            : undefined;
    if (g === undefined) return '  dq 0';
    return `  dw (${g[0]} - $$ + 0x7c00) & 0xffff, 0x08\n  db 0, ${g[1]}\n  dw (${g[0]} - $$ + 0x7c00) >> 16`;
  }).join('\n');
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
  ; identity map 0..4 MiB with 4 KiB user pages, page 0x50 not present
  mov edi, 0x21000
  mov eax, 7
.fill:
  mov [edi], eax
  add eax, 0x1000
  add edi, 4
  cmp edi, 0x22000
  jne .fill
  mov dword [0x20000], 0x21007
  mov dword [0x21000 + 0x50 * 4], 0
  mov dword [0x51000], 0x5a5a5a5a
  mov eax, 0x20000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  xor eax, eax
  xor ebx, ebx
  xor ecx, ecx
  xor edx, edx
  xor esi, esi
  xor edi, edi
  xor ebp, ebp
  push 0x23
  push 0x80000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov ax, 0x23
  mov ds, ax
  mov es, ax
  mov eax, 0x11111111
  mov ebx, 0x22222222
  int 0x80
  mov ecx, [0x50010]
  add ecx, [0x51000]
  hlt
int80:
  mov esi, [esp + 4]
  mov edi, [esp + 12]
  mov ebp, esp
  call dump
  iret
pf:
  push eax
  mov eax, [esp + 4]
  mov esi, eax
  mov edi, cr2
  mov ebp, [esp + 8]
  call dump
  mov dword [0x21000 + 0x50 * 4], 0x50007
  invlpg [0x50000]
  pop eax
  add esp, 4
  iret
gp:
  mov esi, [esp]
  mov edi, [esp + 8]
  mov ebp, esp
  call dump
  mov al, 0
  out 0xf4, al
  hlt
dump:
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
  popad
  popfd
  ret
align 8
gdt:
  dq 0
  dq 0x00cf9a000000ffff
  dq 0x00cf92000000ffff
  dq 0x00cffa000000ffff
  dq 0x00cff2000000ffff
  dw 0x67, (tss - $$ + 0x7c00) & 0xffff
  db ((tss - $$ + 0x7c00) >> 16) & 0xff, 0x89, 0, (tss - $$ + 0x7c00) >> 24
gdt_end:
gdtr: dw gdt_end - gdt - 1
  dd gdt
idtr: dw 256 * 8 - 1
  dd idt
align 4
tss:
  dd 0, 0x90000, 0x10
  times 104 - ($ - tss) db 0
align 8
idt:
${idt}
image_end:
times (512 - ($ - $$) % 512) % 512 db 0
`;
  return {
    source,
    cases: [
      { insn: 'INT 0x80 from ring 3' },
      { insn: '#PF from ring 3' },
      { insn: '#GP from HLT at ring 3' },
    ],
  };
}
