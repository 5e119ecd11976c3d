; tlbmiss32: forced TLB misses. Maps 64 MiB with 4 KiB pages, then touches one dword in each
; of 8192 pages in turn, reloading CR3 (flushing the TLB) every 1024 touches, so that every
; touch needs a page walk. ITERATIONS sweeps over the 8192 pages.
; Instructions per touch: 4 (load, add, dec, jnz) plus 4 per 1024 touches for the reload.
%ifndef ITERATIONS
%define ITERATIONS 100
%endif
%include "multiboot32.inc"

_start:
    cli
    mov esp, stack_top
    ; 16 page tables = 64 MiB at page_tables, identity mapped.
    mov edi, page_tables
    mov eax, 0x003
    mov ecx, 16 * 1024
.fill_pt:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    dec ecx
    jnz .fill_pt
    mov edi, page_dir
    mov eax, page_tables + 0x003
    mov ecx, 16
.fill_pd:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    dec ecx
    jnz .fill_pd
    mov eax, page_dir
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    xor ebx, ebx
    mov ebp, ITERATIONS
sweep:
    mov esi, 0x800000             ; pages 2048 .. 10239 (8 MiB .. 40 MiB)
    mov edi, 8
block:
    mov ecx, 1024
    mov eax, cr3
    mov cr3, eax                  ; flush non-global TLB entries
touch:
    add ebx, [esi]
    add esi, 4096
    dec ecx
    jnz touch
    dec edi
    jnz block
    dec ebp
    jnz sweep
    GUEST_EXIT

image_end:
section .bss
alignb 4096
page_dir:    resb 4096
page_tables: resb 16 * 4096
stack:       resb 4096
stack_top:
bss_end:
