; A minimal 64-bit Xen PV guest, assembled straight to an ELF image (nasm -f bin, no linker):
; it prints through HYPERVISOR_console_io (directly with `syscall` and through the hypercall
; page), reads xen_version, reads its start_info, makes a few hostile hypercalls and prints
; their results, yields, and shuts down with SHUTDOWN_poweroff.
; Variants (nasm -D...): CRASH_PF writes to an unmapped page, CRASH_GP executes a privileged
; instruction (cli), SPIN loops forever — each after the greeting; TRAP registers a #PF handler
; with set_trap_table, faults, and returns with HYPERVISOR_iret past the faulting instruction;
; EVENT maps shared_info, registers an event callback, binds an IPI, unmasks and sends it;
; COUNT prints an increasing counter forever (a tick, then a busy wait of about 200 000
; instructions) and stores each value into a 64 KiB buffer, one page after another, so memory
; keeps changing (for migration tests: the count must go on without a gap or a repeat).
; Build: ./build.sh (or nasm -f bin -o pv-hello.elf pv-hello.asm)
BITS 64
DEFAULT REL
BASE equ 0x100000
org BASE

; ---- ELF header -----------------------------------------------------------------------------
ehdr:
        db 0x7f, 'ELF', 2, 1, 1, 0          ; ELFCLASS64, little-endian, version 1, SysV
        times 8 db 0
        dw 2                                ; ET_EXEC
        dw 0x3e                             ; EM_X86_64
        dd 1
        dq _start                           ; e_entry
        dq phdrs - $$                       ; e_phoff
        dq 0                                ; e_shoff
        dd 0                                ; e_flags
        dw 64, 56, 2, 64, 0, 0              ; ehsize, phentsize, phnum, shentsize, shnum, shstrndx
phdrs:
        dd 1, 7                             ; PT_LOAD, RWX
        dq 0, BASE, BASE                    ; offset, vaddr, paddr
        dq file_end - $$, mem_end - $$      ; filesz, memsz
        dq 0x1000
        dd 4, 4                             ; PT_NOTE, R
        dq notes - $$, notes, notes
        dq notes_end - notes, notes_end - notes
        dq 4

; ---- Xen ELF notes (xen/include/public/elfnote.h) ---------------------------------------------
%macro xennote 2+
        align 4, db 0
        dd 4, %%end - %%desc, %1
        db 'Xen', 0
%%desc: %2
        align 4, db 0
%%end:
%endmacro
notes:
        xennote 6, db 'Typevisor-pv-hello', 0          ; GUEST_OS
        xennote 8, db 'generic', 0                     ; LOADER
        xennote 5, db 'xen-3.0', 0                     ; XEN_VERSION
        xennote 2, dq hypercall_page                   ; HYPERCALL_PAGE
        xennote 1, dq _start                           ; ENTRY
        xennote 3, dq 0                                ; VIRT_BASE
        xennote 4, dq 0                                ; PADDR_OFFSET
        xennote 10, db '!writable_page_tables|pae_pgdir_above_4gb', 0 ; FEATURES
notes_end:

; ---- hypercall page (Xen fills it) -------------------------------------------------------------
        align 4096, db 0
hypercall_page:
        times 4096 db 0xcc

; ---- code --------------------------------------------------------------------------------------
HC_console_io   equ 18
HC_xen_version  equ 17
HC_sched_op     equ 29

; print label, length: HYPERVISOR_console_io(CONSOLEIO_write, length, label) with syscall
%macro print 2
        xor edi, edi
        mov esi, %2
        lea rdx, [%1]
        mov eax, HC_console_io
        syscall
%endmacro
%macro str 2
%1:     db %2
%1_len  equ $ - %1
%endmacro

_start:
        mov r15, rsi                        ; start_info
        print hello, hello_len
        ; the same call through the hypercall page (clobbers rax only)
        xor edi, edi
        mov esi, viapage_len
        lea rdx, [viapage]
        call hypercall_page + HC_console_io * 32

%ifdef CRASH_PF
        mov byte [abs 0x7fff0000], 1           ; nothing is mapped there: #PF, no trap table
%endif
%ifdef CRASH_GP
        cli                                 ; privileged at CPL 3: #GP, no trap table
%endif
%ifdef SPIN
.spin:  jmp .spin
%endif
%ifdef COUNT
        xor r14d, r14d                      ; the counter
.tick:  inc r14
        print l_tick, l_tick_len
        mov rax, r14
        call print_hex
        mov rax, r14                        ; dirty a page: count_buf[(n % 16) * 4096] = n
        and eax, 15
        shl eax, 12
        lea rdx, [count_buf]
        mov [rdx + rax], r14
        mov ecx, 100000
.wait:  dec ecx
        jnz .wait
        jmp .tick
        str l_tick, `tick `
%endif
%ifdef EVENT
        mov eax, 14                         ; update_va_mapping(shinfo_page, shared_info | 0x67,
        lea rdi, [shinfo_page]              ;                   UVMF_INVLPG)
        mov rsi, [r15 + 40]
        or rsi, 0x67
        mov edx, 2
        syscall
        call print_hex
        mov eax, 4                          ; set_callbacks(event, failsafe, syscall)
        lea rdi, [ev_handler]
        xor esi, esi
        xor edx, edx
        syscall
        mov eax, 32                         ; event_channel_op(EVTCHNOP_bind_ipi, &ipi)
        mov edi, 7
        lea rsi, [ipi]
        syscall
        mov byte [shinfo_page + 1], 0       ; vcpu_info[0].evtchn_upcall_mask = 0
        mov eax, 32                         ; event_channel_op(EVTCHNOP_send, &ipi.port)
        mov edi, 4
        lea rsi, [ipi + 4]
        syscall                             ; the upcall is delivered on the way back
        print l_evdone, l_evdone_len
%endif
%ifdef TRAP
        mov eax, 0                          ; HYPERVISOR_set_trap_table
        lea rdi, [trap_table]
        syscall
        mov byte [abs 0x7fff0000], 1        ; #PF, now bounced to pf_handler
fault_end:
        print l_resumed, l_resumed_len
%endif

        print l_version, l_version_len
        mov eax, HC_xen_version
        xor edi, edi                        ; XENVER_version
        xor esi, esi
        syscall
        call print_hex

        mov eax, HC_xen_version
        mov edi, 1                          ; XENVER_extraversion
        lea rsi, [extraversion]
        syscall
        print l_extra, l_extra_len
        lea rdx, [extraversion]
        call print_cstr

        print l_magic, l_magic_len
        mov rdx, r15
        call print_cstr

        print l_badnr, l_badnr_len
        mov eax, 99                         ; no such hypercall
        syscall
        call print_hex

        print l_badptr, l_badptr_len
        xor edi, edi
        mov esi, 16
        mov rdx, 0x7fff0000                 ; unmapped
        mov eax, HC_console_io
        syscall
        call print_hex

        print l_xenptr, l_xenptr_len
        xor edi, edi
        mov esi, 16
        mov rdx, 0xffff800000000000         ; Xen's M2P area
        mov eax, HC_console_io
        syscall
        call print_hex

        print l_ro, l_ro_len
        mov eax, HC_xen_version
        mov edi, 1                          ; XENVER_extraversion into start_info.pt_base: the
        mov rsi, [r15 + 88]                 ; L4 page table, which the builder maps read-only
        syscall
        call print_hex

        print l_yield, l_yield_len
        mov eax, HC_sched_op
        xor edi, edi                        ; SCHEDOP_yield
        xor esi, esi
        syscall
        call print_hex

        print l_bye, l_bye_len
        mov eax, HC_sched_op
        mov edi, 2                          ; SCHEDOP_shutdown
        lea rsi, [shutdown_reason]
        syscall
        ud2                                 ; never reached

%ifdef TRAP
; The #PF handler. Xen's bounce frame: RSP -> RCX, R11, error code, RIP, CS, RFLAGS, RSP, SS.
pf_handler:
        print l_caught, l_caught_len
        mov rax, [rsp + 16]                 ; the error code
        call print_hex
        lea rax, [fault_end]
        mov [rsp + 24], rax                 ; resume after the faulting instruction
        pop rcx
        pop r11
        add rsp, 8                          ; drop the error code
        push 0                              ; iret_context.flags
        jmp hypercall_page + 23 * 32        ; HYPERVISOR_iret
trap_table:
        db 14, 0                            ; vector, flags
        dw 0xe033                           ; cs
        dd 0
        dq pf_handler
        times 16 db 0                       ; terminator (address 0)
        str l_caught, `caught #PF, error code `
        str l_resumed, `resumed after the fault\n`
%endif

%ifdef EVENT
; The event callback. Bounce frame: RSP -> RCX, R11, RIP, CS, RFLAGS, RSP, SS (no error code).
ev_handler:
        print l_event, l_event_len
        mov byte [shinfo_page], 0           ; evtchn_upcall_pending = 0
        pop rcx
        pop r11
        push 0                              ; iret_context.flags
        jmp hypercall_page + 23 * 32        ; HYPERVISOR_iret (unmasks: the saved RFLAGS has IF)
ipi:    dd 0, 0                             ; struct evtchn_bind_ipi { vcpu; port }
        str l_event, `event upcall\n`
        str l_evdone, `back from the upcall\n`
%endif

; print_hex: prints RAX as "0x" + 16 hex digits + "\n"
print_hex:
        lea rdi, [hexbuf + 2]
        mov ecx, 16
.next:  rol rax, 4
        mov ebx, eax
        and ebx, 15
        lea rsi, [hexdigits]
        mov bl, [rsi + rbx]
        mov [rdi], bl
        inc rdi
        dec ecx
        jnz .next
        print hexbuf, hexbuf_len
        ret

; print_cstr: prints the NUL-terminated string at RDX, then "\n"
print_cstr:
        xor ecx, ecx
.len:   cmp byte [rdx + rcx], 0
        je .go
        inc ecx
        cmp ecx, 256
        jb .len
.go:    xor edi, edi
        mov esi, ecx
        mov eax, HC_console_io
        syscall
        print newline, 1
        ret

; ---- data --------------------------------------------------------------------------------------
        str hello, `Typevisor PV guest: hello through console_io\n`
        str viapage, `and through the hypercall page\n`
        str l_version, `xen_version `
        str l_extra, `extraversion `
        str l_magic, `start_info `
        str l_badnr, `hypercall 99 -> `
        str l_badptr, `console_io unmapped buffer -> `
        str l_xenptr, `console_io Xen-area buffer -> `
        str l_ro, `extraversion into the read-only L4 -> `
        str l_yield, `yield -> `
        str l_bye, `shutting down\n`
newline: db 10
hexdigits: db '0123456789abcdef'
        str hexbuf, `0x0000000000000000\n`
shutdown_reason: dd 0                       ; SHUTDOWN_poweroff
extraversion: times 16 db 0
        align 16, db 0
        times 4096 db 0                     ; room (bss-like, but kept in the file for simplicity)
        align 4096, db 0
shinfo_page:                                ; EVENT maps shared_info here
        times 4096 db 0
%ifdef COUNT
count_buf:                                  ; COUNT dirties one page of this per tick
        times 65536 db 0
%endif
file_end:
mem_end:
