; A minimal 32-bit PAE Xen PV guest ("xen-3.0-x86_32p"), assembled straight to an ELF32 image
; (nasm -f bin, no linker). It runs in ring 1 and calls Xen with `int $0x82` (EAX = number,
; EBX, ECX, EDX, ESI, EDI = arguments) and through the 32-bit hypercall page. In order it:
; prints through console_io; enables VMASST pae_extended_cr3; reads xen_version (version,
; extraversion, platform_parameters) and its start_info magic; makes hostile hypercalls; reads
; the read-only M2P at 0xF5800000; maps shared_info with update_va_mapping (split PTE); bounces
; a #PF and an `int $0x80` through set_trap_table's 8-byte trap_info entries and returns with
; HYPERVISOR_iret; registers an event callback with set_callbacks (CS:EIP pairs), binds an IPI,
; unmasks and sends it (event upcall); builds a new PAE L3 and pins it with a 12-byte-struct
; mmuext_op batch (PIN_L3_TABLE, NEW_BASEPTR, UNPIN_TABLE of the builder's L3); maps an alias
; with mmu_update; runs a multicall batch; yields; enters ring 3 with HYPERVISOR_iret, where an
; `int $0x80` bounces back to ring 1 on the stack_switch stack; and powers off with sched_op.
; Variants (nasm -D...): CRASH_PF writes to an unmapped page, CRASH_GP executes `cli` (privileged
; in ring 1), INT_GP executes `int $0x81` (no handler: #GP) and SPIN loops — each after the
; greeting, with no trap table registered.
; Build: ./build.sh (or nasm -f bin -o pv32-hello.elf pv32-hello.asm)
BITS 32
BASE equ 0x100000
org BASE

; ---- ELF header (ELFCLASS32, EM_386) ----------------------------------------------------------
ehdr:
        db 0x7f, 'ELF', 1, 1, 1, 0          ; ELFCLASS32, little-endian, version 1, SysV
        times 8 db 0
        dw 2                                ; ET_EXEC
        dw 3                                ; EM_386
        dd 1
        dd _start                           ; e_entry
        dd phdrs - $$                       ; e_phoff
        dd 0                                ; e_shoff
        dd 0                                ; e_flags
        dw 52, 32, 2, 40, 0, 0              ; ehsize, phentsize, phnum, shentsize, shnum, shstrndx
phdrs:
        dd 1, 0, BASE, BASE                 ; PT_LOAD: offset, vaddr, paddr
        dd file_end - $$, mem_end - $$, 7   ; filesz, memsz, RWX
        dd 0x1000
        dd 4, notes - $$, notes, notes      ; PT_NOTE
        dd notes_end - notes, notes_end - notes, 4
        dd 4

; ---- Xen ELF notes (xen/include/public/elfnote.h) -----------------------------------------------
%macro xennote 2+
        align 4, db 0
        dd 4, %%end - %%desc, %1
        db 'Xen', 0
%%desc: %2
        align 4, db 0
%%end:
%endmacro
notes:
        xennote 6, db 'Typevisor-pv32-hello', 0        ; GUEST_OS
        xennote 8, db 'generic', 0                     ; LOADER
        xennote 5, db 'xen-3.0', 0                     ; XEN_VERSION
        xennote 9, db 'yes', 0                         ; PAE_MODE
        xennote 2, dd hypercall_page                   ; HYPERCALL_PAGE
        xennote 1, dd _start                           ; ENTRY
        xennote 3, dd 0                                ; VIRT_BASE
        xennote 4, dd 0                                ; PADDR_OFFSET
        xennote 10, db '!writable_page_tables|pae_pgdir_above_4gb', 0 ; FEATURES
notes_end:

; ---- hypercall page (Xen fills it) --------------------------------------------------------------
        align 4096, db 0
hypercall_page:
        times 4096 db 0xcc

; ---- code ---------------------------------------------------------------------------------------
HC_set_trap_table   equ 0
HC_mmu_update       equ 1
HC_stack_switch     equ 3
HC_set_callbacks    equ 4
HC_fpu_taskswitch   equ 5
HC_multicall        equ 13
HC_update_va_mapping equ 14
HC_xen_version      equ 17
HC_console_io       equ 18
HC_vm_assist        equ 21
HC_iret             equ 23
HC_mmuext_op        equ 26
HC_sched_op         equ 29
HC_event_channel_op equ 32
FLAT_RING1_CS       equ 0xe019
FLAT_RING1_DS       equ 0xe021
FLAT_RING3_CS32     equ 0xe02b
FLAT_RING3_DS32     equ 0xe033
M2P                 equ 0xf5800000

; print label, length: HYPERVISOR_console_io(CONSOLEIO_write, length, label) with int $0x82
%macro print 2
        xor ebx, ebx
        mov ecx, %2
        mov edx, %1
        mov eax, HC_console_io
        int 0x82
%endmacro
%macro str 2
%1:     db %2
%1_len  equ $ - %1
%endmacro
; say label, then the hex of EAX
%macro say 1
        push eax
        print %1, %1_len
        pop eax
        call print_hex
%endmacro

_start:
        mov ebp, esi                        ; start_info
        mov esp, stack_top
        print hello, hello_len
        xor ebx, ebx                        ; the same call through the hypercall page
        mov ecx, viapage_len
        mov edx, viapage
        call hypercall_page + HC_console_io * 32

%ifdef CRASH_PF
        mov byte [0x7fff0000], 1            ; nothing is mapped there: #PF, no trap table
%endif
%ifdef BAD_SEL
        mov eax, 0x10                       ; GDT entry 2: the guest set no GDT, so it is not a
        mov ds, eax                         ; segment: #GP(0x10), no trap table
%endif
%ifdef CRASH_GP
        cli                                 ; privileged in ring 1 (IOPL 0): #GP, no handler
%endif
%ifdef INT_GP
        int 0x81                            ; no trap_info for 0x81: #GP(0x40a), no handler
%endif
%ifdef SPIN
.spin:  jmp .spin
%endif

        mov eax, FLAT_RING1_DS              ; Xen's GDT entries load by selector
        mov ds, eax
        mov es, eax
        mov fs, eax
        mov eax, FLAT_RING3_DS32            ; a ring-3 data segment is usable from ring 1 too
        mov gs, eax
        xor eax, eax
        mov ax, gs
        say l_gs

        mov eax, HC_vm_assist               ; vm_assist(VMASST_CMD_enable, pae_extended_cr3)
        xor ebx, ebx
        mov ecx, 3
        int 0x82
        say l_vmassist

        mov eax, HC_xen_version             ; XENVER_version
        xor ebx, ebx
        xor ecx, ecx
        int 0x82
        say l_version

        mov eax, HC_xen_version             ; XENVER_extraversion
        mov ebx, 1
        mov ecx, extraversion
        int 0x82
        print l_extra, l_extra_len
        mov edx, extraversion
        call print_cstr

        mov eax, HC_xen_version             ; XENVER_platform_parameters: { u32 virt_start }
        mov ebx, 5
        mov ecx, scratch
        int 0x82
        mov eax, [scratch]
        say l_virtstart

        print l_magic, l_magic_len
        mov edx, ebp
        call print_cstr

        mov eax, 99                         ; no such hypercall
        int 0x82
        say l_badnr

        xor ebx, ebx                        ; console_io from an unmapped buffer
        mov ecx, 16
        mov edx, 0x7fff0000
        mov eax, HC_console_io
        int 0x82
        say l_badptr

        xor ebx, ebx                        ; console_io from Xen's hole (the M2P)
        mov ecx, 16
        mov edx, M2P
        mov eax, HC_console_io
        int 0x82
        say l_xenptr

        mov eax, HC_xen_version             ; extraversion into start_info.pt_base: the L3, which
        mov ebx, 1                          ; the builder maps read-only
        mov ecx, [ebp + 60]
        int 0x82
        say l_ro

        ; M2P[P2M[start_info pfn]] is start_info's pfn (VIRT_BASE is 0, so pfn = va >> 12).
        mov eax, ebp
        shr eax, 12
        mov esi, [ebp + 68]                 ; mfn_list
        mov eax, [esi + eax * 4]            ; mfn
        mov eax, [M2P + eax * 4]
        say l_m2p

        ; ---- shared_info, traps -------------------------------------------------------------------
        mov eax, HC_update_va_mapping       ; update_va_mapping(shinfo, lo, hi, UVMF_INVLPG)
        mov ebx, shinfo_page
        mov ecx, [ebp + 36]                 ; start_info.shared_info (a machine address)
        or ecx, 0x63                        ; P|RW|A|D
        xor edx, edx
        mov esi, 2
        int 0x82
        say l_shinfo

        mov eax, HC_set_trap_table
        mov ebx, trap_table
        int 0x82
        say l_traps
        mov byte [0x7fff0000], 1            ; #PF, bounced to pf_handler
fault_end:
        print l_resumed, l_resumed_len
        mov eax, 0x1234
        int 0x80                            ; a software interrupt the trap table allows (DPL 1)
        say l_int80                         ; EAX survives the bounce and the iret

        ; ---- events -------------------------------------------------------------------------------
        mov eax, HC_set_callbacks           ; set_callbacks(event_cs, event_eip, fs_cs, fs_eip)
        mov ebx, FLAT_RING1_CS
        mov ecx, ev_handler
        mov edx, FLAT_RING1_CS
        mov esi, failsafe
        int 0x82
        mov eax, HC_event_channel_op        ; EVTCHNOP_bind_ipi
        mov ebx, 7
        mov ecx, ipi
        int 0x82
        mov eax, [ipi + 4]
        say l_ipi
        mov byte [shinfo_page + 1], 0       ; vcpu_info[0].evtchn_upcall_mask = 0
        mov eax, HC_event_channel_op        ; EVTCHNOP_send(&ipi.port)
        mov ebx, 4
        mov ecx, ipi + 4
        int 0x82                            ; the upcall is delivered on the way back
        print l_evdone, l_evdone_len

        ; ---- a new PAE L3, pinned with mmuext_op --------------------------------------------------
        ; new_l3[0] = the builder's L2 for 0..1 GiB; new_l3[3] = a fresh, empty L2 (Xen fills its
        ; slots from 428 up and types it "PAE Xen L2").
        mov esi, [ebp + 68]                 ; mfn_list
        mov edi, [ebp + 60]                 ; pt_base: the builder's L3 (read-only, readable)
        mov eax, [edi]
        mov [new_l3], eax                   ; slot 0, as the builder wrote it (MA | P)
        mov eax, new_l2x
        shr eax, 12
        mov eax, [esi + eax * 4]
        shl eax, 12
        or eax, 1
        mov [new_l3 + 24], eax              ; slot 3
        ; both new tables become read-only in the only mapping they have
        mov ebx, new_l3
        call make_ro
        mov ebx, new_l2x
        call make_ro
        mov eax, new_l3                     ; op[0] = PIN_L3_TABLE(new), op[1] = NEW_BASEPTR(new)
        shr eax, 12
        mov eax, [esi + eax * 4]
        mov [ops + 4], eax
        mov [ops + 16], eax
        mov eax, edi                        ; op[2] = UNPIN_TABLE(builder's L3)
        shr eax, 12
        mov eax, [esi + eax * 4]
        mov [ops + 28], eax
        mov eax, HC_mmuext_op
        mov ebx, ops
        mov ecx, 3
        mov edx, done
        mov esi, 0x7ff0                     ; DOMID_SELF
        int 0x82
        say l_pin
        mov eax, [done]
        say l_done
        mov eax, HC_mmuext_op               ; pinning it again: -EINVAL
        mov ebx, ops
        mov ecx, 1
        xor edx, edx
        mov esi, 0x7ff0
        int 0x82
        say l_repin

        ; ---- mmu_update: alias_page -> start_info's frame, read-only ------------------------------
        mov esi, [ebp + 68]
        mov edi, [ebp + 60]                 ; the L3 we left; its L2 for 0..1 GiB is still ours
        mov eax, [edi]
        and eax, 0xfffff000                 ; L2 machine address; L2 index 0 covers 0..2 MiB
        ; the L2 is read-only-mapped (a page table) in the bootstrap area: its VA = pfn << 12,
        ; pfn = M2P[mfn]
        shr eax, 12
        mov eax, [M2P + eax * 4]
        shl eax, 12
        mov eax, [eax]                      ; L2[0]: the L1 for 0..2 MiB (MA | flags)
        and eax, 0xfffff000
        mov edx, alias_page
        shr edx, 12
        and edx, 511
        lea eax, [eax + edx * 8]            ; machine address of alias_page's PTE
        mov [req], eax                      ; ptr (MMU_NORMAL_PT_UPDATE = 0 in the low bits)
        mov eax, ebp
        shr eax, 12
        mov eax, [esi + eax * 4]            ; start_info's mfn
        shl eax, 12
        or eax, 0x21                        ; P|A: read-only
        mov [req + 8], eax
        mov eax, HC_mmu_update
        mov ebx, req
        mov ecx, 1
        mov edx, done
        mov esi, 0x7ff0
        int 0x82
        say l_mmuupd
        mov eax, HC_mmuext_op               ; MMUEXT_INVLPG_LOCAL(alias_page)
        mov ebx, invlpg
        mov ecx, 1
        xor edx, edx
        mov esi, 0x7ff0
        int 0x82
        print l_alias, l_alias_len
        mov edx, alias_page
        call print_cstr

        ; ---- privileged instructions Xen emulates for a ring-1 kernel (#GP to the hypervisor) -------
        mov eax, HC_fpu_taskswitch          ; fpu_taskswitch(1): CR0.TS set
        mov ebx, 1
        int 0x82
        mov eax, cr0
        and eax, 8
        say l_ts_set
        clts
        mov eax, cr0
        and eax, 8
        say l_ts_clear
        mov eax, cr2                        ; the last #PF address
        say l_rcr2
        mov eax, cr3                        ; the current L3, extended-CR3 form
        say l_rcr3
        mov ecx, cr3
        mov cr3, ecx                        ; a validated reload of the same L3
        wbinvd                              ; ignored for a domU
        print l_priv_ok, l_priv_ok_len

        ; ---- multicall: three 32-byte compat entries, results written back ------------------------
        mov eax, HC_multicall
        mov ebx, mc_list
        mov ecx, 3
        int 0x82
        say l_mc
        mov eax, [mc_list + 4]
        say l_mc0
        mov eax, [mc_list + 32 + 4]
        say l_mc1
        mov eax, [mc_list + 64 + 4]
        say l_mc2

        mov eax, HC_sched_op                ; SCHEDOP_yield
        xor ebx, ebx
        xor ecx, ecx
        int 0x82
        say l_yield

        ; ---- ring 3: iret to user mode, which raises int 0x80 (trap_info DPL 3) ------------------
        mov eax, HC_stack_switch            ; stack_switch(FLAT_RING1_DS, stack_top): the kernel
        mov ebx, 0xe021                     ; stack Xen switches to on a bounce from ring 3
        mov ecx, stack_top
        int 0x82
        mov ebx, user_page                  ; user_page becomes user-accessible (P|RW|U|A)
        mov eax, ebx
        shr eax, 12
        mov ecx, [ebp + 68]
        mov ecx, [ecx + eax * 4]
        shl ecx, 12
        or ecx, 0x27
        xor edx, edx
        mov esi, 2
        mov eax, HC_update_va_mapping
        int 0x82
        push dword FLAT_RING3_DS32          ; iret frame for ring 3: SS, ESP, EFLAGS, CS, EIP
        push dword user_page + 4096
        push dword 0x202
        push dword FLAT_RING3_CS32
        push dword user_page
        jmp hypercall_page + HC_iret * 32   ; push eax; HYPERVISOR_iret (to ring 3)

; Back in ring 1 from user mode with DS/ES nulled by the return to ring 3 (as a hardware iret
; does): reload the kernel's data segments by selector, as a PV kernel's entry code does.
from_user:
        mov ebp, eax                        ; the user's EAX (start_info is not needed any more)
        xor eax, eax
        mov ax, ds
        mov esi, eax
        mov eax, FLAT_RING1_DS
        mov ds, eax
        mov es, eax
        mov eax, esi
        say l_nullds                        ; DS as ring 3 left it
        mov eax, ebp
        say l_user
        mov eax, [esp + 4]                  ; saved CS | mask << 16
        say l_ucs
        mov eax, [esp + 16]                 ; saved SS
        say l_uss
        mov eax, [esp + 12]                 ; saved user ESP
        say l_uesp
        mov eax, esp                        ; the frame sits at kernel_sp - 20
        sub eax, stack_top
        say l_kesp

        print l_bye, l_bye_len
        mov eax, HC_sched_op                ; SCHEDOP_shutdown(poweroff)
        mov ebx, 2
        mov ecx, shutdown_reason
        int 0x82
        ud2                                 ; never reached

; make_ro: update_va_mapping(EBX, (mfn << 12) | P|A, 0, UVMF_INVLPG) for the page at EBX
make_ro:
        mov eax, ebx
        shr eax, 12
        mov ecx, [ebp + 68]
        mov ecx, [ecx + eax * 4]
        shl ecx, 12
        or ecx, 0x21
        xor edx, edx
        push esi
        mov esi, 2
        mov eax, HC_update_va_mapping
        int 0x82
        pop esi
        ret

; The #PF handler. Compat bounce frame: ESP -> error code, EIP, CS | mask << 16, EFLAGS.
pf_handler:
        print l_caught, l_caught_len
        mov eax, [esp]                      ; the error code
        call print_hex
        mov eax, [shinfo_page + 8]          ; vcpu_info[0].arch.cr2
        say l_cr2
        mov eax, [esp + 8]                  ; CS (with the saved upcall mask in bits 16-23)
        say l_cs
        add esp, 4                          ; drop the error code
        mov dword [esp], fault_end          ; resume after the faulting instruction
        jmp hypercall_page + HC_iret * 32   ; push eax; HYPERVISOR_iret

; `int $0x80` handler: a trap frame without an error code, EIP past the instruction; from
; ring 3 the frame also holds ESP and SS and sits on the stack_switch stack.
int80_handler:
        cmp word [esp + 4], FLAT_RING1_CS   ; CS of the frame (ESP-based: the stack segment)
        jne from_user
        push eax
        print l_inint, l_inint_len
        pop eax
        jmp hypercall_page + HC_iret * 32

; The event callback: ESP -> EIP, CS | mask << 16, EFLAGS.
ev_handler:
        push eax
        print l_event, l_event_len
        mov eax, [shinfo_page + 2048]       ; evtchn_pending[0] (32-bit words for x86_32)
        call print_hex
        mov byte [shinfo_page], 0           ; evtchn_upcall_pending = 0
        mov dword [shinfo_page + 2048], 0
        pop eax
        jmp hypercall_page + HC_iret * 32   ; iret unmasks: the saved EFLAGS has IF
failsafe:
        ud2

; print_hex: prints EAX as "0x" + 8 hex digits + "\n" (clobbers EAX..EDI except EBP)
print_hex:
        mov edi, hexbuf + 2
        mov ecx, 8
.next:  rol eax, 4
        mov ebx, eax
        and ebx, 15
        mov bl, [hexdigits + ebx]
        mov [edi], bl
        inc edi
        dec ecx
        jnz .next
        print hexbuf, hexbuf_len
        ret

; print_cstr: prints the NUL-terminated string at EDX, then "\n"
print_cstr:
        xor ecx, ecx
.len:   cmp byte [edx + ecx], 0
        je .go
        inc ecx
        cmp ecx, 256
        jb .len
.go:    xor ebx, ebx
        mov eax, HC_console_io
        int 0x82
        print newline, 1
        ret

; ---- data ---------------------------------------------------------------------------------------
        str hello, `Typevisor 32-bit PV guest: hello from ring 1 through int 0x82\n`
        str viapage, `and through the hypercall page\n`
        str l_vmassist, `vm_assist pae_extended_cr3 -> `
        str l_version, `xen_version `
        str l_extra, `extraversion `
        str l_virtstart, `platform_parameters virt_start `
        str l_magic, `start_info `
        str l_badnr, `hypercall 99 -> `
        str l_badptr, `console_io unmapped buffer -> `
        str l_xenptr, `console_io Xen-area buffer -> `
        str l_ro, `extraversion into the read-only L3 -> `
        str l_m2p, `m2p[p2m[start_info]] `
        str l_shinfo, `map shared_info -> `
        str l_traps, `set_trap_table -> `
        str l_caught, `caught #PF, error code `
        str l_cr2, `cr2 `
        str l_cs, `cs `
        str l_resumed, `resumed after the fault\n`
        str l_inint, `int 0x80 handler\n`
        str l_int80, `back from int 0x80, eax `
        str l_ipi, `bind_ipi port `
        str l_event, `event upcall, pending `
        str l_evdone, `back from the upcall\n`
        str l_pin, `mmuext_op pin+baseptr+unpin -> `
        str l_done, `done `
        str l_repin, `pin again -> `
        str l_mmuupd, `mmu_update alias -> `
        str l_alias, `alias reads `
        str l_ts_set, `cr0.ts after fpu_taskswitch(1) `
        str l_ts_clear, `cr0.ts after clts `
        str l_rcr2, `mov cr2 `
        str l_rcr3, `mov cr3 `
        str l_priv_ok, `cr3 reload and wbinvd emulated\n`
        str l_mc, `multicall -> `
        str l_mc0, `mc[0] console_io -> `
        str l_mc1, `mc[1] xen_version -> `
        str l_mc2, `mc[2] nested multicall -> `
        str mc_msg, `multicall says hi\n`
        str l_yield, `yield -> `
        str l_gs, `gs `
        str l_nullds, `ds after ring 3 `
        str l_user, `int 0x80 from ring 3, eax `
        str l_ucs, `user cs `
        str l_uss, `user ss `
        str l_uesp, `user esp `
        str l_kesp, `kernel esp - stack_top `
        str l_bye, `shutting down\n`
newline: db 10
hexdigits: db '0123456789abcdef'
        str hexbuf, `0x00000000\n`
shutdown_reason: dd 0                       ; SHUTDOWN_poweroff
extraversion: times 16 db 0
scratch: dd 0
done:   dd 0
ipi:    dd 0, 0                             ; struct evtchn_bind_ipi { vcpu; port }
trap_table:                                 ; compat trap_info: vector, flags, cs, address
        db 14, 0
        dw FLAT_RING1_CS
        dd pf_handler
        db 0x80, 3                          ; DPL 3: rings 1 and 3 may raise it with int
        dw FLAT_RING1_CS
        dd int80_handler
        times 8 db 0                        ; terminator (address 0)
ops:                                        ; three 12-byte compat struct mmuext_op
        dd 2, 0, 0                          ; MMUEXT_PIN_L3_TABLE
        dd 5, 0, 0                          ; MMUEXT_NEW_BASEPTR
        dd 4, 0, 0                          ; MMUEXT_UNPIN_TABLE
invlpg: dd 7, alias_page, 0                 ; MMUEXT_INVLPG_LOCAL
req:    dd 0, 0, 0, 0                       ; struct mmu_update { u64 ptr; u64 val }
mc_list:                                    ; compat multicall_entry { op, result, args[6] }
        dd HC_console_io, 0xdeadbeef, 0, mc_msg_len, mc_msg, 0, 0, 0
        dd HC_xen_version, 0xdeadbeef, 0, 0, 0, 0, 0, 0
        dd HC_multicall, 0xdeadbeef, 0, 0, 0, 0, 0, 0
        align 16, db 0
        times 4096 db 0                     ; stack
stack_top:
        align 4096, db 0
shinfo_page: times 4096 db 0                ; shared_info is mapped here
new_l3:      times 4096 db 0
new_l2x:     times 4096 db 0
alias_page:  times 4096 db 0
user_page:                                  ; ring-3 code (mapped with _PAGE_USER at run time)
        mov eax, 0x55
        int 0x80
        ud2
        align 4096, db 0
file_end:
mem_end:
