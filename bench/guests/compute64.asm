; compute64: the 64-bit CPU benchmark guest. Enters long mode from the 32-bit multiboot entry
; (PAE tables mapping the first 1 GiB with 2 MiB pages), then runs the loop of compute32 with
; 64-bit registers. Instructions per outer turn: 2 + 64 * 11 + 2 = 708.
%ifndef ITERATIONS
%define ITERATIONS 100000
%endif
%include "multiboot32.inc"

_start:
    cli
    mov esp, stack_top
    ; PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB | present | writable | PS
    mov dword [pml4], pdpt + 0x003
    mov dword [pdpt], pd + 0x003
    mov edi, pd
    mov eax, 0x083
    mov ecx, 512
.fill_pd:
    mov [edi], eax
    mov dword [edi + 4], 0
    add eax, 0x200000
    add edi, 8
    dec ecx
    jnz .fill_pd
    mov eax, pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                  ; PAE
    mov cr4, eax
    mov ecx, 0xC0000080           ; EFER
    rdmsr
    or eax, 0x100                 ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000001            ; PG | PE
    mov cr0, eax
    lgdt [gdt_ptr]
    jmp 0x08:long_mode

bits 64
long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor rbx, rbx
    xor rdi, rdi
    mov rcx, ITERATIONS
outer:
    lea rsi, [rel buffer]
    mov edx, 64
inner:
    mov rax, [rsi]
    add rax, rbx
    xor rbx, rax
    rol rbx, 3
    mov [rsi + 8], rax
    add rsi, 16
    call mix
    dec edx
    jnz inner
    dec rcx
    jnz outer
    mov dx, 0x3F8
    mov al, 'D'
    out dx, al
    mov dx, 0xF4
    xor eax, eax
    out dx, al
.hang:
    hlt
    jmp .hang

mix:
    lea rdi, [rdi + rax * 2]
    ret

align 8
gdt:
    dq 0
    dq 0x00AF9A000000FFFF         ; 0x08: 64-bit code
    dq 0x00CF92000000FFFF         ; 0x10: data
gdt_ptr:
    dw gdt_ptr - gdt - 1
    dd gdt

image_end:
section .bss
alignb 4096
pml4:   resb 4096
pdpt:   resb 4096
pd:     resb 4096
buffer: resb 4096
stack:  resb 4096
stack_top:
bss_end:
