; compute32: the 32-bit CPU benchmark guest. Protected mode with 4 KiB paging (identity map of
; the first 8 MiB through two page tables), then ITERATIONS outer turns of a loop with loads,
; stores, ALU operations, a rotate, a call/ret pair and two conditional branches.
; Instructions per outer turn: 2 + 64 * 11 + 2 = 708 (see bench/x86-cpu/guests.ts).
%ifndef ITERATIONS
%define ITERATIONS 100000
%endif
%include "multiboot32.inc"

_start:
    cli
    mov esp, stack_top
    ; Page directory: two 4 KiB page tables covering 0..8 MiB, identity mapped.
    mov edi, page_tables
    mov eax, 0x003                ; present | writable
    mov ecx, 2048
.fill_pt:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    dec ecx
    jnz .fill_pt
    mov dword [page_dir], page_tables + 0x003
    mov dword [page_dir + 4], page_tables + 0x1000 + 0x003
    mov eax, page_dir
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    xor ebx, ebx
    xor edi, edi
    mov ecx, ITERATIONS
outer:
    mov esi, buffer
    mov edx, 64
inner:
    mov eax, [esi]
    add eax, ebx
    xor ebx, eax
    rol ebx, 3
    mov [esi + 4], eax
    add esi, 8
    call mix
    dec edx
    jnz inner
    dec ecx
    jnz outer
    GUEST_EXIT

mix:
    lea edi, [edi + eax * 2]
    ret

image_end:
section .bss
alignb 4096
page_dir:    resb 4096
page_tables: resb 8192
buffer:      resb 4096
stack:       resb 4096
stack_top:
bss_end:
