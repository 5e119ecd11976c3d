; Typevisor x86 reference harness (nasm -f bin). Multiboot v1 ELF32 image, loaded by
; `qemu-system-x86_64 -kernel`. The generator defines MODE (16, 32 or 64) and CASES (a file of
; case records: REC_* below; written by runner.ts) on the nasm command line.
;
; For every case record the driver: copies the record's 64-byte memory image into the window,
; copies the instruction bytes into the fixed exec slot, loads EFLAGS then every GPR from the
; record, and jumps to the slot. The slot's instruction falls through into `save_state`, which
; stores all GPRs and EFLAGS, snapshots the window and writes one output record to the debugcon
; port 0xE9. In real mode (MODE 16) the driver stays in protected mode, copies the record below
; 64 KiB, drops to real mode for the case and comes back to report it. Exceptions land in the IDT
; (or, in real mode, IVT) stubs, which write an exception record instead. After
; the last case the harness writes an end marker and exits QEMU through isa-debug-exit (0xF4).

%ifndef MODE
%error "MODE must be defined (-DMODE=16, 32 or 64)"
%endif

LOAD_ADDR   equ 0x00100000          ; ELF load address (multiboot loader puts us here)
EXEC_SLOT   equ 0x00101000          ; every instruction under test runs at this address
WINDOW      equ 0x00200000          ; 64-byte memory window the cases observe
WINDOW_SIZE equ 64
HSTACK      equ 0x001F0000          ; harness stack (top), never touched by cases
OUTBUF      equ 0x001E0000          ; output record assembly area
PML4        equ 0x00070000          ; long-mode page tables (identity map of 1 GiB, 2 MiB pages)
PDPT        equ 0x00071000
PD          equ 0x00072000
DEBUGCON    equ 0xE9
DEBUG_EXIT  equ 0xF4

; real mode (MODE 16): everything the case touches lives below 64 KiB, segment bases 0
RM_BASE     equ 0x00006000          ; real-mode harness code (copied here from the image)
EXEC16      equ 0x00007000          ; exec slot for real-mode cases
WINDOW16    equ 0x00008000          ; real-mode memory window
REC16       equ 0x00009000          ; current case's GPRs and FLAGS, copied low for real mode
LOWOUT      equ 0x00009100          ; real mode stores GPRs and FLAGS here after the case
EXCVEC16    equ 0x00009200          ; vector of a real-mode exception
HSTACK16    equ 0x00009F00          ; real-mode harness stack
%define RM(x) (RM_BASE + (x) - rm_block)

%if MODE == 64
W      equ 8
NREGS  equ 16
%else
W      equ 4
NREGS  equ 8
%endif
REC_REGS  equ 16
REC_FLAGS equ REC_REGS + NREGS * W
REC_MEM   equ REC_FLAGS + W
REC_LEN   equ REC_MEM + WINDOW_SIZE
OUT_REGS  equ 8
OUT_FLAGS equ OUT_REGS + NREGS * W
OUT_MEM   equ OUT_FLAGS + W
OUT_LEN   equ OUT_MEM + WINDOW_SIZE

        org LOAD_ADDR
        bits 32
ehdr:   db 0x7F, 'ELF', 1, 1, 1, 0
        times 8 db 0
        dw 2                        ; ET_EXEC
        dw 3                        ; EM_386
        dd 1                        ; EV_CURRENT
        dd start32                  ; e_entry
        dd phdr - ehdr              ; e_phoff
        dd 0                        ; e_shoff
        dd 0                        ; e_flags
        dw 52                       ; e_ehsize
        dw 32                       ; e_phentsize
        dw 1                        ; e_phnum
        dw 0, 0, 0                  ; e_shentsize, e_shnum, e_shstrndx
phdr:   dd 1                        ; PT_LOAD
        dd 0                        ; p_offset
        dd LOAD_ADDR                ; p_vaddr
        dd LOAD_ADDR                ; p_paddr
        dd image_end - ehdr         ; p_filesz
        dd image_end - ehdr         ; p_memsz
        dd 7                        ; PF_R | PF_W | PF_X
        dd 0x1000                   ; p_align

        align 4
mbhdr:  dd 0x1BADB002               ; multiboot v1 magic
        dd 0                        ; flags
        dd -(0x1BADB002)            ; checksum

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF       ; 0x08: 32-bit code, flat
        dq 0x00CF92000000FFFF       ; 0x10: data, flat
        dq 0x00AF9A000000FFFF       ; 0x18: 64-bit code
        dq 0x00009A000000FFFF       ; 0x20: 16-bit code, base 0, limit 64 KiB
        dq 0x000092000000FFFF       ; 0x28: 16-bit data, base 0, limit 64 KiB
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

start32:
        cli
        lgdt [gdtr]
        jmp 0x08:.reload
.reload:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, HSTACK
%if MODE == 64
        ; identity-map the first GiB with 2 MiB pages
        mov edi, PML4
        mov ecx, 3 * 4096 / 4
        xor eax, eax
        cld
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD | 3
        mov edi, PD
        mov eax, 0x83               ; present | writable | 2 MiB page
        mov ecx, 512
.pd:    mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop .pd
        mov eax, cr4
        or eax, 1 << 5              ; CR4.PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080         ; IA32_EFER
        rdmsr
        or eax, 1 << 8              ; EFER.LME
        wrmsr
        mov eax, cr0
        or eax, 0x80000000          ; CR0.PG
        mov cr0, eax
        jmp 0x18:start64
%else
        jmp common_start
%endif

        ; ---- the exec slot: a fixed address so RIP-relative results are layout-independent.
        ; It has a 4 KiB page to itself, and mutable harness data has its own page, so the
        ; per-case writes only invalidate TCG's translation of the slot, never of the harness.
        ; The whole image (cases included) must end below OUTBUF: runner.ts checks that.
        times (EXEC_SLOT - LOAD_ADDR) - ($ - $$) db 0
exec_slot:
        times 16 db 0x90
        jmp save_state
        times (EXEC_SLOT + 0x1000 - LOAD_ADDR) - ($ - $$) db 0xCC

%if MODE == 64
        bits 64
start64:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov rsp, HSTACK
%define rAX rax
%define rBX rbx
%define rCX rcx
%define rDX rdx
%define rSI rsi
%define rDI rdi
%define rSP rsp
%define PTR qword
%define ABS abs
%else
%define rAX eax
%define rBX ebx
%define rCX ecx
%define rDX edx
%define rSI esi
%define rDI edi
%define rSP esp
%define PTR dword
%define ABS
%endif

common_start:
        ; build the IDT: 32 exception vectors, each to its stub
        mov rSI, stub_table
        mov rDI, idt
        xor ecx, ecx
.idt:   mov rAX, [rSI + rCX * W]
%if MODE == 64
        mov word [rDI], ax
        mov word [rDI + 2], 0x18
        mov word [rDI + 4], 0x8E00  ; present, DPL0, 64-bit interrupt gate, IST 0
        shr rax, 16
        mov word [rDI + 6], ax
        shr rax, 16
        mov dword [rDI + 8], eax
        mov dword [rDI + 12], 0
        add rDI, 16
%else
        mov word [rDI], ax
        mov word [rDI + 2], 0x08
        mov word [rDI + 4], 0x8E00  ; present, DPL0, 32-bit interrupt gate
        shr eax, 16
        mov word [rDI + 6], ax
        add rDI, 8
%endif
        inc ecx
        cmp ecx, 32
        jb .idt
        lidt [ABS idtr]
%if MODE == 16
        mov esi, rm_block
        mov edi, RM_BASE
        mov ecx, rm_block_end - rm_block
        rep movsb
        xor ecx, ecx
.ivt:   movzx eax, word [rm_stub_table + ecx * 2]
        mov [ecx * 4], eax          ; offset, segment 0
        inc ecx
        cmp ecx, 32
        jb .ivt
        mov edi, EXEC16
        mov ecx, 16
        mov al, 0x90
        rep stosb
        mov byte [EXEC16 + 16], 0xEA            ; jmp 0000:rm_save
        mov word [EXEC16 + 17], RM(rm_save)
        mov word [EXEC16 + 19], 0
%endif
        mov PTR [ABS cur_rec], cases
        mov dword [ABS cur_idx], 0

next_case:
        mov rSP, HSTACK
        cld
        mov rBX, [ABS cur_rec]
        cmp rBX, cases_end
        jae all_done
%if MODE == 16
        lea esi, [ebx + REC_MEM]
        mov edi, WINDOW16
        mov ecx, WINDOW_SIZE
        rep movsb
        lea esi, [ebx + 1]
        mov edi, EXEC16
        mov ecx, 15
        rep movsb
        lea esi, [ebx + REC_REGS]
        mov edi, REC16
        mov ecx, 9 * 4
        rep movsb
        jmp 0x20:RM(rm_enter16)
%endif
        ; memory window from the record
        lea rSI, [rBX + REC_MEM]
        mov rDI, WINDOW
        mov ecx, WINDOW_SIZE
        rep movsb
        ; instruction bytes into the exec slot (15 bytes, padded with NOPs by the record)
        lea rSI, [rBX + 1]
        mov rDI, exec_slot
        mov ecx, 15
        rep movsb
        ; EFLAGS first (popf), then GPRs with MOV (which leaves EFLAGS alone), rBX last
        push PTR [rBX + REC_FLAGS]
%if MODE == 64
        popfq
        mov rax, [rbx + REC_REGS + 0 * 8]
        mov rcx, [rbx + REC_REGS + 1 * 8]
        mov rdx, [rbx + REC_REGS + 2 * 8]
        mov rsp, [rbx + REC_REGS + 4 * 8]
        mov rbp, [rbx + REC_REGS + 5 * 8]
        mov rsi, [rbx + REC_REGS + 6 * 8]
        mov rdi, [rbx + REC_REGS + 7 * 8]
        mov r8, [rbx + REC_REGS + 8 * 8]
        mov r9, [rbx + REC_REGS + 9 * 8]
        mov r10, [rbx + REC_REGS + 10 * 8]
        mov r11, [rbx + REC_REGS + 11 * 8]
        mov r12, [rbx + REC_REGS + 12 * 8]
        mov r13, [rbx + REC_REGS + 13 * 8]
        mov r14, [rbx + REC_REGS + 14 * 8]
        mov r15, [rbx + REC_REGS + 15 * 8]
        mov rbx, [rbx + REC_REGS + 3 * 8]
%else
        popfd
        mov eax, [ebx + REC_REGS + 0 * 4]
        mov ecx, [ebx + REC_REGS + 1 * 4]
        mov edx, [ebx + REC_REGS + 2 * 4]
        mov esp, [ebx + REC_REGS + 4 * 4]
        mov ebp, [ebx + REC_REGS + 5 * 4]
        mov esi, [ebx + REC_REGS + 6 * 4]
        mov edi, [ebx + REC_REGS + 7 * 4]
        mov ebx, [ebx + REC_REGS + 3 * 4]
%endif
        jmp exec_slot

save_state:
%if MODE == 64
        mov [abs OUTBUF + OUT_REGS + 0 * 8], rax
        mov [abs OUTBUF + OUT_REGS + 1 * 8], rcx
        mov [abs OUTBUF + OUT_REGS + 2 * 8], rdx
        mov [abs OUTBUF + OUT_REGS + 3 * 8], rbx
        mov [abs OUTBUF + OUT_REGS + 4 * 8], rsp
        mov [abs OUTBUF + OUT_REGS + 5 * 8], rbp
        mov [abs OUTBUF + OUT_REGS + 6 * 8], rsi
        mov [abs OUTBUF + OUT_REGS + 7 * 8], rdi
        mov [abs OUTBUF + OUT_REGS + 8 * 8], r8
        mov [abs OUTBUF + OUT_REGS + 9 * 8], r9
        mov [abs OUTBUF + OUT_REGS + 10 * 8], r10
        mov [abs OUTBUF + OUT_REGS + 11 * 8], r11
        mov [abs OUTBUF + OUT_REGS + 12 * 8], r12
        mov [abs OUTBUF + OUT_REGS + 13 * 8], r13
        mov [abs OUTBUF + OUT_REGS + 14 * 8], r14
        mov [abs OUTBUF + OUT_REGS + 15 * 8], r15
        mov rsp, HSTACK
        pushfq
        pop qword [abs OUTBUF + OUT_FLAGS]
%else
        mov [OUTBUF + OUT_REGS + 0 * 4], eax
        mov [OUTBUF + OUT_REGS + 1 * 4], ecx
        mov [OUTBUF + OUT_REGS + 2 * 4], edx
        mov [OUTBUF + OUT_REGS + 3 * 4], ebx
        mov [OUTBUF + OUT_REGS + 4 * 4], esp
        mov [OUTBUF + OUT_REGS + 5 * 4], ebp
        mov [OUTBUF + OUT_REGS + 6 * 4], esi
        mov [OUTBUF + OUT_REGS + 7 * 4], edi
        mov esp, HSTACK
        pushfd
        pop dword [OUTBUF + OUT_FLAGS]
%endif
        cld
        mov dword [ABS OUTBUF], 'CASE'
        mov eax, [ABS cur_idx]
        mov dword [ABS OUTBUF + 4], eax
        mov rSI, WINDOW
        mov rDI, OUTBUF + OUT_MEM
        mov ecx, WINDOW_SIZE
        rep movsb
        mov ecx, OUT_LEN
        jmp emit_and_advance

exc_common:
        ; stack: vector, error code (or all-ones when the vector pushes none), then the frame
        mov rSP, HSTACK             ; the stub already saved vector and error code
        cld
        mov dword [ABS OUTBUF], 'EXCP'
        mov eax, [ABS cur_idx]
        mov dword [ABS OUTBUF + 4], eax
        mov eax, [ABS exc_vector]
        mov dword [ABS OUTBUF + 8], eax
        mov eax, [ABS exc_error]
        mov dword [ABS OUTBUF + 12], eax
        mov ecx, 16

emit_and_advance:
        mov rSI, OUTBUF
        mov dx, DEBUGCON
        rep outsb
        add PTR [ABS cur_rec], REC_LEN
        inc dword [ABS cur_idx]
        jmp next_case

%if MODE == 16
pm_after_case:                      ; back from real mode with the case's state in LOWOUT
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, HSTACK
        lidt [idtr]
        cld
        mov esi, LOWOUT
        mov edi, OUTBUF + OUT_REGS
        mov ecx, 9 * 4
        rep movsb
        mov dword [OUTBUF], 'CASE'
        mov eax, [cur_idx]
        mov dword [OUTBUF + 4], eax
        mov esi, WINDOW16
        mov edi, OUTBUF + OUT_MEM
        mov ecx, WINDOW_SIZE
        rep movsb
        mov ecx, OUT_LEN
        jmp emit_and_advance

pm_after_exception:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, HSTACK
        lidt [idtr]
        movzx eax, byte [EXCVEC16]
        mov [exc_vector], eax
        mov dword [exc_error], 0xFFFFFFFF
        jmp exc_common

        ; ---- real-mode block: assembled here, copied to RM_BASE, runs with CS = 0
rm_block:
        bits 16
rm_enter16:                         ; 16-bit protected mode: load 64 KiB segments, leave PE
        mov ax, 0x28
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov eax, cr0
        and eax, ~1
        mov cr0, eax
        jmp 0:RM(rm_real)
rm_real:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov sp, HSTACK16
        lidt [RM(ivt_desc)]
        push dword [REC16 + 8 * 4]
        popfd
        mov eax, [REC16 + 0 * 4]
        mov ecx, [REC16 + 1 * 4]
        mov edx, [REC16 + 2 * 4]
        mov esp, [REC16 + 4 * 4]
        mov ebp, [REC16 + 5 * 4]
        mov esi, [REC16 + 6 * 4]
        mov edi, [REC16 + 7 * 4]
        mov ebx, [REC16 + 3 * 4]
        jmp 0:EXEC16
rm_save:
        mov [LOWOUT + 0 * 4], eax
        mov [LOWOUT + 1 * 4], ecx
        mov [LOWOUT + 2 * 4], edx
        mov [LOWOUT + 3 * 4], ebx
        mov [LOWOUT + 4 * 4], esp
        mov [LOWOUT + 5 * 4], ebp
        mov [LOWOUT + 6 * 4], esi
        mov [LOWOUT + 7 * 4], edi
        mov esp, HSTACK16
        pushfd
        pop dword [LOWOUT + 8 * 4]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:pm_after_case
rm_exc:
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:pm_after_exception
%assign v 0
%rep 32
rm_stub_ %+ v:
        mov byte [EXCVEC16], v
        jmp rm_exc
%assign v v + 1
%endrep
ivt_desc:
        dw 0x3FF
        dd 0
rm_block_end:
        bits 32
rm_stub_table:
%assign v 0
%rep 32
        dw RM(rm_stub_ %+ v)
%assign v v + 1
%endrep
%endif

all_done:
        mov rSI, end_marker
        mov ecx, 8
        mov dx, DEBUGCON
        rep outsb
        mov dx, DEBUG_EXIT
        xor eax, eax
        out dx, eax
.hang:  hlt
        jmp .hang

        ; ---- exception stubs: record vector and error code without using the case stack
%macro STUB 1
stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
        mov dword [ABS exc_vector], %1
        push rAX
        mov eax, [rSP + W]
        mov dword [ABS exc_error], eax
        pop rAX
%else
        mov dword [ABS exc_vector], %1
        mov dword [ABS exc_error], 0xFFFFFFFF
%endif
        jmp exc_common
%endmacro
%assign v 0
%rep 32
STUB v
%assign v v + 1
%endrep

        align 8
stub_table:
%assign v 0
%rep 32
%if MODE == 64
        dq stub_ %+ v
%else
        dd stub_ %+ v
%endif
%assign v v + 1
%endrep

idtr:
%if MODE == 64
        dw 32 * 16 - 1
        dq idt
%else
        dw 32 * 8 - 1
        dd idt
%endif
        align 4096, db 0
cur_rec:    dq 0
cur_idx:    dd 0
exc_vector: dd 0
exc_error:  dd 0
end_marker: db 'DONEDONE'
        align 16
idt:    times 32 * 16 db 0

        align 4096, db 0
cases:
%if MODE == 16
        bits 16
%endif
%include CASES
cases_end:
image_end:
